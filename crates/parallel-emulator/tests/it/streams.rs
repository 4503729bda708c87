//! The three event streams: framing, snapshots, resume, cursors, keep-alives, lifetimes.

use std::time::Duration;

use http::StatusCode;
use parallel_emulator::Emulator;
use parallel_types::{GroupEvent, GroupRunEvent, RunEvent, RunStatus};
use serde_json::{Value, json};

use crate::http::{Frame, split_frames};
use crate::{add_runs, create_group, inputs, instant, start};

fn ids(frames: &[Frame]) -> Vec<u64> {
    frames
        .iter()
        .map(|f| f.data["event_id"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn group_runs_stream_is_framed_exactly_and_in_add_order() {
    let (emu, client) = instant().await;
    let group = create_group(&client).await;
    let added = add_runs(&client, &group, inputs(0, 5, "core")).await;
    let streamed = client
        .stream(&format!("/v1/tasks/groups/{group}/runs"))
        .await;
    assert_eq!(streamed.status, StatusCode::OK);
    assert!(streamed.clean);
    assert_eq!(
        streamed.headers["content-type"],
        "text/event-stream; charset=utf-8"
    );
    let text = std::str::from_utf8(&streamed.body).unwrap();
    assert!(!text.contains("\nid:") && !text.starts_with("id:") && !text.contains("retry:"));
    let (frames, comments, tail) = split_frames(&streamed.body);
    assert_eq!((comments, tail.as_str()), (0, ""));
    assert_eq!(frames.len(), 5);
    let run_ids: Vec<&str> = frames
        .iter()
        .map(|f| f.data["run"]["run_id"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = added["run_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(run_ids, expected);
    assert_eq!(ids(&frames), vec![1, 2, 3, 4, 5]);
    for frame in &frames {
        assert_eq!(frame.event, "task_run.state");
        // Explicit nulls for what was not asked for.
        assert!(
            frame.raw_data.contains("\"input\":null") && frame.raw_data.contains("\"output\":null")
        );
        let typed: GroupRunEvent = serde_json::from_str(&frame.raw_data).unwrap();
        assert!(
            matches!(typed, GroupRunEvent::TaskRunState(ref e) if e.run.status == RunStatus::Completed)
        );
    }
    // The byte layout of one frame, written out by hand.
    let first = &frames[0];
    let expected_frame = format!("event: task_run.state\ndata: {}\n\n", first.raw_data);
    assert!(text.starts_with(&expected_frame));
    emu.shutdown().await;
}

#[tokio::test]
async fn group_runs_include_input_output_filter_and_resume() {
    let (emu, client) = start(Emulator::builder().time_scale(0.0).seed(9).fail_rate(0.3)).await;
    let group = create_group(&client).await;
    let sent = inputs(0, 20, "base");
    add_runs(&client, &group, sent.clone()).await;
    let full = client
        .stream(&format!(
            "/v1/tasks/groups/{group}/runs?include_input=true&include_output=true"
        ))
        .await;
    let (frames, _, _) = split_frames(&full.body);
    assert_eq!(frames.len(), 20);
    let mut failed = 0;
    for (frame, input) in frames.iter().zip(&sent) {
        assert_eq!(frame.data["input"]["input"], input["input"]);
        assert_eq!(frame.data["input"]["processor"], "base");
        assert_eq!(frame.data["input"]["metadata"], input["metadata"]);
        let typed: GroupRunEvent = serde_json::from_str(&frame.raw_data).unwrap();
        let GroupRunEvent::TaskRunState(event) = typed else {
            panic!("task_run.state")
        };
        assert!(event.input.is_some());
        match frame.data["run"]["status"].as_str().unwrap() {
            "completed" => assert!(event.output.is_some(), "completed runs carry their output"),
            "failed" => {
                failed += 1;
                assert_eq!(
                    frame.data["output"],
                    json!(null),
                    "failed runs have no output"
                );
                assert!(frame.data["run"]["error"]["message"].is_string());
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        (1..20).contains(&failed),
        "fail_rate 0.3 fails some but not all: {failed}"
    );

    let only_failed = client
        .stream(&format!("/v1/tasks/groups/{group}/runs?status=failed"))
        .await;
    let (failed_frames, _, _) = split_frames(&only_failed.body);
    assert_eq!(failed_frames.len(), failed);
    assert!(
        failed_frames
            .iter()
            .all(|f| f.data["run"]["status"] == "failed")
    );

    // Resume: strictly after the given event.
    let resumed = client
        .stream(&format!("/v1/tasks/groups/{group}/runs?last_event_id=17"))
        .await;
    let (tail, _, _) = split_frames(&resumed.body);
    assert_eq!(ids(&tail), vec![18, 19, 20]);
    assert_eq!(
        tail[0].data["run"]["run_id"],
        frames[17].data["run"]["run_id"]
    );

    let bad = client
        .get(&format!("/v1/tasks/groups/{group}/runs?status=done"))
        .await;
    assert!(
        bad.expect_error(StatusCode::UNPROCESSABLE_ENTITY)
            .contains("status")
    );
    let bad = client
        .get(&format!("/v1/tasks/groups/{group}/runs?last_event_id=abc"))
        .await;
    assert!(
        bad.expect_error(StatusCode::UNPROCESSABLE_ENTITY)
            .contains("last_event_id")
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn run_cursor_positions_the_runs_stream_at_a_batch() {
    let (emu, client) = instant().await;
    let group = create_group(&client).await;
    add_runs(&client, &group, inputs(0, 4, "lite")).await;
    let second = add_runs(&client, &group, inputs(4, 3, "lite")).await;
    let cursor = second["run_cursor"].as_str().unwrap();
    let streamed = client
        .stream(&format!(
            "/v1/tasks/groups/{group}/runs?last_event_id={cursor}"
        ))
        .await;
    let (frames, _, _) = split_frames(&streamed.body);
    let got: Vec<&Value> = frames.iter().map(|f| &f.data["run"]["run_id"]).collect();
    let want: Vec<&Value> = second["run_ids"].as_array().unwrap().iter().collect();
    assert_eq!(got, want);
    emu.shutdown().await;
}

#[tokio::test]
async fn group_events_replay_the_log_and_end_when_inactive() {
    let (emu, client) = start(Emulator::builder().time_scale(0.0005).seed(4)).await;
    let group = create_group(&client).await;
    let added = add_runs(&client, &group, inputs(0, 6, "lite")).await;
    let streamed = client
        .stream(&format!("/v1beta/tasks/groups/{group}/events"))
        .await;
    assert!(streamed.clean, "the stream ends on its own");
    let (frames, _, tail) = split_frames(&streamed.body);
    assert!(tail.is_empty());
    let first_inactive = frames
        .iter()
        .position(|f| f.event == "task_group_status" && f.data["status"]["is_active"] == false)
        .unwrap();
    assert_eq!(
        first_inactive,
        frames.len() - 1,
        "no inactive status before the runs it reports on"
    );
    let last = frames.last().unwrap();
    assert_eq!(last.event, "task_group_status");
    assert_eq!(last.data["status"]["is_active"], false);
    assert_eq!(
        last.data["status"]["task_run_status_counts"],
        json!({"completed": 6})
    );
    let terminal: Vec<&Frame> = frames
        .iter()
        .filter(|f| f.event == "task_run.state")
        .collect();
    assert_eq!(
        terminal.len(),
        6,
        "one event per run reaching a final status"
    );
    let mut run_ids: Vec<&str> = terminal
        .iter()
        .map(|f| f.data["run"]["run_id"].as_str().unwrap())
        .collect();
    run_ids.sort_unstable();
    let mut want: Vec<&str> = added["run_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    want.sort_unstable();
    assert_eq!(run_ids, want);
    for f in &terminal {
        assert_eq!(f.data["input"], json!(null));
        assert_eq!(f.data["output"], json!(null));
        assert_eq!(f.data["run"]["is_active"], false);
    }
    for f in &frames {
        let typed: GroupEvent = serde_json::from_str(&f.raw_data).unwrap();
        assert!(!matches!(typed, GroupEvent::Unknown(_)));
    }
    // Log events have increasing ids; an opening snapshot, sent only when the connection had
    // nothing to catch up on, carries the connection's cursor (`0` here).
    let all_ids = ids(&frames);
    let log_ids: Vec<u64> = all_ids.iter().copied().filter(|id| *id > 0).collect();
    assert!(all_ids.len() - log_ids.len() <= 1, "{all_ids:?}");
    assert!(log_ids.windows(2).all(|w| w[0] < w[1]), "{log_ids:?}");

    // Resume strictly after an event in the middle.
    let middle = log_ids[log_ids.len() / 2];
    let resumed = client
        .stream(&format!(
            "/v1/tasks/groups/{group}/events?last_event_id={middle}"
        ))
        .await;
    let (again, _, _) = split_frames(&resumed.body);
    // The connection has a backlog, so it opens with the log, not a snapshot.
    let again_ids = ids(&again);
    assert_eq!(
        again_ids,
        log_ids
            .iter()
            .copied()
            .filter(|id| *id > middle)
            .collect::<Vec<_>>()
    );
    assert_eq!(again.last().unwrap().raw_data, last.raw_data);

    // A connection with nothing to catch up on gets the current status as a snapshot that
    // carries its cursor, and the stream ends because the group is inactive.
    let newest = log_ids.last().unwrap();
    let caught_up = client
        .stream(&format!(
            "/v1/tasks/groups/{group}/events?last_event_id={newest}"
        ))
        .await;
    assert!(caught_up.clean, "the stream ends on its own");
    let (snapshot, _, _) = split_frames(&caught_up.body);
    assert_eq!(snapshot.len(), 1, "only the snapshot");
    assert_eq!(snapshot[0].event, "task_group_status");
    assert_eq!(ids(&snapshot), vec![*newest]);
    assert_eq!(snapshot[0].data["status"], last.data["status"]);
    emu.shutdown().await;
}

#[tokio::test]
async fn event_cursor_skips_earlier_batches() {
    let (emu, client) = instant().await;
    let group = create_group(&client).await;
    add_runs(&client, &group, inputs(0, 3, "lite")).await;
    let second = add_runs(&client, &group, inputs(3, 2, "lite")).await;
    let cursor = second["event_cursor"].as_str().unwrap();
    let streamed = client
        .stream(&format!(
            "/v1/tasks/groups/{group}/events?last_event_id={cursor}"
        ))
        .await;
    let (frames, _, _) = split_frames(&streamed.body);
    let runs: Vec<&Value> = frames
        .iter()
        .filter(|f| f.event == "task_run.state")
        .map(|f| &f.data["run"]["run_id"])
        .collect();
    let want: Vec<&Value> = second["run_ids"].as_array().unwrap().iter().collect();
    assert_eq!(
        runs, want,
        "only the second batch's completions follow the cursor"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn quiet_streams_get_keep_alives_and_timeout_ends_them() {
    let builder = Emulator::builder()
        .time_scale(1.0)
        .keep_alive_interval(Duration::from_millis(20));
    let (emu, client) = start(builder).await;
    let group = create_group(&client).await;
    add_runs(&client, &group, inputs(0, 1, "ultra8x")).await;
    let streamed = client
        .stream(&format!("/v1/tasks/groups/{group}/events?timeout=0.3"))
        .await;
    assert!(streamed.clean, "a timeout ends the stream cleanly");
    let (frames, comments, tail) = split_frames(&streamed.body);
    assert!(comments >= 1, "keep-alive comments on a quiet stream");
    assert!(
        std::str::from_utf8(&streamed.body)
            .unwrap()
            .contains("\n\n: keep-alive\n\n")
    );
    assert!(tail.is_empty());
    assert_eq!(
        frames.last().unwrap().data["status"]["is_active"],
        true,
        "the group is still running"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    let (emu, client) = start(Emulator::builder().time_scale(1.0)).await;
    let group = create_group(&client).await;
    add_runs(&client, &group, inputs(0, 1, "ultra8x")).await;
    let reader = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .stream(&format!("/v1/tasks/groups/{group}/events"))
                .await
        })
    };
    // Shut down only once the stream request has arrived.
    while emu
        .stats()
        .requests(parallel_emulator::Endpoint::GroupEvents)
        == 0
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    emu.shutdown().await;
    let streamed = reader.await.unwrap();
    let (frames, _, _) = split_frames(&streamed.body);
    assert_eq!(frames[0].event, "task_group_status");
}

#[tokio::test]
async fn run_events_show_progress_and_end_with_the_output() {
    let (emu, client) = start(Emulator::builder().time_scale(0.0005).seed(2)).await;
    let created = client
        .post(
            "/v1/tasks/runs",
            json!({"input": {"company_name": "Initech"}, "processor": "pro"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED);
    let run_id = created.json()["run_id"].as_str().unwrap().to_owned();
    for prefix in ["/v1", "/v1beta"] {
        let streamed = client
            .stream(&format!("{prefix}/tasks/runs/{run_id}/events"))
            .await;
        assert!(streamed.clean);
        let (frames, _, _) = split_frames(&streamed.body);
        assert_eq!(frames[0].event, "task_run.state");
        assert_eq!(
            frames[0].data["event_id"],
            json!(null),
            "no cursor outside groups"
        );
        let kinds: Vec<&str> = frames.iter().map(|f| f.event.as_str()).collect();
        assert!(kinds.contains(&"task_run.progress_msg.plan"), "{kinds:?}");
        assert!(kinds.contains(&"task_run.progress_stats"), "{kinds:?}");
        let last = frames.last().unwrap();
        assert_eq!(last.event, "task_run.state");
        assert_eq!(last.data["run"]["status"], "completed");
        assert_eq!(last.data["output"]["type"], "json");
        assert!(
            last.data["output"]["content"]["summary"]
                .as_str()
                .unwrap()
                .contains("Initech")
        );
        for f in &frames {
            let typed: RunEvent = serde_json::from_str(&f.raw_data).unwrap();
            assert!(!matches!(typed, RunEvent::Unknown(_)), "{}", f.raw_data);
            if f.event.starts_with("task_run.progress_msg.") {
                assert!(f.data["timestamp"].is_string());
            }
            if f.event == "task_run.progress_stats" {
                let meter = f.data["progress_meter"].as_f64().unwrap();
                assert!((0.0..=100.0).contains(&meter));
            }
        }
    }
    emu.shutdown().await;
}
