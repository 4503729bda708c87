//! Webhook deliveries, end to end: the emulator posts signed `task_run.status` events to a
//! receiver on loopback, retries failures, and lists what it did.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use parallel_emulator::{Emulator, EmulatorBuilder};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::http::Client;
use crate::outages::wait_until;
use crate::start;

/// One request the receiver got.
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

/// A webhook receiver on loopback that answers `500` to its first `failures` requests and
/// `204` after that. Returns its URL and the requests it gets.
async fn receiver(failures: usize) -> (String, mpsc::UnboundedReceiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    receiver_on(listener, failures)
}

/// [`receiver`] on a listener of the caller's.
fn receiver_on(
    listener: TcpListener,
    failures: usize,
) -> (String, mpsc::UnboundedReceiver<Received>) {
    let url = format!("http://{}/hooks/parallel", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    let seen = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            let seen = Arc::clone(&seen);
            let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let tx = tx.clone();
                let seen = Arc::clone(&seen);
                async move {
                    let (parts, body) = req.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(http_body_util::Collected::to_bytes)
                        .unwrap_or_default();
                    let _ = tx.send(Received {
                        headers: parts.headers,
                        body,
                    });
                    let status = if seen.fetch_add(1, Ordering::SeqCst) < failures {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::NO_CONTENT
                    };
                    let mut response = Response::new(Full::new(Bytes::new()));
                    *response.status_mut() = status;
                    Ok::<_, Infallible>(response)
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (url, rx)
}

/// HMAC-SHA256 over `id.timestamp.body`, standard base64: the documented scheme, computed
/// here from the received bytes.
fn expected_signature(secret: &str, headers: &HeaderMap, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = Vec::new();
    signed.extend_from_slice(headers["webhook-id"].as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(headers["webhook-timestamp"].as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    let tag = ring::hmac::sign(&key, &signed);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    )
}

fn with_webhook(url: &str, secret: Option<&str>) -> Value {
    let mut hook = json!({"url": url, "event_types": ["task_run.status"]});
    if let Some(secret) = secret {
        hook["secret"] = json!(secret);
    }
    json!({"input": "Who runs Initech?", "processor": "lite", "webhook": hook})
}

async fn emulator(builder: EmulatorBuilder) -> (parallel_emulator::EmulatorHandle, Client) {
    let (emu, client) = start(builder).await;
    (
        emu,
        client.with_header("parallel-beta", "webhook-2025-08-12"),
    )
}

#[tokio::test]
async fn finished_runs_are_delivered_signed_with_the_right_secret() {
    let (url, mut received) = receiver(0).await;
    let (emu, client) = emulator(
        Emulator::builder()
            .time_scale(0.01)
            .webhook_secret("whsec_account"),
    )
    .await;
    let own = client
        .post("/v1/tasks/runs", with_webhook(&url, Some("whsec_run")))
        .await;
    assert_eq!(own.status, StatusCode::ACCEPTED, "{}", own.text());
    let own_id = own.json()["run_id"].as_str().unwrap().to_owned();
    let group = crate::create_group(&client).await;
    let added = client
        .post(
            &format!("/v1/tasks/groups/{group}/runs"),
            json!({"inputs": [with_webhook(&url, None)]}),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    let group_run = added.json()["run_ids"][0].as_str().unwrap().to_owned();

    let mut by_run = std::collections::HashMap::new();
    for _ in 0..2 {
        let got = tokio::time::timeout(Duration::from_secs(20), received.recv())
            .await
            .expect("a delivery")
            .unwrap();
        let event: Value = serde_json::from_slice(&got.body).unwrap();
        assert_eq!(event["type"], "task_run.status");
        assert!(
            event["timestamp"].as_str().unwrap().ends_with('Z'),
            "{event}"
        );
        let run: parallel_types::TaskRun = serde_json::from_value(event["data"].clone()).unwrap();
        assert!(!run.is_active);
        let run_id = run.run_id.clone();
        assert_eq!(
            got.headers["webhook-id"],
            format!("whevent_{run_id}").as_str()
        );
        assert_eq!(got.headers["content-type"], "application/json");
        let sent_at: u64 = got.headers["webhook-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(sent_at.abs_diff(now) < 120, "Unix seconds: {sent_at}");
        by_run.insert(run_id, got);
    }
    let own_got = &by_run[&own_id];
    assert_eq!(
        own_got.headers["webhook-signature"].to_str().unwrap(),
        expected_signature("whsec_run", &own_got.headers, &own_got.body),
        "the run's own secret"
    );
    let group_got = &by_run[&group_run];
    assert_eq!(
        group_got.headers["webhook-signature"].to_str().unwrap(),
        expected_signature("whsec_account", &group_got.headers, &group_got.body),
        "the account's secret"
    );
    assert!(
        !String::from_utf8_lossy(&own_got.body).contains("whsec_run"),
        "no secret in the body"
    );

    wait_until(Duration::from_secs(5), "both counted", async || {
        emu.stats().webhooks_delivered == 2
    })
    .await;
    let listed = client.get("/_emulator/webhooks").await.json();
    let deliveries = listed["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2);
    assert!(
        deliveries
            .iter()
            .all(|d| d["delivered"] == true && d["attempts"] == 1 && d["url"] == url.as_str())
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn failed_deliveries_are_retried_then_given_up() {
    let (url, mut received) = receiver(2).await;
    let (emu, client) = emulator(Emulator::builder().time_scale(0.0).webhook_attempts(3)).await;
    let created = client
        .post("/v1/tasks/runs", with_webhook(&url, None))
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let got = tokio::time::timeout(Duration::from_secs(20), received.recv())
            .await
            .expect("an attempt")
            .unwrap();
        assert_eq!(
            got.headers["webhook-signature"].to_str().unwrap(),
            expected_signature(emu.webhook_secret(), &got.headers, &got.body),
            "the random account secret"
        );
        ids.push(got.headers["webhook-id"].clone());
    }
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "one id for every attempt"
    );
    wait_until(
        Duration::from_secs(5),
        "delivered on the third attempt",
        async || {
            emu.webhook_deliveries()
                .first()
                .is_some_and(|d| d.delivered)
        },
    )
    .await;
    assert_eq!(emu.webhook_deliveries()[0].attempts, 3);

    // A receiver that always fails: given up after the last attempt.
    let (failing, _rx) = receiver(usize::MAX).await;
    client
        .post("/v1/tasks/runs", with_webhook(&failing, None))
        .await;
    wait_until(Duration::from_secs(20), "given up", async || {
        emu.stats().webhooks_failed == 1
    })
    .await;
    let last = emu.webhook_deliveries().pop().unwrap();
    assert!(last.finished && !last.delivered, "{last:?}");
    assert_eq!((last.attempts, last.last_status), (3, Some(500)));
    assert_eq!(emu.stats().webhook_attempts, 6);
    emu.shutdown().await;
}

#[tokio::test]
async fn webhooks_off_the_machine_are_refused_at_submission() {
    let (emu, client) = emulator(Emulator::builder().time_scale(0.0)).await;
    let message = client
        .post(
            "/v1/tasks/runs",
            with_webhook("http://example.com/hook", None),
        )
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        message.contains("webhook.url") && message.contains("loopback"),
        "{message}"
    );
    assert_eq!(emu.run_count(), 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn failed_runs_are_delivered_too_and_runs_without_the_event_type_are_not() {
    let (url, mut received) = receiver(0).await;
    let (emu, client) = emulator(Emulator::builder().time_scale(0.0).fail_rate(1.0)).await;
    let mut quiet = with_webhook(&url, None);
    quiet["webhook"]["event_types"] = json!([]);
    assert_eq!(
        client.post("/v1/tasks/runs", quiet).await.status,
        StatusCode::ACCEPTED
    );
    let created = client
        .post("/v1/tasks/runs", with_webhook(&url, None))
        .await;
    let id = created.json()["run_id"].as_str().unwrap().to_owned();
    let got = tokio::time::timeout(Duration::from_secs(20), received.recv())
        .await
        .expect("a delivery")
        .unwrap();
    let event: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(
        event["data"]["run_id"],
        id.as_str(),
        "only the run that asked"
    );
    assert_eq!(event["data"]["status"], "failed");
    assert!(event["data"]["error"]["message"].is_string(), "{event}");
    wait_until(Duration::from_secs(5), "counted", async || {
        emu.stats().webhooks_delivered == 1
    })
    .await;
    assert_eq!(emu.webhook_deliveries().len(), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out_and_is_retried() {
    // Accepts connections and holds them without a byte.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    tokio::spawn({
        let accepted = Arc::clone(&accepted);
        async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        }
    });
    let (emu, client) = emulator(
        Emulator::builder()
            .time_scale(0.0)
            .webhook_attempts(2)
            .webhook_timeout(Duration::from_millis(200)),
    )
    .await;
    client
        .post("/v1/tasks/runs", with_webhook(&url, None))
        .await;
    wait_until(Duration::from_secs(20), "given up", async || {
        emu.stats().webhooks_failed == 1
    })
    .await;
    let delivery = emu.webhook_deliveries().pop().unwrap();
    assert_eq!((delivery.attempts, delivery.last_status), (2, None));
    let error = delivery.last_error.unwrap();
    assert!(error.contains("no answer within"), "{error}");
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "one connection per attempt"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn invalid_ports_are_refused_not_taken_for_80() {
    let (emu, client) = emulator(Emulator::builder().time_scale(0.0)).await;
    for url in ["http://127.0.0.1:99999/hook", "http://localhost:0/hook"] {
        let message = client
            .post("/v1/tasks/runs", with_webhook(url, None))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            message.contains("webhook.url") && message.contains("is not a port"),
            "{message}"
        );
    }
    assert_eq!(emu.run_count(), 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn deliveries_to_ipv6_loopback_carry_a_well_formed_host() {
    let listener = match TcpListener::bind("[::1]:0").await {
        Ok(listener) => listener,
        Err(e) => {
            // The unit tests of the Host value still run; this machine has no IPv6 loopback.
            eprintln!("skipped: cannot listen on [::1]: {e}");
            return;
        }
    };
    let port = listener.local_addr().unwrap().port();
    let (url, mut received) = receiver_on(listener, 0);
    assert!(url.starts_with("http://[::1]:"), "{url}");
    let (emu, client) = emulator(Emulator::builder().time_scale(0.0)).await;
    let created = client
        .post("/v1/tasks/runs", with_webhook(&url, None))
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.text());
    let delivery = tokio::time::timeout(Duration::from_secs(30), received.recv())
        .await
        .expect("a delivery")
        .expect("the receiver runs");
    assert_eq!(delivery.headers["host"], format!("[::1]:{port}").as_str());
    emu.shutdown().await;
}
