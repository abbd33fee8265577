//! The descriptors the testkit knows at run time: `orders.v1` (with source
//! info), `google.rpc` (error details) and `grpc.health.v1`, in one
//! prost-reflect pool for decoding `Any` details and the protobuf JSON mapping.
//!
//! ```
//! let pool = orders_testkit::grpc::descriptors::pool();
//! assert!(pool.get_service_by_name("orders.v1.OrderService").is_some());
//! assert!(pool.get_message_by_name("google.rpc.BadRequest").is_some());
//! ```

use std::sync::OnceLock;

use prost_reflect::DescriptorPool;

/// The shared descriptor pool (built once per process).
pub fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut pool = DescriptorPool::new();
        for fds in [
            crate::pb::FILE_DESCRIPTOR_SET,
            tonic_types::pb::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
        ] {
            pool.decode_file_descriptor_set(fds)
                .expect("the embedded descriptor sets are valid (checked by the test suite)");
        }
        pool
    })
}
