//! Every endpoint, end to end.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use http::StatusCode;
use parallel_client::{AddRuns, Client, GroupEventsOptions, GroupRunsOptions};
use parallel_emulator::Faults;
use parallel_types::{
    CreateTaskGroupRequest, GroupEvent, MetadataValue, RunEvent, RunInput, RunStatus,
};

use crate::common::{Company, Insight, KEY, client, emulator, inputs, new_group, spec};

#[tokio::test]
async fn groups_runs_and_results_round_trip() {
    let emu = emulator(Faults::none()).await;
    let client = client(&emu);

    let mut metadata = BTreeMap::new();
    metadata.insert("batch".to_owned(), MetadataValue::String("q1".into()));
    let group = client
        .create_group(CreateTaskGroupRequest::new().with_metadata(metadata.clone()))
        .await
        .unwrap();
    assert!(group.taskgroup_id.starts_with("tgrp_"));
    assert_eq!(group.metadata, Some(metadata));
    let id = group.taskgroup_id;
    let group = client.group(&id);

    let run_ids = group
        .add_runs(AddRuns::new(inputs(3)).default_task_spec(spec()))
        .await
        .unwrap()
        .run_ids;
    assert_eq!(run_ids.len(), 3);
    let status = group.wait().await.unwrap();
    assert!(!status.is_active);
    assert_eq!(status.num_task_runs, 3);
    assert_eq!(status.count(&RunStatus::Completed), 3);
    assert_eq!(group.get().await.unwrap().status.num_task_runs, 3);

    // The runs stream, in input order, with inputs and typed outputs.
    let runs: Vec<_> = group
        .runs(GroupRunsOptions::with_input_and_output())
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(runs.len(), 3);
    for (row, run) in runs.iter().enumerate() {
        let view = run.view().unwrap();
        assert_eq!(view.run.run_id, run_ids[row]);
        assert_eq!(view.run.status, RunStatus::Completed);
        let company: Company = view.input_as().unwrap().unwrap();
        assert_eq!(company.row, row as u64);
        let insight: Insight = view.output_as().unwrap().unwrap();
        assert_eq!(insight.founded_year.len(), 4, "{insight:?}");
        let owned = view.into_owned().unwrap();
        assert_eq!(owned.run.run_id, run_ids[row]);
    }
    // Without include flags, no input or output.
    let bare = group
        .runs(GroupRunsOptions::default())
        .next()
        .await
        .unwrap()
        .unwrap();
    let bare = bare.view().unwrap();
    assert_eq!(bare.output_as::<Insight>().unwrap(), None);
    assert_eq!(bare.input_as::<Company>().unwrap(), None);
    // The status filter.
    let failed = group
        .runs(GroupRunsOptions::default().status(RunStatus::Failed))
        .count()
        .await;
    assert_eq!(failed, 0);

    // One run, three ways.
    let run = group.get_run(&run_ids[1]).await.unwrap();
    assert_eq!(run.run_id, run_ids[1]);
    assert_eq!(run.taskgroup_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        client.get_run(&run_ids[1]).await.unwrap().status,
        RunStatus::Completed
    );
    let input = client.run_input(&run_ids[1]).await.unwrap();
    assert_eq!(
        serde_json::from_value::<Company>(input.input).unwrap().row,
        1
    );
    // The client tag is in the run's metadata.
    let tag = run.metadata.unwrap()[parallel_client::CLIENT_TAG_KEY]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(tag.ends_with(":1"), "{tag}");

    let result = client
        .run_result(&run_ids[2])
        .timeout(Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(result.run.run_id, run_ids[2]);
    let typed = client
        .run_result_as::<Insight>(&run_ids[2])
        .timeout(Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(typed.run.run_id, run_ids[2]);
    assert!(!typed.basis.is_empty());

    // The events stream replays the completions and ends with the group inactive.
    let events: Vec<GroupEvent> = group
        .events(GroupEventsOptions::default())
        .map(Result::unwrap)
        .collect()
        .await;
    let completed: HashSet<String> = events
        .iter()
        .filter_map(|e| match e {
            GroupEvent::TaskRunState(ev) => Some(ev.run.run_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(completed, run_ids.iter().cloned().collect());
    emu.shutdown().await;
}

#[tokio::test]
async fn a_single_run_with_its_event_stream() {
    let emu = emulator(Faults::none()).await;
    let client = client(&emu);
    let run = client
        .create_run(
            RunInput::new("Who is the CEO of Acme?", "pro-fast")
                .with_task_spec(spec())
                .with_enable_events(true),
        )
        .await
        .unwrap();
    assert!(run.run_id.starts_with("trun_"));
    let events: Vec<RunEvent> = client
        .run_events(&run.run_id, parallel_client::RequestOptions::default())
        .map(Result::unwrap)
        .collect()
        .await;
    let Some(RunEvent::TaskRunState(last)) = events.last() else {
        panic!("no final state: {events:?}")
    };
    assert_eq!(last.run.status, RunStatus::Completed);
    assert!(last.output.is_some());
    let result = client
        .run_result_as::<Insight>(&run.run_id)
        .timeout(Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(result.run.run_id, run.run_id);
    emu.shutdown().await;
}

#[tokio::test]
async fn run_result_waits_through_408_until_the_deadline() {
    // Real-time latencies: a `pro` run takes minutes, so /result answers 408 after each
    // one-second server wait until the caller's deadline.
    let emu = parallel_emulator::Emulator::builder()
        .api_key(KEY)
        .time_scale(1.0)
        .start()
        .await
        .unwrap();
    let client = client(&emu);
    let run = client
        .create_run(RunInput::new("slow question", "pro"))
        .await
        .unwrap();
    let err = client
        .run_result(&run.run_id)
        .timeout(Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(err.to_string().contains(&run.run_id), "{err}");
    let stats = emu.stats();
    assert!(
        stats.requests(parallel_emulator::Endpoint::RunResult) >= 2,
        "{stats:?}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn the_legacy_prefix_reaches_the_same_groups() {
    let emu = emulator(Faults::none()).await;
    let legacy = Client::builder()
        .api_key(KEY)
        .base_url(emu.base_url())
        .legacy_v1beta(true)
        .build()
        .unwrap();
    let group = legacy
        .create_group(CreateTaskGroupRequest::default())
        .await
        .unwrap();
    legacy
        .group(&group.taskgroup_id)
        .add_runs(AddRuns::new(inputs(2)))
        .await
        .unwrap();
    let status = client(&emu)
        .group(&group.taskgroup_id)
        .wait()
        .await
        .unwrap();
    assert_eq!(status.num_task_runs, 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn api_errors_carry_the_status_and_the_error_object() {
    let emu = emulator(Faults::none()).await;
    let client = client(&emu);

    let err = client
        .group("tgrp_00000000000000000000000000000000")
        .get()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    let api = err.api_error().expect("an error object");
    assert!(!api.ref_id.is_empty());
    assert!(err.to_string().contains(&api.message), "{err}");

    let err = client
        .create_run(RunInput::new("x", "no-such-processor"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
    assert!(!err.is_outcome_unknown());

    let bad_key = Client::builder()
        .api_key("wrong")
        .base_url(emu.base_url())
        .build()
        .unwrap();
    let err = bad_key
        .group("tgrp_00000000000000000000000000000000")
        .get()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED));
    assert!(err.to_string().contains("PARALLEL_API_KEY"), "{err}");
    assert!(!err.to_string().contains("wrong"), "{err}");
    emu.shutdown().await;
}

/// The crate documents why ids are plain `&str` behind a group handle: a swapped id is still
/// refused by the server, with a 404 that names the id given.
#[tokio::test]
async fn swapped_ids_are_refused_with_a_404_naming_the_id() {
    let emu = emulator(Faults::none()).await;
    let client = client(&emu);
    let group_id = client
        .create_group(CreateTaskGroupRequest::new())
        .await
        .unwrap()
        .taskgroup_id;
    let group = client.group(&group_id);
    let run_id = group
        .add_runs(AddRuns::new(inputs(1)).default_task_spec(spec()))
        .await
        .unwrap()
        .run_ids
        .remove(0);
    assert_eq!(group.id(), group_id);
    assert_eq!(group.get_run(&run_id).await.unwrap().run_id, run_id);

    let err = client.group(&run_id).get_run(&group_id).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    assert!(err.to_string().contains(&run_id), "{err}");
    let err = client.group(&run_id).get().await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    let err = client.get_run(&group_id).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    assert!(err.to_string().contains(&group_id), "{err}");
    emu.shutdown().await;
}

#[tokio::test]
async fn failed_runs_answer_404_on_result_and_carry_their_error() {
    let emu = crate::common::emulator_with(Faults::none(), 1.0).await;
    let client = client(&emu);
    let group = client
        .create_group(CreateTaskGroupRequest::default())
        .await
        .unwrap();
    let ids = client
        .group(&group.taskgroup_id)
        .add_runs(AddRuns::new(inputs(2)))
        .await
        .unwrap()
        .run_ids;
    client.group(&group.taskgroup_id).wait().await.unwrap();
    let run = client.get_run(&ids[0]).await.unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.error.is_some());
    let err = client
        .run_result(&ids[0])
        .timeout(Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    emu.shutdown().await;
}

#[tokio::test]
async fn add_runs_returns_the_last_status_and_cursors_before_the_runs_added() {
    let emu = emulator(Faults::none()).await;
    let client = client(&emu);
    let id = new_group(&client).await;
    let first = client
        .group(&id)
        .add_runs(AddRuns::new(inputs(3)))
        .await
        .unwrap();
    assert_eq!(first.run_ids.len(), 3);
    assert_eq!(first.status.expect("answered").num_task_runs, 3);
    // Nothing came before the first runs of a group.
    assert_eq!((&first.run_cursor, &first.event_cursor), (&None, &None));
    client.group(&id).wait().await.unwrap();

    // 2,500 more in three requests: the status is the last answer's (fresh, all 2,503 runs),
    // the cursors the first answer's (just before the runs added).
    let more = client
        .group(&id)
        .add_runs(AddRuns::new(inputs(2500)))
        .await
        .unwrap();
    assert_eq!(more.status.expect("answered").num_task_runs, 2503);
    let run_cursor = more.run_cursor.expect("runs came before");
    let event_cursor = more.event_cursor.expect("events came before");
    client.group(&id).wait().await.unwrap();

    // From the cursors, the streams carry exactly the runs added.
    let options = GroupRunsOptions::default().last_event_id(run_cursor);
    let streamed: Vec<String> = client
        .group(&id)
        .runs(options)
        .map(|run| run.unwrap().view().unwrap().run.run_id.into_owned())
        .collect()
        .await;
    assert_eq!(streamed, more.run_ids);
    let options = GroupEventsOptions::default().last_event_id(event_cursor);
    let mut completed = HashSet::new();
    let mut events = client.group(&id).events(options);
    while let Some(event) = events.next().await {
        if let GroupEvent::TaskRunState(event) = event.unwrap() {
            completed.insert(event.run.run_id);
        }
    }
    assert_eq!(completed, more.run_ids.iter().cloned().collect());
    emu.shutdown().await;
}
