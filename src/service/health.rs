//! A spec-correct `grpc.health.v1.Health` (H-1 to H-3).
//!
//! Unlike tonic-health 0.14, `Watch` of an unknown service streams
//! `SERVICE_UNKNOWN` and stays open, then follows the service if it is
//! registered later. Every change is delivered to every watcher, in order.
//!
//! ```
//! use orders_testkit::service::health::{HealthReporter, ServingStatus};
//!
//! let health = HealthReporter::new();
//! health.set_status("orders.v1.OrderService", ServingStatus::Serving);
//! assert_eq!(health.status("orders.v1.OrderService"), Some(ServingStatus::Serving));
//! health.set_status("orders.v1.OrderService", ServingStatus::NotServing);
//! assert_eq!(health.status("orders.v1.OrderService"), Some(ServingStatus::NotServing));
//! assert_eq!(health.status("other.Service"), None);
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Request, Response, Status};
pub use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use crate::grpc::deadline::{UntilDeadline, deadline_of};
use crate::service::model::subscribers::{SubscriberId, Subscribers};
use crate::service::orders::BoxStream;

#[derive(Debug, Default)]
struct State {
    statuses: HashMap<String, ServingStatus>,
    watchers: HashMap<String, Subscribers<ServingStatus>>,
}

/// The health statuses of a server's services; clone it to flip them from a
/// test while the server runs. Every clone shares one state.
#[derive(Debug, Clone, Default)]
pub struct HealthReporter {
    state: Arc<Mutex<State>>,
}

impl HealthReporter {
    /// A reporter that knows no service yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets a service's status (`""` is the whole server) and tells its
    /// watchers when it changed.
    pub fn set_status(&self, service: &str, status: ServingStatus) {
        let mut state = self.lock();
        let old = state.statuses.insert(service.to_string(), status);
        if old != Some(status)
            && let Some(w) = state.watchers.get_mut(service)
        {
            w.publish(&status);
        }
    }

    /// Sets every known service to `status` at once.
    pub fn set_all(&self, status: ServingStatus) {
        let names: Vec<String> = self.lock().statuses.keys().cloned().collect();
        for name in names {
            self.set_status(&name, status);
        }
    }

    /// A service's status, `None` when it is unknown.
    pub fn status(&self, service: &str) -> Option<ServingStatus> {
        self.lock().statuses.get(service).copied()
    }

    /// How many Watch calls are open, over all services.
    pub fn watcher_count(&self) -> usize {
        self.lock().watchers.values().map(Subscribers::len).sum()
    }

    /// The tonic service answering `grpc.health.v1.Health` from this reporter.
    pub fn service(&self) -> HealthServer<HealthService> {
        HealthServer::new(HealthService {
            reporter: self.clone(),
        })
    }
}

/// The `grpc.health.v1.Health` handlers over a [`HealthReporter`].
#[derive(Debug, Clone)]
pub struct HealthService {
    reporter: HealthReporter,
}

struct Unsubscribe {
    state: Weak<Mutex<State>>,
    service: String,
    id: SubscriberId,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        if let Some(state) = self.state.upgrade() {
            let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(w) = state.watchers.get_mut(&self.service) {
                w.unsubscribe(self.id);
                if w.is_empty() {
                    state.watchers.remove(&self.service);
                }
            }
        }
    }
}

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status as i32,
    }
}

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let service = &request.get_ref().service;
        match self.reporter.status(service) {
            Some(status) => Ok(Response::new(response(status))),
            None => Err(Status::not_found(format!(
                "unknown service {service:?}: this server does not report its health"
            ))),
        }
    }

    type WatchStream = BoxStream<HealthCheckResponse>;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let deadline = deadline_of(request.metadata());
        let service = request.into_inner().service;
        let (current, id, rx) = {
            let mut state = self.reporter.lock();
            let current = state
                .statuses
                .get(&service)
                .copied()
                .unwrap_or(ServingStatus::ServiceUnknown);
            let (id, rx) = state
                .watchers
                .entry(service.clone())
                .or_default()
                .subscribe();
            (current, id, rx)
        };
        let guard = Unsubscribe {
            state: Arc::downgrade(&self.reporter.state),
            service,
            id,
        };
        let updates = tokio_stream::once(current)
            .chain(UnboundedReceiverStream::new(rx))
            .map(move |status| {
                let _keep_subscribed = &guard;
                Ok(response(status))
            });
        Ok(Response::new(Box::pin(UntilDeadline::new(
            updates, deadline,
        ))))
    }
}
