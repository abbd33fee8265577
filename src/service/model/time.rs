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

/// The next `updated_at` after `previous` (P-3): the current time, or one
/// nanosecond past `previous` when the clock has not moved beyond it.
pub fn next_after(previous: i128) -> i128 {
    now_nanos().max(previous + 1)
}
