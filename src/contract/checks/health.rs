//! Health: H-1 to H-3.

use std::time::Duration;

use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;

use super::{Verdict, fail, show, within};
use crate::contract::context::Ctx;
use crate::contract::property::Deviation;

fn req(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.into(),
    }
}

pub(crate) async fn h1(ctx: &Ctx) -> Verdict {
    if !ctx.health {
        return Verdict::Skip("the target serves no health service".into());
    }
    for name in ["", "orders.v1.OrderService"] {
        match ctx.health().check(req(name)).await {
            Ok(r) if r.get_ref().status == ServingStatus::Serving as i32 => {}
            other => {
                return fail(
                    ctx,
                    req(name),
                    Deviation::new(
                        "H-1",
                        "SERVING",
                        format!("{:?}", other.map(|r| r.into_inner())),
                    ),
                );
            }
        }
    }
    Verdict::Pass(None)
}

pub(crate) async fn h2(ctx: &Ctx) -> Verdict {
    if !ctx.health {
        return Verdict::Skip("the target serves no health service".into());
    }
    let name = format!("contract.{}.NoSuchService", ctx.run_id.replace('-', "_"));
    match ctx.health().check(req(&name)).await {
        Err(st) if st.code() == Code::NotFound => {
            ctx.snapshot(
                "H-2_unknown_service",
                &tonic::Status::new(st.code(), st.message().replace(&name, "[service]")),
            );
            Verdict::Pass(None)
        }
        other => fail(
            ctx,
            req(&name),
            Deviation::new(
                "H-2",
                "NOT_FOUND",
                format!("{:?}", other.map(|r| r.into_inner())),
            ),
        ),
    }
}

pub(crate) async fn h3(ctx: &Ctx) -> Verdict {
    if !ctx.health {
        return Verdict::Skip("the target serves no health service".into());
    }
    match ctx.health().watch(req("")).await {
        Ok(res) => {
            let mut s = res.into_inner();
            match within(ctx.patience, s.message()).await {
                Some(Ok(Some(m))) if m.status == ServingStatus::Serving as i32 => {}
                other => {
                    return fail(
                        ctx,
                        req(""),
                        Deviation::new("H-3", "SERVING at once", format!("{other:?}")),
                    );
                }
            }
        }
        Err(st) => {
            return fail(
                ctx,
                req(""),
                Deviation::new("H-3", "a Watch stream", show(&st)),
            );
        }
    }
    let name = format!("contract.{}.Unknown", ctx.run_id.replace('-', "_"));
    match ctx.health().watch(req(&name)).await {
        Ok(res) => {
            let mut s = res.into_inner();
            match within(ctx.patience, s.message()).await {
                Some(Ok(Some(m))) if m.status == ServingStatus::ServiceUnknown as i32 => {}
                other => {
                    return fail(
                        ctx,
                        req(&name),
                        Deviation::new("H-3", "SERVICE_UNKNOWN", format!("{other:?}")),
                    );
                }
            }
            // It stays open: nothing ends it in the next 300 ms.
            if let Some(end) = within(Duration::from_millis(300), s.message()).await {
                return fail(
                    ctx,
                    req(&name),
                    Deviation::new("H-3", "the Watch stays open", format!("{end:?}")),
                );
            }
            Verdict::Pass(None)
        }
        Err(st) => fail(
            ctx,
            req(&name),
            Deviation::new(
                "H-3",
                "a stream with SERVICE_UNKNOWN that stays open",
                show(&st),
            ),
        ),
    }
}
