//! The embedded target of `verify` (no `--endpoint`): the mock, configured
//! so that every check of the contract suite runs, and the suite told how.
//! Built here, outside `contract/`, which sees targets only through the
//! wire.
//!
//! *Needs the `contract` feature (on by default, through `cli`).*

use std::time::Duration;

use crate::contract::Target;
use crate::fault::{Fault, FaultPlan};
use crate::layers::auth::Permission;

/// The token with read and write permission.
pub(crate) const RW_TOKEN: &str = "embedded-rw-token";
/// The read-only token.
pub(crate) const READ_TOKEN: &str = "embedded-read-token";
/// The write-only token.
pub(crate) const WRITE_TOKEN: &str = "embedded-write-token";
/// The D-2 fail-fast threshold.
pub(crate) const FAIL_FAST: Duration = Duration::from_millis(100);
/// Metadata on which it answers UNAVAILABLE with a RetryInfo.
pub(crate) const TRANSIENT: (&str, &str) = ("x-orders-testkit-transient", "1");

impl Target {
    /// The embedded mock (`verify` without `--endpoint`), configured so
    /// that every check runs: tokens of each permission (`embedded-rw-token`,
    /// `embedded-read-token`, `embedded-write-token`), a 100 ms fail-fast threshold, and an
    /// UNAVAILABLE with a RetryInfo on calls that carry
    /// `x-orders-testkit-transient: 1`. The suite is told all of it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::contract::{Suite, Target};
    /// Suite::default().cases(2).only(["D-2", "A-1"]).run(Target::embedded()).await.assert_passed();
    /// # }
    /// ```
    pub fn embedded() -> Self {
        let mut target = Target::started(Box::new(|| {
            Box::pin(async {
                let transient = Fault::unavailable(
                    "the embedded target's transient failure, on request",
                    Duration::from_millis(50),
                )
                .when_header(TRANSIENT.0, TRANSIENT.1);
                let mock = crate::OrderMock::builder()
                    .fail_fast(FAIL_FAST)
                    .token(RW_TOKEN, Permission::ReadWrite)
                    .token(READ_TOKEN, Permission::Read)
                    .token(WRITE_TOKEN, Permission::Write)
                    .faults(FaultPlan::new().with(transient))
                    .start()
                    .await;
                crate::contract::Started {
                    channel: mock.new_channel(),
                    dial: Some(crate::server::dial_duplex(mock.connector().clone())),
                    owner: Box::new(mock),
                }
            })
        }))
        .token(RW_TOKEN)
        .transient_header(TRANSIENT.0, TRANSIENT.1);
        target.presets.fail_fast = Some(FAIL_FAST);
        target.presets.read_token = Some(READ_TOKEN.into());
        target.presets.write_token = Some(WRITE_TOKEN.into());
        target
    }
}
