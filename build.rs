//! Compiles `proto/orders/v1/orders.proto` (and the admin service's
//! `proto/orders_testkit/admin/v1/admin.proto`) with protox (no protoc needed) and
//! generates the prost messages and tonic client/server with tonic-prost-build.
//! The encoded descriptor set, with source info so reflection shows the doc
//! comments, is written to `$OUT_DIR/orders_descriptor.bin`.
//!
//! It also looks for the outside tools some tests drive (grpcurl, nginx,
//! grpc-python, Chromium with ChromeDriver). Outside CI, a missing one sets a cfg that marks those tests
//! `#[ignore]` with the reason, so `cargo test` reports them as ignored
//! rather than passed; in CI (`CI` set) nothing is marked and the tests fail
//! loudly without their tool. After installing a tool, `touch build.rs`.

use std::process::{Command, Stdio};
use std::{env, fs, path::PathBuf};

/// Whether `program args` runs and exits with success.
fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Marks the tests needing a tool that is absent here (never in CI).
fn probe_test_tools() {
    for var in ["CI", "PATH", "GRPCURL"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    type Probe = fn() -> bool;
    let tools: [(&str, Probe); 4] = [
        ("orders_testkit_no_grpcurl", || {
            let bin = env::var("GRPCURL").unwrap_or_else(|_| "grpcurl".into());
            runs(&bin, &["-version"])
        }),
        ("orders_testkit_no_nginx", || {
            ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
                .iter()
                .any(|p| std::path::Path::new(p).exists())
        }),
        ("orders_testkit_no_chromium", || {
            runs("chromium", &["--version"]) && runs("chromedriver", &["--version"])
        }),
        ("orders_testkit_no_grpcio", || {
            runs(
                "python3",
                &[
                    "-c",
                    "import grpc, grpc_tools, grpc_status, grpc_health, grpc_reflection",
                ],
            )
        }),
    ];
    // A dependency's build (from a registry or git) has no tests to mark.
    let manifest = env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let ours = !manifest.contains("registry/src") && !manifest.contains("git/checkouts");
    let ci = env::var_os("CI").is_some();
    for (cfg, present) in tools {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if ours && !ci && !present() {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed=build.rs");
    probe_test_tools();
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_file("orders/v1/orders.proto")?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("orders_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    tonic_prost_build::configure()
        .emit_rerun_if_changed(false)
        .compile_fds(compiler.file_descriptor_set())?;

    // The admin service of `serve --admin`: a descriptor set of its own, so
    // that reflection lists it only when it is served.
    let mut admin = protox::Compiler::new(["proto"])?;
    admin
        .include_source_info(true)
        .include_imports(true)
        .open_file("orders_testkit/admin/v1/admin.proto")?;
    fs::write(
        out_dir.join("admin_descriptor.bin"),
        admin.encode_file_descriptor_set(),
    )?;
    tonic_prost_build::configure()
        .emit_rerun_if_changed(false)
        .compile_fds(admin.file_descriptor_set())?;
    Ok(())
}
