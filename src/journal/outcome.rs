//! How a call ended.

use tonic::Code;

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let mock = orders_testkit::OrderMock::start().await;
/// use orders_testkit::journal::Outcome;
/// let _ = mock.client().get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() }).await;
/// let call = &mock.journal().wait_for_ended(1).await[0];
/// assert!(matches!(call.outcome, Outcome::Status { code: tonic::Code::NotFound, .. }));
/// # }
/// ```
pub enum Outcome {
    /// Not ended yet.
    InFlight,
    /// Ended with this status (OK included).
    Status {
        /// The status code.
        code: Code,
        /// The status message.
        message: String,
        /// The encoded `google.rpc.Status` of `grpc-status-details-bin`
        /// (empty when none was sent).
        details: bytes::Bytes,
    },
    /// Ended after its response headers with no status sent: the client
    /// cancelled, or the connection or server went away mid-response.
    NoStatus,
    /// Ended before any response headers: the client's deadline passed, it
    /// dropped the call, or the connection went away.
    Cancelled,
}

impl Outcome {
    /// The outcome the status in `headers` says, if there is one.
    pub(crate) fn from_headers(headers: &http::HeaderMap) -> Option<Self> {
        let (code, message, details) = crate::grpc::status_repair::parts_of(headers)?;
        Some(Outcome::Status {
            code,
            message,
            details,
        })
    }

    /// The status the call ended with (details included), if any.
    ///
    /// ```
    /// use orders_testkit::journal::Outcome;
    /// assert!(Outcome::NoStatus.status().is_none());
    /// ```
    pub fn status(&self) -> Option<tonic::Status> {
        match self {
            Outcome::Status {
                code,
                message,
                details,
            } => Some(tonic::Status::with_details(
                *code,
                message.clone(),
                details.clone(),
            )),
            _ => None,
        }
    }

    /// The code, when the call ended with a status.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// let _ = mock.client().get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() }).await;
    /// let calls = mock.journal().wait_for_ended(1).await;
    /// assert_eq!(calls[0].outcome.code(), Some(tonic::Code::NotFound));
    /// # }
    /// ```
    pub fn code(&self) -> Option<Code> {
        match self {
            Outcome::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}
