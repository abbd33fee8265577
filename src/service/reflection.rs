//! gRPC server reflection, v1 and v1alpha (REFL-1, PROTO-2), from the
//! embedded descriptor sets of `orders.v1` (with its doc comments) and
//! `grpc.health.v1`, so `grpcurl list` and `grpcurl describe` work.
//!
//! ```
//! let routes = tonic::service::Routes::default();
//! let _routes = orders_testkit::service::reflection::add_reflection(routes);
//! ```

use std::any::Any;
use std::sync::Mutex;

use tonic::service::Routes;
use tonic_reflection::server::v1::{ServerReflection as V1, ServerReflectionServer as V1Server};
use tonic_reflection::server::v1alpha::{
    ServerReflection as V1Alpha, ServerReflectionServer as V1AlphaServer,
};

/// The reflection services built so far, by what they list (each built
/// once per process and shared). tonic-reflection's services have
/// unnameable types, hence the `Any`; a key's `init` always makes the same
/// type, so the downcast cannot fail.
static BUILT: Mutex<Vec<(Key, Box<dyn Any + Send + Sync>)>> = Mutex::new(Vec::new());

/// Which service (v1 or v1alpha) and the address of the extra descriptor
/// set it lists, if any.
type Key = (bool, Option<usize>);

fn cached<T: Any + Clone + Send + Sync>(key: Key, init: impl FnOnce() -> T) -> T {
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, service)) = built.iter().find(|(k, _)| *k == key) {
        return service
            .downcast_ref::<T>()
            .cloned()
            .unwrap_or_else(|| unreachable!("a key always holds the type its init makes"));
    }
    let service = init();
    built.push((key, Box::new(service.clone())));
    service
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
    servers(None).0
}

/// The reflection v1alpha service (built once per process and shared).
pub fn v1alpha() -> V1AlphaServer<impl V1Alpha> {
    servers(None).1
}

/// Adds both reflection services to `routes`.
pub fn add_reflection(routes: Routes) -> Routes {
    routes.add_service(v1()).add_service(v1alpha())
}

/// Both reflection services, listing the services of `extra` (an encoded
/// descriptor set, such as the admin service's) beside the others. One
/// type whatever is listed, so the mock's stack has one type.
pub(crate) fn servers(
    extra: Option<&'static [u8]>,
) -> (V1Server<impl V1>, V1AlphaServer<impl V1Alpha>) {
    let with = move || match extra {
        Some(fds) => builder().register_encoded_file_descriptor_set(fds),
        None => builder(),
    };
    let at = extra.map(|fds| fds.as_ptr() as usize);
    (
        cached((true, at), || with().build_v1().expect(VALID)),
        cached((false, at), || with().build_v1alpha().expect(VALID)),
    )
}
