//! `orders-testkit`: serve the in-memory OrderService over TCP.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use orders_testkit::OrderMock;
use orders_testkit::scenario::Scenario;

#[derive(Parser)]
#[command(
    name = "orders-testkit",
    version,
    about = "A test double and contract tester for orders.v1.OrderService"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the in-memory OrderService, with health and reflection, over TCP.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port. The bound address is printed.
    #[arg(long, default_value = "127.0.0.1:50051")]
    addr: SocketAddr,
    /// D-2: fail calls with less than this many milliseconds left at once
    /// with DEADLINE_EXCEEDED (0 = off).
    #[arg(long, default_value_t = 0)]
    fail_fast_ms: u64,
    /// Require `authorization: Bearer TOKEN` on OrderService calls, with the
    /// given permission (repeatable). Health and reflection stay open.
    /// (Parsed here rather than by clap, whose errors would echo the token: A-3.)
    #[arg(long = "token", value_name = "TOKEN=read|write|rw")]
    tokens: Vec<String>,
    /// A TOML scenario: seeded orders, stubs and faults (messages in the
    /// protobuf JSON mapping). A bad file is reported and nothing starts.
    #[arg(long, value_name = "FILE")]
    scenario: Option<std::path::PathBuf>,
    /// On SIGINT or SIGTERM, how long in-flight calls may take to finish.
    #[arg(long, default_value_t = 5000)]
    grace_ms: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args).await,
    }
}

async fn serve(args: ServeArgs) -> ExitCode {
    let scenario = match args.scenario.as_deref().map(Scenario::load).transpose() {
        Ok(scenario) => scenario,
        Err(e) => {
            eprintln!("orders-testkit: bad scenario: {e}");
            return ExitCode::from(2);
        }
    };
    let mut builder = OrderMock::builder();
    if let Some(scenario) = &scenario {
        builder = scenario.configure(builder);
    }
    // An explicit flag wins over the scenario's fail_fast_ms.
    if args.fail_fast_ms > 0 {
        builder = builder.fail_fast(Duration::from_millis(args.fail_fast_ms));
    }
    for (i, raw) in args.tokens.iter().enumerate() {
        match raw.parse::<orders_testkit::auth::TokenGrant>() {
            Ok(grant) => builder = builder.token(grant.token, grant.permission),
            Err(e) => {
                eprintln!("orders-testkit: --token number {}: {e}", i + 1);
                return ExitCode::from(2);
            }
        }
    }
    let mock = match builder.serve_tcp(args.addr).await {
        Ok(mock) => mock,
        Err(e) => {
            eprintln!("orders-testkit: cannot listen on {}: {e}", args.addr);
            return ExitCode::from(2);
        }
    };
    // Handlers first: a signal sent as soon as the address is printed is caught.
    let signals = match ShutdownSignals::install() {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("orders-testkit: cannot wait for signals: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(scenario) = &scenario {
        scenario.install(&mock);
    }
    let addr = mock.local_addr().unwrap_or(args.addr);
    println!("orders-testkit serving orders.v1.OrderService on {addr}");
    let _ = std::io::stdout().flush();
    signals.recv().await;
    eprintln!("orders-testkit: shutting down");
    mock.shutdown(Duration::from_millis(args.grace_ms)).await;
    ExitCode::SUCCESS
}

/// SIGINT and SIGTERM, caught from the moment they are installed.
struct ShutdownSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves on the first SIGINT or SIGTERM.
    async fn recv(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
