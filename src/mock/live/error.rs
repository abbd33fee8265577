//! Why a verb on a live tap or call did not do what the test asked.

use std::fmt;
use std::time::Duration;

/// Why a verb on a [`Live`](super::Live) tap or a
/// [`LiveCall`](super::LiveCall) failed; its `Display` says what to look
/// at.
///
/// ```
/// use orders_testkit::mock::live::LiveError;
/// let err = LiveError::NotAFailure;
/// assert!(err.to_string().contains("finish()"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum LiveError {
    /// What the test waited for did not happen in time.
    TimedOut {
        /// What was awaited.
        what: String,
        /// How long.
        waited: Duration,
    },
    /// The client is gone (cancelled, reset, past its deadline, or
    /// disconnected): nothing more reaches it.
    Gone {
        /// The RPC.
        rpc: &'static str,
        /// The live call's id.
        id: u64,
    },
    /// Reading the client's stream failed: it cancelled or reset it.
    ClientGone {
        /// The RPC.
        rpc: &'static str,
        /// The live call's id.
        id: u64,
        /// What the read gave.
        status: Box<tonic::Status>,
    },
    /// `fail` was given status OK, which is not a failure.
    NotAFailure,
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiveError::TimedOut { what, waited } => write!(
                f,
                "{what} within {waited:?} (wait longer with Live::within, or check that the client made the call)"
            ),
            LiveError::Gone { rpc, id } => write!(
                f,
                "the client of live {rpc} call {id} is gone (it cancelled, reset, ran out of deadline or lost its connection)"
            ),
            LiveError::ClientGone { rpc, id, status } => write!(
                f,
                "the client of live {rpc} call {id} ended its stream with {:?} {:?}",
                status.code(),
                status.message()
            ),
            LiveError::NotAFailure => f.write_str(
                "fail() takes a status other than OK: end a stream with finish(), answer a call with respond()",
            ),
        }
    }
}

impl std::error::Error for LiveError {}
