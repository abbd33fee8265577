//! What a service team's build pays for: the packages a user depends on
//! (`orders-proto`, and `orders-testkit` with its defaults) have no build
//! script, so nothing runs on the user's machine when they compile, and the
//! testkit's default tree holds none of the command line's or the optional
//! features' crates. Read from cargo itself (`cargo metadata`, `cargo tree`).

use std::process::Command;

fn cargo(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("cargo prints UTF-8")
}

/// The names of the packages in the normal dependency tree of `package`
/// with its default features.
fn normal_tree(package: &str) -> Vec<String> {
    let tree = cargo(&[
        "tree",
        "--offline",
        "-p",
        package,
        "-e",
        "normal",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]);
    let mut names: Vec<String> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn no_package_a_user_depends_on_has_a_build_script() {
    let metadata: serde_json::Value = serde_json::from_str(&cargo(&[
        "metadata",
        "--offline",
        "--no-deps",
        "--format-version",
        "1",
    ]))
    .expect("cargo metadata is JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let mut seen = vec![];
    for package in packages {
        let name = package["name"].as_str().unwrap_or_default();
        let kinds: Vec<&str> = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|t| t["kind"].as_array().into_iter().flatten())
            .filter_map(|k| k.as_str())
            .collect();
        let has_build_script = kinds.contains(&"custom-build");
        match name {
            "orders-proto" | "orders-testkit" | "orders-testkit-cli" => {
                assert!(!has_build_script, "{name} has a build script: {kinds:?}");
                seen.push(name);
            }
            // The probes for outside tools live only here, never published.
            "orders-testkit-e2e" => {
                assert!(has_build_script, "the e2e package probes its tools");
                assert_eq!(
                    package["publish"],
                    serde_json::json!([]),
                    "e2e is never published"
                );
            }
            _ => {}
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        ["orders-proto", "orders-testkit", "orders-testkit-cli"]
    );
}

#[test]
fn the_testkit_by_default_pulls_in_no_optional_or_cli_crate() {
    let testkit = normal_tree("orders-testkit");
    for heavy in [
        "proptest",
        "quick-junit",
        "toml",
        "clap",
        "indicatif",
        "rustls",
        "ring",
        "tokio-rustls",
    ] {
        assert!(
            !testkit.iter().any(|p| p == heavy),
            "orders-testkit's default tree has {heavy}:\n{testkit:?}"
        );
    }
    // It is the real tree: the crates the mock stands on are there.
    for needed in [
        "orders-proto",
        "tonic",
        "tonic-health",
        "tonic-reflection",
        "tokio",
    ] {
        assert!(
            testkit.iter().any(|p| p == needed),
            "{needed} missing: {testkit:?}"
        );
    }
    let types = normal_tree("orders-proto");
    for p in &types {
        assert!(
            [
                "orders-proto",
                "prost",
                "prost-types",
                "tonic",
                "tonic-prost"
            ]
            .contains(&p.as_str())
                || testkit.contains(p),
            "orders-proto pulls in {p}, which the testkit does not"
        );
    }
    println!(
        "packages: orders-proto {}, orders-testkit (defaults) {}, cli {}",
        types.len(),
        testkit.len(),
        normal_tree("orders-testkit-cli").len()
    );
}
