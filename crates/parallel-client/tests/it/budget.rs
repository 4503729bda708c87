//! The batch engine at real latencies: runs that queue, take seconds and finish out of
//! order, and what reading their results costs, from the emulator's own counters.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use futures::StreamExt;
use parallel_client::batch::{BatchInput, BatchItem, BatchOptions};
use parallel_client::{Client, GroupRunsOptions};
use parallel_emulator::{Emulator, EmulatorHandle, Endpoint, Faults, Stats};
use parallel_types::RunStatus;

use crate::common::{Company, KEY, client, company, spec};

/// Endpoints that read results or follow them (the budget counts them all).
const READING: [Endpoint; 5] = [
    Endpoint::GroupRuns,
    Endpoint::GroupEvents,
    Endpoint::RunResult,
    Endpoint::GetRun,
    Endpoint::GetGroupRun,
];

/// An emulator whose `lite-fast` runs take 1-2 s (time scale 0.1), `capacity` at a time.
async fn emulator(capacity: usize, faults: Faults) -> EmulatorHandle {
    Emulator::builder()
        .api_key(KEY)
        .time_scale(0.1)
        .seed(11)
        .capacity(Some(capacity))
        .faults(faults)
        .start()
        .await
        .expect("the emulator starts")
}

/// What a batch delivered: each position's run status once, and how long the batch took.
struct Delivered {
    group: String,
    statuses: BTreeMap<u64, RunStatus>,
    secs: f64,
}

async fn run(client: &Client, rows: u64) -> Delivered {
    let inputs = (0..rows).map(|row| BatchInput::new(row, company(row)));
    let started = Instant::now();
    let mut items = client
        .batch(BatchOptions::new(spec(), "lite-fast"))
        .run_iter(inputs);
    let (mut group, mut statuses) = (String::new(), BTreeMap::new());
    while let Some(item) = items.next().await {
        match item.unwrap() {
            BatchItem::Started { group_id, .. } => group = group_id,
            BatchItem::Result(result) => {
                let input: Company = result.input_as().unwrap();
                assert_eq!(
                    input.row, result.position,
                    "the input travels with its result"
                );
                if result.run.status == RunStatus::Completed {
                    result.content_as::<crate::common::Insight>().unwrap();
                }
                let before = statuses.insert(result.position, result.run.status.clone());
                assert!(before.is_none(), "position {} twice", result.position);
            }
            _ => {}
        }
    }
    Delivered {
        group,
        statuses,
        secs: started.elapsed().as_secs_f64(),
    }
}

fn requests(stats: &Stats) -> u64 {
    READING.iter().map(|e| stats.requests(*e)).sum()
}

/// The bytes of one full runs stream of the group with outputs: what the byte budget is
/// measured against.
async fn full_stream_bytes(emu: &EmulatorHandle, client: &Client, group: &str) -> u64 {
    let before = emu.stats().bytes(Endpoint::GroupRuns);
    let runs = client
        .group(group)
        .runs(GroupRunsOptions::default().include_output(true))
        .count()
        .await;
    assert!(runs > 0);
    emu.stats().bytes(Endpoint::GroupRuns) - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_are_read_in_bulk_within_the_budget_when_runs_queue_and_finish_out_of_order() {
    // 400 runs of 1-2 s through 100 slots: four waves over about six seconds.
    let emu = emulator(100, Faults::none()).await;
    let client = client(&emu);
    let delivered = run(&client, 400).await;
    assert_eq!(delivered.statuses.len(), 400);
    assert!(
        delivered.secs > 3.0,
        "runs took real time: {:.1} s",
        delivered.secs
    );
    let stats = emu.stats();
    let used = requests(&stats);
    // One request per 100 rows and one per 10 s of the job, and the two any job needs (its
    // events stream and one sweep).
    #[allow(clippy::cast_precision_loss)]
    let budget = 2.0 + 400.0 / 100.0 + delivered.secs / 10.0;
    #[allow(clippy::cast_precision_loss)]
    let within = used as f64 <= budget;
    assert!(
        within,
        "{used} result-reading requests for 400 rows in {:.1} s (budget {budget:.1}): {stats:?}",
        delivered.secs
    );
    let read = stats.bytes(Endpoint::GroupRuns) + stats.bytes(Endpoint::RunResult);
    let full = full_stream_bytes(&emu, &client, &delivered.group).await;
    #[allow(clippy::cast_precision_loss)]
    let ratio = read as f64 / full as f64;
    assert!(
        read * 2 <= full * 3,
        "read {read} bytes, {ratio:.2}x one full runs stream of {full}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_stream_in_another_order_still_gives_every_result_once() {
    // The engine assumes the runs stream lists runs in the order they were added; a server
    // that lists them in the order they changed must not lose or repeat a result.
    let emu = emulator(60, Faults::none().runs_in_change_order(true)).await;
    let client = client(&emu);
    let delivered = run(&client, 240).await;
    assert_eq!(delivered.statuses.len(), 240);
    assert!(
        delivered
            .statuses
            .values()
            .all(|s| *s == RunStatus::Completed)
    );
    assert_eq!(emu.stats().runs_created, 240);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_and_waiting_runs_are_delivered_with_their_status_not_waited_on() {
    let faults = Faults::none().cancel_rate(0.2).action_required_rate(0.2);
    let emu = emulator(200, faults).await;
    let client = client(&emu);
    let delivered = run(&client, 200).await;
    assert_eq!(delivered.statuses.len(), 200);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for status in delivered.statuses.values() {
        *counts.entry(status.as_str()).or_default() += 1;
    }
    for status in ["completed", "cancelled", "action_required"] {
        assert!(counts.get(status).is_some_and(|n| *n > 10), "{counts:?}");
    }
    assert_eq!(counts.len(), 3, "{counts:?}");
    emu.shutdown().await;
}
