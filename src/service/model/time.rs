//! Timestamps as the store keeps them: nanoseconds since the Unix epoch,
//! converted to and from `google.protobuf.Timestamp`.

use std::time::{SystemTime, UNIX_EPOCH};

use prost_types::Timestamp;

/// The current wall-clock time in nanoseconds since the Unix epoch (negative
/// before it, which a correctly set clock never is).
pub fn now_nanos() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// A timestamp as nanoseconds since the Unix epoch.
pub fn to_nanos(ts: &Timestamp) -> i128 {
    i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos)
}

/// Nanoseconds since the Unix epoch as a normalized timestamp
/// (`0 <= nanos < 1e9`).
pub fn from_nanos(nanos: i128) -> Timestamp {
    Timestamp {
        seconds: nanos.div_euclid(1_000_000_000) as i64,
        nanos: nanos.rem_euclid(1_000_000_000) as i32,
    }
}

/// The next `updated_at` after `previous` (P-3): the clock's time, or one
/// nanosecond past `previous` when the clock has not moved beyond it.
pub fn next_after(now: i128, previous: i128) -> i128 {
    now.max(previous + 1)
}

/// The model's clock: the wall clock (the default), or tokio's clock from
/// a fixed epoch, so that under `#[tokio::test(start_paused = true)]` the
/// orders' `created_at` and `updated_at` move with virtual time and are the
/// same on every run.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use orders_testkit::service::model::Clock;
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let clock = Clock::virtual_from(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// let before = clock.now_nanos();
/// tokio::time::sleep(Duration::from_secs(30)).await; // virtual: instant
/// assert_eq!(clock.now_nanos() - before, 30_000_000_000);
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub enum Clock {
    /// The system's wall clock.
    #[default]
    Wall,
    /// `epoch` plus the tokio time passed since `start`.
    Virtual {
        /// The time at `start`, in nanoseconds since the Unix epoch.
        epoch: i128,
        /// When the clock was made, on tokio's clock.
        start: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock that reads `epoch` now and moves with tokio's clock (paused
    /// in tests, so virtual).
    pub fn virtual_from(epoch: SystemTime) -> Self {
        let epoch = match epoch.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        };
        Clock::Virtual {
            epoch,
            start: tokio::time::Instant::now(),
        }
    }

    /// The clock's time, in nanoseconds since the Unix epoch.
    pub fn now_nanos(&self) -> i128 {
        match self {
            Clock::Wall => now_nanos(),
            Clock::Virtual { epoch, start } => epoch + start.elapsed().as_nanos() as i128,
        }
    }
}
