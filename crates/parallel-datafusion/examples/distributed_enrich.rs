//! `parallel_enrich` across processes on Apache Ballista, with one executor killed mid-query.
//!
//! Starts an emulator of the API (no key needed), a scheduler and two executors, each in a
//! process of its own on loopback (this program run again with `--node`), and runs a query
//! enriching 10,000 rows in the query's group with each row's id as its key. When a quarter
//! of the runs exist, it kills the first executor: the scheduler runs that executor's tasks
//! again on the other, and those find their runs in the group instead of creating them
//! again. It prints the first rows and `rows: N, runs created: M, executors killed: 1`.
//!
//! ```text
//! cargo run -p parallel-datafusion --features ballista --example distributed_enrich [ROWS]
//! ```

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::{CsvReadOptions, SessionConfig};
use parallel_datafusion::ParallelEnrich;
use parallel_datafusion::ballista::{
    ExecutorOptions, SchedulerOptions, remote_context, run_executor, run_scheduler,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--node") {
        return node(&args[1..]).await;
    }
    let rows = args.first().map_or(Ok(10_000), |n| n.parse())?;
    run(rows).await
}

/// The function as every process of the example registers it.
fn enrich() -> Result<ParallelEnrich, Error> {
    let client = parallel_client::ClientBuilder::from_env().build()?;
    Ok(ParallelEnrich::new(client).rows_per_call(500))
}

/// A scheduler or an executor, in a child process.
async fn node(args: &[String]) -> Result<(), Error> {
    match args {
        [role, listen] if role == "scheduler" => {
            let options = SchedulerOptions {
                executor_timeout: Duration::from_secs(3),
                ..SchedulerOptions::default()
            };
            run_scheduler(enrich()?, listen.parse()?, options).await?;
        }
        [role, scheduler, listen] if role == "executor" => {
            let options = ExecutorOptions {
                scheduler: scheduler.parse()?,
                flight: listen.parse()?,
                task_slots: 2,
            };
            run_executor(enrich()?, options).await?;
        }
        _ => return Err(format!("unknown node {args:?}").into()),
    }
    Ok(())
}

/// The child processes, killed when the example ends however it ends.
struct Cluster(Vec<Child>);

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn run(rows: usize) -> Result<(), Error> {
    let emulator = parallel_emulator::Emulator::builder()
        .listen("127.0.0.1:0".parse()?)
        .time_scale(0.02)
        .seed(27)
        .start()
        .await?;
    let emulator = Arc::new(emulator);
    let base_url = emulator.base_url().clone();
    // The nodes are this program run again, with the emulator's address and key.
    let spawn = |args: &[String]| -> Result<Child, Error> {
        Ok(Command::new(std::env::current_exe()?)
            .arg("--node")
            .args(args)
            .env("PARALLEL_API_KEY", "emulator")
            .env("PARALLEL_BASE_URL", &base_url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?)
    };
    let scheduler = free_address(1)?;
    let mut cluster = Cluster(vec![spawn(&["scheduler".into(), scheduler.to_string()])?]);
    wait_for(scheduler)?;
    let mut executors = Vec::new();
    for _ in 0..2 {
        let flight = free_address(2)?;
        let args = ["executor".into(), scheduler.to_string(), flight.to_string()];
        cluster.0.push(spawn(&args)?);
        executors.push(flight);
    }
    for flight in &executors {
        wait_for(*flight)?;
    }

    let client = parallel_client::Client::builder()
        .api_key("emulator")
        .base_url(emulator.base_url())
        .build()?;
    let enrich = ParallelEnrich::new(client).rows_per_call(500);
    let config = SessionConfig::new().with_target_partitions(4);
    let ctx = remote_context(&enrich, scheduler, config).await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("companies.csv");
    let mut csv = String::from("id,name\n");
    for i in 0..rows {
        writeln!(csv, "{i},Company {:05}", i % 100)?;
    }
    std::fs::write(&path, csv)?;
    ctx.register_csv(
        "companies",
        path.to_str().unwrap_or_default(),
        CsvReadOptions::new(),
    )
    .await?;
    let group = enrich.create_group().await?;
    let sql = format!(
        "SELECT id, parallel_enrich(name, 'summary: a one-line summary', 'group={group}', id) \
         AS found FROM companies"
    );

    // Kill the first executor once a quarter of the runs exist.
    let watched = Arc::clone(&emulator);
    let mut first = Cluster(vec![cluster.0.remove(1)]);
    let quarter = u64::try_from(rows / 4).unwrap_or(u64::MAX);
    let kill = tokio::spawn(async move {
        while watched.run_count() < quarter {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Counted only if it was still running (serving the query) when killed.
        let mut killed = 0;
        for child in &mut first.0 {
            if matches!(child.try_wait(), Ok(None)) && child.kill().is_ok() {
                killed += 1;
            }
            let _ = child.wait();
        }
        killed
    });
    let started = Instant::now();
    let batches = ctx.sql(&sql).await?.collect().await?;
    let took = started.elapsed();
    let killed = kill.await?;

    let shown: Vec<_> = batches
        .first()
        .map(|b| b.slice(0, b.num_rows().min(5)))
        .into_iter()
        .collect();
    println!("{}", pretty_format_batches(&shown)?);
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    println!("query: {took:.1?}");
    println!(
        "rows: {total}, runs created: {}, executors killed: {killed}",
        emulator.run_count()
    );
    Ok(())
}

/// A loopback address whose port, and the `extra - 1` ports after it, were free just now.
fn free_address(extra: u16) -> Result<SocketAddr, Error> {
    for _ in 0..100 {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let rest_free = (1..extra).all(|n| {
            let port = address.port().checked_add(n).unwrap_or(0);
            port != 0 && TcpListener::bind(("127.0.0.1", port)).is_ok()
        });
        if rest_free {
            return Ok(address);
        }
    }
    Err("no free loopback ports".into())
}

/// Waits until something listens on `address` (the node is up), for at most a minute.
fn wait_for(address: SocketAddr) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_mins(1);
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("nothing listens on {address} after a minute").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
