//! The contract suite: property-based checks of CONTRACT.md, tied to its rule
//! ids, run against any OrderService: in process, through a channel, or a
//! staging endpoint over the network.
//!
//! *Needs the `contract` feature (on by default, through `cli`).*
//!
//! - Inputs come from proptest with a fixed, reportable seed; a failure is
//!   shrunk to a minimal counterexample and printed with the rule id, the
//!   request(s), what was expected, what came back, and the seed.
//! - Safe against shared staging (CONTRACT.md, last section): only its own orders (customer
//!   ids prefixed with a per-run id), bounded concurrency and call rate, a
//!   deadline on every call, nothing that assumes an empty server.
//! - Its oracle (the lifecycle state machine and the expected violations)
//!   is written here, independently of the mock's model.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use orders_testkit::contract::{Suite, Target};
//! use orders_testkit::service::model::Store;
//! use orders_testkit::service::orders::ReferenceService;
//!
//! // Your implementation here; the reference service passes.
//! let my_impl = ReferenceService::new(Store::new(), Default::default());
//! Suite::default().cases(8).run(Target::service(my_impl)).await.assert_passed();
//! # }
//! ```

mod checks;
mod compare;
mod context;
mod linearizable;
mod oracle;
pub(crate) mod property;
mod raw;
mod report;
mod rules;
mod snapshots;
mod suite;
mod target;
pub(crate) use target::Started;

pub use compare::{BehaviourDiff, Change, Difference, Recording};
pub use property::{Counterexample, Deviation};
pub use report::{CheckResult, CheckStatus, Report};
pub use rules::{Rule, rule, rules};
pub use snapshots::{SnapshotSummary, write_snapshots};
pub use suite::{Progress, Suite};
pub use target::{ConnectError, Target};
