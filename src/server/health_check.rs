//! A client's health check of a server at a URL: one
//! `grpc.health.v1.Health/Check` call, bounded in time (what
//! `orders-testkit health` and a container's health check run).

use std::time::Duration;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::{ClientTls, endpoint, error_chain};

/// Asks the server at `url` whether `service` (`""`: the server as a whole)
/// is serving, within `timeout`. `Ok` carries the status the server
/// answered by its proto name (`SERVING`, `NOT_SERVING`, `SERVICE_UNKNOWN`,
/// `UNKNOWN`); an error says why there was no answer (unreachable, the
/// deadline, a non-OK status such as `NOT_FOUND` for a service it does not
/// know).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use orders_testkit::server::{ClientTls, check_health};
///
/// let mock = orders_testkit::OrderMock::builder()
///     .serve_tcp("127.0.0.1:0".parse().unwrap())
///     .await
///     .unwrap();
/// let url = format!("http://{}", mock.local_addr().unwrap());
/// let tls = ClientTls::default();
/// let status = check_health(&url, &tls, "", Duration::from_secs(2)).await;
/// assert_eq!(status.as_deref(), Ok("SERVING"));
/// mock.set_serving(false);
/// let status = check_health(&url, &tls, "orders.v1.OrderService", Duration::from_secs(2)).await;
/// assert_eq!(status.as_deref(), Ok("NOT_SERVING"));
/// # }
/// ```
pub async fn check_health(
    url: &str,
    tls: &ClientTls,
    service: &str,
    timeout: Duration,
) -> Result<String, String> {
    let endpoint = endpoint(url, tls)?
        .connect_timeout(timeout)
        .timeout(timeout);
    let check = async {
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| format!("{url}: cannot connect: {}", error_chain(&e)))?;
        HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: service.to_string(),
            })
            .await
            .map_err(|st| {
                format!(
                    "{url}: the health check of {service:?} answered {:?} {:?}",
                    st.code(),
                    st.message()
                )
            })
    };
    let answer = tokio::time::timeout(timeout, check)
        .await
        .map_err(|_| format!("{url}: no health answer within {timeout:?}"))??;
    let status =
        ServingStatus::try_from(answer.into_inner().status).map_or("UNKNOWN", |s| s.as_str_name());
    Ok(status.to_string())
}
