//! Retries, lost answers and slow streams, with the emulator's faults.

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use parallel_client::{AddRuns, Client, GroupRunsOptions};
use parallel_emulator::{Endpoint, Faults};
use parallel_transport::HyperTransport;
use parallel_transport::test_util::FaultTransport;
use parallel_types::CreateTaskGroupRequest;

use crate::common::{
    Company, KEY, client, client_with, emulator, fast_retries, inputs, new_group, spec,
};

/// Streams the group's runs with their inputs and checks that every row in `0..n` ran
/// exactly once.
async fn assert_each_input_ran_once(client: &Client, group_id: &str, n: u64) {
    let mut rows = Vec::new();
    let mut runs = client
        .group(group_id)
        .runs(GroupRunsOptions::default().include_input(true));
    while let Some(run) = runs.next().await {
        let company: Company = run.unwrap().view().unwrap().input_as().unwrap().unwrap();
        rows.push(company.row);
    }
    rows.sort_unstable();
    assert_eq!(rows, (0..n).collect::<Vec<_>>());
}

/// A new group of `n` runs, all finished; its id.
async fn finished_group(client: &Client, n: u64) -> String {
    let id = new_group(client).await;
    let group = client.group(&id);
    group.add_runs(AddRuns::new(inputs(n))).await.unwrap();
    group.wait().await.unwrap();
    id
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_then_succeed() {
    let faults = Faults::none()
        .rate_429(0.25)
        .rate_5xx(0.15)
        .retry_after(Duration::from_millis(2));
    let emu = emulator(faults).await;
    let client = client_with(&emu, fast_retries(10));
    let group = client
        .create_group(CreateTaskGroupRequest::default())
        .await
        .unwrap();
    let id = group.taskgroup_id;
    let ids = client
        .group(&id)
        .add_runs(
            AddRuns::new(inputs(2500))
                .chunk_size(250)
                .default_task_spec(spec()),
        )
        .await
        .unwrap()
        .run_ids;
    assert_eq!(ids.len(), 2500);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 2500);
    client.group(&id).wait().await.unwrap();
    let stats = emu.stats();
    assert!(
        stats.injected_429 > 0 && stats.injected_5xx > 0,
        "{stats:?}"
    );
    // 5xx answers to add-runs were reconciled, not resubmitted blindly.
    assert_eq!(stats.runs_created, 2500);
    assert_each_input_ran_once(&client, &id, 2500).await;
    emu.shutdown().await;
}

#[tokio::test]
async fn the_client_gives_up_after_the_retry_policy() {
    let emu = emulator(
        Faults::none()
            .rate_5xx(1.0)
            .retry_after(Duration::from_millis(1)),
    )
    .await;
    let client = client_with(&emu, fast_retries(3));
    let err = client
        .group("tgrp_00000000000000000000000000000000")
        .get()
        .await
        .unwrap_err();
    assert!(err.status().is_some_and(|s| s.is_server_error()), "{err:?}");
    assert!(err.to_string().contains("retry later"), "{err}");
    assert_eq!(emu.stats().requests(Endpoint::GetGroup), 4);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_lost_add_runs_answer_is_reconciled_without_duplicates() {
    let emu = emulator(Faults::none()).await;
    let client = client(&emu);
    let id = new_group(&client).await;
    // The second of three requests is processed, then its answer is dropped.
    let first = client
        .group(&id)
        .add_runs(AddRuns::new(inputs(1000)))
        .await
        .unwrap()
        .run_ids;
    assert_eq!(first.len(), 1000);
    emu.lose_next_response("/runs");
    let inputs: Vec<_> = inputs(3000).into_iter().skip(1000).collect();
    let added = client
        .group(&id)
        .add_runs(AddRuns::new(inputs).first_position(1000))
        .await
        .unwrap();
    // The first of its two requests was reconciled: no cursors; the second answered.
    assert_eq!((added.run_cursor, added.event_cursor), (None, None));
    assert_eq!(
        added.status.expect("the last answer came").num_task_runs,
        3000
    );
    let rest = added.run_ids;
    assert_eq!(rest.len(), 2000);
    let stats = emu.stats();
    assert_eq!(stats.responses_lost, 1);
    assert_eq!(stats.runs_created, 3000);
    let all: Vec<_> = first.iter().chain(&rest).collect();
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 3000);
    // Run ids are in input order: they match the runs stream, which lists runs as added.
    let streamed: Vec<String> = client
        .group(&id)
        .runs(GroupRunsOptions::default())
        .map(|r| r.unwrap().view().unwrap().run.run_id.into_owned())
        .collect()
        .await;
    assert_eq!(streamed.iter().collect::<Vec<_>>(), all);
    assert_each_input_ran_once(&client, &id, 3000).await;
    emu.shutdown().await;
}

#[tokio::test]
async fn frequent_lost_answers_still_run_every_input_once() {
    let emu = emulator(Faults::none().lost_response_rate(0.4)).await;
    let client = client_with(&emu, fast_retries(8));
    // Creating the group is retried freely (a duplicate is an empty group).
    let id = new_group(&client).await;
    let ids = client
        .group(&id)
        .add_runs(AddRuns::new(inputs(2000)).chunk_size(200))
        .await
        .unwrap()
        .run_ids;
    assert_eq!(ids.len(), 2000);
    let stats = emu.stats();
    assert!(stats.responses_lost >= 2, "{stats:?}");
    assert_eq!(stats.runs_created, 2000);
    assert_each_input_ran_once(&client, &id, 2000).await;
    emu.shutdown().await;
}

#[tokio::test]
async fn a_transport_that_forwards_then_fails_is_reconciled() {
    let emu = emulator(Faults::none()).await;
    let setup = client(&emu);
    let id = new_group(&setup).await;
    let transport = FaultTransport::new(HyperTransport::new().unwrap())
        .lose_response()
        .only_if(|request| request.method() == http::Method::POST)
        .times(1);
    let client = Client::builder()
        .api_key(KEY)
        .base_url(emu.base_url())
        .transport(transport)
        .retry_policy(fast_retries(2))
        .build()
        .unwrap();
    let ids = client
        .group(&id)
        .add_runs(AddRuns::new(inputs(1500)))
        .await
        .unwrap()
        .run_ids;
    assert_eq!(ids.len(), 1500);
    assert_eq!(emu.stats().runs_created, 1500);
    assert_each_input_ran_once(&setup, &id, 1500).await;
    emu.shutdown().await;
}

#[tokio::test]
async fn without_tags_a_lost_answer_is_reported_not_resubmitted() {
    let emu = emulator(Faults::none()).await;
    let client = client(&emu);
    let id = new_group(&client).await;
    emu.lose_next_response("/runs");
    let err = client
        .group(&id)
        .add_runs(AddRuns::new(inputs(10)).client_tags(false))
        .await
        .unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    assert_eq!(emu.stats().runs_created, 10);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_stream_silent_past_the_idle_timeout_reconnects_then_fails() {
    let emu = emulator(Faults::none()).await;
    let setup = client(&emu);
    let id = finished_group(&setup, 5).await;
    // Every connection gets 8 bytes and then silence for longer than the test can last, so
    // each one ends in an idle time-out however slowly this machine runs the client: the
    // count of connections below follows from the reconnect budget alone, not from the
    // clock. (A pause only a little longer than the idle time-out lets a client stalled past
    // it read the next bytes first, and then the stream goes on for longer.)
    emu.set_faults(Faults::none().drip(8, Duration::from_secs(3600)));
    let client = Client::builder()
        .api_key(KEY)
        .base_url(emu.base_url())
        .retry_policy(fast_retries(0))
        .stream_idle_timeout(Duration::from_millis(100))
        .stream_reconnect(parallel_client::ReconnectPolicy::default().max_attempts(2))
        .build()
        .unwrap();
    let mut runs = client.group(&id).runs(GroupRunsOptions::default());
    let err = runs.next().await.unwrap().unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(err.to_string().contains("stream_idle_timeout"), "{err}");
    // Each link of the chain says its own part once: the silence's length only at its end.
    let chain: Vec<String> =
        std::iter::successors(Some(&err as &(dyn std::error::Error + 'static)), |e| {
            e.source()
        })
        .map(ToString::to_string)
        .collect();
    for pair in chain.windows(2) {
        assert!(!pair[0].contains(&pair[1]), "{chain:?}");
    }
    assert_eq!(chain.join(": ").matches("100ms").count(), 1, "{chain:?}");
    // 1 connection + 2 reconnects.
    assert_eq!(emu.stats().requests(Endpoint::GroupRuns), 3);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_slow_stream_within_the_idle_timeout_delivers_everything() {
    let emu = emulator(Faults::none()).await;
    let setup = client(&emu);
    let id = finished_group(&setup, 20).await;
    emu.set_faults(Faults::none().drip(7, Duration::from_millis(1)));
    let client = Client::builder()
        .api_key(KEY)
        .base_url(emu.base_url())
        .stream_idle_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    assert_each_input_ran_once(&client, &id, 20).await;
    emu.shutdown().await;
}

/// A server (or a proxy that drops the query) that ignores `last_event_id` serves the runs
/// stream from the start on every reopen. Without a guard the reader hands every run on again,
/// reopens, and never ends.
#[tokio::test]
async fn a_runs_stream_that_ignores_the_cursor_delivers_each_run_once_and_ends() {
    let emu = emulator(Faults::none()).await;
    let setup = client(&emu);
    let id = finished_group(&setup, 30).await;
    emu.set_faults(Faults::none().ignore_last_event_id(true));
    let streamed = tokio::time::timeout(
        Duration::from_secs(60),
        assert_each_input_ran_once(&setup, &id, 30),
    )
    .await;
    assert!(streamed.is_ok(), "the stream ended");
    // The reopen after the clean end replayed everything and brought nothing new: done.
    assert_eq!(emu.stats().requests(Endpoint::GroupRuns), 2);
    emu.shutdown().await;
}

/// Cut every 10 events and restarted from the start on each reopen, the stream can never get
/// past its tenth run: the reader must not hand runs on twice, nor count connections that
/// only repeat old runs as progress, so it ends with an error instead of looping.
#[tokio::test]
async fn a_runs_stream_that_restarts_from_the_start_on_every_cut_fails_without_repeats() {
    let emu = emulator(Faults::none()).await;
    let setup = client(&emu);
    let id = finished_group(&setup, 30).await;
    emu.set_faults(Faults::none().cut_sse_after(10).ignore_last_event_id(true));
    let client = Client::builder()
        .api_key(KEY)
        .base_url(emu.base_url())
        .retry_policy(fast_retries(0))
        .stream_reconnect(crate::common::fast_reconnects().max_attempts(3))
        .build()
        .unwrap();
    let mut runs = client
        .group(&id)
        .runs(GroupRunsOptions::default().include_input(true));
    let mut seen = HashSet::new();
    let outcome = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(run) = runs.next().await {
            match run {
                Ok(run) => {
                    let company: Company = run.view().unwrap().input_as().unwrap().unwrap();
                    assert!(seen.insert(company.row), "row {} came twice", company.row);
                }
                Err(error) => return Some(error),
            }
        }
        None
    })
    .await
    .expect("the stream ends");
    let error = outcome.expect("the stream ends with an error");
    assert!(error.is_connection(), "{error:?}");
    assert_eq!(seen.len(), 10, "the first connection's runs, once each");
    // 1 connection + 3 reconnects that only repeated old runs.
    assert_eq!(emu.stats().requests(Endpoint::GroupRuns), 4);
    emu.shutdown().await;
}
