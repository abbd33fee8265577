//! The admin surface of `orders-testkit serve --admin`: script a running
//! mock from any language, read back what clients sent, check expectations.
//!
//! *Needs the `admin` feature.*
//!
//! - **gRPC**: `orders_testkit.admin.v1.Admin` ([`pb`], its proto in
//!   `proto/orders_testkit/admin/v1/admin.proto`), served beside
//!   OrderService on the same port by [`start`] or [`serve_tcp`] and listed
//!   by reflection, so grpcurl drives it.
//! - **HTTP/JSON**: the same operations, one route each, from
//!   [`serve_http`], with a live page of calls at `/`.
//!
//! The admin sits beside the mock, not in it: it takes an
//! [`OrderMockBuilder`] or an [`OrderMock`] from outside, its calls are not
//! journaled, and faults never reach them.
//!
//! Stubs, faults and orders are given as JSON with the keys of a scenario
//! file's `[[stubs]]`, `[[faults]]` and `[[orders]]` entries (see
//! [`scenario`](crate::scenario)). With tokens configured, both need a
//! bearer token granted [`Permission::Admin`](crate::layers::auth::Permission::Admin);
//! an OrderService token does not open them, and an admin token does not
//! call OrderService.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use orders_testkit::OrderMock;
//! use orders_testkit::admin::pb::{AddStubRequest, admin_client::AdminClient};
//! use orders_testkit::pb::GetOrderRequest;
//!
//! let mock = orders_testkit::admin::start(OrderMock::builder()).await;
//! let mut admin = AdminClient::new(mock.channel());
//! admin.add_stub(AddStubRequest {
//!     stub_json: r#"{"rpc": "GetOrder", "fail": {"code": "UNAVAILABLE", "message": "down"}}"#.into(),
//! }).await.unwrap();
//! let err = mock.client().get_order(GetOrderRequest::default()).await.unwrap_err();
//! assert_eq!(err.code(), tonic::Code::Unavailable);
//! # }
//! ```

use std::fmt;
use std::io;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::mock::Verification;
use crate::mock::live::desk::{Command, DeskCall};
use crate::mock::{Beside, Parts};
use crate::rpc::{Method, ResponseMessage};
use crate::scenario::{
    ScenarioError, StubDefinition, fault_from_json, order_from_json, status_from_json,
};
use crate::server::HttpService;
use crate::{OrderMock, OrderMockBuilder};

mod calls;
mod grpc;
mod http;

use grpc::AdminRouter;

/// The generated `orders_testkit.admin.v1` messages, client and server.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    // Generated from proto/orders_testkit/admin/v1/admin.proto by protox and
    // tonic-prost-build, checked in (no build script; the workspace test
    // `generated_code` keeps it current).
    include!("generated/orders_testkit.admin.v1.rs");

    /// The encoded `FileDescriptorSet` of the admin proto, with its doc
    /// comments, as reflection serves it when the admin service is on.
    pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("generated/admin_descriptor.bin");

    /// The fully qualified name of the admin service.
    pub const SERVICE_NAME: &str = "orders_testkit.admin.v1.Admin";
}

/// The path prefix of every admin method.
pub(crate) const PATH_PREFIX: &str = "/orders_testkit.admin.v1.Admin/";

/// What the admin operations work on: the parts of one mock.
#[derive(Debug, Clone)]
pub(crate) struct Admin(Parts);

impl std::ops::Deref for Admin {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// The admin service on the mock's port, beside OrderService, and listed
/// by reflection.
struct OnTheMocksPort;

impl Beside for OnTheMocksPort {
    fn descriptors(&self) -> Option<&'static [u8]> {
        Some(pb::FILE_DESCRIPTOR_SET)
    }

    fn serve<S: HttpService>(self, mock: S, parts: &Parts) -> impl HttpService {
        AdminRouter::new(mock, Admin(parts.clone()))
    }
}

/// Starts the mock `builder` describes, in process, with the admin service
/// `orders_testkit.admin.v1.Admin` beside OrderService (listed by
/// reflection). With tokens, it needs one granted
/// [`Permission::Admin`](crate::layers::auth::Permission::Admin).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::OrderMock;
/// use orders_testkit::admin::pb::{SeedOrderRequest, admin_client::AdminClient};
///
/// let mock = orders_testkit::admin::start(OrderMock::builder()).await;
/// let mut admin = AdminClient::new(mock.channel());
/// let seeded = admin
///     .seed_order(SeedOrderRequest { order_json: r#"{"orderId": "o-1"}"#.into() })
///     .await
///     .unwrap();
/// assert_eq!(seeded.into_inner().order_id, "o-1");
/// # }
/// ```
pub async fn start(builder: OrderMockBuilder) -> OrderMock {
    builder.launch(None, OnTheMocksPort)
}

/// [`start`], and on a TCP listener bound to `addr` too (port 0 picks a
/// free port; see [`OrderMock::local_addr`]), as `serve --admin` does.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let addr = "127.0.0.1:0".parse().unwrap();
/// let mock = orders_testkit::admin::serve_tcp(orders_testkit::OrderMock::builder(), addr)
///     .await
///     .unwrap();
/// assert_ne!(mock.local_addr().unwrap().port(), 0);
/// # }
/// ```
pub async fn serve_tcp(builder: OrderMockBuilder, addr: SocketAddr) -> io::Result<OrderMock> {
    let listener = TcpListener::bind(addr).await?;
    Ok(builder.launch(Some(listener), OnTheMocksPort))
}

/// Serves the admin HTTP/JSON API and the live page of calls for `mock` on
/// `addr` (port 0 picks a free port), until the mock stops; returns the
/// bound address. Routes and error format: see [this module](self). With
/// tokens, the API needs one of
/// [`Permission::Admin`](crate::layers::auth::Permission::Admin), as an
/// `authorization: Bearer` header or an `access_token` query parameter.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// let mock = orders_testkit::OrderMock::start().await;
/// let addr = orders_testkit::admin::serve_http(&mock, "127.0.0.1:0".parse().unwrap())
///     .await
///     .unwrap();
/// // curl http://$addr/api/stubs
/// let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
/// tcp.write_all(b"GET /api/stubs HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
/// let mut answer = String::new();
/// tcp.read_to_string(&mut answer).await.unwrap();
/// assert!(answer.ends_with(r#"{"stubs":[]}"#), "{answer}");
/// # }
/// ```
pub async fn serve_http(mock: &OrderMock, addr: SocketAddr) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    http::serve(Admin(mock.parts()), listener, mock.server_tasks());
    Ok(bound)
}

/// Why an admin operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AdminError {
    /// The input does not parse or check: the key at fault and the line.
    BadInput {
        what: &'static str,
        key: Option<String>,
        line: Option<usize>,
        problem: String,
    },
    /// No such stub.
    NotFound(String),
}

impl AdminError {
    fn from_scenario(what: &'static str, e: ScenarioError) -> Self {
        let key = e.key().map(str::to_string);
        AdminError::BadInput {
            what,
            key,
            line: e.line,
            problem: e.problem,
        }
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::BadInput {
                what,
                line: Some(line),
                problem,
                ..
            } => write!(f, "invalid {what}: line {line}: {problem}"),
            AdminError::BadInput { what, problem, .. } => write!(f, "invalid {what}: {problem}"),
            AdminError::NotFound(problem) => f.write_str(problem),
        }
    }
}

/// What a reset clears; none selected means all.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ResetWhat {
    pub(crate) orders: bool,
    pub(crate) stubs: bool,
    pub(crate) faults: bool,
    pub(crate) journal: bool,
}

/// How much a reset cleared.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ResetDone {
    pub(crate) orders: usize,
    pub(crate) stubs: usize,
    pub(crate) faults: usize,
    pub(crate) calls: usize,
}

impl Admin {
    /// Mounts a stub given as JSON; its id and name.
    pub(crate) fn add_stub(&self, json: &str) -> Result<(u64, String), AdminError> {
        let stub =
            StubDefinition::from_json(json).map_err(|e| AdminError::from_scenario("stub", e))?;
        let handle = stub.mount_on(&self.stubs);
        let name = self
            .stubs
            .list()
            .into_iter()
            .find(|s| s.id == handle.id())
            .map(|s| s.name)
            .unwrap_or_default();
        Ok((handle.id(), name))
    }

    pub(crate) fn remove_stub(&self, id: u64) -> Result<(), AdminError> {
        if self.stubs.remove(id) {
            Ok(())
        } else {
            Err(AdminError::NotFound(format!("no stub has id {id}")))
        }
    }

    /// Adds a fault given as JSON; its id, and how many faults the plan
    /// holds now.
    pub(crate) fn inject_fault(&self, json: &str) -> Result<(u64, usize), AdminError> {
        let fault = fault_from_json(json).map_err(|e| AdminError::from_scenario("fault", e))?;
        let id = self.faults.add(fault);
        Ok((id, self.faults.len()))
    }

    /// Every fault with its id, as JSON in a scenario's keys.
    pub(crate) fn faults_json(&self) -> Vec<serde_json::Value> {
        self.faults
            .entries()
            .iter()
            .map(|(id, fault)| {
                let mut json = crate::scenario::fault_json(fault);
                json["id"] = (*id).into();
                json
            })
            .collect()
    }

    /// Removes the fault with this id.
    pub(crate) fn remove_fault(&self, id: u64) -> Result<(), AdminError> {
        if self.faults.remove(id) {
            Ok(())
        } else {
            Err(AdminError::NotFound(format!("no fault has id {id}")))
        }
    }

    /// Removes every fault; how many there were.
    pub(crate) fn clear_faults(&self) -> usize {
        let n = self.faults.len();
        self.faults.clear();
        n
    }

    /// Seeds an order given as JSON; its id.
    pub(crate) fn seed_order(&self, json: &str) -> Result<String, AdminError> {
        let order = order_from_json(json).map_err(|e| AdminError::from_scenario("order", e))?;
        Ok(self.store.insert(order))
    }

    pub(crate) fn reset(&self, what: ResetWhat) -> ResetDone {
        let all = !(what.orders || what.stubs || what.faults || what.journal);
        let mut done = ResetDone::default();
        if all || what.orders {
            done.orders = self.store.clear();
        }
        if all || what.stubs {
            done.stubs = self.stubs.clear();
        }
        if all || what.faults {
            done.faults = self.clear_faults();
        }
        if all || what.journal {
            done.calls = self.journal.len();
            self.journal.clear();
        }
        done
    }

    /// Starts (or, with `stop`, stops) driving the RPC named `rpc` live
    /// from the admin API; whether that changed anything.
    pub(crate) fn drive_live(&self, rpc: &str, stop: bool) -> Result<bool, AdminError> {
        let method = Method::from_name(rpc).ok_or_else(|| AdminError::BadInput {
            what: "live rpc",
            key: Some("rpc".into()),
            line: None,
            problem: format!(
                "unknown rpc {rpc:?}: expected one of {}",
                Method::ALL.map(Method::name).join(", ")
            ),
        })?;
        let desk = &self.live.desk;
        Ok(if stop {
            desk.stop(method)
        } else {
            desk.drive(&self.live, method)
        })
    }

    /// The RPCs driven live, and their open calls.
    pub(crate) fn live_calls(&self) -> (Vec<&'static str>, Vec<DeskCall>) {
        (self.live.desk.driven(), self.live.desk.calls())
    }

    /// Sends the message given as JSON (in the protobuf JSON mapping) on
    /// open live call `id`.
    pub(crate) async fn send_live(&self, id: u64, json: &str) -> Result<(), AdminError> {
        let bad = |problem: String| AdminError::BadInput {
            what: "live message",
            key: None,
            line: None,
            problem,
        };
        let rpc = self.live_rpc(id)?;
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| bad(format!("not JSON: {e}")))?;
        use crate::grpc::json::from_json;
        let message = match rpc {
            Method::CreateOrder => from_json(value).map(ResponseMessage::CreateOrder),
            Method::GetOrder => from_json(value).map(ResponseMessage::Order),
            Method::WatchOrderStatus => from_json(value).map(ResponseMessage::OrderStatusUpdate),
            Method::SubmitLineItems => from_json(value).map(ResponseMessage::SubmitLineItems),
            Method::ProcessOrders => from_json(value).map(ResponseMessage::OrderResult),
        }
        .map_err(bad)?;
        self.live_command(id, Command::Send(message)).await
    }

    /// Ends open live call `id` with the status given as JSON (a stub's
    /// `fail`: `code`, `message`, `details`…; `{"code": "OK"}` finishes a
    /// stream), or resets it (`{"reset": true}`).
    pub(crate) async fn end_live(&self, id: u64, json: &str) -> Result<(), AdminError> {
        self.live_rpc(id)?;
        let reset = serde_json::from_str::<serde_json::Value>(json)
            .ok()
            .is_some_and(|v| v.get("reset") == Some(&serde_json::Value::Bool(true)));
        let command = if reset {
            Command::Reset
        } else {
            Command::End(
                status_from_json(json).map_err(|e| AdminError::from_scenario("status", e))?,
            )
        };
        self.live_command(id, command).await
    }

    fn live_rpc(&self, id: u64) -> Result<Method, AdminError> {
        self.live
            .desk
            .calls()
            .into_iter()
            .find(|c| c.id == id)
            .map(|c| c.rpc)
            .ok_or_else(|| AdminError::NotFound(format!("no open live call has id {id}")))
    }

    async fn live_command(&self, id: u64, command: Command) -> Result<(), AdminError> {
        self.live
            .desk
            .command(id, command)
            .await
            .map_err(|problem| AdminError::BadInput {
                what: "live command",
                key: None,
                line: None,
                problem,
            })
    }

    pub(crate) fn verify(&self) -> Verification {
        Verification::of(&self.stubs, &self.live, &self.journal)
    }
}

/// One line per unmet expectation or off-contract answer of `v`.
pub(crate) fn problems(v: &Verification) -> Vec<String> {
    v.expectations
        .iter()
        .filter(|e| !e.met)
        .map(|e| format!("{}: expected {}, matched {}", e.stub, e.expected, e.hits))
        .chain(v.drifts.iter().map(|d| d.to_string()))
        .collect()
}

/// Whether a stub's expectation is met now (one without any always is).
pub(crate) fn met(stub: &crate::mock::stubs::StubInfo) -> bool {
    stub.expected.is_none_or(|t| t.contains(stub.hits))
}
