//! Network outages of [`OUTAGE`] in the middle of a runs stream, an events stream and a
//! `GroupHandle::wait`, staged by a TCP proxy between the client and the emulator: each finishes,
//! every event exactly once.
//!
//! The outage is as long as the one the issue describes, 30 s; the three tests run at the
//! same time, so the binary takes about 40 s more. The reconnect policy is scaled down to
//! waits of at most 2 s, so that each test ends soon after its outage: the default policy's
//! reach (over seven minutes) is checked in the unit tests of `ReconnectPolicy`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use parallel_client::{AddRuns, Client, GroupEventsOptions, GroupRunsOptions, ReconnectPolicy};
use parallel_emulator::{Emulator, EmulatorHandle, Faults};
use parallel_types::{GroupEvent, RunInput, RunStatus};

use crate::common::{KEY, client, company, fast_retries, inputs, new_group, spec};
use crate::proxy::{Outage, Proxy};

/// How long the network is down.
const OUTAGE: Duration = Duration::from_secs(30);

/// Rides out `OUTAGE` with room to spare: 0.75 · (0.1 + … + 1.6 + 35 · 2) ≈ 55 s at least.
fn policy() -> ReconnectPolicy {
    ReconnectPolicy::default()
        .max_attempts(40)
        .initial_backoff(Duration::from_millis(100))
        .max_backoff(Duration::from_secs(2))
}

/// A client that reaches the emulator through `proxy`.
fn client_through(proxy: &Proxy) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(proxy.base_url())
        .retry_policy(fast_retries(2))
        .stream_reconnect(policy())
        .stream_idle_timeout(Duration::from_secs(5))
        .first_byte_timeout(Duration::from_secs(2))
        .build()
        .expect("the client builds")
}

/// An emulator whose `lite` runs take 6 to 36 s.
async fn slow_emulator() -> EmulatorHandle {
    Emulator::builder()
        .api_key(KEY)
        .time_scale(0.6)
        .seed(11)
        .keep_alive_interval(Duration::from_secs(1))
        .start()
        .await
        .expect("the emulator starts")
}

fn lite_inputs(n: u64) -> Vec<RunInput> {
    (0..n)
        .map(|row| RunInput::new(company(row), "lite"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_stream_rides_out_an_outage_and_delivers_every_run_once() {
    let emu = Emulator::builder()
        .api_key(KEY)
        .time_scale(0.0)
        .seed(7)
        .start()
        .await
        .expect("the emulator starts");
    let setup = client(&emu);
    let group = new_group(&setup).await;
    let ids = setup
        .group(&group)
        .add_runs(AddRuns::new(inputs(2000)).default_task_spec(spec()))
        .await
        .unwrap()
        .run_ids;
    setup.group(&group).wait().await.unwrap();
    // About 400 kB/s: the stream of 2,000 runs with inputs and outputs takes a few seconds,
    // so the outage falls in its middle.
    emu.set_faults(Faults::none().drip(4096, Duration::from_millis(10)));

    let proxy = Proxy::start(emu.local_addr()).await;
    let client = client_through(&proxy);
    let options = GroupRunsOptions::with_input_and_output().read_ahead(0);
    let mut runs = client.group(&group).runs(options);
    let mut seen = Vec::new();
    let started = Instant::now();
    while let Some(run) = runs.next().await {
        let run = run.unwrap();
        assert!(run.view().unwrap().output.is_some());
        seen.push(run.view().unwrap().run.run_id.into_owned());
        if seen.len() == 100 {
            proxy.outage(Outage::Refuse, OUTAGE).await;
        }
    }
    assert!(started.elapsed() >= OUTAGE, "{:?}", started.elapsed());
    assert_eq!(seen, ids, "every run exactly once, in order");
    assert!(proxy.accepted() >= 2, "{} connections", proxy.accepted());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_events_stream_rides_out_an_outage_and_delivers_every_completion_once() {
    let emu = slow_emulator().await;
    let proxy = Proxy::start(emu.local_addr()).await;
    let client = client_through(&proxy);
    let group = new_group(&client).await;
    let ids = client
        .group(&group)
        .add_runs(AddRuns::new(lite_inputs(20)))
        .await
        .unwrap()
        .run_ids;

    let mut events = client.group(&group).events(GroupEventsOptions::default());
    let mut completions = Vec::new();
    let mut event_ids = HashSet::new();
    let started = Instant::now();
    while let Some(event) = events.next().await {
        let event = event.unwrap();
        if let Some(id) = event.event_id() {
            assert!(event_ids.insert(id.to_owned()), "event {id} twice");
        }
        if let GroupEvent::TaskRunState(event) = event {
            completions.push(event.run.run_id);
            if completions.len() == 1 {
                proxy.outage(Outage::Refuse, OUTAGE).await;
            }
        }
    }
    assert!(started.elapsed() >= OUTAGE, "{:?}", started.elapsed());
    let unique: HashSet<&String> = completions.iter().collect();
    assert_eq!(unique.len(), completions.len(), "a completion twice");
    assert_eq!(unique, ids.iter().collect(), "every completion");
    // Create, add and the stream share one pooled connection; one more after the outage.
    assert!(proxy.accepted() >= 2, "{} connections", proxy.accepted());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_group_rides_out_a_black_hole_outage() {
    let emu = slow_emulator().await;
    let proxy = Proxy::start(emu.local_addr()).await;
    let client = client_through(&proxy);
    let group = new_group(&client).await;
    client
        .group(&group)
        .add_runs(AddRuns::new(lite_inputs(20)))
        .await
        .unwrap();

    let started = Instant::now();
    let waiting = tokio::spawn({
        let client = client.clone();
        let group = group.clone();
        async move { client.group(&group).wait().await }
    });
    // Once the first run completed (asked of the emulator directly), every connection is
    // dropped and new ones are accepted but never answered for the outage.
    let direct = crate::common::client(&emu);
    for _ in 0..600 {
        if direct.group(&group).get().await.unwrap().status.finished() >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    proxy.outage(Outage::BlackHole, OUTAGE).await;
    let status = waiting.await.unwrap().unwrap();
    assert!(started.elapsed() >= OUTAGE, "{:?}", started.elapsed());
    assert!(!status.is_active, "{status:?}");
    assert_eq!(status.num_task_runs, 20);
    assert_eq!(
        status.task_run_status_counts.get(&RunStatus::Completed),
        Some(&20)
    );
    assert!(proxy.accepted() >= 3, "{} connections", proxy.accepted());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_group_called_during_an_outage_waits_for_the_network() {
    let emu = Emulator::builder()
        .api_key(KEY)
        .time_scale(0.0)
        .seed(7)
        .start()
        .await
        .expect("the emulator starts");
    let setup = client(&emu);
    let group = new_group(&setup).await;
    setup
        .group(&group)
        .add_runs(AddRuns::new(inputs(3)))
        .await
        .unwrap();
    let proxy = Proxy::start(emu.local_addr()).await;
    let client = client_through(&proxy);
    // The client has reached the server once: from then on, an outage is ridden out (a
    // client that never reached it fails instead, see `streams_fail_fast`).
    client.group(&group).get().await.unwrap();
    // A shorter window: what matters is that the wait starts inside it.
    let window = Duration::from_secs(5);
    proxy.outage(Outage::Refuse, window).await;
    let started = Instant::now();
    let status = client.group(&group).wait().await.unwrap();
    assert!(
        started.elapsed() + Duration::from_millis(100) >= window,
        "{:?}",
        started.elapsed()
    );
    assert_eq!((status.num_task_runs, status.is_active), (3, false));
    emu.shutdown().await;
}
