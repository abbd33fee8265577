//! What a mock serves beside OrderService on its port, and the mock's
//! shared parts it works on. The mock knows only this trait; the admin
//! surface implements it from outside.

use std::sync::Arc;

use crate::fault::FaultPlan;
use crate::journal::Journal;
use crate::layers::auth::Tokens;
use crate::mock::stubs::StubTable;
use crate::server::HttpService;
use crate::service::model::Store;

/// The mock's shared parts, as a service served beside it (the admin
/// surface) works on them.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "admin"), allow(dead_code))]
pub(crate) struct Parts {
    pub(crate) store: Arc<Store>,
    pub(crate) stubs: Arc<StubTable>,
    pub(crate) live: Arc<crate::mock::live::LiveBoard>,
    pub(crate) faults: FaultPlan,
    pub(crate) journal: Journal,
    pub(crate) tokens: Tokens,
}

/// What a mock serves beside OrderService on its port: nothing by default;
/// the admin surface builds its mock with one of its own. The mock knows
/// only this trait, not what implements it.
pub(crate) trait Beside {
    /// A descriptor set reflection lists beside orders.v1 and health.
    fn descriptors(&self) -> Option<&'static [u8]>;
    /// The service on the mock's port: `mock` (the mock's whole stack) with
    /// whatever this adds beside it.
    fn serve<S: HttpService>(self, mock: S, parts: &Parts) -> impl HttpService;
}

/// Nothing beside: the mock's stack alone.
impl Beside for () {
    fn descriptors(&self) -> Option<&'static [u8]> {
        None
    }

    fn serve<S: HttpService>(self, mock: S, _: &Parts) -> impl HttpService {
        mock
    }
}
