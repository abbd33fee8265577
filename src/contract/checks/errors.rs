//! E-1, E-5 and E-6 over every error the suite saw.

use prost::Message;
use tonic::Code;

use super::{Verdict, fail};
use crate::contract::context::Ctx;
use crate::contract::property::Mismatch;
use crate::contract::reference::leaks_internals;

/// Every error status the target answered, with the call it answered.
fn errors(ctx: &Ctx) -> Vec<(String, tonic::Status)> {
    ctx.journal
        .calls()
        .into_iter()
        .filter_map(|c| {
            let st = c.outcome.status()?;
            (st.code() != Code::Ok).then(|| (c.path.clone(), st))
        })
        .collect()
}

/// The codes of the article's table.
const TABLE: [Code; 10] = [
    Code::InvalidArgument,
    Code::NotFound,
    Code::AlreadyExists,
    Code::PermissionDenied,
    Code::Unauthenticated,
    Code::ResourceExhausted,
    Code::FailedPrecondition,
    Code::Unavailable,
    Code::Internal,
    Code::DeadlineExceeded,
];

pub(crate) async fn e1(ctx: &Ctx) -> Verdict {
    let seen = errors(ctx);
    for (path, st) in &seen {
        // UNIMPLEMENTED and CANCELLED come from the gRPC library (outside E-1).
        if matches!(st.code(), Code::Unimplemented | Code::Cancelled) {
            continue;
        }
        if !TABLE.contains(&st.code()) {
            return fail(
                ctx,
                path,
                Mismatch::new(
                    "E-1",
                    "a code from the article's table",
                    format!("{:?}", st.code()),
                ),
            );
        }
        if st.message().is_empty() {
            return fail(
                ctx,
                path,
                Mismatch::new(
                    "E-1",
                    "a non-empty message",
                    format!("{:?} with an empty message", st.code()),
                ),
            );
        }
    }
    Verdict::Pass(Some(format!("{} errors seen", seen.len())))
}

pub(crate) async fn e5(ctx: &Ctx) -> Verdict {
    let seen = errors(ctx);
    let mut with_details = 0;
    for (path, st) in &seen {
        if st.message().ends_with(crate::wire::INVALID_DETAILS_MARK) {
            return fail(
                ctx,
                path,
                Mismatch::new(
                    "E-5",
                    "grpc-status-details-bin in base64",
                    "undecodable base64",
                ),
            );
        }
        if st.details().is_empty() {
            continue;
        }
        with_details += 1;
        match tonic_types::pb::Status::decode(st.details()) {
            Ok(d) if d.code == st.code() as i32 && d.message == st.message() => {}
            Ok(d) => {
                return fail(
                    ctx,
                    path,
                    Mismatch::new(
                        "E-5",
                        format!(
                            "details with code {:?} and message {:?}",
                            st.code(),
                            st.message()
                        ),
                        format!("code {:?}, message {:?}", Code::from_i32(d.code), d.message),
                    ),
                );
            }
            Err(e) => {
                return fail(
                    ctx,
                    path,
                    Mismatch::new("E-5", "a decodable google.rpc.Status", e.to_string()),
                );
            }
        }
    }
    Verdict::Pass(Some(format!("{with_details} errors with details")))
}

pub(crate) async fn e6(ctx: &Ctx) -> Verdict {
    for (path, st) in errors(ctx) {
        if matches!(st.code(), Code::Internal | Code::Unknown)
            && let Some(what) = leaks_internals(st.message())
        {
            return fail(
                ctx,
                path,
                Mismatch::new(
                    "E-6",
                    "a sanitized message",
                    format!("{what} in {:?}", st.message()),
                ),
            );
        }
    }
    Verdict::Pass(None)
}
