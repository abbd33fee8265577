//! gRPC server reflection, v1 and v1alpha (REFL-1, PROTO-2), from the
//! embedded descriptor sets of `orders.v1` (with its doc comments) and
//! `grpc.health.v1`, so `grpcurl list` and `grpcurl describe` work.
//!
//! ```
//! let routes = tonic::service::Routes::default();
//! let _routes = orders_testkit::reflection::add_reflection(routes);
//! ```

use std::any::Any;
use std::sync::OnceLock;

use tonic::service::Routes;
use tonic_reflection::server::v1::{ServerReflection as V1, ServerReflectionServer as V1Server};
use tonic_reflection::server::v1alpha::{
    ServerReflection as V1Alpha, ServerReflectionServer as V1AlphaServer,
};

type Cell = OnceLock<Box<dyn Any + Send + Sync>>;

/// Builds a value once per process and hands out clones. tonic-reflection's
/// services have unnameable types, hence the `Any`; `init` always makes the
/// same type, so the downcast cannot fail.
fn cached<T: Any + Clone + Send + Sync>(cell: &'static Cell, init: impl FnOnce() -> T) -> T {
    cell.get_or_init(|| Box::new(init()))
        .downcast_ref::<T>()
        .cloned()
        .unwrap_or_else(|| unreachable!("a cell always holds the type its init makes"))
}

fn builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        // So that grpcurl can decode google.rpc error details.
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
}

const VALID: &str = "the embedded descriptor sets are valid (checked by the test suite)";

/// The reflection v1 service (built once per process and shared).
pub fn v1() -> V1Server<impl V1> {
    servers(false).0
}

/// The reflection v1alpha service (built once per process and shared).
pub fn v1alpha() -> V1AlphaServer<impl V1Alpha> {
    servers(false).1
}

/// Adds both reflection services to `routes`.
pub fn add_reflection(routes: Routes) -> Routes {
    routes.add_service(v1()).add_service(v1alpha())
}

/// Both reflection services, listing the admin service of `serve --admin`
/// beside the others when `admin` (each variant built once per process and
/// shared; one type for both, so the mock's stack has one type).
pub(crate) fn servers(admin: bool) -> (V1Server<impl V1>, V1AlphaServer<impl V1Alpha>) {
    static V1_CELL: Cell = OnceLock::new();
    static V1ALPHA_CELL: Cell = OnceLock::new();
    static V1_ADMIN: Cell = OnceLock::new();
    static V1ALPHA_ADMIN: Cell = OnceLock::new();
    let with = move || {
        let builder = builder();
        #[cfg(feature = "admin")]
        let builder = if admin {
            builder.register_encoded_file_descriptor_set(crate::admin::pb::FILE_DESCRIPTOR_SET)
        } else {
            builder
        };
        builder
    };
    let (v1_cell, v1alpha_cell) = if admin {
        (&V1_ADMIN, &V1ALPHA_ADMIN)
    } else {
        (&V1_CELL, &V1ALPHA_CELL)
    };
    (
        cached(v1_cell, || with().build_v1().expect(VALID)),
        cached(v1alpha_cell, || with().build_v1alpha().expect(VALID)),
    )
}
