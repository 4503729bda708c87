//! What a stream does with `error` events, events of unknown types and events without a
//! type, and with a server that closes the runs stream early: crafted streams from a scripted
//! server.

use std::time::Duration;

use futures::StreamExt;
use parallel_client::{Client, GroupEventsOptions, GroupRunsOptions, ReconnectPolicy};
use parallel_types::{GroupEvent, RunEvent};

use crate::scripted::{Recorded, Reply, Scripted};

fn client(server: &Scripted) -> Client {
    Client::builder()
        .api_key("k")
        .base_url(server.base_url())
        .stream_reconnect(
            ReconnectPolicy::default()
                .max_attempts(3)
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(2)),
        )
        .build()
        .unwrap()
}

fn event(kind: &str, json: &str) -> String {
    format!("event: {kind}\ndata: {json}\n\n")
}

fn status(id: u32, active: bool) -> String {
    event(
        "task_group_status",
        &format!(
            r#"{{"type":"task_group_status","event_id":"{id}","status":{{"num_task_runs":1,"task_run_status_counts":{{}},"is_active":{active},"status_message":null,"modified_at":null}}}}"#
        ),
    )
}

fn run(id: u32, status: &str, active: bool) -> String {
    event(
        "task_run.state",
        &format!(
            r#"{{"type":"task_run.state","event_id":"{id}","input":null,"output":null,"run":{{"run_id":"trun_{id}","status":"{status}","is_active":{active},"processor":"lite","metadata":null,"created_at":null,"modified_at":null}}}}"#
        ),
    )
}

const ERROR: &str =
    r#"{"type":"error","error":{"ref_id":"r9","message":"internal hiccup","detail":null}}"#;
const UNKNOWN: &str = r#"{"type":"task_group.future_thing","event_id":"2","x":1}"#;
const UNTYPED: &str = r#"{"event_id":"3","note":"no type"}"#;

#[tokio::test]
async fn group_events_yield_error_events_and_skip_unknown_and_untyped_ones() {
    let server = Scripted::start(|_, n| match n {
        0 => Reply::sse(&format!(
            "{}{}{}{}",
            status(1, true),
            event("task_group.future_thing", UNKNOWN),
            format_args!("data: {UNTYPED}\n\n"),
            event("error", ERROR),
        )),
        _ => Reply::sse(&format!(
            "{}{}",
            run(4, "completed", false),
            status(5, false)
        )),
    })
    .await;
    let events: Vec<GroupEvent> = client(&server)
        .group("tgrp_1")
        .events(GroupEventsOptions::default())
        .map(Result::unwrap)
        .collect()
        .await;
    let kinds: Vec<&str> = events.iter().map(GroupEvent::event_type).collect();
    assert_eq!(
        kinds,
        [
            "task_group_status",
            "error",
            "task_run.state",
            "task_group_status"
        ]
    );
    let GroupEvent::Error(error) = &events[1] else {
        unreachable!()
    };
    assert_eq!(
        (error.error.ref_id.as_str(), error.error.message.as_str()),
        ("r9", "internal hiccup")
    );
    // The server closed the first connection while the group was active: the stream went on
    // after the last event id it had seen, the unknown event's.
    let targets: Vec<String> = server.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(
        targets,
        [
            "/v1/tasks/groups/tgrp_1/events",
            "/v1/tasks/groups/tgrp_1/events?last_event_id=2"
        ]
    );
}

#[tokio::test]
async fn a_server_that_only_sends_errors_ends_the_stream_after_the_reconnect_budget() {
    let server = Scripted::start(|_, _| Reply::sse(&event("error", ERROR))).await;
    let items: Vec<_> = client(&server)
        .group("tgrp_1")
        .events(GroupEventsOptions::default())
        .collect()
        .await;
    // One connection and three reconnects, each an error event; then the stream's error.
    assert_eq!(server.requests().len(), 4);
    assert_eq!(items.len(), 5, "{items:?}");
    for item in &items[..4] {
        assert!(matches!(item, Ok(GroupEvent::Error(_))), "{item:?}");
    }
    let err = items[4].as_ref().unwrap_err();
    assert!(err.to_string().contains("reconnects in a row"), "{err}");
}

#[tokio::test]
async fn an_error_event_ends_the_runs_stream_with_the_servers_error() {
    let server = Scripted::start(|_, _| {
        Reply::sse(&format!(
            "{}{}data: {UNTYPED}\n\n{}{}",
            run(1, "completed", false),
            event("task_group.future_thing", UNKNOWN),
            event("error", ERROR),
            run(9, "completed", false),
        ))
    })
    .await;
    let items: Vec<_> = client(&server)
        .group("tgrp_1")
        .runs(GroupRunsOptions::default())
        .collect()
        .await;
    assert_eq!(items.len(), 2, "{items:?}");
    let first = items[0].as_ref().unwrap().view().unwrap();
    assert_eq!(first.run.run_id, "trun_1");
    let err = items[1].as_ref().unwrap_err();
    assert!(err.is_api(), "{err:?}");
    assert_eq!(err.api_error().unwrap().message, "internal hiccup");
    assert!(err.to_string().contains("internal hiccup"), "{err}");
}

#[tokio::test]
async fn run_events_yield_error_events_and_skip_unknown_and_untyped_ones() {
    let server = Scripted::start(|_, _| {
        Reply::sse(&format!(
            "{}{}{}data: {UNTYPED}\n\n{}{}",
            run(1, "running", true),
            event(
                "task_run.progress_msg.plan",
                r#"{"type":"task_run.progress_msg.plan","message":"Plan","timestamp":null}"#
            ),
            event(
                "task_run.progress_new_kind",
                r#"{"type":"task_run.progress_new_kind","value":3}"#
            ),
            event("error", ERROR),
            run(1, "completed", false),
        ))
    })
    .await;
    let events: Vec<RunEvent> = client(&server)
        .run_events("trun_1", parallel_client::RequestOptions::default())
        .map(Result::unwrap)
        .collect()
        .await;
    let kinds: Vec<String> = events.iter().map(|e| e.event_type().to_string()).collect();
    assert_eq!(
        kinds,
        [
            "task_run.state",
            "task_run.progress_msg.plan",
            "error",
            "task_run.state"
        ]
    );
    assert_eq!(
        server.requests().len(),
        1,
        "the final state ended the stream"
    );
}

/// The run ids of the group runs stream of `server`, to its end.
async fn run_ids(server: &Scripted) -> Vec<String> {
    client(server)
        .group("tgrp_1")
        .runs(GroupRunsOptions::default())
        .map(|run| run.unwrap().view().unwrap().run.run_id.into_owned())
        .collect()
        .await
}

/// The `last_event_id` a request asked to resume after.
fn cursor(request: &Recorded) -> Option<&str> {
    request.target.split("last_event_id=").nth(1)
}

/// Runs 1 to 5; each connection sends the next two after its cursor, then closes cleanly.
fn two_runs_per_connection(request: &Recorded, _: usize) -> Reply {
    let after: u32 = cursor(request).map_or(0, |id| id.parse().unwrap());
    let body: String = (after + 1..=(after + 2).min(5))
        .map(|id| run(id, "completed", false))
        .collect();
    Reply::sse(&format!(": keep-alive\n\n{body}"))
}

#[tokio::test]
async fn a_runs_stream_closed_early_by_the_server_goes_on_until_nothing_follows() {
    let server = Scripted::start(two_runs_per_connection).await;
    let ids = run_ids(&server).await;
    assert_eq!(ids, ["trun_1", "trun_2", "trun_3", "trun_4", "trun_5"]);
    // 0 → 2 → 4 → 5, then a connection with nothing after 5 ends the stream.
    assert_eq!(server.requests().len(), 4);
}

/// Runs 1 to 3, resumed inclusively: each connection repeats the run of its cursor first.
fn inclusive_resume(request: &Recorded, _: usize) -> Reply {
    let after: u32 = cursor(request).map_or(0, |id| id.parse().unwrap());
    let body: String = (after.max(1)..=(after + 1).min(3))
        .map(|id| run(id, "completed", false))
        .collect();
    Reply::sse(&body)
}

#[tokio::test]
async fn a_runs_stream_resumed_inclusively_delivers_each_run_once_and_ends() {
    let server = Scripted::start(inclusive_resume).await;
    let ids = run_ids(&server).await;
    assert_eq!(ids, ["trun_1", "trun_2", "trun_3"]);
    // 0 → 1 → 2 → 3 (repeats 3 only): the repeat does not count as news.
    assert_eq!(server.requests().len(), 4);
}

/// Runs 1 to 3, over connections that close cleanly in the middle of an event: the first
/// before the blank line that would close run 1, the second inside the `data:` line of run 2
/// (after run 1); the third ends after run 2 and a complete comment, between events.
fn cut_inside_events(_: &Recorded, n: usize) -> Reply {
    let partial = |id: u32, len: usize| run(id, "completed", false)[..len].to_owned();
    let run = |id: u32| run(id, "completed", false);
    let body = match n {
        0 => run(1).trim_end().to_owned() + "\n",
        1 => run(1) + &partial(2, 40),
        2 => run(2) + ": bye\n",
        3 => run(3),
        _ => String::new(),
    };
    Reply::sse(&body)
}

#[tokio::test]
async fn a_body_that_ends_inside_an_event_is_a_cut_and_the_stream_resumes_before_it() {
    let server = Scripted::start(cut_inside_events).await;
    let ids = run_ids(&server).await;
    // Taken for a clean end, the first connection would have ended the stream with nothing.
    // Each run arrived whole, once.
    assert_eq!(ids, ["trun_1", "trun_2", "trun_3"]);
    let cursors: Vec<Option<String>> = server
        .requests()
        .iter()
        .map(|r| cursor(r).map(str::to_owned))
        .collect();
    assert_eq!(
        cursors,
        [
            None,
            None,
            Some("1".into()),
            Some("2".into()),
            Some("3".into())
        ]
    );
}

/// An events stream whose first six connections bring a keep-alive comment and end, and whose
/// seventh brings the final status.
fn keep_alives_then_done(_: &Recorded, n: usize) -> Reply {
    if n < 6 {
        Reply::sse(": keep-alive\n\n")
    } else {
        Reply::sse(&status(1, false))
    }
}

#[tokio::test]
async fn a_keep_alive_is_progress_and_spends_nothing_of_the_reconnect_budget() {
    // The budget is 3 failed connections in a row; six connections that bring only a
    // keep-alive are not failures, as connections that bring nothing are.
    let server = Scripted::start(keep_alives_then_done).await;
    let events: Vec<GroupEvent> = client(&server)
        .group("tgrp_1")
        .events(GroupEventsOptions::default())
        .map(|event| event.unwrap())
        .collect()
        .await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(server.requests().len(), 7);

    let silent = Scripted::start(|_, _| Reply::sse("")).await;
    let error = client(&silent)
        .group("tgrp_1")
        .events(GroupEventsOptions::default())
        .next()
        .await
        .expect("an item")
        .expect_err("the budget is spent");
    assert!(error.is_connection(), "{error:?}");
    assert_eq!(
        silent.requests().len(),
        4,
        "the first connection and 3 reconnects"
    );
}
