//! End-to-end tests of orders-testkit (never published): the command line
//! as a child process, and the tests that drive outside tools (grpcurl,
//! nginx, Chromium with ChromeDriver, grpc-python).
//!
//! Its build script looks for those tools. Outside CI a missing one marks
//! the tests that need it `#[ignore]` with the reason, so `cargo test`
//! reports them as ignored rather than passed; in CI (`CI` set) nothing is
//! marked and they fail loudly without their tool. After installing one,
//! `touch e2e/build.rs`. No package that a user depends on has a build
//! script: the probes live here only.
//!
//! Run them with `cargo test` at the root, or `cargo test -p
//! orders-testkit-e2e`: both build the command line as this package's
//! example `orders-testkit`, which [`cli_binary`] finds.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The newest modification time of the Rust sources under `dir`.
fn newest_source(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let time = if path.is_dir() {
            newest_source(&path)
        } else if path.extension().is_some_and(|e| e == "rs") {
            entry.metadata().and_then(|m| m.modified()).ok()
        } else {
            None
        };
        newest = newest.max(time);
    }
    newest
}

/// The `orders-testkit` command line as this package's tests run it:
/// `target/<profile>/examples/orders-testkit`, next to the test executable.
///
/// # Panics
///
/// When it was not built, or is older than the command line's or the
/// library's sources (a `--test NAME` filter alone does not build
/// examples), naming the command that builds it.
pub fn cli_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/<test>-<hash>
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("a test runs from target/<profile>/deps");
    let binary = profile
        .join("examples")
        .join(format!("orders-testkit{}", std::env::consts::EXE_SUFFIX));
    let build = "cargo build -p orders-testkit-e2e --example orders-testkit \
                 (or run `cargo test -p orders-testkit-e2e`, which builds it)";
    let built = std::fs::metadata(&binary)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} not found: {build}", binary.display()));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for sources in [root.join("cli/src"), root.join("src")] {
        if newest_source(&sources).is_some_and(|newest| newest > built) {
            panic!(
                "{} is older than {}: {build}",
                binary.display(),
                sources.display()
            );
        }
    }
    binary
}
