//! `parallel-enrich-node`: a Ballista scheduler or executor with `parallel_enrich`
//! registered, for a cluster of processes (the `ballista` feature).
//!
//! ```text
//! parallel-enrich-node scheduler --listen 127.0.0.1:50050 [--executor-timeout-secs 30]
//! parallel-enrich-node executor --scheduler 127.0.0.1:50050 --listen 127.0.0.1:50051 \
//!     [--task-slots N]
//! ```
//!
//! Both take the function's settings, `--processor NAME`, `--rows-per-call N` and
//! `--timeout-secs N` (the longest one call waits for its rows), and read the API key and
//! base URL from the environment (`PARALLEL_API_KEY`, `PARALLEL_BASE_URL`). An executor's
//! gRPC service listens on the port after its `--listen` port.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use parallel_datafusion::ParallelEnrich;
use parallel_datafusion::ballista::{
    ExecutorOptions, SchedulerOptions, run_executor, run_scheduler,
};

const USAGE: &str = "usage: parallel-enrich-node scheduler --listen ADDR \
    [--executor-timeout-secs N] | executor --scheduler ADDR --listen ADDR [--task-slots N]; \
    both take [--processor NAME] [--rows-per-call N] [--timeout-secs N]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("parallel-enrich-node: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: &[String]) -> Result<(), String> {
    let (role, rest) = args.split_first().ok_or(USAGE)?;
    let flags = Flags::parse(rest)?;
    let client = parallel_client::ClientBuilder::from_env()
        .build()
        .map_err(|e| format!("cannot build the API client: {e}"))?;
    let mut enrich = ParallelEnrich::new(client);
    if let Some(processor) = flags.value("--processor") {
        enrich = enrich.processor(processor);
    }
    if let Some(rows) = flags.number("--rows-per-call")? {
        enrich = enrich.rows_per_call(rows);
    }
    if let Some(seconds) = flags.number("--timeout-secs")? {
        enrich = enrich.timeout(Duration::from_secs(
            u64::try_from(seconds).unwrap_or(u64::MAX),
        ));
    }
    let served = match role.as_str() {
        "scheduler" => {
            let mut options = SchedulerOptions::default();
            if let Some(seconds) = flags.number("--executor-timeout-secs")? {
                options.executor_timeout =
                    Duration::from_secs(u64::try_from(seconds).unwrap_or(u64::MAX));
            }
            run_scheduler(enrich, flags.address("--listen")?, options).await
        }
        "executor" => {
            let options = ExecutorOptions {
                scheduler: flags.address("--scheduler")?,
                flight: flags.address("--listen")?,
                task_slots: flags.number("--task-slots")?.unwrap_or_else(|| {
                    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
                }),
            };
            run_executor(enrich, options).await
        }
        other => return Err(format!("unknown role `{other}`; {USAGE}")),
    };
    served.map_err(|e| format!("the {role} stopped: {e}"))
}

/// `--name value` pairs.
struct Flags(Vec<(String, String)>);

impl Flags {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut pairs = Vec::new();
        let mut args = args.iter();
        while let Some(name) = args.next() {
            if !name.starts_with("--") {
                return Err(format!("unexpected `{name}`; {USAGE}"));
            }
            let value = args
                .next()
                .ok_or_else(|| format!("{name} needs a value; {USAGE}"))?;
            pairs.push((name.clone(), value.clone()));
        }
        Ok(Self(pairs))
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn address(&self, name: &str) -> Result<SocketAddr, String> {
        let value = self
            .value(name)
            .ok_or_else(|| format!("{name} is needed; {USAGE}"))?;
        value
            .parse()
            .map_err(|e| format!("{name} {value}: not an address such as 127.0.0.1:50050 ({e})"))
    }

    fn number(&self, name: &str) -> Result<Option<usize>, String> {
        self.value(name)
            .map(|v| {
                v.parse()
                    .map_err(|e| format!("{name} {v}: not a whole number ({e})"))
            })
            .transpose()
    }
}
