//! The generated code is checked in (so no package a user depends on has a
//! build script): `orders-proto/src/generated/` from
//! `proto/orders/v1/orders.proto`, `src/admin/generated/` from
//! `proto/orders_testkit/admin/v1/admin.proto` (and, for the bridge test,
//! `tests/bridge/` with messages only). This test generates them
//! anew with protox and tonic-prost-build and fails on any difference;
//! `UPDATE_GENERATED=1 cargo test -p orders-testkit-e2e --test
//! generated_code` rewrites them.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Generates `proto` (a path under `proto/`) into a fresh folder: the Rust
/// module `{package}.rs` and the encoded descriptor set with source info.
fn generate(proto: &str, package: &str, services: bool) -> (String, Vec<u8>) {
    let mut compiler = protox::Compiler::new([root().join("proto")]).expect("the proto folder");
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_file(proto)
        .unwrap_or_else(|e| panic!("{proto} compiles: {e}"));
    // One folder per generation: the tests run in parallel, and two of them
    // generate the same package (with and without services).
    let out = std::env::temp_dir().join(format!(
        "orders-testkit-generated-{}-{package}-{}",
        std::process::id(),
        if services { "services" } else { "messages" }
    ));
    std::fs::create_dir_all(&out).unwrap();
    tonic_prost_build::configure()
        .build_client(services)
        .build_server(services)
        .emit_rerun_if_changed(false)
        .out_dir(&out)
        .compile_fds(compiler.file_descriptor_set())
        .unwrap_or_else(|e| panic!("{proto} generates: {e}"));
    let code = std::fs::read_to_string(out.join(format!("{package}.rs"))).unwrap();
    std::fs::remove_dir_all(&out).ok();
    (code, compiler.encode_file_descriptor_set())
}

/// Compares (or, with `UPDATE_GENERATED=1`, rewrites) one checked-in pair.
fn check(proto: &str, package: &str, dir: &str, descriptor: Option<&str>) {
    let (code, fds) = generate(proto, package, descriptor.is_some());
    let dir = root().join(dir);
    let code_path = dir.join(format!("{package}.rs"));
    let fds_path = descriptor.map(|d| dir.join(d));
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&code_path, &code).unwrap();
        if let Some(fds_path) = &fds_path {
            std::fs::write(fds_path, &fds).unwrap();
        }
        return;
    }
    let stale = "is stale: rerun with UPDATE_GENERATED=1 cargo test -p orders-testkit-e2e --test generated_code";
    assert!(
        std::fs::read_to_string(&code_path).unwrap() == code,
        "{} {stale}",
        code_path.display()
    );
    if let Some(fds_path) = fds_path {
        assert!(
            std::fs::read(&fds_path).unwrap() == fds,
            "{} {stale}",
            fds_path.display()
        );
    }
}

#[test]
fn orders_v1_code_and_descriptors_are_generated_from_the_proto() {
    check(
        "orders/v1/orders.proto",
        "orders.v1",
        "orders-proto/src/generated",
        Some("orders_descriptor.bin"),
    );
}

#[test]
fn admin_code_and_descriptors_are_generated_from_the_proto() {
    check(
        "orders_testkit/admin/v1/admin.proto",
        "orders_testkit.admin.v1",
        "src/admin/generated",
        Some("admin_descriptor.bin"),
    );
}

/// A service team's own generation of the same proto (messages only, as
/// prost-build makes them), which `tests/bridge.rs` converts to and from.
#[test]
fn a_separately_generated_copy_of_orders_v1_for_the_bridge_test() {
    check("orders/v1/orders.proto", "orders.v1", "tests/bridge", None);
}
