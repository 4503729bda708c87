//! Streams over their whole life: quiet periods of keep-alives only, and servers that close
//! long-lived connections every few seconds.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use parallel_client::{AddRuns, Client, GroupEventsOptions};
use parallel_emulator::{Emulator, EmulatorHandle, Endpoint, Limits};
use parallel_types::{GroupEvent, RunEvent, RunInput, RunStatus};

use crate::common::{KEY, company, fast_reconnects, fast_retries, new_group};

async fn slow_emulator(time_scale: f64, keep_alive: Duration, limits: Limits) -> EmulatorHandle {
    Emulator::builder()
        .api_key(KEY)
        .time_scale(time_scale)
        .seed(7)
        .keep_alive_interval(keep_alive)
        .limits(limits)
        .start()
        .await
        .expect("the emulator starts")
}

fn client_with_idle(emu: &EmulatorHandle, idle: Duration) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(emu.base_url())
        .retry_policy(fast_retries(2))
        .stream_reconnect(fast_reconnects())
        .stream_idle_timeout(idle)
        .build()
        .expect("the client builds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_stream_kept_alive_by_comments_stays_open_until_the_completion() {
    // Keep-alives every second, an idle timeout of 3 s, a run of about 16 s: the streams are
    // silent of events for several idle timeouts, never of bytes.
    let idle = Duration::from_secs(3);
    let emu = slow_emulator(0.7, Duration::from_secs(1), Limits::default()).await;
    let client = client_with_idle(&emu, idle);
    let group = new_group(&client).await;
    let mut input = RunInput::new(company(1), "lite");
    input.enable_events = Some(false);
    let run_id = client
        .group(&group)
        .add_runs(AddRuns::new([input]))
        .await
        .unwrap()
        .run_ids
        .remove(0);

    let started = Instant::now();
    let (status, run_events) = tokio::join!(
        client.group(&group).wait(),
        client
            .run_events(&run_id, parallel_client::RequestOptions::default())
            .collect::<Vec<_>>()
    );
    let elapsed = started.elapsed();
    let status = status.unwrap();
    assert!(!status.is_active && status.num_task_runs == 1, "{status:?}");
    let last = run_events.last().expect("run events").as_ref().unwrap();
    let RunEvent::TaskRunState(last) = last else {
        panic!("the run events end with the final state: {last:?}")
    };
    assert_eq!(last.run.status, RunStatus::Completed);
    assert!(last.output.is_some(), "the final state carries the output");
    assert!(
        elapsed > idle * 3,
        "the run spans several idle timeouts: {elapsed:?}"
    );
    let counts = emu.stats();
    assert_eq!(
        counts.requests(Endpoint::GroupEvents),
        1,
        "no reconnect: {counts:?}"
    );
    assert_eq!(
        counts.requests(Endpoint::RunEvents),
        1,
        "no reconnect: {counts:?}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_closed_by_the_server_every_two_seconds_deliver_every_event_once() {
    let mut limits = Limits::default();
    limits.group_events_max = Duration::from_secs(2);
    limits.run_events_max = Duration::from_secs(2);
    let emu = slow_emulator(0.4, Duration::from_millis(500), limits).await;
    let client = client_with_idle(&emu, Duration::from_secs(10));
    let group = new_group(&client).await;
    // `lite` runs of 4 to 24 s; the first with progress events on.
    let inputs: Vec<RunInput> = (0..12)
        .map(|row| {
            let mut input = RunInput::new(company(row), "lite");
            input.enable_events = Some(row == 0);
            input
        })
        .collect();
    let ids = client
        .group(&group)
        .add_runs(AddRuns::new(inputs))
        .await
        .unwrap()
        .run_ids;

    let group_events = async {
        let mut completions = Vec::new();
        let mut event_ids = HashSet::new();
        let mut events = client.group(&group).events(GroupEventsOptions::default());
        while let Some(event) = events.next().await {
            let event = event.unwrap();
            if let Some(id) = event.event_id() {
                assert!(
                    event_ids.insert(id.to_owned()),
                    "event {id} delivered twice"
                );
            }
            if let GroupEvent::TaskRunState(event) = event {
                completions.push(event.run.run_id);
            }
        }
        completions
    };
    let run_events = client
        .run_events(&ids[0], parallel_client::RequestOptions::default())
        .collect::<Vec<_>>();
    let (completions, live) = tokio::join!(group_events, run_events);

    let unique: HashSet<&String> = completions.iter().collect();
    assert_eq!(
        unique.len(),
        completions.len(),
        "a completion was delivered twice"
    );
    assert_eq!(unique, ids.iter().collect());
    let stats = emu.stats();
    assert!(
        stats.requests(Endpoint::GroupEvents) >= 3,
        "the server closed the group events stream several times: {stats:?}"
    );
    assert!(
        stats.requests(Endpoint::RunEvents) >= 3,
        "the server closed the run events stream several times: {stats:?}"
    );

    // The live stream, reconnected several times, holds each progress message once: the same
    // messages, in the same order, as one stream opened on the finished run.
    let live: Vec<RunEvent> = live.into_iter().map(Result::unwrap).collect();
    let replay: Vec<RunEvent> = client
        .run_events(&ids[0], parallel_client::RequestOptions::default())
        .map(Result::unwrap)
        .collect()
        .await;
    let messages = |events: &[RunEvent]| -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                RunEvent::ProgressMessage(m) => Some(format!("{}|{}", m.event_type(), m.message)),
                _ => None,
            })
            .collect()
    };
    assert!(
        !messages(&replay).is_empty(),
        "the run has progress messages"
    );
    assert_eq!(messages(&live), messages(&replay));
    let Some(RunEvent::TaskRunState(last)) = live.last() else {
        panic!("the live stream ends with the final state")
    };
    assert!(last.output.is_some());
    emu.shutdown().await;
}

#[tokio::test]
async fn waiting_on_an_empty_or_finished_group_returns_at_once_without_a_stream() {
    let emu = slow_emulator(0.0, Duration::from_secs(15), Limits::default()).await;
    let client = client_with_idle(&emu, Duration::from_secs(10));
    let empty = new_group(&client).await;
    let status = client.group(&empty).wait().await.unwrap();
    assert_eq!((status.num_task_runs, status.is_active), (0, false));

    let done = new_group(&client).await;
    client
        .group(&done)
        .add_runs(AddRuns::new([RunInput::new(company(1), "lite")]))
        .await
        .unwrap();
    // time scale 0: the run finished when it was added.
    let status = client.group(&done).wait().await.unwrap();
    assert_eq!((status.num_task_runs, status.is_active), (1, false));
    assert_eq!(emu.stats().requests(Endpoint::GroupEvents), 0);
    emu.shutdown().await;
}
