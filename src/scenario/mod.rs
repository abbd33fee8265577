//! Declarative scenarios for `orders-testkit serve --scenario FILE`: seeded
//! orders, stubs and faults in a TOML file, with messages written in the
//! protobuf JSON mapping (as grpcurl shows them), so that clients in any
//! language get the same scripting as Rust tests.
//!
//! *Needs the `scenario` feature (on by default, through `cli`).*
//!
//! A bad file is refused as a whole, with an error naming the file, the
//! line and the problem.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use orders_testkit::scenario::Scenario;
//!
//! let scenario = Scenario::parse("inline.toml", r#"
//! seed = 7
//!
//! [[orders]]
//! orderId = "o-1"
//! customerId = "c-1"
//! status = "ORDER_STATUS_SHIPPED"
//!
//! [[stubs]]
//! rpc = "GetOrder"
//! when = { orderId = "o-404" }
//! fail = { code = "NOT_FOUND", message = "gone for good" }
//!
//! [[faults]]
//! kind = "status"
//! rpc = "CreateOrder"
//! code = "UNAVAILABLE"
//! message = "maintenance"
//! first = 1
//! "#).unwrap();
//! let mock = scenario.start().await;
//! assert_eq!(mock.store().get("o-1").unwrap().status(), orders_testkit::pb::OrderStatus::Shipped);
//!
//! let err = Scenario::parse("bad.toml", "[[stubs]]\nrpc = \"GetOrders\"\n").unwrap_err();
//! assert_eq!(err.to_string(), "bad.toml: line 1: unknown rpc \"GetOrders\": expected one of CreateOrder, GetOrder, WatchOrderStatus, SubmitLineItems, ProcessOrders");
//! # }
//! ```

use std::path::Path;
use std::time::Duration;

use crate::fault::{Fault, FaultPlan};
use crate::{OrderMock, OrderMockBuilder};

mod definitions;
mod faults;
mod json;
mod record;
mod recorder;
mod schema;
mod source;
mod stubs;

#[cfg_attr(not(feature = "admin"), allow(unused_imports))]
pub(crate) use definitions::status_from_json;
pub use definitions::{StubDefinition, fault_from_json, order_from_json};
#[cfg_attr(not(feature = "admin"), allow(unused_imports))]
pub(crate) use faults::fault_json;
pub use record::recording;
pub use recorder::{InvalidHeader, Recorder, RecorderBuilder};
pub use source::ScenarioError;

use faults::build_fault;
use json::message;
use schema::File;
use source::SourceText;
use stubs::{Mount, build_stub};

/// A loaded, checked scenario, ready to start a mock.
#[derive(Debug, Clone)]
pub struct Scenario {
    seed: u64,
    fail_fast: Duration,
    orders: Vec<crate::pb::Order>,
    stubs: Vec<Mount>,
    faults: Vec<Fault>,
    /// Calls no stub matches get UNIMPLEMENTED instead of the model.
    refuse_unmatched: bool,
    /// Health answers SERVING (else NOT_SERVING) from the start.
    serving: bool,
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: file.clone(),
            line: None,
            problem: format!("cannot read: {e}"),
        })?;
        Self::parse(&file, &text)
    }

    /// Checks a scenario given as text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, ScenarioError> {
        let ctx = SourceText { file, text };
        let parsed: File = toml::from_str(text).map_err(|e| ScenarioError {
            file: file.to_string(),
            line: e.span().map(|s| ctx.line_of(s.start)),
            problem: e.message().trim().to_string(),
        })?;
        let mut orders = Vec::new();
        for order in &parsed.orders {
            orders.push(message::<crate::pb::Order>(order.get_ref()).map_err(|p| {
                // Point at the first field that does not parse on its own.
                let bad: Vec<String> = order
                    .get_ref()
                    .iter()
                    .filter(|(k, v)| {
                        let mut one = toml::Table::new();
                        one.insert((*k).clone(), (*v).clone());
                        message::<crate::pb::Order>(&one).is_err()
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                ctx.err(ctx.narrow(order.span(), &bad), format!("order: {p}"))
            })?);
        }
        let mut stubs = Vec::new();
        for stub in &parsed.stubs {
            stubs.push(build_stub(stub.get_ref()).map_err(|p| ctx.err(stub.span(), p))?);
        }
        let mut faults = Vec::new();
        for fault in &parsed.faults {
            faults.push(build_fault(fault.get_ref()).map_err(|p| ctx.err(fault.span(), p))?);
        }
        let refuse_unmatched = match &parsed.fallthrough {
            None => false,
            Some(f) => match f.get_ref().as_str() {
                "model" => false,
                "unimplemented" => true,
                other => {
                    return Err(ctx.err(
                        f.span(),
                        format!(
                            "unknown fallthrough {other:?}: expected \"model\" or \"unimplemented\""
                        ),
                    ));
                }
            },
        };
        Ok(Self {
            refuse_unmatched,
            serving: parsed.serving,
            seed: parsed.seed,
            fail_fast: Duration::from_millis(parsed.fail_fast_ms),
            orders,
            stubs,
            faults,
        })
    }

    /// The fault plan of the scenario, with its seed.
    pub fn fault_plan(&self) -> FaultPlan {
        let plan = FaultPlan::seeded(self.seed);
        for fault in &self.faults {
            plan.add(fault.clone());
        }
        plan
    }

    /// Applies the scenario's settings (seed, faults, fail-fast,
    /// fallthrough) to a builder.
    pub fn configure(&self, builder: OrderMockBuilder) -> OrderMockBuilder {
        let builder = builder.faults(self.fault_plan()).fail_fast(self.fail_fast);
        if self.refuse_unmatched {
            builder.refuse_unmatched()
        } else {
            builder
        }
    }

    /// Seeds the orders, mounts the stubs and sets the health status on a
    /// started mock.
    pub fn install(&self, mock: &OrderMock) {
        if !self.serving {
            mock.set_serving(false);
        }
        for order in &self.orders {
            mock.seed_order(order.clone());
        }
        use crate::mock::stubs::MountTarget as _;
        for stub in &self.stubs {
            (stub.0)(mock.stub_table());
        }
    }

    /// Starts an in-process mock with this scenario.
    pub async fn start(&self) -> OrderMock {
        let mock = self.configure(OrderMock::builder()).start().await;
        self.install(&mock);
        mock
    }
}
