//! Hear about finished runs as signed webhooks instead of watching a stream: a small hyper
//! server on 127.0.0.1 checks every delivery with `parallel_webhook::Verifier` and prints the
//! run it is about, until every run of the group has been reported.
//!
//! ```text
//! cargo run -p parallel-examples --example webhook_receiver
//! ```
//!
//! It runs on the local emulator only, which is given the webhook secret and delivers to
//! loopback URLs. The Parallel API cannot reach 127.0.0.1: with the real service, serve the
//! same handler at a URL the internet can reach (HTTPS on your own domain, or a tunnel to this
//! port), give that URL as each run's `webhook.url`, and verify with your account's webhook
//! secret (or the `secret` you gave the run). With `PARALLEL_API_KEY` set, this example says
//! so and exits.

use std::collections::HashSet;
use std::convert::Infallible;
use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use parallel_client::{AddRuns, Client};
use parallel_emulator::Emulator;
use parallel_types::{CreateTaskGroupRequest, RunInput, TaskRun, Webhook};
use parallel_webhook::Verifier;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The account's webhook secret, given to the emulator here. On the real service it comes
/// from your account's settings; keep it out of source code and logs.
const WEBHOOK_SECRET: &str = "whsec_example_only";

/// The largest delivery accepted: a run's final state, with room to spare.
const MAX_BODY_BYTES: usize = 1 << 20;

/// How long to wait for the next delivery before giving up.
const PATIENCE: Duration = Duration::from_secs(60);

const COMPANIES: [&str; 5] = ["Acme Corp", "Globex", "Initech", "Umbrella", "Hooli"];

const REAL_SERVICE: &str = "\
PARALLEL_API_KEY is set, but this example runs on the local emulator only: the Parallel API
cannot deliver webhooks to 127.0.0.1. To receive them from the real service:
  1. serve a handler like `handle` in this example at a publicly reachable HTTPS URL
     (your own domain, or a tunnel to a local port);
  2. create runs with `webhook: {url: <that URL>, event_types: [\"task_run.status\"]}`
     (RunInput::with_webhook; the client adds the `webhook-2025-08-12` beta header);
  3. verify each delivery with parallel_webhook::Verifier and your account's webhook
     secret, or the run's own `secret`.
Unset PARALLEL_API_KEY to run the example on the emulator.";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    if std::env::var_os("PARALLEL_API_KEY").is_some() {
        println!("{REAL_SERVICE}");
        return Ok(());
    }

    // The receiver: every verified run is passed on over a channel.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhooks/parallel", listener.local_addr()?);
    let verifier = Arc::new(Verifier::new(WEBHOOK_SECRET)?);
    let (finished, mut finished_runs) = mpsc::unbounded_channel();
    tokio::spawn(serve(listener, verifier, finished));
    println!("receiving webhooks at {url}");

    // The emulator signs deliveries with the same secret; a fifth of the runs fail, to show
    // that failures are delivered too.
    let emulator = Emulator::builder()
        .time_scale(0.01)
        .fail_rate(0.2)
        .seed(5)
        .webhook_secret(WEBHOOK_SECRET)
        .start()
        .await?;
    println!(
        "PARALLEL_API_KEY is not set: using a local emulator at {}",
        emulator.base_url()
    );
    let client = Client::builder()
        .api_key("emulator")
        .base_url(emulator.base_url())
        .build()?;

    // Every run asks for a webhook when it finishes.
    let group = client
        .create_group(CreateTaskGroupRequest::default())
        .await?;
    let inputs = COMPANIES.iter().map(|company| {
        RunInput::new(format!("Who is the CEO of {company}?"), "lite")
            .with_webhook(Webhook::new(&url))
    });
    let run_ids = client
        .group(&group.taskgroup_id)
        .add_runs(AddRuns::new(inputs))
        .await?
        .run_ids;
    println!(
        "task group {}: {} runs added",
        group.taskgroup_id,
        run_ids.len()
    );

    let mut waiting: HashSet<String> = run_ids.into_iter().collect();
    while !waiting.is_empty() {
        let run = tokio::time::timeout(PATIENCE, finished_runs.recv())
            .await
            .map_err(|_| {
                format!(
                    "no webhook for {PATIENCE:?}; {} runs unreported",
                    waiting.len()
                )
            })?
            .ok_or("the receiver stopped")?;
        // A delivery can come twice (the sender retries when an answer is lost): report
        // each run once.
        if waiting.remove(&run.run_id) {
            match &run.error {
                Some(error) => println!("run {}: {} ({})", run.run_id, run.status, error.message),
                None => println!("run {}: {}", run.run_id, run.status),
            }
        }
    }
    println!("every run reported");
    emulator.shutdown().await;
    Ok(())
}

/// Serves HTTP/1 on `listener`, one task per connection.
async fn serve(
    listener: TcpListener,
    verifier: Arc<Verifier>,
    finished: mpsc::UnboundedSender<TaskRun>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                eprintln!("accept failed: {error}");
                continue;
            }
        };
        let (verifier, finished) = (Arc::clone(&verifier), finished.clone());
        let service =
            service_fn(move |request| handle(request, Arc::clone(&verifier), finished.clone()));
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                eprintln!("connection failed: {error}");
            }
        });
    }
}

/// One delivery: the body is collected as bytes and verified as received (a body parsed and
/// re-encoded first no longer matches its signature); a verified run is passed on.
async fn handle(
    request: Request<Incoming>,
    verifier: Arc<Verifier>,
    finished: mpsc::UnboundedSender<TaskRun>,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let status = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Err(error) => {
            eprintln!("could not read a delivery: {error}");
            StatusCode::BAD_REQUEST
        }
        Ok(body) => match verifier.verify_request(&Request::from_parts(parts, body.to_bytes())) {
            Ok(event) => {
                let _ = finished.send(event.data);
                StatusCode::NO_CONTENT
            }
            // Every rejection is the sender's problem, or a forgery: a 4xx, never a 5xx.
            Err(error) => {
                eprintln!("rejected a delivery: {error}");
                if error.is_bad_body() {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    StatusCode::BAD_REQUEST
                }
            }
        },
    };
    let mut response = Response::new(Empty::new());
    *response.status_mut() = status;
    Ok(response)
}
