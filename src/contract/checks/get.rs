//! GetOrder: G-1 to G-3, and E-3 on its NOT_FOUND.

use tonic::Code;
use tonic_types::StatusExt;

use super::fixtures::{act, create_request, get, next_update, unknown_ids, watch};
use super::{Verdict, err_code, fail, ok, steps, violations};
use crate::contract::context::Ctx;
use crate::contract::property::Deviation;
use crate::pb::GetOrderRequest;

/// G-1: empty or too long ids are INVALID_ARGUMENT on `order_id`.
pub(crate) async fn g1(ctx: &Ctx) -> Verdict {
    // Lengths count bytes: 65 two-byte characters are 130 bytes.
    for id in [String::new(), "x".repeat(129), "é".repeat(65)] {
        let got = ctx
            .client()
            .get_order(GetOrderRequest {
                order_id: id.clone(),
            })
            .await;
        let r = err_code("G-1", Code::InvalidArgument, got).and_then(|st| {
            ctx.snapshot(
                if id.is_empty() {
                    "G-1_empty"
                } else if id.is_ascii() {
                    "G-1_too_long"
                } else {
                    "G-1_too_long_multibyte"
                },
                &st,
            );
            let fields = violations("G-1", &st)?;
            if fields == ["order_id"] {
                Ok(())
            } else {
                Err(Deviation::new(
                    "G-1",
                    "violations [\"order_id\"]",
                    format!("{fields:?}"),
                ))
            }
        });
        if let Err(m) = r {
            return fail(ctx, GetOrderRequest { order_id: id }, m);
        }
    }
    Verdict::Pass(None)
}

/// G-2: an unknown id is NOT_FOUND with the message the contract gives,
/// naming the id exactly as sent.
pub(crate) async fn g2(ctx: &Ctx) -> Verdict {
    for id in unknown_ids(ctx) {
        let got = ctx
            .client()
            .get_order(GetOrderRequest {
                order_id: id.clone(),
            })
            .await;
        let r = err_code("G-2", Code::NotFound, got).and_then(|st| {
            ctx.snapshot("G-2_not_found", &st);
            let want = format!("order {id} not found");
            if st.message() == want {
                Ok(())
            } else {
                Err(Deviation::new(
                    "G-2",
                    format!("{want:?}"),
                    format!("{:?}", st.message()),
                ))
            }
        });
        if let Err(m) = r {
            return fail(ctx, GetOrderRequest { order_id: id }, m);
        }
    }
    Verdict::Pass(None)
}

/// E-3: NOT_FOUND carries ResourceInfo(orders.v1.Order, id as sent).
pub(crate) async fn e3(ctx: &Ctx) -> Verdict {
    for id in unknown_ids(ctx) {
        let got = ctx
            .client()
            .get_order(GetOrderRequest {
                order_id: id.clone(),
            })
            .await;
        let r = err_code("E-3", Code::NotFound, got).and_then(|st| {
            match st.get_details_resource_info() {
                Some(i) if i.resource_type == "orders.v1.Order" && i.resource_name == id => Ok(()),
                other => Err(Deviation::new(
                    "E-3",
                    format!("ResourceInfo(orders.v1.Order, {id:?})"),
                    format!("{other:?}"),
                )),
            }
        });
        if let Err(m) = r {
            return fail(ctx, GetOrderRequest { order_id: id }, m);
        }
    }
    Verdict::Pass(None)
}

/// G-3: after each action, GetOrder shows the order as created with the
/// status and `updated_at` of the latest successful action (as its watch
/// reported it); a failed action changes neither.
pub(crate) async fn g3(ctx: &Ctx) -> Verdict {
    use crate::pb::OrderActionType::{Confirm, Deliver, Ship};
    let r = async {
        let req = create_request(ctx);
        let created = ok("G-3", "CreateOrder", ctx.client().create_order(req.clone()).await)?;
        let id = created.order_id;
        let mut watch = watch(ctx, "G-3", &id).await?;
        let mut last = next_update(ctx, "G-3", &mut watch).await?;
        for action in [Confirm, Confirm, Ship, Deliver] {
            let success = act(ctx, "G-3", &id, &[action]).await?;
            if success == [true] {
                last = next_update(ctx, "G-3", &mut watch).await?;
            }
            let order = get(ctx, "G-3", &id).await?;
            let same = order.order_id == id
                && order.customer_id == req.customer_id
                && order.items == req.items
                && order.created_at == created.created_at
                && order.status == last.status
                && order.updated_at == last.updated_at;
            if !same {
                return Err(Deviation::new(
                    "G-3",
                    format!(
                        "the order as created, with status {:?} and updated_at {:?} of the latest change",
                        last.status(),
                        last.updated_at
                    ),
                    format!("after {action:?}: {order:?}"),
                ));
            }
        }
        Ok(())
    }
    .await;
    steps(
        ctx,
        r.map_err(|m| {
            (
                "CONFIRM, CONFIRM (fails), SHIP, DELIVER, GetOrder after each".to_string(),
                m,
            )
        }),
    )
}
