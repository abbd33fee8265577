//! Looks for the outside tools the end-to-end tests drive (grpcurl, nginx,
//! grpc-python, grpc-js, Chromium with ChromeDriver). Outside CI, a missing one sets a
//! cfg that marks those tests `#[ignore]` with the reason, so `cargo test`
//! reports them as ignored rather than passed; in CI (`CI` set) nothing is
//! marked and the tests fail loudly without their tool. After installing a
//! tool, `touch e2e/build.rs`. This package is never published, and no
//! package a user depends on has a build script.

use std::env;
use std::process::{Command, Stdio};

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
    let tools: [(&str, Probe); 5] = [
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
        ("orders_testkit_no_grpcjs", || {
            // `npm ci --prefix e2e/tests/grpcjs` installs them.
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/grpcjs");
            Command::new("node")
                .args([
                    "-e",
                    "require('@grpc/grpc-js'); require('@grpc/reflection')",
                ])
                .current_dir(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        }),
    ];
    let ci = env::var_os("CI").is_some();
    for (cfg, present) in tools {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if !ci && !present() {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    probe_test_tools();
}
