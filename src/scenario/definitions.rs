//! One stub, fault or order of the scenario schema given alone, as JSON:
//! what the admin API of `serve --admin` takes at run time.

use super::faults::build_fault;
use super::json::message;
use super::schema::{FaultSpec, StubSpec, method, status, status_json};
use super::source::{ScenarioError, key_of};
use super::stubs::{Mount, build_stub};
use crate::OrderMock;
use crate::fault::Fault;
use crate::mock::StubHandle;
use crate::mock::stubs::{MountTarget, StubTable};
use crate::pb::Order;
use crate::rpc::Method;

/// A checked stub of the scenario schema (a `[[stubs]]` entry), ready to
/// mount on any number of mocks.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::prelude::*;
/// use orders_testkit::scenario::StubDefinition;
///
/// let stub = StubDefinition::from_json(r#"{
///     "rpc": "GetOrder",
///     "when": { "orderId": "o-1" },
///     "respond": { "orderId": "o-1", "status": "ORDER_STATUS_SHIPPED" },
///     "expect": 1
/// }"#).unwrap();
/// let mock = OrderMock::start().await;
/// let handle = stub.mount(&mock);
/// let order = mock.client().get_order(GetOrderRequest { order_id: "o-1".into() }).await.unwrap();
/// assert_eq!(order.into_inner().status(), OrderStatus::Shipped);
/// assert_eq!(handle.hits(), 1);
///
/// let err = StubDefinition::from_json("{\n  \"rpc\": \"GetOrder\",\n  \"respond\": { \"stauts\": 1 }\n}").unwrap_err();
/// assert_eq!(err.line, Some(3));
/// assert!(err.problem.starts_with("respond: "), "{err}");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct StubDefinition {
    method: Method,
    mount: Mount,
    /// The stub as given, its statuses written out whole.
    shown: std::sync::Arc<str>,
}

impl StubDefinition {
    /// Reads one stub from JSON, keys as in a scenario file's `[[stubs]]`;
    /// an error names the line and the key at fault.
    pub fn from_json(text: &str) -> Result<Self, ScenarioError> {
        let spec: StubSpec = parse("stub", text)?;
        let method = method(&spec.rpc).map_err(|p| at_key("stub", text, format!("rpc: {p}")))?;
        let mount = build_stub(&spec).map_err(|p| at_key("stub", text, p))?;
        let mut shown: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        for (key, given) in [("fail", &spec.fail), ("then_fail", &spec.then_fail)] {
            if let Some(given) = given
                && let Ok(built) = status(given)
            {
                shown[key] = status_json(&built);
            }
        }
        Ok(Self {
            method,
            mount,
            shown: shown.to_string().into(),
        })
    }

    /// The RPC it stubs.
    pub fn method(&self) -> Method {
        self.method
    }

    /// Mounts it on `mock`, as [`Stub::mount`](crate::Stub::mount) does.
    pub fn mount(&self, mock: &OrderMock) -> StubHandle {
        self.mount_on(mock.stub_table())
    }

    pub(crate) fn mount_on(&self, table: &StubTable) -> StubHandle {
        let handle = (self.mount.0)(table);
        table.define(handle.id(), &self.shown);
        handle
    }
}

/// Reads one fault from JSON, keys as in a scenario file's `[[faults]]`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::prelude::*;
/// let fault = orders_testkit::scenario::fault_from_json(
///     r#"{ "kind": "status", "rpc": "GetOrder", "code": "UNAVAILABLE", "message": "down", "first": 1 }"#,
/// ).unwrap();
/// let mock = OrderMock::start().await;
/// mock.inject(fault);
/// let err = mock.client().get_order(GetOrderRequest::default()).await.unwrap_err();
/// assert_eq!(err.code(), tonic::Code::Unavailable);
/// # }
/// ```
pub fn fault_from_json(text: &str) -> Result<Fault, ScenarioError> {
    let spec: FaultSpec = parse("fault", text)?;
    build_fault(&spec).map_err(|p| at_key("fault", text, p))
}

/// Reads one order from JSON (the protobuf JSON mapping of
/// `orders.v1.Order`), for [`OrderMock::seed_order`].
///
/// ```
/// let order = orders_testkit::scenario::order_from_json(
///     r#"{ "orderId": "o-7", "status": "ORDER_STATUS_CONFIRMED" }"#,
/// ).unwrap();
/// assert_eq!(order.order_id, "o-7");
/// assert!(orders_testkit::scenario::order_from_json(r#"{ "orderld": "o-7" }"#).is_err());
/// ```
pub fn order_from_json(text: &str) -> Result<Order, ScenarioError> {
    let table: toml::Table = parse("order", text)?;
    message::<Order>(&table).map_err(|p| {
        // Point at the first field that does not parse on its own.
        let bad = table.iter().find(|(k, v)| {
            let mut one = toml::Table::new();
            one.insert((*k).clone(), (*v).clone());
            message::<Order>(&one).is_err()
        });
        match bad {
            Some((key, _)) => at_key("order", text, format!("{key}: {p}")),
            None => at_key("order", text, p),
        }
    })
}

/// `text` as JSON into `T`, or the error with serde's line.
/// Reads one status from JSON, keys as a stub's `fail` (`code`,
/// `message`, `details`, `retry_after_ms`, `trailers`): how the admin API
/// ends a live call.
#[cfg_attr(not(feature = "admin"), allow(dead_code))]
pub(crate) fn status_from_json(text: &str) -> Result<tonic::Status, ScenarioError> {
    let spec: super::schema::StatusSpec = parse("status", text)?;
    super::schema::status(&spec).map_err(|p| at_key("status", text, p))
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, ScenarioError> {
    serde_json::from_str(text).map_err(|e| {
        let message = e.to_string();
        // serde_json appends " at line L column C"; the line is kept apart.
        let problem = match message.rsplit_once(" at line ") {
            Some((p, _)) => format!("{p} (column {})", e.column()),
            None => message,
        };
        ScenarioError {
            file: what.to_string(),
            line: Some(e.line()).filter(|l| *l > 0),
            problem,
        }
    })
}

/// A problem found after parsing, with the line of the key it starts with
/// (`respond: …` → the line of `"respond"`), when the text has that key.
fn at_key(what: &str, text: &str, problem: String) -> ScenarioError {
    let line = key_of(&problem)
        .and_then(|k| text.find(&format!("\"{k}\"")))
        .map(|at| text[..at].matches('\n').count() + 1);
    ScenarioError {
        file: what.to_string(),
        line,
        problem,
    }
}
