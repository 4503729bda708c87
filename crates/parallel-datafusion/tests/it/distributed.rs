//! `parallel_enrich` on Ballista across processes: a scheduler and two executors (the
//! `parallel-enrich-node` binary) on loopback, one killed mid-query.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::{CsvReadOptions, SessionConfig};
use parallel_datafusion::ParallelEnrich;
use parallel_datafusion::ballista::remote_context;

use crate::support::Emu;

/// Node processes, killed when the test ends however it ends.
struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn node(emu: &Emu, args: &[String]) -> Nodes {
    let child = Command::new(env!("CARGO_BIN_EXE_parallel-enrich-node"))
        .args(args)
        .args(["--rows-per-call", "300"])
        .env("PARALLEL_API_KEY", "emulator")
        .env("PARALLEL_BASE_URL", emu.handle.base_url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Nodes(vec![child])
}

/// A loopback address whose port and the next one were free just now (an executor's
/// Flight and gRPC services).
fn free_pair() -> SocketAddr {
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        if let Some(next) = address.port().checked_add(1)
            && TcpListener::bind(("127.0.0.1", next)).is_ok()
        {
            return address;
        }
    }
}

fn wait_for(address: SocketAddr) {
    let deadline = Instant::now() + Duration::from_mins(1);
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {address}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executor_killed_mid_query_costs_no_run_twice() {
    const ROWS: u64 = 3_000;
    let emu = Arc::new(Emu::start_scaled(0.0, 0.02).await);
    let scheduler = free_pair();
    let args = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
    let scheduler_arg = scheduler.to_string();
    let _scheduler = node(
        &emu,
        &args(&[
            "scheduler",
            "--listen",
            &scheduler_arg,
            "--executor-timeout-secs",
            "3",
        ]),
    );
    wait_for(scheduler);
    let (one, two) = (free_pair(), free_pair());
    let mut doomed = node(
        &emu,
        &args(&[
            "executor",
            "--scheduler",
            &scheduler_arg,
            "--listen",
            &one.to_string(),
            "--task-slots",
            "1",
        ]),
    );
    let _survivor = node(
        &emu,
        &args(&[
            "executor",
            "--scheduler",
            &scheduler_arg,
            "--listen",
            &two.to_string(),
            "--task-slots",
            "1",
        ]),
    );
    wait_for(one);
    wait_for(two);

    let enrich = ParallelEnrich::new(emu.client()).rows_per_call(300);
    let ctx = remote_context(
        &enrich,
        scheduler,
        SessionConfig::new().with_target_partitions(4),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("companies.csv");
    let mut csv = String::from("id,name\n");
    for i in 0..ROWS {
        writeln!(csv, "{i},Company {:04}", i % 50).unwrap();
    }
    std::fs::write(&path, csv).unwrap();
    ctx.register_csv("companies", path.to_str().unwrap(), CsvReadOptions::new())
        .await
        .unwrap();
    let group = enrich.create_group().await.unwrap();
    let sql = format!(
        "SELECT id, parallel_enrich(name, 'summary: a one-line summary', 'group={group}', id) \
         AS found FROM companies"
    );

    // Both executors hold one task each; once a quarter of the runs exist, one dies.
    let watched = Arc::clone(&emu);
    let killer = tokio::spawn(async move {
        while watched.handle.run_count() < ROWS / 4 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let killed_at = watched.handle.run_count();
        for child in &mut doomed.0 {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        killed_at
    });
    let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
    let killed_at = killer.await.unwrap();
    assert!(
        killed_at < ROWS,
        "the executor died mid-query ({killed_at} runs then)"
    );

    check_rows(&batches, ROWS);
    assert_eq!(
        emu.handle.stats().runs_created,
        ROWS,
        "no run created twice"
    );
}

/// Every row once, completed, with its own run, whose result is its own input's.
fn check_rows(batches: &[RecordBatch], rows: u64) {
    let mut ids = HashSet::new();
    let mut run_ids = HashSet::new();
    for batch in batches {
        let id = batch.column(0).as_primitive::<Int64Type>();
        let found = batch.column(1).as_struct();
        let summary = found.column_by_name("summary").unwrap().as_string::<i32>();
        let run_id = found.column_by_name("run_id").unwrap().as_string::<i32>();
        let status = found.column_by_name("status").unwrap().as_string::<i32>();
        for row in 0..batch.num_rows() {
            let id = id.value(row);
            assert_eq!(status.value(row), "completed", "row {id}");
            // The emulator writes the input's name into the summary: each row's result
            // is its own input's.
            let name = format!("Company {:04}", id % 50);
            assert!(
                summary.is_valid(row) && summary.value(row).contains(&name),
                "row {id}"
            );
            assert!(ids.insert(id), "row {id} twice");
            run_ids.insert(run_id.value(row).to_owned());
        }
    }
    assert_eq!(ids.len() as u64, rows, "every row once");
    assert_eq!(run_ids.len() as u64, rows, "each row its own run");
}
