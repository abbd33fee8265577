//! `orders-testkit`: serve the in-memory OrderService over TCP, verify any
//! OrderService against the contract, or record a real one. A thin shell
//! over the library: argument parsing, exit codes and messages.
//!
//! The binary is [`main`]; it is a library function so that the workspace's
//! end-to-end tests run the very same command line.
#![deny(missing_docs)]

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
    /// Run the contract suite against an endpoint, or the embedded mock when
    /// no --endpoint is given; or, with --baseline, --record-behaviour or
    /// --against-behaviour, compare its behaviour with another version's.
    /// Exit code 0: all passed (nothing breaking); 1: a check failed (a
    /// difference is breaking); 2: usage or connection error.
    Verify(Box<VerifyArgs>),
    /// Ask a server whether it is serving (one grpc.health.v1.Health/Check
    /// call). Exit code 0: SERVING; 1: anything else (NOT_SERVING, unknown,
    /// no answer within --timeout-ms). A container's health check.
    Health(HealthArgs),
    /// Forward every OrderService call to --upstream (a transparent proxy:
    /// all four streaming patterns, metadata, deadlines, statuses and error
    /// details passed through) and write what was forwarded to --out as a
    /// scenario file that `serve --scenario` replays. The file is rewritten
    /// after every call; `authorization` and --redact headers are never
    /// written. Ctrl-C (or SIGTERM) stops.
    Record(RecordArgs),
}

/// An address to listen on: `IP:PORT`, or `HOST:PORT` resolved now (an
/// IPv4 address first, as `localhost` users expect).
fn socket_addr(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| format!("{text:?} is not HOST:PORT or IP:PORT ({e})"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("{text:?} resolves to no address"))
}

/// What a client of an https:// URL trusts and presents.
#[derive(clap::Args)]
struct ClientTlsArgs {
    /// A PEM CA certificate to trust for an https:// target.
    #[arg(long, value_name = "PEM")]
    tls_ca: Option<std::path::PathBuf>,
    /// A PEM client certificate (chain) to present to an https:// target
    /// that asks for one (mutual TLS); with --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
}

impl ClientTlsArgs {
    fn client_tls(&self) -> orders_testkit::server::ClientTls {
        let mut tls = orders_testkit::server::ClientTls::default();
        if let Some(ca) = &self.tls_ca {
            tls = tls.ca(ca);
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            tls = tls.identity(cert, key);
        }
        tls
    }
}

#[derive(clap::Args)]
struct RecordArgs {
    /// The real target (http:// or https://).
    #[arg(long)]
    upstream: String,
    #[command(flatten)]
    tls: ClientTlsArgs,
    /// Metadata to send upstream on every call, 'name: value' (repeatable;
    /// never written to the file).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// A bearer token to send upstream on every call (never written).
    #[arg(long)]
    token: Option<String>,
    /// Metadata never to write to the file (repeatable; `authorization`
    /// never is).
    #[arg(long, value_name = "NAME")]
    redact: Vec<String>,
    /// Address to listen on; port 0 picks a free port. The bound address is printed.
    #[arg(long, default_value = "127.0.0.1:50052", value_parser = socket_addr)]
    listen: SocketAddr,
    /// The scenario file to write.
    #[arg(long, value_name = "FILE.toml")]
    out: std::path::PathBuf,
    /// On SIGINT or SIGTERM, how long in-flight calls may take to finish.
    #[arg(long, default_value_t = 5000)]
    grace_ms: u64,
}

#[derive(clap::Args)]
struct HealthArgs {
    /// The server (http:// or https://).
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    endpoint: String,
    #[command(flatten)]
    tls: ClientTlsArgs,
    /// The service to ask about; empty: the server as a whole.
    #[arg(long, default_value = "")]
    service: String,
    /// How long to wait for the answer, connecting included.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// The target (http:// or https://). Without it: the embedded mock.
    #[arg(long)]
    endpoint: Option<String>,
    #[command(flatten)]
    tls: ClientTlsArgs,
    /// Metadata for every call, 'name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// A bearer token with full rights (A-1 to A-3 run when given).
    #[arg(long, env = "ORDERS_TESTKIT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// A token with read permission only (adds A-1's PERMISSION_DENIED checks).
    #[arg(long, env = "ORDERS_TESTKIT_READ_TOKEN", hide_env_values = true)]
    read_token: Option<String>,
    /// A token with write permission only.
    #[arg(long, env = "ORDERS_TESTKIT_WRITE_TOKEN", hide_env_values = true)]
    write_token: Option<String>,
    /// The target's D-2 fail-fast threshold in ms (D-2 runs when given).
    #[arg(long)]
    fail_fast_ms: Option<u64>,
    /// Cases per property (at least 1).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    cases: u32,
    /// The seed of every random choice; a failure prints the one to replay.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Run only these rule ids, groups or id families (comma-separated: C-1,watch,L).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Skip these rule ids or groups (comma-separated).
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
    /// At most this many calls in flight.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// At most this many calls started per second.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// The target serves no reflection: skip PROTO-1, PROTO-2, REFL-1.
    #[arg(long)]
    no_reflection: bool,
    /// The target serves no health service: skip H-1 to H-3.
    #[arg(long)]
    no_health: bool,
    /// The default deadline of every call, in ms (raise it for slow staging).
    #[arg(long, default_value_t = 10_000)]
    deadline_ms: u64,
    /// How long to wait for what should come promptly (a result on an open
    /// stream, the end of a finished stream), in ms.
    #[arg(long, default_value_t = 5_000)]
    patience_ms: u64,
    /// Metadata on which the target answers a transient failure, 'name: value'
    /// (a chaos switch of your own), so that E-7 checks its RetryInfo.
    #[arg(long, value_name = "NAME: VALUE")]
    transient_header: Option<String>,
    /// Print every rule id, its statement and the checks that cover it, and exit.
    #[arg(long)]
    list: bool,
    /// Write a JUnit XML report here (one testcase per check).
    #[arg(long, value_name = "FILE")]
    junit: Option<std::path::PathBuf>,
    /// Write a JSON report here.
    #[arg(long, value_name = "FILE")]
    json: Option<std::path::PathBuf>,
    /// Write the error payload of each error scenario here as insta snapshots.
    #[arg(long, value_name = "DIR")]
    snapshots: Option<std::path::PathBuf>,
    /// Compare behaviour instead of running the suite: this older version
    /// (http:// or https://) is the baseline, --endpoint (or the embedded
    /// mock) the new one. The same seeded sequences run against both (the
    /// baseline twice); every difference is shown, breaking or risky, with
    /// its rule. Exit code 1 when one is breaking.
    #[arg(long, value_name = "URL", conflicts_with_all = ["record_behaviour", "against_behaviour"])]
    baseline: Option<String>,
    /// Record the target's behaviour to this JSON file (run twice; what
    /// differs between the runs is marked unstable) instead of running the suite.
    #[arg(long, value_name = "FILE", conflicts_with = "against_behaviour")]
    record_behaviour: Option<std::path::PathBuf>,
    /// Compare the target's behaviour with a file of --record-behaviour
    /// (its seed and sequences) instead of running the suite; exit code 1
    /// when a difference is breaking.
    #[arg(long, value_name = "FILE")]
    against_behaviour: Option<std::path::PathBuf>,
    /// How many sequences a behaviour comparison sends (the first: the
    /// boundary cases).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    sequences: u32,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port. The bound address is printed.
    #[arg(long, default_value = "127.0.0.1:50051", value_parser = socket_addr)]
    addr: SocketAddr,
    /// D-2: fail calls with less than this many milliseconds left at once
    /// with DEADLINE_EXCEEDED (0 = off).
    #[arg(long, default_value_t = 0)]
    fail_fast_ms: u64,
    /// Require `authorization: Bearer TOKEN` on OrderService calls, with the
    /// given permission (repeatable). Health and reflection stay open;
    /// `admin` tokens open the admin surface (--admin) and nothing else.
    /// (Parsed here rather than by clap, whose errors would echo the token: A-3.)
    #[arg(long = "token", value_name = "TOKEN=read|write|rw|admin")]
    tokens: Vec<String>,
    /// A TOML scenario: seeded orders, stubs and faults (messages in the
    /// protobuf JSON mapping). A bad file is reported and nothing starts.
    #[arg(long, value_name = "FILE")]
    scenario: Option<std::path::PathBuf>,
    /// On SIGINT or SIGTERM, how long in-flight calls may take to finish.
    #[arg(long, default_value_t = 5000)]
    grace_ms: u64,
    /// Keep the latest N calls in the journal (memory stays flat under
    /// sustained load); 0: no limit in calls (--journal-mib still holds).
    #[arg(long, value_name = "N", default_value_t = orders_testkit::journal::DEFAULT_BOUND)]
    journal_max: usize,
    /// Keep at most this many MiB of calls in the journal (estimated), the
    /// earliest dropped past it; one call keeps at most 1 MiB of messages
    /// (later ones are counted, not kept). 0: no limit in bytes.
    #[arg(long, value_name = "MIB", default_value_t = orders_testkit::journal::DEFAULT_BUDGET >> 20)]
    journal_mib: usize,
    /// Serve over TLS with this certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Mutual TLS: require client certificates that chain to this CA (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    client_ca: Option<std::path::PathBuf>,
    /// Serve the admin surface: the gRPC service
    /// orders_testkit.admin.v1.Admin on --addr beside OrderService (AddStub,
    /// RemoveStub, ListStubs, InjectFault, ClearFaults, SeedOrder, Reset,
    /// ListCalls, TailCalls, Verify; listed by reflection), and the same as
    /// HTTP/JSON with a live page of calls on --admin-addr. With --token,
    /// both need a TOKEN=admin token. Without --admin none of it is served.
    ///
    ///   grpcurl -plaintext -d '{"stubJson": "{\"rpc\": \"GetOrder\", \"fail\": {\"code\": \"UNAVAILABLE\", \"message\": \"down\"}}"}' 127.0.0.1:50051 orders_testkit.admin.v1.Admin/AddStub
    ///
    ///   curl -d '{"rpc": "GetOrder", "fail": {"code": "UNAVAILABLE", "message": "down"}}' http://127.0.0.1:50080/api/stubs
    ///
    /// The page: http://127.0.0.1:50080/ (add ?access_token=T with tokens).
    #[arg(long, verbatim_doc_comment)]
    admin: bool,
    /// Address of the admin HTTP API and page (loopback by default; port 0
    /// picks a free port). The bound address is printed.
    #[arg(
        long,
        default_value = "127.0.0.1:50080",
        requires = "admin",
        value_parser = socket_addr
    )]
    admin_addr: SocketAddr,
}

/// The TLS of `serve`, from its flags (`None`: plaintext).
fn server_tls(args: &ServeArgs) -> Result<Option<orders_testkit::server::tls::ServerTls>, String> {
    use orders_testkit::server::tls::ServerTls;
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    let read = |flag: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {flag} {}: {e}", path.display()))
    };
    let (cert, key) = (read("--tls-cert", cert)?, read("--tls-key", key)?);
    let tls = match &args.client_ca {
        Some(ca) => ServerTls::mutual(&cert, &key, &read("--client-ca", ca)?),
        None => ServerTls::from_pem(&cert, &key),
    };
    tls.map(Some).map_err(|e| e.to_string())
}

/// The `orders-testkit` command line: parses `std::env::args` and runs the
/// command (exit code 0: done or all passed; 1: a check failed; 2: usage or
/// connection error).
#[tokio::main]
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Verify(args) => verify(*args).await,
        Command::Record(args) => record(args).await,
        Command::Health(args) => health(args).await,
    }
}

async fn record(args: RecordArgs) -> ExitCode {
    use orders_testkit::scenario::Recorder;
    let fail = |message: String| {
        eprintln!("orders-testkit record: {message}");
        ExitCode::from(2)
    };
    if !(args.upstream.starts_with("http://") || args.upstream.starts_with("https://")) {
        return fail(format!(
            "--upstream must start with http:// or https://, got {:?}",
            args.upstream
        ));
    }
    let tls = args.tls.client_tls();
    let endpoint = match orders_testkit::server::endpoint(&args.upstream, &tls) {
        Ok(endpoint) => endpoint,
        Err(e) => return fail(e),
    };
    // The upstream first: nothing is recorded from one that is not there.
    if let Err(line) = orders_testkit::server::reach(&args.upstream, &tls).await {
        return fail(line);
    }
    let mut builder = Recorder::builder(endpoint.connect_lazy());
    for h in &args.headers {
        let Some((name, value)) = h.split_once(':') else {
            return fail(format!("-H takes 'name: value', got {h:?}"));
        };
        builder = match builder.header(name, value) {
            Ok(builder) => builder,
            Err(e) => return fail(format!("-H: {e}")),
        };
    }
    if let Some(token) = &args.token {
        builder = match builder.token(token) {
            Ok(builder) => builder,
            // Not echoed: A-3.
            Err(_) => return fail("--token is not a valid header value".into()),
        };
    }
    for name in &args.redact {
        builder = builder.redact(name);
    }
    let recorder = match builder.listen(args.listen).await {
        Ok(recorder) => recorder,
        Err(e) => return fail(format!("cannot listen on {}: {e}", args.listen)),
    };
    let signals = match ShutdownSignals::install() {
        Ok(signals) => signals,
        Err(e) => return fail(format!("cannot wait for signals: {e}")),
    };
    let addr = recorder.local_addr().unwrap_or(args.listen);
    println!(
        "orders-testkit recording orders.v1.OrderService for {} into {} on {addr}",
        args.upstream,
        args.out.display()
    );
    let _ = std::io::stdout().flush();
    if let Err(e) = recorder.write_until(&args.out, signals.recv()).await {
        return fail(format!("cannot write {}: {e}", args.out.display()));
    }
    eprintln!("orders-testkit: shutting down");
    // Calls that end within the grace period are written too.
    let text = recorder
        .shutdown(Duration::from_millis(args.grace_ms))
        .await;
    if let Err(e) = std::fs::write(&args.out, text) {
        return fail(format!("cannot write {}: {e}", args.out.display()));
    }
    ExitCode::SUCCESS
}

async fn serve(args: ServeArgs) -> ExitCode {
    let scenario = match args.scenario.as_deref().map(Scenario::load).transpose() {
        Ok(scenario) => scenario,
        Err(e) => {
            eprintln!("orders-testkit: bad scenario: {e}");
            return ExitCode::from(2);
        }
    };
    let journal = match args.journal_max {
        0 => orders_testkit::journal::Journal::unbounded(),
        n => orders_testkit::journal::Journal::bounded(n),
    };
    let journal = match args.journal_mib {
        0 => journal,
        mib => journal.with_budget(
            mib.saturating_mul(1 << 20),
            orders_testkit::journal::DEFAULT_CALL_BUDGET,
        ),
    };
    let mut builder = OrderMock::builder().journal(journal);
    if let Some(scenario) = &scenario {
        builder = scenario.configure(builder);
    }
    // An explicit flag wins over the scenario's fail_fast_ms.
    if args.fail_fast_ms > 0 {
        builder = builder.fail_fast(Duration::from_millis(args.fail_fast_ms));
    }
    match server_tls(&args) {
        Ok(Some(tls)) => builder = builder.tls(tls),
        Ok(None) => {}
        Err(e) => {
            eprintln!("orders-testkit: {e}");
            return ExitCode::from(2);
        }
    }
    for (i, raw) in args.tokens.iter().enumerate() {
        match raw.parse::<orders_testkit::layers::auth::TokenGrant>() {
            Ok(grant) => builder = builder.token(grant.token, grant.permission),
            Err(e) => {
                eprintln!("orders-testkit: --token number {}: {e}", i + 1);
                return ExitCode::from(2);
            }
        }
    }
    let served = if args.admin {
        orders_testkit::admin::serve_tcp(builder, args.addr).await
    } else {
        builder.serve_tcp(args.addr).await
    };
    let mock = match served {
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
    let tls = if args.tls_cert.is_some() {
        " over TLS"
    } else {
        ""
    };
    println!("orders-testkit serving orders.v1.OrderService{tls} on {addr}");
    if args.admin {
        match orders_testkit::admin::serve_http(&mock, args.admin_addr).await {
            Ok(admin) => println!("orders-testkit admin API and page on http://{admin}/"),
            Err(e) => {
                eprintln!(
                    "orders-testkit: cannot listen on {} (--admin-addr): {e}",
                    args.admin_addr
                );
                return ExitCode::from(2);
            }
        }
    }
    let _ = std::io::stdout().flush();
    signals.recv().await;
    eprintln!("orders-testkit: shutting down");
    // Unmet expectations (from the scenario or the admin API) are reported
    // here rather than by the mock's check on drop, which would panic.
    let verification = mock.verify();
    if !verification.is_ok() {
        eprint!("orders-testkit: {verification}");
    }
    mock.clear_stubs();
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

fn usage(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("orders-testkit verify: {message}");
    ExitCode::from(2)
}

async fn verify(args: VerifyArgs) -> ExitCode {
    use orders_testkit::contract::{CheckStatus, Progress, Suite};
    use std::io::IsTerminal;

    if args.list {
        print!("{}", Suite::list());
        return ExitCode::SUCCESS;
    }
    let known = Suite::known_ids();
    for id in args.only.iter().chain(&args.skip) {
        let family = |i: &str| {
            i.split_once('-')
                .is_some_and(|(letters, _)| letters.eq_ignore_ascii_case(id))
        };
        if !known
            .iter()
            .any(|(i, g)| i.eq_ignore_ascii_case(id) || g.eq_ignore_ascii_case(id) || family(i))
        {
            return usage(format!("unknown rule id or group {id:?} in --only/--skip"));
        }
    }
    let target = match target_of(args.endpoint.as_deref(), &args, "--endpoint") {
        Ok(t) => t,
        Err(e) => return usage(e),
    };
    let mut suite = Suite::default()
        .cases(args.cases)
        .seed(args.seed)
        .only(args.only.clone())
        .skip(args.skip.clone())
        .concurrency(args.concurrency)
        .rate(args.rate)
        .deadline(Duration::from_millis(args.deadline_ms.max(1)))
        .patience(Duration::from_millis(args.patience_ms.max(1)));
    if let Some(ms) = args.fail_fast_ms {
        suite = suite.fail_fast(Duration::from_millis(ms));
    }
    if let Some(t) = &args.read_token {
        suite = suite.read_token(t.clone());
    }
    if let Some(t) = &args.write_token {
        suite = suite.write_token(t.clone());
    }

    if args.baseline.is_some()
        || args.record_behaviour.is_some()
        || args.against_behaviour.is_some()
    {
        return compare(&args, suite.sequences(args.sequences), target).await;
    }

    // Progress on stderr: a bar on a terminal, plain lines otherwise.
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let progress = |p: Progress<'_>| match (&bar, p) {
        (Some(bar), Progress::Started(_, total, id)) => {
            bar.set_length(total as u64);
            bar.set_message(id.to_string());
        }
        (Some(bar), Progress::Finished(..)) => bar.inc(1),
        (None, Progress::Finished(i, total, r))
            if r.status != CheckStatus::Skipped || r.note.as_deref() != Some("not selected") =>
        {
            let status = r.status;
            eprintln!(
                "[{}/{total}] {} {status} ({} ms)",
                i + 1,
                r.id,
                r.duration_ms
            );
        }
        _ => {}
    };
    let report = match suite.try_run(target, progress).await {
        Ok(report) => report,
        Err(e) => {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            eprintln!("orders-testkit verify: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    print!("{}", report.table());
    if !report.passed() {
        print!("\n{}", report.failure_text());
    }
    let write = |path: &std::path::Path, text: String| {
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    if let Some(path) = &args.junit
        && let Err(e) = write(path, report.to_junit())
    {
        return usage(e);
    }
    if let Some(path) = &args.json
        && let Err(e) = write(path, report.to_json())
    {
        return usage(e);
    }
    if let Some(dir) = &args.snapshots {
        match orders_testkit::contract::write_snapshots(dir, &report.payloads) {
            Ok(s) => eprintln!(
                "snapshots in {}: {} new, {} unchanged, {} changed (review the .snap.new files: cargo insta review --workspace-root {})",
                dir.display(),
                s.new.len(),
                s.unchanged.len(),
                s.changed.len(),
                dir.display()
            ),
            Err(e) => return usage(format!("cannot write snapshots to {}: {e}", dir.display())),
        }
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The target of `url` (an endpoint) or, without one, the embedded mock,
/// with the metadata, TLS and switches of the command line.
fn target_of(
    url: Option<&str>,
    args: &VerifyArgs,
    flag: &str,
) -> Result<orders_testkit::contract::Target, String> {
    use orders_testkit::contract::Target;
    let mut target = match url {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            Target::endpoint(url)
        }
        Some(url) => {
            return Err(format!(
                "{flag} must start with http:// or https://, got {url:?}"
            ));
        }
        None => Target::embedded(),
    };
    if let Some(ca) = &args.tls.tls_ca {
        target = target.tls_ca(ca);
    }
    if let (Some(cert), Some(key)) = (&args.tls.tls_cert, &args.tls.tls_key) {
        target = target.tls_identity(cert, key);
    }
    for h in &args.headers {
        let Some((name, value)) = h.split_once(':') else {
            return Err(format!("-H takes 'name: value', got {h:?}"));
        };
        target = target.header(name.trim(), value.trim());
    }
    if let Some(t) = &args.token {
        target = target.token(t.clone());
    }
    if let Some(h) = &args.transient_header {
        let Some((name, value)) = h.split_once(':') else {
            return Err(format!("--transient-header takes 'name: value', got {h:?}"));
        };
        target = target.transient_header(name.trim(), value.trim());
    }
    if args.no_reflection {
        target = target.without_reflection();
    }
    if args.no_health {
        target = target.without_health();
    }
    Ok(target)
}

/// `verify --baseline`, `--record-behaviour`, `--against-behaviour`.
async fn compare(
    args: &VerifyArgs,
    suite: orders_testkit::contract::Suite,
    target: orders_testkit::contract::Target,
) -> ExitCode {
    use orders_testkit::contract::Recording;
    if let Some(path) = &args.record_behaviour {
        let recording = match suite.record_behaviour(target).await {
            Ok(r) => r,
            Err(e) => return usage(e),
        };
        if let Err(e) = std::fs::write(path, recording.to_json()) {
            return usage(format!("cannot write {}: {e}", path.display()));
        }
        println!(
            "recorded {} steps of {} (seed {}, {} sequences) to {}",
            recording.steps(),
            recording.target,
            recording.seed,
            recording.sequences,
            path.display()
        );
        return ExitCode::SUCCESS;
    }
    let diff = if let Some(path) = &args.against_behaviour {
        let recording = match std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
            .and_then(|text| {
                Recording::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
            }) {
            Ok(r) => r,
            Err(e) => return usage(e),
        };
        suite.compare_with(&recording, target).await
    } else {
        let baseline = match target_of(args.baseline.as_deref(), args, "--baseline") {
            Ok(t) => t,
            Err(e) => return usage(e),
        };
        suite.compare(baseline, target).await
    };
    let diff = match diff {
        Ok(d) => d,
        Err(e) => return usage(e),
    };
    print!("{}", diff.render());
    if let Some(path) = &args.json
        && let Err(e) = std::fs::write(path, diff.to_json())
    {
        return usage(format!("cannot write {}: {e}", path.display()));
    }
    if diff.breaking() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `health`: SERVING exits 0, anything else 1 (never 2, which a container
/// runtime's health check reserves).
async fn health(args: HealthArgs) -> ExitCode {
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let tls = args.tls.client_tls();
    match orders_testkit::server::check_health(&args.endpoint, &tls, &args.service, timeout).await {
        Ok(status) => {
            let what = if args.service.is_empty() {
                "the server".to_string()
            } else {
                args.service.clone()
            };
            println!("{}: {what} is {status}", args.endpoint);
            if status == "SERVING" {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("orders-testkit health: {e}");
            ExitCode::from(1)
        }
    }
}
