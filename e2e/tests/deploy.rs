//! The container files (`Containerfile`, `deploy/verify-job.yaml`,
//! `deploy/compose.yaml`) ask only for what the binary has: each parses,
//! every flag and environment variable they pass is in the `--help` of its
//! subcommand, they name the image `scripts/image.sh` builds, and their
//! command lines run: the Job's `verify` against a served mock (its JUnit
//! report written), the compose file's `serve` and its health check (with
//! loopback port 0 for the addresses they publish).
//!
//! The image itself is built and checked by `scripts/image.sh` (CI runs it).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::process::Served;
use serde_yaml_ng::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path} does not parse: {e}"))
}

fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(orders_testkit_e2e::cli_binary())
        .args(args)
        .stdin(Stdio::null())
        .env_remove("ORDERS_TESTKIT_TOKEN")
        .output()
        .unwrap()
}

/// Runs the binary with `args`, which must exit 0; its output.
#[track_caller]
fn run_ok(args: &[String]) -> Output {
    let out = run(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// The long flags and environment variables `<subcommand> --help` lists.
fn accepted(subcommand: &str) -> Vec<String> {
    let out = run(&[subcommand, "--help"]);
    assert!(out.status.success(), "{subcommand} --help failed");
    String::from_utf8_lossy(&out.stdout)
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
        .filter(|w| w.starts_with("--") || w.starts_with("ORDERS_TESTKIT_"))
        .map(|w| w.trim_end_matches(':').to_string())
        .collect()
}

/// Every `--flag` of `args` (the `=value` form too) is one the subcommand
/// accepts.
#[track_caller]
fn assert_flags_exist(what: &str, subcommand: &str, args: &[String]) {
    let known = accepted(subcommand);
    let flags: Vec<&str> = args
        .iter()
        .filter(|a| a.starts_with("--"))
        .map(|a| a.split('=').next().unwrap_or(a))
        .collect();
    assert!(!flags.is_empty(), "{what}: no flags found in {args:?}");
    for flag in flags {
        assert!(
            known.iter().any(|k| k == flag),
            "{what} passes {flag}, which `{subcommand} --help` does not list: {known:?}"
        );
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("not a list: {v:?}"))
        .iter()
        .map(|s| match s {
            Value::String(s) => s.clone(),
            other => panic!("not a string: {other:?} (quote numbers in args)"),
        })
        .collect()
}

/// The image `scripts/image.sh` builds by default.
fn image() -> String {
    let cli = std::fs::read_to_string(root().join("cli/Cargo.toml")).unwrap();
    let version = cli
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap();
    format!("localhost/orders-testkit:{version}")
}

/// The value after `flag` in `args`.
fn value_of<'a>(args: &'a [String], flag: &str) -> &'a str {
    let i = args
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("no {flag} in {args:?}"));
    &args[i + 1]
}

/// `args` with the value after `flag` replaced.
fn with(mut args: Vec<String>, flag: &str, value: &str) -> Vec<String> {
    let i = args.iter().position(|a| a == flag).unwrap();
    args[i + 1] = value.to_string();
    args
}

#[test]
fn the_kubernetes_job_runs_verify_once_with_flags_the_binary_has() {
    let job = yaml("deploy/verify-job.yaml");
    assert_eq!(job["kind"].as_str(), Some("Job"));
    assert_eq!(
        job["spec"]["backoffLimit"].as_u64(),
        Some(0),
        "a failed check is not retried"
    );
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"].as_str(), Some("Never"));
    let container = &pod["containers"][0];
    assert_eq!(container["image"].as_str(), Some(image().as_str()));
    let args = strings(&container["args"]);
    assert_eq!(args[0], "verify");
    assert_flags_exist("the Job", "verify", &args);

    // Tokens come from a Secret through the variables --token & co read.
    let known = accepted("verify");
    let env = container["env"].as_sequence().unwrap();
    assert!(!env.is_empty());
    for var in env {
        let name = var["name"].as_str().unwrap();
        assert!(
            known.iter().any(|k| k == name),
            "{name} is not read by verify: {known:?}"
        );
        assert!(
            var["valueFrom"]["secretKeyRef"]["name"].as_str().is_some(),
            "{name}: not from a Secret"
        );
    }
    assert!(
        !args.iter().any(|a| a.contains("token")),
        "a token on the command line: {args:?}"
    );

    // The JUnit report goes to a mounted volume; resources are bounded.
    let junit = value_of(&args, "--junit");
    let mounts = container["volumeMounts"].as_sequence().unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| junit.starts_with(m["mountPath"].as_str().unwrap())),
        "{junit} is on no mounted volume"
    );
    for key in ["cpu", "memory"] {
        assert!(
            container["resources"]["limits"][key].as_str().is_some(),
            "no {key} limit"
        );
    }

    // The Job's command line, against a served mock, writes its report.
    let served = Served::start(&[]);
    let dir = std::env::temp_dir().join(format!("orders-testkit-job-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("junit.xml");
    let args = with(args, "--endpoint", &served.url());
    let args = with(args, "--junit", report.to_str().unwrap());
    run_ok(&args);
    let xml = std::fs::read_to_string(&report).unwrap();
    assert!(xml.contains("<testsuite"), "{xml}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_compose_file_serves_the_mock_and_checks_its_health_with_flags_the_binary_has() {
    let compose = yaml("deploy/compose.yaml");
    let mock = &compose["services"]["orders-mock"];
    assert_eq!(mock["image"].as_str(), Some(image().as_str()));
    let command = strings(&mock["command"]);
    assert_eq!(command[0], "serve");
    assert_flags_exist("compose's orders-mock", "serve", &command);
    assert!(
        value_of(&command, "--addr").starts_with("0.0.0.0:"),
        "inside a container serve must be asked to listen beyond loopback"
    );
    assert!(command.iter().any(|a| a == "--admin"));
    let test = strings(&mock["healthcheck"]["test"]);
    assert_eq!(&test[..3], ["CMD", "/orders-testkit", "health"]);
    let health = test[2..].to_vec();
    assert_flags_exist("compose's health check", "health", &health);
    // The service under test starts once the mock is healthy.
    assert_eq!(
        compose["services"]["service-under-test"]["depends_on"]["orders-mock"]["condition"]
            .as_str(),
        Some("service_healthy")
    );

    // The compose command runs (on loopback, a free port), and its health
    // check answers SERVING: exit 0.
    let command = with(command, "--addr", "127.0.0.1:0");
    let command = with(command, "--admin-addr", "127.0.0.1:0");
    let command: Vec<&str> = command.iter().map(String::as_str).collect();
    let served = Served::spawn(&command);
    let health = with(health, "--endpoint", &served.url());
    let out = run_ok(&health);
    assert!(String::from_utf8_lossy(&out.stdout).contains("SERVING"));
}

#[test]
fn the_containerfile_runs_the_binary_as_nonroot_with_a_health_check_it_has() {
    let file = std::fs::read_to_string(root().join("Containerfile")).unwrap();
    let line = |prefix: &str| {
        file.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} line"))
            .to_string()
    };
    assert!(line("FROM ").contains("scratch"));
    assert_eq!(line("ENTRYPOINT "), "ENTRYPOINT [\"/orders-testkit\"]");
    assert!(!line("USER ").contains(" 0"), "runs as root");
    let exposed = line("EXPOSE ");
    assert!(
        exposed.contains("50051") && exposed.contains("50080"),
        "{exposed}"
    );
    for label in ["title", "version", "revision", "licenses"] {
        assert!(
            file.contains(&format!("org.opencontainers.image.{label}=")),
            "no {label} label"
        );
    }
    // The health check's command line, continued on the next line.
    let at = file.find("HEALTHCHECK").unwrap();
    let cmd = &file[at..];
    let json = &cmd[cmd.find("CMD [").unwrap() + 4..=cmd.find(']').unwrap()];
    let args: Vec<String> = serde_json::from_str(json).unwrap();
    assert_eq!(&args[..2], ["/orders-testkit", "health"]);
    assert_flags_exist("the Containerfile's HEALTHCHECK", "health", &args[1..]);
}
