//! What several checks need: a fresh order, a run of actions on it, an id
//! no order has.

use super::{ok, show, within};
use crate::contract::context::Ctx;
use crate::contract::property::Deviation;
use crate::pb::{
    CreateOrderRequest, GetOrderRequest, LineItem, Order, OrderAction, OrderActionType,
    OrderStatusUpdate, WatchOrderStatusRequest,
};

/// A valid one-item CreateOrder of a fresh customer of this run.
pub(crate) fn create_request(ctx: &Ctx) -> CreateOrderRequest {
    CreateOrderRequest {
        customer_id: ctx.customer(),
        items: vec![LineItem {
            product_id: "p-1".into(),
            quantity: 1,
            price_cents: 100,
        }],
        shipping_address: None,
    }
}

/// Creates an order and returns its id.
pub(crate) async fn new_order(ctx: &Ctx, rule: &'static str) -> Result<String, Deviation> {
    let req = create_request(ctx);
    ok(rule, "CreateOrder", ctx.client().create_order(req).await).map(|r| r.order_id)
}

pub(crate) async fn act(
    ctx: &Ctx,
    rule: &'static str,
    id: &str,
    actions: &[OrderActionType],
) -> Result<Vec<bool>, Deviation> {
    let msgs: Vec<_> = actions
        .iter()
        .map(|a| OrderAction {
            order_id: id.into(),
            action: *a as i32,
        })
        .collect();
    let mut out = ok(
        rule,
        "ProcessOrders",
        ctx.client().process_orders(tokio_stream::iter(msgs)).await,
    )?;
    let mut flags = vec![];
    loop {
        match within(ctx.patience, out.message()).await {
            Some(Ok(Some(r))) => flags.push(r.success),
            Some(Ok(None)) => return Ok(flags),
            Some(Err(st)) => {
                return Err(Deviation::new(
                    rule,
                    "ProcessOrders ends with OK",
                    show(&st),
                ));
            }
            None => {
                return Err(Deviation::new(
                    rule,
                    "ProcessOrders ends after half-close",
                    "no end in time",
                ));
            }
        }
    }
}

pub(crate) fn unknown_id(ctx: &Ctx) -> String {
    format!("{}-no-such-order", ctx.customer())
}

/// The next message of a watch, which must come.
pub(crate) async fn next_update(
    ctx: &Ctx,
    rule: &'static str,
    watch: &mut tonic::Streaming<OrderStatusUpdate>,
) -> Result<OrderStatusUpdate, Deviation> {
    match within(ctx.patience, watch.message()).await {
        Some(Ok(Some(u))) => Ok(u),
        other => Err(Deviation::new(
            rule,
            "a WatchOrderStatus message",
            format!("{other:?}"),
        )),
    }
}

/// Opens a watch of `order_id`, which must succeed.
pub(crate) async fn watch(
    ctx: &Ctx,
    rule: &'static str,
    order_id: &str,
) -> Result<tonic::Streaming<OrderStatusUpdate>, Deviation> {
    let req = WatchOrderStatusRequest {
        order_id: order_id.to_string(),
    };
    ok(
        rule,
        "WatchOrderStatus",
        ctx.client().watch_order_status(req).await,
    )
}

/// GetOrder of `order_id`, which must succeed.
pub(crate) async fn get(ctx: &Ctx, rule: &'static str, order_id: &str) -> Result<Order, Deviation> {
    let req = GetOrderRequest {
        order_id: order_id.to_string(),
    };
    ok(rule, "GetOrder", ctx.client().get_order(req).await)
}
