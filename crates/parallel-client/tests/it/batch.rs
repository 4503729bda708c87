//! The batch helper: every input's result once, failures, and resuming.

use std::collections::BTreeMap;

use futures::StreamExt;
use parallel_client::batch::{BatchInput, BatchItem, BatchOptions, BatchProgress};
use parallel_client::{Client, GroupRunsOptions};
use parallel_emulator::{Endpoint, Faults};

use crate::common::{Company, Insight, client, company, emulator_with, spec};

fn batch_inputs(n: u64) -> Vec<BatchInput> {
    (0..n)
        .map(|row| BatchInput::new(row, company(row)))
        .collect()
}

/// Runs a batch to its end; returns (group, token, results by position, last progress).
async fn run_batch(
    client: &Client,
    options: BatchOptions,
    inputs: Vec<BatchInput>,
) -> (
    String,
    String,
    BTreeMap<u64, Result<Insight, String>>,
    BatchProgress,
) {
    let mut stream = client.batch(options).run_iter(inputs);
    let mut started = None;
    let mut results = BTreeMap::new();
    let mut progress = BatchProgress::default();
    while let Some(item) = stream.next().await {
        match item.unwrap() {
            BatchItem::Started {
                group_id, token, ..
            } => started = Some((group_id, token)),
            BatchItem::Result(result) => {
                let company: Company = result.input_as().unwrap();
                assert_eq!(
                    company.row, result.position,
                    "the input travels with its result"
                );
                let value = match &result.outcome {
                    Ok(_) => Ok(result.content_as::<Insight>().unwrap()),
                    Err(error) => {
                        assert!(result.content_as::<Insight>().unwrap_err().is_run_failed());
                        Err(error.message.clone())
                    }
                };
                assert!(
                    results.insert(result.position, value).is_none(),
                    "position {} twice",
                    result.position
                );
            }
            BatchItem::Progress(p) => progress = p,
            BatchItem::Submitted { runs, .. } => assert!(!runs.is_empty()),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        stream.next().await.is_none(),
        "still ended when polled again"
    );
    let (group, token) = started.expect("Started comes first");
    (group, token, results, progress)
}

#[tokio::test]
async fn a_batch_delivers_each_input_once_with_outputs_and_errors() {
    let emu = emulator_with(Faults::none(), 0.1).await;
    let client = client(&emu);
    let options = BatchOptions::new(spec(), "lite-fast")
        .chunk_size(300)
        .max_in_flight(1000);
    let (_, _, results, progress) = run_batch(&client, options, batch_inputs(3000)).await;
    assert_eq!(results.len(), 3000);
    assert_eq!(
        results.keys().copied().collect::<Vec<_>>(),
        (0..3000).collect::<Vec<_>>()
    );
    let failed = results.values().filter(|r| r.is_err()).count() as u64;
    assert!((100..600).contains(&failed), "about a tenth fail: {failed}");
    assert_eq!(progress.finished, 3000);
    assert_eq!(progress.failed, failed);
    assert_eq!(progress.submitted, 3000);
    assert_eq!(progress.in_flight, 0);
    assert_eq!(emu.stats().runs_created, 3000);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_batch_survives_faults_without_duplicates() {
    let faults = Faults::none()
        .rate_429(0.1)
        .rate_5xx(0.05)
        .lost_response_rate(0.1)
        .cut_sse_after(50)
        .retry_after(std::time::Duration::from_millis(2));
    let emu = emulator_with(faults, 0.0).await;
    let client = crate::common::client_with(&emu, crate::common::fast_retries(10));
    let options = BatchOptions::new(spec(), "lite-fast").chunk_size(250);
    let (_, _, results, _) = run_batch(&client, options, batch_inputs(2000)).await;
    assert_eq!(results.len(), 2000);
    assert!(results.values().all(Result::is_ok));
    assert_eq!(emu.stats().runs_created, 2000);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_crashed_batch_resumes_without_resubmitting_and_redelivers_results() {
    let emu = emulator_with(Faults::none(), 0.0).await;
    let client = client(&emu);
    let token = "import-7";

    // First session: stop after 400 results, as a crash would.
    let options = BatchOptions::new(spec(), "lite-fast")
        .token(token)
        .chunk_size(200)
        .max_in_flight(600);
    let mut first = client.batch(options).run_iter(batch_inputs(2000));
    let mut group = None;
    let mut delivered = 0;
    while let Some(item) = first.next().await {
        match item.unwrap() {
            BatchItem::Started {
                group_id,
                token: t,
                resumed,
                ..
            } => {
                assert_eq!((t.as_str(), resumed), (token, 0));
                group = Some(group_id);
            }
            BatchItem::Result(_) => {
                delivered += 1;
                if delivered == 400 {
                    break;
                }
            }
            _ => {}
        }
    }
    drop(first);
    let group = group.unwrap();
    let submitted_before = emu.stats().runs_created;
    assert!(
        (400..2000).contains(&submitted_before),
        "{submitted_before}"
    );

    // Second session: same group, token and inputs.
    let options = BatchOptions::new(spec(), "lite-fast")
        .group(&group)
        .token(token)
        .chunk_size(200);
    let (group2, _, results, progress) = run_batch(&client, options, batch_inputs(2000)).await;
    assert_eq!(group2, group);
    assert_eq!(
        results.len(),
        2000,
        "every position delivered, earlier ones again"
    );
    // A request in flight when the first session stopped may still have landed after
    // `submitted_before` was read; it is found by its tags like the others.
    assert!(progress.resumed >= submitted_before, "{progress:?}");
    assert_eq!(progress.resumed + progress.submitted, 2000, "{progress:?}");
    assert_eq!(emu.stats().runs_created, 2000, "nothing submitted twice");
    let runs = client
        .group(&group)
        .runs(GroupRunsOptions::default())
        .count()
        .await;
    assert_eq!(runs, 2000);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_panic_inside_the_batch_reaches_the_caller() {
    // The batch runs on a task of its own; if it panics (here: the caller's input stream
    // does), the items must not just end as if every result had been delivered.
    use futures::FutureExt;

    let emu = emulator_with(Faults::none(), 0.0).await;
    let client = client(&emu);
    let inputs = futures::stream::iter(0..3u64).map(|row| {
        assert!(row < 2, "input {row} is unreadable");
        BatchInput::new(row, company(row))
    });
    let mut stream = client
        .batch(BatchOptions::new(spec(), "lite-fast"))
        .run(inputs);
    let caught = std::panic::AssertUnwindSafe(async {
        while let Some(item) = stream.next().await {
            item.unwrap();
        }
    })
    .catch_unwind()
    .await;
    let panic = caught.expect_err("the batch's panic is resumed in the caller");
    let message = panic.downcast_ref::<String>().map(String::as_str);
    assert_eq!(message, Some("input 2 is unreadable"));
    emu.shutdown().await;
}

#[tokio::test]
async fn results_come_from_sweeps_of_the_runs_stream_not_one_request_each() {
    let emu = emulator_with(Faults::none(), 0.1).await;
    let client = client(&emu);
    let options = BatchOptions::new(spec(), "lite-fast").chunk_size(500);
    let (_, _, results, progress) = run_batch(&client, options, batch_inputs(3000)).await;
    assert_eq!(results.len(), 3000);
    assert_eq!(progress.finished, 3000);
    let stats = emu.stats();
    // A handful of runs may be read on their own (a sweep passed them while they were still
    // going); the bulk must come from sweeps.
    let fetched = stats.requests(Endpoint::RunResult);
    let sweeps = stats.requests(Endpoint::GroupRuns);
    assert!(fetched < 300, "{fetched} runs read one by one");
    assert!((1..300).contains(&sweeps), "{sweeps} sweeps");
    emu.shutdown().await;
}

#[tokio::test]
async fn start_makes_the_group_and_submits_nothing_until_run() {
    let emu = emulator_with(Faults::none(), 0.0).await;
    let client = client(&emu);
    let started = client
        .batch(BatchOptions::new(spec(), "lite-fast").token("persist-me"))
        .start()
        .await
        .unwrap();
    assert_eq!(started.token(), "persist-me");
    assert_eq!(started.resumed(), 0);
    client.group(started.group_id()).get().await.unwrap();
    assert_eq!(emu.stats().runs_created, 0, "nothing created before run");
    let group = started.group_id().to_owned();
    let mut items = started.run_iter(batch_inputs(5));
    // The first item comes before the batch task exists.
    match items.next().await.unwrap().unwrap() {
        BatchItem::Started { group_id, .. } => assert_eq!(group_id, group),
        other => panic!("expected Started first, got {other:?}"),
    }
    assert_eq!(
        emu.stats().runs_created,
        0,
        "nothing created before polled past Started"
    );
    let mut results = 0;
    while let Some(item) = items.next().await {
        if let BatchItem::Result(_) = item.unwrap() {
            results += 1;
        }
    }
    assert_eq!(results, 5);
    assert_eq!(emu.stats().runs_created, 5);
    emu.shutdown().await;
}

#[tokio::test]
async fn an_input_the_api_refuses_is_reported_and_the_batch_goes_on() {
    let emu = emulator_with(Faults::none(), 0.0).await;
    let client = client(&emu);
    // One input over the API's 25,000-character limit of input and spec, in the middle of
    // a chunk, and one whose metadata already has the client tag key.
    let mut inputs = batch_inputs(3000);
    inputs[2500] = BatchInput::new(2500, "x".repeat(30_000));
    let mut clash = parallel_types::Metadata::new();
    clash.insert(parallel_client::CLIENT_TAG_KEY.into(), "mine".into());
    inputs[10] = BatchInput::new(10, company(10)).with_metadata(clash);
    let options = BatchOptions::new(spec(), "lite-fast").chunk_size(1000);
    let mut stream = client.batch(options).run_iter(inputs);
    let (mut results, mut rejected) = (BTreeMap::new(), BTreeMap::new());
    let mut progress = BatchProgress::default();
    while let Some(item) = stream.next().await {
        match item.unwrap() {
            BatchItem::Result(result) => {
                assert!(
                    results
                        .insert(result.position, result.is_completed())
                        .is_none()
                );
            }
            BatchItem::Rejected(refused) => {
                assert_eq!(refused.input.get().len() > 30_000, refused.position == 2500);
                assert!(
                    rejected
                        .insert(refused.position, refused.reason())
                        .is_none()
                );
            }
            BatchItem::Progress(p) => progress = p,
            _ => {}
        }
    }
    assert_eq!(rejected.keys().copied().collect::<Vec<_>>(), [10, 2500]);
    let too_long = &rejected[&2500];
    assert!(
        too_long.contains("25000") || too_long.contains("25,000"),
        "{too_long}"
    );
    assert!(
        !too_long.contains("inputs["),
        "no index within the request: {too_long}"
    );
    assert!(rejected[&10].contains("client_tag"), "{}", rejected[&10]);
    assert_eq!(results.len(), 2998);
    assert!(results.values().all(|completed| *completed));
    assert_eq!(progress.rejected, 2);
    assert_eq!(emu.stats().runs_created, 2998);
    emu.shutdown().await;
}

#[tokio::test]
async fn skipped_positions_are_neither_submitted_nor_delivered_on_resume() {
    let emu = emulator_with(Faults::none(), 0.0).await;
    let client = client(&emu);
    let token = "skip-7";
    let options = BatchOptions::new(spec(), "lite-fast").token(token);
    let (group, _, first, _) = run_batch(&client, options, batch_inputs(300)).await;
    assert_eq!(first.len(), 300);
    // Say the caller stored the even positions only, and feeds every input again.
    let options = BatchOptions::new(spec(), "lite-fast")
        .group(&group)
        .token(token)
        .skip(|position| position % 2 == 0);
    let started = client.batch(options).start().await.unwrap();
    assert_eq!(
        started.resumed(),
        150,
        "only the positions still wanted are indexed"
    );
    let mut items = started.run_iter(batch_inputs(300));
    let mut again = Vec::new();
    while let Some(item) = items.next().await {
        if let BatchItem::Result(result) = item.unwrap() {
            again.push(result.position);
        }
    }
    again.sort_unstable();
    assert_eq!(again, (0..300).filter(|p| p % 2 == 1).collect::<Vec<_>>());
    assert_eq!(emu.stats().runs_created, 300, "nothing submitted again");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_batch_rides_out_a_server_that_fails_every_request_for_a_while() {
    let emu = emulator_with(Faults::none(), 0.0).await;
    let client = client(&emu);
    let group = crate::common::new_group(&client).await;
    // From here on every request is answered 503 until the faults are lifted below.
    emu.set_faults(
        Faults::none()
            .rate_5xx(1.0)
            .retry_after(std::time::Duration::from_millis(1)),
    );
    let options = BatchOptions::new(spec(), "lite-fast")
        .group(&group)
        .chunk_size(100)
        .outage_tolerance(std::time::Duration::from_secs(120));
    let batch = tokio::spawn(run_batch_on(client.clone(), options, batch_inputs(500)));
    // The outage lasts until the batch has met it many times over.
    while emu.stats().injected_5xx < 12 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    emu.set_faults(Faults::none());
    let (_, _, results, progress) = batch.await.unwrap();
    assert_eq!(results.len(), 500);
    assert!(results.values().all(Result::is_ok));
    assert_eq!(progress.finished, 500);
    assert_eq!(emu.stats().runs_created, 500, "nothing created twice");

    // Without tolerance, the same outage ends the batch with the server's error.
    emu.set_faults(
        Faults::none()
            .rate_5xx(1.0)
            .retry_after(std::time::Duration::from_millis(1)),
    );
    let options = BatchOptions::new(spec(), "lite-fast")
        .group(&group)
        .outage_tolerance(std::time::Duration::ZERO);
    let mut items = client.batch(options).run_iter(batch_inputs(10));
    let mut failure = None;
    while let Some(item) = items.next().await {
        if let Err(error) = item {
            failure = Some(error);
        }
    }
    let failure = failure.expect("the batch fails");
    assert!(
        failure.status().is_some_and(|s| s.is_server_error()),
        "{failure}"
    );
    emu.shutdown().await;
}

/// [`run_batch`] on a task of its own.
async fn run_batch_on(
    client: Client,
    options: BatchOptions,
    inputs: Vec<BatchInput>,
) -> (
    String,
    String,
    BTreeMap<u64, Result<Insight, String>>,
    BatchProgress,
) {
    run_batch(&client, options, inputs).await
}

#[tokio::test]
async fn a_batch_against_a_server_that_never_answered_fails_fast_with_the_connection_error() {
    // A port nothing listens on: a mistyped address. The batch must not ride it out as an
    // outage (ten minutes by default), since nothing ever answered.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::builder()
        .api_key(crate::common::KEY)
        .base_url(format!("http://127.0.0.1:{port}"))
        .retry_policy(crate::common::fast_retries(2))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let mut items = client
        .batch(BatchOptions::new(spec(), "lite-fast"))
        .run_iter(batch_inputs(10));
    let error = match items.next().await {
        Some(Err(error)) => error,
        Some(Ok(item)) => panic!("nothing should start: {item:?}"),
        None => panic!("the batch ended without an error"),
    };
    assert!(error.is_connection(), "{error}");
    let mut chain = vec![error.to_string()];
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        chain.push(cause.to_string());
        source = cause.source();
    }
    let chain = chain.join(": ");
    assert!(
        chain.contains(&format!("127.0.0.1:{port}")),
        "the error or its causes name the address: {chain}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "failed fast: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn throttling_met_by_the_submissions_is_reported_in_the_progress() {
    let faults = Faults::none()
        .rate_429(0.3)
        .retry_after(std::time::Duration::from_millis(2));
    let emu = emulator_with(faults, 0.0).await;
    let client = crate::common::client_with(&emu, crate::common::fast_retries(20));
    let options = BatchOptions::new(spec(), "lite-fast").chunk_size(10);
    let (_, _, results, progress) = run_batch(&client, options, batch_inputs(200)).await;
    assert_eq!(results.len(), 200);
    assert!(progress.throttled > 0, "{progress:?}");
    // Every 429 answer counted was one to a submission (the emulator counts them all).
    assert!(
        progress.throttled <= emu.stats().injected_429,
        "{progress:?}"
    );
    emu.shutdown().await;
}
