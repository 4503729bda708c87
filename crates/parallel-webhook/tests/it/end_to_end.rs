//! End to end: runs created with the client ask for webhooks; the emulator, over loopback TCP,
//! delivers them to a hyper receiver on 127.0.0.1; every delivery is checked with this
//! crate's `Verifier`, exactly as a user's server would check it.
//!
//! The receiver hands each request to the test and answers only when the test says how, so
//! the test decides the order of events: a delivery held unanswered is a moment at which the
//! emulator's counters are known.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Empty};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use parallel_client::{AddRuns, Client};
use parallel_emulator::{Emulator, EmulatorBuilder, EmulatorHandle};
use parallel_types::{CreateTaskGroupRequest, RunInput, RunStatus, Webhook};
use parallel_webhook::{Verifier, WebhookEventType};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

const KEY: &str = "webhook-e2e-key";
const ACCOUNT_SECRET: &str = "whsec_account_e2e";
const RUN_SECRET: &str = "whsec_run_e2e";
/// The longest wait for something that happens in milliseconds: a bound against a hang.
const PATIENCE: Duration = Duration::from_secs(30);

/// One request the receiver got, body as received, held unanswered until [`Delivery::reply`].
struct Delivery {
    request: Request<Bytes>,
    answer: oneshot::Sender<StatusCode>,
}

impl Delivery {
    fn webhook_id(&self) -> String {
        self.request.headers()["webhook-id"]
            .to_str()
            .unwrap()
            .to_owned()
    }

    fn reply(self, status: StatusCode) {
        self.answer.send(status).unwrap();
    }
}

/// A webhook receiver on 127.0.0.1 that passes every request to the test.
struct Receiver {
    url: String,
    deliveries: mpsc::UnboundedReceiver<Delivery>,
}

impl Receiver {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/parallel", listener.local_addr().unwrap());
        let (tx, deliveries) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        let (answer, answered) = oneshot::channel();
                        let request = Request::from_parts(parts, body);
                        // Once the test is over nobody answers: 503.
                        let _ = tx.send(Delivery { request, answer });
                        let status = answered.await.unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                        let mut response = Response::new(Empty::<Bytes>::new());
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
        Receiver { url, deliveries }
    }

    /// The next request the emulator sends.
    async fn next(&mut self) -> Delivery {
        tokio::time::timeout(PATIENCE, self.deliveries.recv())
            .await
            .expect("a webhook delivery")
            .expect("the receiver is running")
    }
}

fn emulator() -> EmulatorBuilder {
    Emulator::builder()
        .api_key(KEY)
        .time_scale(0.0)
        .seed(11)
        .webhook_secret(ACCOUNT_SECRET)
}

fn client(emu: &EmulatorHandle) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(emu.base_url())
        .build()
        .unwrap()
}

/// `GET /_emulator/{what}` on the emulator's control API, as JSON.
async fn control(emu: &EmulatorHandle, what: &str) -> Value {
    let stream = TcpStream::connect(emu.local_addr()).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = Request::get(format!("/_emulator/{what}"))
        .header(http::header::HOST, emu.local_addr().to_string())
        .header("x-api-key", KEY)
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET /_emulator/{what}");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).unwrap()
}

/// Asks `check` until it gives a value, within [`PATIENCE`].
async fn wait_for<T, F: Future<Output = Option<T>>>(what: &str, check: impl Fn() -> F) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "waited too long for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn every_finished_run_gets_one_verified_delivery_with_its_id_and_status() {
    const RUNS: usize = 12;
    let mut receiver = Receiver::start().await;
    let emu = emulator().fail_rate(0.5).start().await.unwrap();
    let client = client(&emu);
    let group = client
        .create_group(CreateTaskGroupRequest::default())
        .await
        .unwrap();
    let inputs = (0..RUNS).map(|i| {
        RunInput::new(format!("Who runs company {i}?"), "lite")
            .with_webhook(Webhook::new(&receiver.url))
    });
    let run_ids = client
        .group(&group.taskgroup_id)
        .add_runs(AddRuns::new(inputs))
        .await
        .unwrap()
        .run_ids;

    let verifier = Verifier::new(ACCOUNT_SECRET).expect("a secret");
    let mut delivered: HashMap<String, RunStatus> = HashMap::new();
    let mut webhook_ids = Vec::new();
    while delivered.len() < RUNS {
        let delivery = receiver.next().await;
        let event = verifier
            .verify_request(&delivery.request)
            .unwrap_or_else(|e| panic!("a delivery that does not verify: {e}"));
        assert_eq!(event.event_type, WebhookEventType::TaskRunStatus);
        let run = event.data;
        assert!(!run.is_active, "delivered before the run finished: {run:?}");
        assert_eq!(run.taskgroup_id.as_deref(), Some(&*group.taskgroup_id));
        webhook_ids.push(delivery.webhook_id());
        let earlier = delivered.insert(run.run_id.clone(), run.status);
        assert!(earlier.is_none(), "{} was delivered twice", run.run_id);
        delivery.reply(StatusCode::OK);
    }

    // The runs added, each once, each with the status the API reports for it.
    let mut got: Vec<&String> = delivered.keys().collect();
    got.sort_unstable();
    let mut added: Vec<&String> = run_ids.iter().collect();
    added.sort_unstable();
    assert_eq!(got, added);
    for id in &run_ids {
        let run = client.get_run(id).await.unwrap();
        assert_eq!(delivered[id], run.status, "{id}");
    }
    for status in [RunStatus::Completed, RunStatus::Failed] {
        assert!(
            delivered.values().any(|s| *s == status),
            "a {status} run is delivered too: {delivered:?}"
        );
    }
    webhook_ids.sort_unstable();
    webhook_ids.dedup();
    assert_eq!(webhook_ids.len(), RUNS, "one webhook id per run");
    // Every delivery was answered 200 at once: one attempt each, no more.
    let stats = control(&emu, "stats").await;
    assert_eq!(stats["webhook_attempts"], RUNS, "{stats}");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_run_with_its_own_secret_is_signed_with_it_and_not_with_the_accounts() {
    let mut receiver = Receiver::start().await;
    let emu = emulator().start().await.unwrap();
    let client = client(&emu);
    let own = client
        .create_run(
            RunInput::new("Who runs Initech?", "lite")
                .with_webhook(Webhook::new(&receiver.url).with_secret(RUN_SECRET)),
        )
        .await
        .unwrap()
        .run_id;
    let plain = client
        .create_run(
            RunInput::new("Who runs Globex?", "lite").with_webhook(Webhook::new(&receiver.url)),
        )
        .await
        .unwrap()
        .run_id;

    let by_run_secret = Verifier::new(RUN_SECRET).expect("a secret");
    let by_account_secret = Verifier::new(ACCOUNT_SECRET).expect("a secret");
    let mut signed_with = HashMap::new();
    for _ in 0..2 {
        let delivery = receiver.next().await;
        let (event, secret, refusal) = match (
            by_run_secret.verify_request(&delivery.request),
            by_account_secret.verify_request(&delivery.request),
        ) {
            (Ok(event), Err(refusal)) => (event, "run", refusal),
            (Err(refusal), Ok(event)) => (event, "account", refusal),
            (Ok(_), Ok(_)) => panic!("both secrets verify one delivery"),
            (Err(a), Err(b)) => panic!("neither secret verifies a delivery: {a}; {b}"),
        };
        assert!(refusal.is_signature_mismatch(), "{refusal}");
        signed_with.insert(event.data.run_id, secret);
        delivery.reply(StatusCode::NO_CONTENT);
    }
    assert_eq!(signed_with.len(), 2, "{signed_with:?}");
    assert_eq!(signed_with[&own], "run");
    assert_eq!(signed_with[&plain], "account");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_delivery_answered_500_is_sent_again_and_the_control_api_counts_both_attempts() {
    let mut receiver = Receiver::start().await;
    let emu = emulator().start().await.unwrap();
    let client = client(&emu);
    let run_id = client
        .create_run(
            RunInput::new("Who runs Initech?", "lite").with_webhook(Webhook::new(&receiver.url)),
        )
        .await
        .unwrap()
        .run_id;
    let verifier = Verifier::new(ACCOUNT_SECRET).expect("a secret");

    let first = receiver.next().await;
    let event = verifier.verify_request(&first.request).unwrap();
    assert_eq!(event.data.run_id, run_id);
    let webhook_id = first.webhook_id();
    first.reply(StatusCode::INTERNAL_SERVER_ERROR);

    let second = receiver.next().await;
    let again = verifier.verify_request(&second.request).unwrap();
    assert_eq!(again.data.run_id, run_id);
    assert_eq!(again.data.status, event.data.status);
    assert_eq!(
        second.webhook_id(),
        webhook_id,
        "a retry keeps its webhook id, so that receivers can tell it from a new event"
    );
    // While the second attempt waits for its answer, the emulator has counted both attempts
    // and recorded the first one's 500.
    let stats = control(&emu, "stats").await;
    assert_eq!(stats["webhook_attempts"], 2, "{stats}");
    assert_eq!(stats["webhooks_delivered"], 0, "{stats}");
    let listed = control(&emu, "webhooks").await;
    let deliveries = listed["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{listed}");
    let record = &deliveries[0];
    assert_eq!(record["run_id"], run_id.as_str());
    assert_eq!(record["webhook_id"], webhook_id.as_str());
    assert_eq!(record["url"], receiver.url.as_str());
    assert_eq!(
        (&record["attempts"], &record["last_status"]),
        (&Value::from(1), &Value::from(500)),
        "{record}"
    );
    assert_eq!(record["delivered"], false, "{record}");
    assert_eq!(record["finished"], false, "{record}");
    second.reply(StatusCode::OK);

    // The emulator records the answer after reading it, and the receiver sees nothing after
    // that: wait for the record.
    let record = wait_for("the second attempt's record", || async {
        let listed = control(&emu, "webhooks").await;
        let record = listed["deliveries"][0].clone();
        (record["finished"] == true).then_some(record)
    })
    .await;
    assert_eq!(record["delivered"], true, "{record}");
    assert_eq!(
        (&record["attempts"], &record["last_status"]),
        (&Value::from(2), &Value::from(200)),
        "{record}"
    );
    let stats = control(&emu, "stats").await;
    assert_eq!(stats["webhook_attempts"], 2, "{stats}");
    assert_eq!(stats["webhooks_delivered"], 1, "{stats}");
    assert_eq!(stats["webhooks_failed"], 0, "{stats}");
    emu.shutdown().await;
}
