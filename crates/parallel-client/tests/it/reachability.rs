//! Streams and `wait()` against a server that never answered (they fail fast, with the
//! connection error) and against one that answered and then went away (the outage is ridden
//! out, and the reconnect is reported to `ClientBuilder::on_reconnect`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use parallel_client::{
    AddRuns, Client, GroupEventsOptions, GroupRunsOptions, ReconnectPolicy, RequestOptions,
};
use parallel_types::{GroupEvent, RunInput};

use crate::common::{KEY, company, emulator_scaled, fast_retries, new_group};
use crate::proxy::{Outage, Proxy};

/// Far more than a failing request with its retries takes (about a second here), far less
/// than the reconnect policy's reach (minutes).
const FAST: Duration = Duration::from_secs(15);

/// A loopback port nobody listens on.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// Runs `attempt` with a deadline: its error, and how long it took.
async fn failure<T: std::fmt::Debug>(
    what: &str,
    attempt: impl Future<Output = Option<Result<T, parallel_client::Error>>>,
) -> (parallel_client::Error, Duration) {
    let started = Instant::now();
    let outcome = tokio::time::timeout(FAST, attempt)
        .await
        .unwrap_or_else(|_| panic!("{what} still had nothing to say after {FAST:?}"));
    match outcome {
        Some(Err(error)) => (error, started.elapsed()),
        other => panic!("{what}: expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn streams_and_wait_fail_fast_when_the_server_never_answered() {
    // The default reconnect policy, which rides out outages of seven minutes and more, and
    // the default request retries, as a user's client has them.
    let client = Client::builder()
        .api_key(KEY)
        .base_url(closed_port())
        .build()
        .expect("the client builds");
    let group = client.group("tgrp_nowhere");
    let checks = [
        failure("wait()", async { Some(group.wait().await) }).await,
        failure(
            "events()",
            group.events(GroupEventsOptions::default()).next(),
        )
        .await,
        failure("runs()", group.runs(GroupRunsOptions::default()).next()).await,
        failure(
            "run_events()",
            client
                .run_events("trun_nowhere", RequestOptions::default())
                .next(),
        )
        .await,
    ];
    for (error, took) in checks {
        assert!(error.is_connection(), "{error:?}");
        // The error says what to check.
        assert!(error.to_string().contains("base URL"), "{error}");
        assert!(took < FAST, "{took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_answered_is_ridden_out_and_each_reconnect_is_reported() {
    // `lite` runs take a second or more: the group is still active when the outage begins.
    let emu = emulator_scaled(0.1).await;
    let proxy = Proxy::start(emu.local_addr()).await;
    let reports: Arc<Mutex<Vec<String>>> = Arc::default();
    let client = Client::builder()
        .api_key(KEY)
        .base_url(proxy.base_url())
        .retry_policy(fast_retries(2))
        .stream_reconnect(
            ReconnectPolicy::default()
                .initial_backoff(Duration::from_millis(100))
                .max_backoff(Duration::from_millis(400)),
        )
        .on_reconnect({
            let reports = Arc::clone(&reports);
            move |reconnect| {
                assert!(reconnect.attempt >= 1 && reconnect.attempt <= reconnect.max_attempts);
                assert!(reconnect.error.is_connection() || reconnect.error.is_timeout());
                reports.lock().unwrap().push(reconnect.to_string());
            }
        })
        .build()
        .expect("the client builds");
    let group = new_group(&client).await;
    let inputs = (0..5).map(|row| RunInput::new(company(row), "lite"));
    client
        .group(&group)
        .add_runs(AddRuns::new(inputs))
        .await
        .unwrap();

    let mut events = client.group(&group).events(GroupEventsOptions::default());
    let mut outage = Some(Duration::from_secs(2));
    let mut finished = false;
    while let Some(event) = events.next().await {
        if let Some(window) = outage.take() {
            // The first event came through: the network goes down under the open stream.
            proxy.outage(Outage::Refuse, window).await;
        }
        if let GroupEvent::TaskGroupStatus(status) = event.unwrap() {
            finished = !status.status.is_active;
        }
    }
    assert!(finished, "the stream ended after the group finished");
    let reports = reports.lock().unwrap().clone();
    assert!(!reports.is_empty(), "no reconnect was reported");
    let address = proxy.base_url().replace("http://", "");
    for report in &reports {
        assert!(
            report.starts_with(&format!(
                "reconnecting the events stream of task group {group} to {address} in "
            )),
            "{report}"
        );
        // The last error, with its cause.
        assert!(report.contains("after: "), "{report}");
    }
    assert!(proxy.accepted() >= 2, "{} connections", proxy.accepted());
    emu.shutdown().await;
}
