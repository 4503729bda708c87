//! The `parallel-emulator` binary: serves the emulated API until interrupted.
//!
//! The first line on standard output is `listening on http://ADDR`; nothing else is written
//! there, so a parent process can read that line and then ignore the pipe.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use parallel_emulator::{Emulator, Faults, Limits};

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
    let Ok(keep_alive) = Duration::try_from_secs_f64(args.keep_alive_secs) else {
        eprintln!("parallel-emulator: --keep-alive-secs must be a positive number of seconds");
        return ExitCode::FAILURE;
    };
    let mut faults = Faults::none()
        .rate_429(args.rate_429)
        .rate_5xx(args.rate_5xx)
        .retry_after(Duration::from_millis(args.retry_after_ms))
        .lost_response_rate(args.lost_response_rate);
    if let Some(n) = args.cut_sse_after {
        faults = faults.cut_sse_after(n);
    }
    if let Some(offset) = args.cut_sse_offset {
        faults = faults.cut_sse_at_offset(offset);
    }
    if let Some(bytes) = args.drip_bytes {
        faults = faults.drip(bytes, Duration::from_millis(args.drip_pause_ms));
    }
    let started = Emulator::builder()
        .listen(args.listen)
        .api_key(args.api_key)
        .time_scale(args.time_scale)
        .seed(args.seed)
        .fail_rate(args.fail_rate)
        .faults(faults)
        .max_body_bytes(args.max_body_bytes)
        .keep_alive_interval(keep_alive)
        .start()
        .await;
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
    wait_for_signal().await;
    eprintln!("parallel-emulator: shutting down");
    emulator.shutdown().await;
    ExitCode::SUCCESS
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
