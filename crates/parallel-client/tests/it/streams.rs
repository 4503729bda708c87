//! The runs and events streams under cut connections, and at scale.

use std::collections::HashSet;

use futures::StreamExt;
use parallel_client::{AddRuns, GroupEventsOptions, GroupRunsOptions};
use parallel_emulator::Faults;
use parallel_types::GroupEvent;

use crate::common::{Company, Insight, client, emulator, emulator_with, inputs, new_group, spec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runs_stream_delivers_every_run_once_through_cut_connections() {
    let emu = emulator(Faults::none()).await;
    let client = client(&emu);
    let id = new_group(&client).await;
    let ids = client
        .group(&id)
        .add_runs(AddRuns::new(inputs(600)).default_task_spec(spec()))
        .await
        .unwrap()
        .run_ids;
    client.group(&id).wait().await.unwrap();

    // Every connection is cut inside the 37th event from now on. Read on the caller's task,
    // with the smallest read-ahead, and with the default one.
    emu.set_faults(Faults::none().cut_sse_after(37));
    for read_ahead in [0, 1, GroupRunsOptions::DEFAULT_READ_AHEAD] {
        let cuts_before = emu.stats().streams_cut;
        let options = GroupRunsOptions::with_input_and_output().read_ahead(read_ahead);
        let mut seen = Vec::new();
        let mut runs = client.group(&id).runs(options);
        while let Some(run) = runs.next().await {
            let run = run.unwrap();
            let view = run.view().unwrap();
            let insight: Insight = view
                .output_as()
                .unwrap()
                .expect("completed runs carry an output");
            assert!(!insight.ceo_name.is_empty());
            // The one-pass typed view reads the same input and output.
            let typed = run.view_as::<Company, Insight>().unwrap();
            assert_eq!(typed.output.expect("output").content, insight);
            assert_eq!(
                typed.input.expect("input"),
                view.input_as::<Company>().unwrap().expect("input")
            );
            seen.push(typed.run.run_id.into_owned());
        }
        let cuts = emu.stats().streams_cut - cuts_before;
        assert!(cuts >= 10, "read-ahead {read_ahead}: {cuts} cuts");
        assert_eq!(
            seen, ids,
            "read-ahead {read_ahead}: every run exactly once, in order"
        );
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn the_events_stream_delivers_every_completion_once_through_cut_connections() {
    let emu = emulator_with(Faults::none(), 0.2).await;
    let client = client(&emu);
    let id = new_group(&client).await;
    let ids = client
        .group(&id)
        .add_runs(AddRuns::new(inputs(300)))
        .await
        .unwrap()
        .run_ids;
    client.group(&id).wait().await.unwrap();

    emu.set_faults(Faults::none().cut_sse_after(11));
    let mut completions = Vec::new();
    let mut event_ids = HashSet::new();
    let mut events = client.group(&id).events(GroupEventsOptions::default());
    while let Some(event) = events.next().await {
        let event = event.unwrap();
        if let Some(event_id) = event.event_id() {
            assert!(
                event_ids.insert(event_id.to_owned()),
                "event {event_id} delivered twice"
            );
        }
        if let GroupEvent::TaskRunState(ev) = event {
            completions.push(ev.run.run_id);
        }
    }
    assert!(emu.stats().streams_cut >= 10, "{:?}", emu.stats());
    let unique: HashSet<_> = completions.iter().collect();
    assert_eq!(
        unique.len(),
        completions.len(),
        "a completion was delivered twice"
    );
    assert_eq!(unique, ids.iter().collect());
    emu.shutdown().await;
}

#[tokio::test]
async fn a_100_000_run_group_streams_end_to_end() {
    let emu = emulator(Faults::none()).await;
    let client = client(&emu);
    let id = new_group(&client).await;
    let ids = client
        .group(&id)
        .add_runs(AddRuns::new(inputs(100_000)).default_task_spec(spec()))
        .await
        .unwrap()
        .run_ids;
    assert_eq!(ids.len(), 100_000);
    let status = client.group(&id).wait().await.unwrap();
    assert_eq!(status.num_task_runs, 100_000);

    let mut count = 0usize;
    let mut runs = client
        .group(&id)
        .runs(GroupRunsOptions::with_input_and_output());
    while let Some(run) = runs.next().await {
        let run = run.unwrap();
        let view = run.view().unwrap();
        assert_eq!(view.run.run_id, ids[count]);
        assert!(view.output.is_some());
        count += 1;
    }
    assert_eq!(count, 100_000);
    emu.shutdown().await;
}
