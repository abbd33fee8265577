//! The `orders-testkit` binary as a child process (tests with the `cli`
//! feature).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::mpsc;

use super::GUARD;

/// The `orders-testkit` binary running `serve` (or any command that
/// prints its bound address as the last word of its first line).
pub struct Served {
    child: Option<Child>,
    pub addr: SocketAddr,
    /// The admin HTTP address, from [`Served::start_admin`].
    pub admin: Option<SocketAddr>,
    stderr: Option<BufReader<ChildStderr>>,
}

impl Served {
    /// `orders-testkit serve --addr 127.0.0.1:0 EXTRA...`.
    pub fn start(extra: &[&str]) -> Self {
        let mut args = vec!["serve", "--addr", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        Self::spawn(&args)
    }

    /// `orders-testkit serve --addr 127.0.0.1:0 --admin --admin-addr
    /// 127.0.0.1:0 EXTRA...`, once it has printed both addresses.
    pub fn start_admin(extra: &[&str]) -> Self {
        let mut args = vec![
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--admin",
            "--admin-addr",
            "127.0.0.1:0",
        ];
        args.extend_from_slice(extra);
        Self::spawn_lines(&args, 2)
    }

    /// `orders-testkit ARGS...`, once it has printed its address.
    pub fn spawn(args: &[&str]) -> Self {
        Self::spawn_lines(args, 1)
    }

    /// `orders-testkit ARGS...`, once it has printed `lines` lines, each
    /// ending with an address (the first is `addr`, a second `admin`).
    fn spawn_lines(args: &[&str], lines: usize) -> Self {
        Self::spawn_binary(orders_testkit_e2e::cli_binary(), args, lines)
    }

    /// The benchmarks' bare tonic OrderService over TCP (the `bare_orders`
    /// example): the baseline of the load test.
    #[allow(dead_code)]
    pub fn bare() -> Self {
        let binary = orders_testkit_e2e::cli_binary()
            .with_file_name(format!("bare_orders{}", std::env::consts::EXE_SUFFIX));
        assert!(
            binary.exists(),
            "{} not found: cargo build -p orders-testkit-e2e --examples",
            binary.display()
        );
        Self::spawn_binary(binary, &[], 1)
    }

    fn spawn_binary(binary: std::path::PathBuf, args: &[&str], lines: usize) -> Self {
        let mut child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            for _ in 0..lines {
                let mut line = String::new();
                let _ = stdout.read_line(&mut line);
                let _ = tx.send(line);
            }
            // Then the rest, to the end: a child that prints more than was
            // waited for (serve's admin line) must not meet a closed pipe.
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
        let mut addrs = (0..lines).map(|_| {
            let line = rx.recv_timeout(GUARD).expect("the address is printed");
            line.split_whitespace()
                .last()
                .map(|a| a.trim_start_matches("http://").trim_end_matches('/'))
                .and_then(|a| a.parse::<SocketAddr>().ok())
                .unwrap_or_else(|| panic!("no address in {line:?}"))
        });
        let addr = addrs.next().expect("one line at least");
        let admin = addrs.next();
        let stderr = child.stderr.take().map(BufReader::new);
        Self {
            child: Some(child),
            addr,
            admin,
            stderr,
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let ok = Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} {pid}");
    }

    /// Blocks until the server says on stderr that it is shutting down.
    pub fn await_shutdown_line(&mut self) {
        let mut stderr = self.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).unwrap_or(0) > 0 {
                if line.contains("shutting down") {
                    let _ = tx.send(());
                    return;
                }
                line.clear();
            }
        });
        rx.recv_timeout(GUARD)
            .expect("the server announces its shutdown");
    }

    pub fn wait(mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        rx.recv_timeout(GUARD).expect("the server exits").unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
