//! What failure looks like: a refused processor, unknown ids, failed runs, a deadline, and how
//! to tell them apart with the error's predicates (no other crate needed: `StatusCode` is
//! re-exported for the statuses without one).
//!
//! ```text
//! cargo run -p parallel-examples --example error_handling
//! ```
//!
//! With `PARALLEL_API_KEY` set it talks to the Parallel API; without, to a local emulator whose
//! runs fail one time in three.

use std::error::Error;
use std::time::Duration;

use futures::StreamExt;
use parallel_client::{AddRuns, Client, GroupRunsOptions, StatusCode};
use parallel_emulator::{Emulator, EmulatorHandle};
use parallel_types::{CreateTaskGroupRequest, RunInput, RunStatus, TaskSpec};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (client, emulator) = connect().await?;

    // 1. A refused request: an unknown processor is a 403, the server says what is wrong.
    match client
        .create_run(RunInput::new(
            "Who is the CEO of Acme?",
            "no-such-processor",
        ))
        .await
    {
        Ok(run) => println!("unexpectedly accepted: {}", run.run_id),
        Err(error) if error.is_forbidden() => {
            println!("create_run was refused: {error}");
            if let Some(api) = error.api_error() {
                println!("  server message: {}; ref_id {:?}", api.message, api.ref_id);
            }
        }
        Err(error) => println!("create_run failed otherwise: {error}"),
    }

    // 2. An unknown id: a 404 with the API's error object.
    let error = client
        .group("tgrp_00000000000000000000000000000000")
        .get()
        .await
        .unwrap_err();
    if error.is_not_found() {
        println!("no such group: {error}");
    }
    assert_eq!(error.status(), Some(StatusCode::NOT_FOUND));

    // 3. Failed runs: their error is on the run; /result answers 404 for them.
    let group = client
        .create_group(CreateTaskGroupRequest::default())
        .await?;
    let inputs = (0..9).map(|i| RunInput::new(format!("Question {i}"), "lite-fast"));
    let spec = TaskSpec::text("A short answer");
    client
        .group(&group.taskgroup_id)
        .add_runs(AddRuns::new(inputs).default_task_spec(spec))
        .await?;
    client.group(&group.taskgroup_id).wait().await?;
    let mut runs = client
        .group(&group.taskgroup_id)
        .runs(GroupRunsOptions::default());
    while let Some(run) = runs.next().await {
        let run = run?.view()?.into_owned()?.run;
        if run.status == RunStatus::Failed {
            let reason = run
                .error
                .as_ref()
                .map_or("no error object", |e| e.message.as_str());
            println!("run {} failed: {reason}", run.run_id);
            let error = client
                .run_result(&run.run_id)
                .timeout(Duration::from_secs(5))
                .await
                .unwrap_err();
            println!("  its /result: {error}");
        }
    }

    // 4. What to retry yourself: the client already retried transient failures (429, 5xx,
    //    connection errors) with backoff; what is left is either permanent or needs a look.
    if let Err(error) = client
        .get_run("trun_00000000000000000000000000000000")
        .await
    {
        let advice = if error.is_timeout() || error.is_connection() {
            "network trouble: try again later"
        } else if error.is_outcome_unknown() {
            "the request may have taken effect: check before resubmitting"
        } else if error.is_unauthorized() {
            "check PARALLEL_API_KEY"
        } else if error.is_not_found() {
            "no such run: check the id"
        } else if error.is_invalid_request() || error.is_forbidden() {
            "the server refused: fix the request"
        } else {
            "see the message"
        };
        println!("get_run: {advice} ({error})");
    }

    if let Some(emulator) = emulator {
        emulator.shutdown().await;
    }
    Ok(())
}

/// The Parallel API when `PARALLEL_API_KEY` is set; otherwise a local emulator, started here,
/// where a third of the runs fail.
async fn connect() -> Result<(Client, Option<EmulatorHandle>), Box<dyn Error>> {
    if std::env::var_os("PARALLEL_API_KEY").is_some() {
        return Ok((Client::from_env()?, None));
    }
    let emulator = Emulator::builder()
        .time_scale(0.001)
        .fail_rate(0.33)
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
    Ok((client, Some(emulator)))
}
