//! The `parallel-emulator` binary: serves the emulated API until interrupted.
//!
//! The first line on standard output is `listening on http://ADDR`; nothing else is written
//! there, so a parent process can read that line and then ignore the pipe.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use parallel_emulator::{Emulator, EmulatorBuilder, Faults, Limits, OutageMode};

/// A local emulator of the Parallel Task Group and Task Run API.
#[derive(Debug, Parser)]
#[command(name = "parallel-emulator", version)]
struct Args {
    /// Address to listen on (loopback only); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Require this x-api-key on every request.
    #[arg(long, env = "PARALLEL_EMULATOR_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Multiplier for processor latencies; 0 completes runs at once.
    #[arg(long, default_value_t = 0.01)]
    time_scale: f64,
    /// Seed for outputs, latencies, failures and faults (ids are unique to each start).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Share of runs that fail (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    fail_rate: f64,
    /// Most runs running at once (the account's capacity); more wait queued. 0: no limit.
    #[arg(long, default_value_t = parallel_emulator::DEFAULT_CAPACITY)]
    capacity: usize,
    /// Share of runs that are cancelled instead of completing (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    cancel_rate: f64,
    /// Share of runs that stop at `action_required` instead of completing (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    action_required_rate: f64,
    /// Serve runs streams in the order runs last changed instead of the order they were added.
    #[arg(long)]
    runs_in_change_order: bool,
    /// Share of requests answered 429 (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    rate_429: f64,
    /// Share of requests answered 500/502/503 (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    rate_5xx: f64,
    /// Wait advertised by fault answers, in milliseconds.
    #[arg(long, default_value_t = 200)]
    retry_after_ms: u64,
    /// Cut every event stream after this many events, inside the next one.
    #[arg(long)]
    cut_sse_after: Option<u32>,
    /// Byte offset inside the cut event (default: seeded).
    #[arg(long, requires = "cut_sse_after")]
    cut_sse_offset: Option<usize>,
    /// Write event streams in pieces of this many bytes (see --drip-pause-ms).
    #[arg(long)]
    drip_bytes: Option<usize>,
    /// Pause between the pieces of a dripping stream, in milliseconds.
    #[arg(long, default_value_t = 10, requires = "drip_bytes")]
    drip_pause_ms: u64,
    /// Share of POST requests processed and then answered by dropping the connection.
    #[arg(long, default_value_t = 0.0)]
    lost_response_rate: f64,
    /// Seconds of quiet before an event stream gets a keep-alive comment.
    #[arg(long, default_value_t = 15.0)]
    keep_alive_secs: f64,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
    /// End every event stream cleanly once it has been open this many seconds.
    #[arg(long)]
    close_streams_after_secs: Option<f64>,
    /// Write an `error` event on events streams after this many events, then end them.
    #[arg(long)]
    error_event_after: Option<u32>,
    /// Share of requests read and then never answered (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    hang_rate: f64,
    /// Serve runs streams from the start whatever their `last_event_id`.
    #[arg(long)]
    ignore_last_event_id: bool,
    /// Refuse `webhook` and `mcp_servers` without their `parallel-beta` value (422).
    #[arg(long)]
    require_betas: bool,
    /// Start an outage this many seconds after the start (see --outage-secs, --outage-mode).
    #[arg(long, requires = "outage_secs")]
    outage_at: Option<f64>,
    /// How many seconds the outage lasts.
    #[arg(long, requires = "outage_at")]
    outage_secs: Option<f64>,
    /// What the outage does: refuse (connections refused, open ones dropped) or hang
    /// (connections accepted and never answered, open streams silent).
    #[arg(long, default_value = "refuse")]
    outage_mode: OutageMode,
    /// Answer with the lenient shapes the official SDKs accept, one variation per run.
    #[arg(long)]
    lenient_payloads: bool,
    /// Seconds a connection may take to send request headers (idle connections included).
    #[arg(long, default_value_t = 30.0)]
    header_read_timeout_secs: f64,
    /// Seconds a request body may take to arrive in full.
    #[arg(long, default_value_t = 30.0)]
    body_read_timeout_secs: f64,
    /// Most connections open at once; more get a 503.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Most event streams open at once; more get a 503.
    #[arg(long, default_value_t = Limits::default().max_event_streams)]
    max_event_streams: usize,
    /// Runs the account can pay for; beyond, 402 (default: unlimited).
    #[arg(long)]
    credits: Option<u64>,
    /// Work-creating requests allowed per minute (token bucket); beyond, 429 (default: none).
    #[arg(long)]
    rate_limit: Option<u32>,
    /// The account's webhook secret (default: a random one, printed on standard error).
    #[arg(long, env = "PARALLEL_EMULATOR_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// Most attempts per webhook delivery.
    #[arg(long, default_value_t = 5)]
    webhook_attempts: u32,
    /// Seconds one webhook delivery attempt may take.
    #[arg(long, default_value_t = 10.0)]
    webhook_timeout_secs: f64,
}

/// Seconds from a flag, or a message naming the flag.
fn seconds(flag: &str, value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| format!("--{flag} must be a number of seconds >= 0, not {value}"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("parallel-emulator: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let random_secret = args.webhook_secret.is_none();
    let builder = match builder(args) {
        Ok(b) => b,
        Err(message) => {
            eprintln!("parallel-emulator: {message}");
            return ExitCode::FAILURE;
        }
    };
    let started = builder.start().await;
    let emulator = match started {
        Ok(e) => e,
        Err(e) => {
            eprintln!("parallel-emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "listening on {}", emulator.base_url())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        eprintln!("parallel-emulator: could not write the address to standard output");
    }
    drop(stdout);
    if random_secret {
        // Standard error: the first line of standard output stays the address.
        eprintln!(
            "parallel-emulator: webhook secret for this run (set one with --webhook-secret): {}",
            emulator.webhook_secret()
        );
    }
    wait_for_signal().await;
    eprintln!("parallel-emulator: shutting down");
    emulator.shutdown().await;
    ExitCode::SUCCESS
}

/// The emulator's settings from the command line.
fn builder(args: Args) -> Result<EmulatorBuilder, String> {
    let keep_alive = seconds("keep-alive-secs", args.keep_alive_secs)?;
    let mut faults = Faults::none()
        .rate_429(args.rate_429)
        .rate_5xx(args.rate_5xx)
        .retry_after(Duration::from_millis(args.retry_after_ms))
        .lost_response_rate(args.lost_response_rate)
        .hang_rate(args.hang_rate)
        .ignore_last_event_id(args.ignore_last_event_id)
        .cancel_rate(args.cancel_rate)
        .action_required_rate(args.action_required_rate)
        .runs_in_change_order(args.runs_in_change_order)
        .require_betas(args.require_betas);
    if let Some(n) = args.cut_sse_after {
        faults = faults.cut_sse_after(n);
    }
    if let Some(offset) = args.cut_sse_offset {
        faults = faults.cut_sse_at_offset(offset);
    }
    if let Some(bytes) = args.drip_bytes {
        faults = faults.drip(bytes, Duration::from_millis(args.drip_pause_ms));
    }
    if let Some(secs) = args.close_streams_after_secs {
        faults = faults.close_streams_after(seconds("close-streams-after-secs", secs)?);
    }
    if let Some(n) = args.error_event_after {
        faults = faults.error_event_after(n);
    }
    let mut builder = Emulator::builder()
        .listen(args.listen)
        .time_scale(args.time_scale)
        .seed(args.seed)
        .fail_rate(args.fail_rate)
        .capacity((args.capacity > 0).then_some(args.capacity))
        .faults(faults)
        .max_body_bytes(args.max_body_bytes)
        .keep_alive_interval(keep_alive)
        .lenient_payloads(args.lenient_payloads)
        .header_read_timeout(seconds(
            "header-read-timeout-secs",
            args.header_read_timeout_secs,
        )?)
        .body_read_timeout(seconds(
            "body-read-timeout-secs",
            args.body_read_timeout_secs,
        )?)
        .max_connections(args.max_connections)
        .max_event_streams(args.max_event_streams)
        .credits(args.credits)
        .rate_limit(args.rate_limit)
        .webhook_attempts(args.webhook_attempts)
        .webhook_timeout(seconds("webhook-timeout-secs", args.webhook_timeout_secs)?);
    if let Some(key) = args.api_key {
        builder = builder.api_key(key);
    }
    if let Some(secret) = args.webhook_secret {
        builder = builder.webhook_secret(secret);
    }
    if let (Some(at), Some(secs)) = (args.outage_at, args.outage_secs) {
        builder = builder.outage(
            seconds("outage-at", at)?,
            seconds("outage-secs", secs)?,
            args.outage_mode,
        );
    }
    Ok(builder)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
