//! Streams ended on purpose: closed cleanly after a while, or by an `error` event.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use parallel_emulator::{Emulator, Faults};
use parallel_types::GroupEvent;

use crate::http::split_frames;
use crate::{add_runs, create_group, inputs, instant, start};

#[tokio::test]
async fn closed_runs_streams_resume_with_every_run_exactly_once() {
    // Dripping makes the snapshot of 60 runs take far longer than the 300 ms a connection
    // may stay open, so it takes several connections.
    let faults = Faults::none()
        .drip(400, Duration::from_millis(15))
        .close_streams_after(Duration::from_millis(300));
    let (emu, client) = start(Emulator::builder().time_scale(0.0).seed(3).faults(faults)).await;
    let group = create_group(&client).await;
    add_runs(&client, &group, inputs(0, 60, "lite")).await;
    let mut seen = Vec::new();
    let mut last = String::new();
    let mut connections = 0;
    while seen.len() < 60 {
        connections += 1;
        assert!(
            connections <= 200,
            "no progress after {connections} connections"
        );
        let path = format!("/v1/tasks/groups/{group}/runs?last_event_id={last}");
        let streamed = client.stream(&path).await;
        assert!(streamed.clean, "a close is a clean end of the body");
        let (frames, _, tail) = split_frames(&streamed.body);
        assert_eq!(tail, "", "closed between two events, never inside one");
        for f in frames {
            seen.push(f.data["run"]["run_id"].as_str().unwrap().to_owned());
            last = f.data["event_id"].as_str().unwrap().to_owned();
        }
    }
    assert!(connections > 1, "the stream was closed at least once");
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(
        (seen.len(), unique.len()),
        (60, 60),
        "every run exactly once"
    );
    assert!(emu.stats().streams_closed >= 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn an_events_stream_of_an_active_group_is_closed_after_the_set_time() {
    let faults = Faults::none().close_streams_after(Duration::from_millis(400));
    // Real-time latencies: a `lite` run takes 10 s or more, so the group stays active.
    let (emu, client) = start(
        Emulator::builder()
            .time_scale(1.0)
            .keep_alive_interval(Duration::from_millis(100))
            .faults(faults),
    )
    .await;
    let group = create_group(&client).await;
    let added = add_runs(&client, &group, inputs(0, 2, "lite")).await;
    let run = added["run_ids"][0].as_str().unwrap().to_owned();
    for path in [
        format!("/v1/tasks/groups/{group}/events"),
        format!("/v1/tasks/runs/{run}/events"),
    ] {
        let started = Instant::now();
        let streamed = client.stream(&path).await;
        let took = started.elapsed();
        assert!(streamed.clean, "{path}: ended cleanly");
        assert!(
            took >= Duration::from_millis(350) && took < Duration::from_secs(10),
            "{path}: ended after {took:?}"
        );
        let (frames, keep_alives, tail) = split_frames(&streamed.body);
        assert_eq!(tail, "", "{path}");
        assert!(keep_alives >= 1, "{path}: quiet until the close");
        assert!(!frames.is_empty(), "{path}");
        let active = frames.iter().all(|f| f.data["type"] != "error");
        assert!(active, "{path}: no error event for a plain close");
    }
    assert_eq!(emu.stats().streams_closed, 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn error_events_end_the_events_streams_after_the_set_count() {
    let (emu, client) = instant().await;
    let group = create_group(&client).await;
    let added = add_runs(&client, &group, inputs(0, 5, "pro")).await;
    let run = added["run_ids"][0].as_str().unwrap().to_owned();
    emu.set_faults(Faults::none().error_event_after(2));

    let streamed = client
        .stream(&format!("/v1/tasks/groups/{group}/events"))
        .await;
    assert!(
        streamed.clean,
        "the stream ends cleanly after the error event"
    );
    let (frames, _, tail) = split_frames(&streamed.body);
    assert_eq!(tail, "");
    let kinds: Vec<&str> = frames.iter().map(|f| f.event.as_str()).collect();
    assert_eq!(kinds.len(), 3, "two events, then the error: {kinds:?}");
    assert_eq!(kinds[2], "error");
    let error = &frames[2].data["error"];
    assert!(crate::http::is_uuid(error["ref_id"].as_str().unwrap()));
    assert!(error["message"].as_str().unwrap().contains("last_event_id"));
    let typed: GroupEvent = serde_json::from_str(&frames[2].raw_data).unwrap();
    assert!(matches!(typed, GroupEvent::Error(_)), "{typed:?}");

    // Resuming after the last good event goes on where it stopped.
    let last = frames[1].data["event_id"].as_str().unwrap();
    let resumed = client
        .stream(&format!(
            "/v1/tasks/groups/{group}/events?last_event_id={last}"
        ))
        .await;
    let (again, _, _) = split_frames(&resumed.body);
    assert_eq!(
        again[0].data["event_id"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap(),
        last.parse::<u64>().unwrap() + 1
    );

    let streamed = client.stream(&format!("/v1/tasks/runs/{run}/events")).await;
    let (frames, _, _) = split_frames(&streamed.body);
    assert!(streamed.clean);
    assert_eq!(frames.len(), 3, "{frames:?}");
    assert_eq!(frames[2].event, "error");

    // The group runs stream is a snapshot, not an events stream: no error event there.
    let runs = client
        .stream(&format!("/v1/tasks/groups/{group}/runs"))
        .await;
    let (frames, _, _) = split_frames(&runs.body);
    assert_eq!(frames.len(), 5);
    assert!(frames.iter().all(|f| f.event == "task_run.state"));
    assert_eq!(emu.stats().error_events, 3);
    emu.shutdown().await;
}
