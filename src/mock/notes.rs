//! What the mock says about each call, attached to the journal's record
//! of it: who answered ([`Answerer`]) and, when no stub matched, the one
//! that came closest ([`NearMiss`]). [`CallNotes`] reads them off a
//! [`Call`].

use std::fmt;

use crate::journal::{Call, Note};
use crate::mock::matching::Mismatch;

/// Who answered a call: a note the mock attaches to the journal's record.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::prelude::*;
/// use orders_testkit::mock::{Answerer, CallNotes};
///
/// let mock = OrderMock::start().await;
/// Stub::on(GetOrder).named("o-1").respond(Order { status: OrderStatus::Pending.into(), ..Default::default() }).up_to(1).mount(&mock);
/// let mut client = mock.client();
/// let _ = client.get_order(GetOrderRequest { order_id: "o-1".into() }).await;
/// let _ = client.get_order(GetOrderRequest { order_id: "o-1".into() }).await;
/// let calls = mock.journal().wait_for_ended(2).await;
/// assert_eq!(calls[0].answered_by(), [Answerer::Stub("GetOrder \"o-1\"".into())]);
/// assert_eq!(calls[1].answered_by(), [Answerer::Model]);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answerer {
    /// A stub, as reports name it.
    Stub(String),
    /// The mock's model of the contract.
    Model,
    /// The real target the mock forwards unmatched calls to
    /// ([`OrderMockBuilder::proxy`](crate::OrderMockBuilder::proxy)).
    Proxy,
    /// Nobody: no stub matched and the mock refuses unmatched calls
    /// (`UNIMPLEMENTED`).
    NoStub,
    /// The test, live ([`OrderMock::live`](crate::OrderMock::live)).
    Live,
}

impl fmt::Display for Answerer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answerer::Stub(name) => write!(f, "stub {name}"),
            Answerer::Model => f.write_str("model"),
            Answerer::Proxy => f.write_str("proxy"),
            Answerer::NoStub => f.write_str("no stub"),
            Answerer::Live => f.write_str("the test, live"),
        }
    }
}

/// The stub closest to matching a call that no stub matched, and how the
/// call differs from it: a note the mock attaches to the journal's record.
#[derive(Debug, Clone, PartialEq, Eq)]
///
/// ```
/// use orders_testkit::mock::NearMiss;
/// use orders_testkit::mock::matching::Mismatch;
/// let miss = NearMiss {
///     stub: "GetOrder \"o-1\"".into(),
///     differences: vec![Mismatch::new("order_id", "\"o-1\"", "\"o-2\"")],
/// };
/// assert_eq!(miss.to_string(), "closest stub GetOrder \"o-1\": order_id: wanted \"o-1\", got \"o-2\"");
/// ```
pub struct NearMiss {
    /// The stub, as reports name it.
    pub stub: String,
    /// How the call differs from it.
    pub differences: Vec<Mismatch>,
}

impl fmt::Display for NearMiss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "closest stub {}: ", self.stub)?;
        for (i, d) in self.differences.iter().enumerate() {
            write!(f, "{}{d}", if i == 0 { "" } else { "; " })?;
        }
        Ok(())
    }
}

/// A call the real target never answered: the proxy's connection to it
/// failed (refused, reset, TLS), and the status the caller got was made by
/// the proxy's client, not said by the target. A note the mock attaches to
/// the journal's record; `record` leaves such calls out of its file.
///
/// ```
/// use orders_testkit::mock::UpstreamFailure;
/// let note = UpstreamFailure("tcp connect error".into());
/// assert_eq!(note.to_string(), "tcp connect error");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamFailure(pub String);

impl fmt::Display for UpstreamFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Note for UpstreamFailure {
    fn heading(&self) -> &'static str {
        "the target was not reached:"
    }
}

impl Note for Answerer {
    fn heading(&self) -> &'static str {
        "answered by"
    }
}

impl Note for NearMiss {
    fn heading(&self) -> &'static str {
        "no stub matched;"
    }
}

/// The mock's notes on a journaled [`Call`], by name.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::prelude::*;
/// use orders_testkit::mock::Answerer;
///
/// let mock = OrderMock::start().await;
/// Stub::on(GetOrder).when(|r| r.order_id == "o-1").respond(Order::default()).mount(&mock);
/// let _ = mock.client().get_order(GetOrderRequest { order_id: "o-2".into() }).await;
/// let call = &mock.journal().wait_for_ended(1).await[0];
/// assert_eq!(call.answered_by(), [Answerer::Model]);
/// assert!(call.near_miss().is_some());
/// # }
/// ```
pub trait CallNotes {
    /// Who answered, in order (one entry for most calls; a ProcessOrders
    /// call whose actions went to different answerers has several). Empty
    /// for calls the mock's service never saw (a fault or auth answered,
    /// or the server is not a mock).
    fn answered_by(&self) -> Vec<Answerer>;

    /// When stubs were mounted for its RPC and none matched: the closest
    /// one and how the call differs from it (for ProcessOrders, the first
    /// action no stub matched).
    fn near_miss(&self) -> Option<&NearMiss>;

    /// When the mock forwarded the call and the real target was not
    /// reached (its transport failed): why.
    fn upstream_failure(&self) -> Option<&UpstreamFailure>;
}

impl CallNotes for Call {
    fn answered_by(&self) -> Vec<Answerer> {
        self.notes_of::<Answerer>().cloned().collect()
    }

    fn near_miss(&self) -> Option<&NearMiss> {
        self.notes_of::<NearMiss>().next()
    }

    fn upstream_failure(&self) -> Option<&UpstreamFailure> {
        self.notes_of::<UpstreamFailure>().next()
    }
}
