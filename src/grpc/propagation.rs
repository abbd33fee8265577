//! Deadline propagation for middle services (the article's B between A and
//! C): read what is left of the incoming deadline, give the outgoing call
//! no more than that less the time already spent and a safety margin, and
//! fail fast with `DEADLINE_EXCEEDED` when too little is left.
//!
//! ```
//! use std::time::Duration;
//! use orders_testkit::grpc::propagation::{Budget, Propagation};
//!
//! // B received a call with 500 ms left.
//! let mut incoming = tonic::Request::new(());
//! incoming.set_timeout(Duration::from_millis(500));
//! let budget = Budget::from_request(&incoming);
//!
//! let rules = Propagation::new(Duration::from_millis(20), Duration::from_millis(100));
//! let mut outgoing = tonic::Request::new(());
//! let given = rules.apply(&budget, &mut outgoing).unwrap();
//! assert!(given <= Duration::from_millis(480));
//! assert!(outgoing.metadata().get("grpc-timeout").is_some());
//! ```

use std::time::Duration;

use tokio::time::Instant;
use tonic::Status;

use crate::grpc::deadline::timeout_of;

/// What is left of an incoming call's deadline, counted from its arrival.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    deadline: Option<Instant>,
}

impl Budget {
    /// The budget of a request, taken when the handler starts (`None`
    /// deadline when the caller set none).
    ///
    /// ```
    /// let mut req = tonic::Request::new(());
    /// req.set_timeout(std::time::Duration::from_secs(1));
    /// let left = orders_testkit::grpc::propagation::Budget::from_request(&req).remaining().unwrap();
    /// assert!(left <= std::time::Duration::from_secs(1));
    /// ```
    pub fn from_request<T>(request: &tonic::Request<T>) -> Self {
        Self {
            deadline: timeout_of(request.metadata()).map(|t| Instant::now() + t),
        }
    }

    /// A budget ending at `deadline` (or unbounded).
    ///
    /// ```
    /// assert!(orders_testkit::grpc::propagation::Budget::until(None).remaining().is_none());
    /// ```
    pub fn until(deadline: Option<Instant>) -> Self {
        Self { deadline }
    }

    /// The time left now; `None` when unbounded.
    ///
    /// ```
    /// let soon = tokio::time::Instant::now();
    /// assert_eq!(orders_testkit::grpc::propagation::Budget::until(Some(soon)).remaining(), Some(std::time::Duration::ZERO));
    /// ```
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }
}

/// How a middle service derives outgoing deadlines.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct Propagation {
    /// Kept back for the middle service's own work after the call returns.
    pub margin: Duration,
    /// Below this much time left, fail fast instead of calling.
    pub threshold: Duration,
}

impl Propagation {
    /// Keep `margin` back for the middle service's own work, and fail fast
    /// below `threshold` left.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rules = orders_testkit::grpc::propagation::Propagation::new(Duration::from_millis(20), Duration::from_millis(100));
    /// assert_eq!(rules.margin, Duration::from_millis(20));
    /// ```
    pub fn new(margin: Duration, threshold: Duration) -> Self {
        Self { margin, threshold }
    }

    /// Sets the outgoing request's timeout to what is left less the margin,
    /// and returns it; or fails fast with `DEADLINE_EXCEEDED` ("insufficient
    /// time remaining") when less than the threshold is left. An unbounded
    /// budget leaves the request as it is (`Ok(Duration::MAX)`), so a
    /// deadline is never invented — nor ever extended.
    ///
    /// ```
    /// use orders_testkit::grpc::propagation::{Budget, Propagation};
    /// let rules = Propagation::new(std::time::Duration::ZERO, std::time::Duration::from_millis(50));
    /// let almost_gone = Budget::until(Some(tokio::time::Instant::now()));
    /// let err = rules.apply(&almost_gone, &mut tonic::Request::new(())).unwrap_err();
    /// assert_eq!(err.code(), tonic::Code::DeadlineExceeded);
    /// ```
    pub fn apply<T>(
        &self,
        budget: &Budget,
        outgoing: &mut tonic::Request<T>,
    ) -> Result<Duration, Status> {
        let Some(left) = budget.remaining() else {
            return Ok(Duration::MAX);
        };
        let give = left.saturating_sub(self.margin);
        if give < self.threshold || give.is_zero() {
            return Err(Status::deadline_exceeded(format!(
                "insufficient time remaining: {} ms left, {} ms needed",
                give.as_millis(),
                self.threshold.as_millis()
            )));
        }
        // grpc-timeout carries whole milliseconds at best: round down, so
        // the callee's deadline is never later than ours.
        let give = Duration::from_millis(give.as_millis() as u64);
        outgoing.set_timeout(give);
        Ok(give)
    }
}
