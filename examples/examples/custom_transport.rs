//! Bring your own HTTP stack: a `Transport` over reqwest, and the client running through it.
//!
//! ```text
//! cargo run -p parallel-examples --example custom_transport
//! ```
//!
//! The client needs one thing from a transport: send one request, once, and hand back the
//! response head with a streaming body. Retries, timeouts and stream resumption stay in the
//! client. Classifying failures matters: say when a request was certainly not sent
//! (`TransportError::connect` / `not_sent`), so that work-creating requests can be retried
//! safely.
//!
//! With `PARALLEL_API_KEY` set it talks to the Parallel API; without, to a local emulator.

use std::error::Error;

use bytes::Bytes;
use futures::StreamExt;
use parallel_client::{AddRuns, Client, ClientBuilder, GroupRunsOptions};
use parallel_emulator::{Emulator, EmulatorHandle};
use parallel_transport::{Body, Transport, TransportError};
use parallel_types::{CreateTaskGroupRequest, RunInput, TaskSpec};

/// A transport over a `reqwest::Client` (which keeps its own connection pool).
struct ReqwestTransport {
    http: reqwest::Client,
}

impl Transport for ReqwestTransport {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> impl Future<Output = Result<http::Response<Body>, TransportError>> + Send {
        let http = self.http.clone();
        async move {
            let request = reqwest::Request::try_from(request).map_err(TransportError::config)?;
            let response = http.execute(request).await.map_err(classify)?;
            let mut head = http::Response::builder()
                .status(response.status())
                .version(response.version());
            if let Some(headers) = head.headers_mut() {
                headers.extend(
                    response
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
            }
            // The body streams: server-sent events are read as they arrive, never buffered whole.
            let body = Body::from_stream(response.bytes_stream());
            head.body(body).map_err(TransportError::request)
        }
    }
}

/// Maps reqwest's failures onto the kinds the client's retry policy understands.
fn classify(error: reqwest::Error) -> TransportError {
    if error.is_connect() {
        // No connection was made: the server cannot have seen the request.
        TransportError::connect(error)
    } else if error.is_timeout() {
        TransportError::timeout(error)
    } else if error.is_builder() {
        TransportError::config(error)
    } else if error.is_body() || error.is_decode() {
        TransportError::body(error)
    } else {
        TransportError::request(error)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // reqwest is built without a default crypto provider here; rustls uses ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let transport = ReqwestTransport {
        http: reqwest::Client::builder().build()?,
    };
    let (client, emulator) = connect(transport).await?;

    let group = client
        .create_group(CreateTaskGroupRequest::default())
        .await?;
    let inputs = ["Acme Corp", "Globex"]
        .map(|name| RunInput::new(format!("When was {name} founded?"), "lite-fast"));
    let spec = TaskSpec::text("The founding year");
    client
        .group(&group.taskgroup_id)
        .add_runs(AddRuns::new(inputs).default_task_spec(spec))
        .await?;
    client.group(&group.taskgroup_id).wait().await?;

    let mut runs = client
        .group(&group.taskgroup_id)
        .runs(GroupRunsOptions::with_input_and_output());
    while let Some(run) = runs.next().await {
        let run = run?;
        let view = run.view()?;
        let answer: Option<String> = view.output_as()?;
        println!(
            "{} ({}): {}",
            view.run.run_id,
            view.run.status,
            answer.unwrap_or_default()
        );
    }

    if let Some(emulator) = emulator {
        emulator.shutdown().await;
    }
    Ok(())
}

/// The Parallel API when `PARALLEL_API_KEY` is set; otherwise a local emulator, started here.
async fn connect(
    transport: ReqwestTransport,
) -> Result<(Client, Option<EmulatorHandle>), Box<dyn Error>> {
    if std::env::var_os("PARALLEL_API_KEY").is_some() {
        return Ok((
            ClientBuilder::from_env().transport(transport).build()?,
            None,
        ));
    }
    let emulator = Emulator::builder().time_scale(0.001).start().await?;
    println!(
        "PARALLEL_API_KEY is not set: using a local emulator at {}",
        emulator.base_url()
    );
    let client = Client::builder()
        .api_key("emulator")
        .base_url(emulator.base_url())
        .transport(transport)
        .build()?;
    Ok((client, Some(emulator)))
}
