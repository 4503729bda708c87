//! Requests against servers that hang, answer 5xx while a result is pending, or refuse for
//! lack of credit or rate.

use std::error::Error as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parallel_client::{Client, RetryPolicy};
use parallel_types::RunInput;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::scripted::{Reply, Scripted};

/// A listener that accepts connections, reads nothing and never answers; counts them.
async fn hung_server() -> (String, Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&accepted);
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (url, accepted, task)
}

fn quick_client(base_url: &str, first_byte: Duration) -> Client {
    Client::builder()
        .api_key("k")
        .base_url(base_url)
        .retry_policy(
            RetryPolicy::default()
                .max_retries(2)
                .initial_backoff(Duration::from_millis(10))
                .max_backoff(Duration::from_millis(20)),
        )
        .first_byte_timeout(first_byte)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_time_out_retried_then_a_clear_error() {
    let (url, accepted, task) = hung_server().await;
    let client = quick_client(&url, Duration::from_millis(500));
    let started = Instant::now();
    let err = client.group("tgrp_1").get().await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("getting task group tgrp_1")
            && text.contains("no answer")
            && text.contains("first_byte_timeout")
            && text.contains("gave up after 3 attempts"),
        "{text}"
    );
    // Three attempts of 0.5 s and two short waits; generous bounds for a loaded machine.
    assert!(
        elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_secs(20),
        "{elapsed:?}"
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        3,
        "one connection per attempt"
    );

    // A request that creates work is not sent again: the run may exist.
    let err = client
        .create_run(RunInput::new("q", "lite"))
        .await
        .unwrap_err();
    assert!(err.is_timeout() && err.is_outcome_unknown(), "{err:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 4);
    task.abort();
}

/// A server that sends the response head at once and the JSON body `delay` later.
async fn slow_body_server(delay: Duration) -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    GROUP.len()
                );
                socket.write_all(head.as_bytes()).await.unwrap();
                socket.flush().await.unwrap();
                tokio::time::sleep(delay).await;
                let _ = socket.write_all(GROUP.as_bytes()).await;
            });
        }
    });
    (url, task)
}

#[tokio::test]
async fn the_first_byte_timeout_is_apart_from_the_body_timeout() {
    assert!(parallel_client::DEFAULT_FIRST_BYTE_TIMEOUT <= Duration::from_secs(60));
    assert!(parallel_client::DEFAULT_FIRST_BYTE_TIMEOUT < parallel_client::DEFAULT_REQUEST_TIMEOUT);
    // The head comes at once, the body 0.6 s later: a first-byte timeout of 0.2 s does not
    // cut it, it only covers the wait for the head.
    let (url, task) = slow_body_server(Duration::from_millis(600)).await;
    let client = quick_client(&url, Duration::from_millis(200));
    assert_eq!(
        client.group("tgrp_1").get().await.unwrap().taskgroup_id,
        "tgrp_1"
    );
    // The body is bounded by the request timeout.
    let client = Client::builder()
        .api_key("k")
        .base_url(&url)
        .retry_policy(RetryPolicy::none())
        .first_byte_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = client.group("tgrp_1").get().await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        err.to_string().contains("while reading the answer"),
        "{err}"
    );
    task.abort();
}

const GROUP: &str = r#"{"taskgroup_id":"tgrp_1","status":{"num_task_runs":0,"task_run_status_counts":{},"is_active":false,"status_message":null,"modified_at":null},"created_at":null,"metadata":null}"#;

const RESULT: &str = r#"{"run":{"run_id":"trun_1","status":"completed","is_active":false,"processor":"lite","metadata":null,"created_at":null,"modified_at":null,"error":null,"warnings":null,"taskgroup_id":null},"output":{"type":"text","content":"Jane Doe","basis":[]}}"#;

#[tokio::test]
async fn run_result_waits_through_408_503_504_until_the_result() {
    let server = Scripted::start(|_, n| match n {
        0 => Reply::json(
            408,
            r#"{"error":{"message":"Request timed out; run still active"}}"#,
        ),
        1 => Reply::json(503, r#"{"error":{"message":"unavailable"}}"#),
        2 => Reply::json(504, "gateway timeout"),
        _ => Reply::json(200, RESULT),
    })
    .await;
    // No retries by the policy: the waiting comes from run_result itself.
    let client = Client::builder()
        .api_key("k")
        .base_url(server.base_url())
        .retry_policy(RetryPolicy::none().initial_backoff(Duration::from_millis(10)))
        .build()
        .unwrap();
    let result = client
        .run_result("trun_1")
        .timeout(Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(result.run.run_id, "trun_1");
    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    assert!(
        requests
            .iter()
            .all(|r| r.path() == "/v1/tasks/runs/trun_1/result")
    );
}

#[tokio::test]
async fn run_result_gives_up_at_the_deadline_with_a_time_out() {
    let server = Scripted::start(|_, _| Reply::json(503, r#"{"error":{"message":"down"}}"#)).await;
    let client = Client::builder()
        .api_key("k")
        .base_url(server.base_url())
        .retry_policy(
            RetryPolicy::none()
                .initial_backoff(Duration::from_millis(50))
                .max_backoff(Duration::from_millis(100)),
        )
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .run_result("trun_1")
        .timeout(Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        err.to_string().contains("still active after waiting"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(server.requests().len() >= 2, "it asked again");
}

#[tokio::test]
async fn insufficient_credit_is_never_retried_and_rate_limits_are_named() {
    let server = Scripted::start(|request, _| {
        if request.method == "POST" {
            Reply::json(
                402,
                r#"{"error":{"ref_id":"r1","message":"Insufficient credit"}}"#,
            )
            .header("x-should-retry", "true")
        } else {
            Reply::json(429, r#"{"error":{"message":"Too many requests"}}"#)
                .header("retry-after-ms", "5")
        }
    })
    .await;
    let client = quick_client(&server.base_url(), Duration::from_secs(5));
    let err = client
        .create_run(RunInput::new("q", "lite"))
        .await
        .unwrap_err();
    assert!(
        err.is_insufficient_credit() && !err.is_rate_limited(),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 1, "a 402 is never retried");

    let err = client.group("tgrp_1").get().await.unwrap_err();
    assert!(
        err.is_rate_limited() && !err.is_insufficient_credit(),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 4, "a 429 is retried by the policy");
}

#[tokio::test]
async fn an_error_says_its_cause_once() {
    // A port nobody listens on: the transport's error is the source.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = quick_client(&url, Duration::from_secs(5));
    let err = client.group("tgrp_1").get().await.unwrap_err();
    assert!(err.is_connection(), "{err:?}");
    // Reporters print `Display` and then each `source()`: the message must not repeat them.
    let text = err.to_string();
    let mut source = err.source();
    assert!(source.is_some(), "{err:?}");
    while let Some(cause) = source {
        assert!(!text.contains(&cause.to_string()), "{text} repeats {cause}");
        source = cause.source();
    }

    let server = Scripted::start(|_, _| Reply::json(200, "{not json")).await;
    let client = quick_client(&server.base_url(), Duration::from_secs(5));
    let err = client.group("tgrp_1").get().await.unwrap_err();
    assert!(err.is_decode(), "{err:?}");
    let cause = err
        .source()
        .expect("the JSON error is the source")
        .to_string();
    assert!(!err.to_string().contains(&cause), "{err} repeats {cause}");
}
