//! A scenario's stubs, built through the typed [`Stub`] builder.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::json::{matcher, message};
use super::schema::{StubSpec, check, method, status};
use crate::mock::matching::Check;
use crate::mock::matching::Matcher as _;
use crate::mock::stubs::{StubSlot, StubTable};
use crate::mock::{Stub, StubHandle, Times};
use crate::rpc::{CreateOrder, GetOrder, Method, ProcessOrders, SubmitLineItems, WatchOrderStatus};

/// Mounts one stub on a mock's stub table.
#[derive(Clone)]
pub(super) struct Mount(pub(super) Arc<dyn Fn(&StubTable) -> StubHandle + Send + Sync>);

impl fmt::Debug for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<stub>")
    }
}

/// The settings every stub kind shares.
#[derive(Clone)]
pub(super) struct Common {
    name: Option<String>,
    headers: BTreeMap<String, String>,
    delay: Option<Duration>,
    up_to: Option<usize>,
    priority: Option<u8>,
    expect: Option<Times>,
    off_contract: bool,
    fields: Vec<(String, Check)>,
    metadata: Vec<(String, Check)>,
}

impl Common {
    fn apply<R: StubSlot>(&self, mut stub: Stub<R>) -> Stub<R> {
        if let Some(name) = &self.name {
            stub = stub.named(name.clone());
        }
        for (k, v) in &self.headers {
            stub = stub.when_header(k, v);
        }
        for (path, check) in &self.fields {
            stub = stub.when_field(path, check.clone());
        }
        for (name, check) in &self.metadata {
            stub = stub.when_metadata(name, check.clone());
        }
        if let Some(d) = self.delay {
            stub = stub.delay(d);
        }
        if let Some(n) = self.up_to {
            stub = stub.up_to(n);
        }
        if let Some(p) = self.priority {
            stub = stub.priority(p);
        }
        if let Some(t) = self.expect {
            stub = stub.expect(t);
        }
        if self.off_contract {
            stub = stub.off_contract();
        }
        stub
    }
}

/// Puts the key of the stub an error is about in front of it.
fn in_key(key: &'static str) -> impl Fn(String) -> String {
    move |problem| format!("{key}: {problem}")
}

pub(super) fn build_stub(spec: &StubSpec) -> Result<Mount, String> {
    let m = method(&spec.rpc)?;
    let fail = spec
        .fail
        .as_ref()
        .map(status)
        .transpose()
        .map_err(in_key("fail"))?;
    let then_fail = spec
        .then_fail
        .as_ref()
        .map(status)
        .transpose()
        .map_err(in_key("then_fail"))?;
    let responders = [
        spec.respond.is_some(),
        spec.stream.is_some(),
        spec.replies.is_some(),
        fail.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    let stream_end = then_fail.is_some() || spec.then_hold;
    if responders != 1 && !(m == Method::WatchOrderStatus && responders == 0 && stream_end) {
        return Err(format!(
            "stub for {m} needs exactly one of respond, stream, replies, fail"
        ));
    }
    let common = Common {
        name: spec.name.clone(),
        headers: spec.when_header.clone(),
        delay: spec.delay_ms.map(Duration::from_millis),
        up_to: spec.up_to,
        priority: spec.priority,
        expect: spec.expect.map(|e| e.times()).transpose()?,
        off_contract: spec.off_contract,
        fields: spec
            .when_fields
            .iter()
            .map(|(path, c)| Ok((path.clone(), check(&format!("when_fields {path:?}"), c)?)))
            .collect::<Result<_, String>>()?,
        metadata: spec
            .when_metadata
            .iter()
            .map(|(name, c)| Ok((name.clone(), check(&format!("when_metadata {name:?}"), c)?)))
            .collect::<Result<_, String>>()?,
    };
    let unsupported = |what: &str| Err::<Mount, String>(format!("{what} is not for {m} stubs"));
    if spec.when_stream.is_some() && m != Method::SubmitLineItems {
        return unsupported("when_stream");
    }
    if then_fail.is_some() && spec.then_hold {
        return Err("a stream ends with then_fail or then_hold, not both".into());
    }
    Ok(match m {
        Method::CreateOrder | Method::GetOrder => {
            if spec.stream.is_some() || stream_end {
                return unsupported("stream/then_fail/then_hold");
            }
            macro_rules! unary {
                ($rpc:ident, $req:ty, $res:ty) => {{
                    let when = spec
                        .when
                        .as_ref()
                        .map(matcher::<$req>)
                        .transpose()
                        .map_err(in_key("when"))?;
                    let respond = spec
                        .respond
                        .as_ref()
                        .map(message::<$res>)
                        .transpose()
                        .map_err(in_key("respond"))?;
                    let replies = spec
                        .replies
                        .as_ref()
                        .map(|r| r.iter().map(message::<$res>).collect::<Result<Vec<_>, _>>())
                        .transpose()
                        .map_err(in_key("replies"))?;
                    let when = when.map(Arc::new);
                    let spec_fail = fail.clone();
                    let mount = Mount(Arc::new(move |mock: &StubTable| {
                        let mut stub = common.apply(Stub::on($rpc));
                        if let Some(w) = when.clone() {
                            stub = stub.matching(w);
                        }
                        stub = match (&respond, &replies, &spec_fail) {
                            (Some(r), _, _) => stub.respond(r.clone()),
                            (_, Some(rs), _) => stub.replies(rs.iter().cloned().map(Ok)),
                            (_, _, Some(st)) => stub.fail(st.clone()),
                            _ => stub,
                        };
                        stub.mount(mock)
                    }));
                    mount
                }};
            }
            if m == Method::CreateOrder {
                unary!(
                    CreateOrder,
                    crate::pb::CreateOrderRequest,
                    crate::pb::CreateOrderResponse
                )
            } else {
                unary!(GetOrder, crate::pb::GetOrderRequest, crate::pb::Order)
            }
        }
        Method::WatchOrderStatus => {
            if spec.respond.is_some() || spec.replies.is_some() {
                return unsupported("respond/replies");
            }
            let when = spec
                .when
                .as_ref()
                .map(matcher::<crate::pb::WatchOrderStatusRequest>)
                .transpose()
                .map_err(in_key("when"))?
                .map(Arc::new);
            let items = spec
                .stream
                .as_ref()
                .map(|s| {
                    s.iter()
                        .map(message::<crate::pb::OrderStatusUpdate>)
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()
                .map_err(in_key("stream"))?;
            let between = spec.between_ms.map(Duration::from_millis);
            let hold = spec.then_hold;
            Mount(Arc::new(move |mock: &StubTable| {
                let mut stub = common.apply(Stub::on(WatchOrderStatus));
                if let Some(w) = when.clone() {
                    stub = stub.matching(w);
                }
                if let Some(st) = &fail {
                    stub = stub.fail(st.clone());
                } else {
                    stub = stub.stream(items.clone().unwrap_or_default());
                    if let Some(b) = between {
                        stub = stub.delay_between(b);
                    }
                    if let Some(st) = &then_fail {
                        stub = stub.then_fail(st.clone());
                    }
                    if hold {
                        stub = stub.then_hold();
                    }
                }
                stub.mount(mock)
            }))
        }
        Method::SubmitLineItems => {
            if spec.stream.is_some() || spec.replies.is_some() || stream_end {
                return unsupported("stream/replies/then_fail/then_hold");
            }
            let whole = spec
                .when_stream
                .as_ref()
                .map(|items| {
                    items
                        .iter()
                        .map(matcher::<crate::pb::LineItem>)
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()
                .map_err(in_key("when_stream"))?
                .map(Arc::new);
            let when = spec
                .when
                .as_ref()
                .map(matcher::<crate::pb::LineItem>)
                .transpose()
                .map_err(in_key("when"))?
                .map(Arc::new);
            let respond = spec
                .respond
                .as_ref()
                .map(message::<crate::pb::SubmitLineItemsResponse>)
                .transpose()
                .map_err(in_key("respond"))?;
            Mount(Arc::new(move |mock: &StubTable| {
                let mut stub = common.apply(Stub::on(SubmitLineItems));
                if let Some(w) = when.clone() {
                    stub = stub.matching(w);
                }
                if let Some(whole) = whole.clone() {
                    stub = stub.when_all(move |items| {
                        let none = tonic::metadata::MetadataMap::new();
                        items.len() == whole.len()
                            && items
                                .iter()
                                .zip(whole.iter())
                                .all(|(i, m)| m.mismatches(i, &none).is_empty())
                    });
                }
                stub = match (&respond, &fail) {
                    (Some(r), _) => stub.respond(*r),
                    (_, Some(st)) => stub.fail(st.clone()),
                    _ => stub,
                };
                stub.mount(mock)
            }))
        }
        Method::ProcessOrders => {
            if spec.stream.is_some() || spec.respond.is_some() || stream_end {
                return unsupported("respond/stream/then_fail/then_hold");
            }
            let when = spec
                .when
                .as_ref()
                .map(matcher::<crate::pb::OrderAction>)
                .transpose()
                .map_err(in_key("when"))?
                .map(Arc::new);
            let replies = spec
                .replies
                .as_ref()
                .map(|r| {
                    r.iter()
                        .map(message::<crate::pb::OrderResult>)
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()
                .map_err(in_key("replies"))?;
            Mount(Arc::new(move |mock: &StubTable| {
                let mut stub = common.apply(Stub::on(ProcessOrders));
                if let Some(w) = when.clone() {
                    stub = stub.matching(w);
                }
                stub = match (&replies, &fail) {
                    (Some(rs), _) => stub.replies(rs.iter().cloned().map(Ok)),
                    (_, Some(st)) => stub.fail(st.clone()),
                    _ => stub,
                };
                stub.mount(mock)
            }))
        }
    })
}
