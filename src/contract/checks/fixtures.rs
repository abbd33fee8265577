//! What several checks need: a fresh order, a run of actions on it, an id
//! no order has.

use super::{corpus, ok, show, within};
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

/// Creates an order and returns its id (checked against C-2's form).
pub(crate) async fn new_order(ctx: &Ctx, rule: &'static str) -> Result<String, Deviation> {
    let req = create_request(ctx);
    let id = ok(rule, "CreateOrder", ctx.client().create_order(req).await)?.order_id;
    id_form(&id)?;
    Ok(id)
}

/// C-2's form of a server-chosen order id, checked on every id a check
/// gets back: 1 to 128 bytes of `[A-Za-z0-9._~-]`.
pub(crate) fn id_form(id: &str) -> Result<(), Deviation> {
    let well_formed = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b));
    if well_formed {
        Ok(())
    } else {
        Err(Deviation::new(
            "C-2",
            "an order id of 1 to 128 bytes of [A-Za-z0-9._~-]",
            format!("{id:?}"),
        ))
    }
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

/// Ids no order has: this run's own, the built-in names of other
/// languages' maps, and the hostile shapes (CONTRACT.md, reading of E-6).
pub(crate) fn unknown_ids(ctx: &Ctx) -> Vec<String> {
    let own = unknown_id(ctx);
    let mut ids = vec![own.clone(), format!("{own:-<128}")];
    ids.extend(corpus::BUILTIN_NAMES.iter().map(|s| s.to_string()));
    ids.extend(corpus::owned(&own));
    ids
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
