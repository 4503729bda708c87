//! Follow a group live: progress from the group's events stream, and each result fetched with
//! `/result` the moment its run completes.
//!
//! ```text
//! cargo run -p parallel-examples --example realtime_events
//! ```
//!
//! With `PARALLEL_API_KEY` set it talks to the Parallel API; without, to a local emulator.

use std::error::Error;
use std::time::Duration;

use futures::StreamExt;
use parallel_client::{AddRuns, Client, GroupEventsOptions};
use parallel_emulator::{Emulator, EmulatorHandle};
use parallel_types::{CreateTaskGroupRequest, GroupEvent, RunInput, RunStatus, TaskSpec};

/// The emulator's speed: runs take 1/50 of their real latency, so progress is visible.
const TIME_SCALE: f64 = 0.02;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (client, emulator) = connect().await?;

    let group = client
        .create_group(CreateTaskGroupRequest::default())
        .await?;
    let group_id = group.taskgroup_id;
    let questions = [
        "Who founded Acme Corp?",
        "When was Globex incorporated?",
        "Where is Initech headquartered?",
        "What does Umbrella Corp make?",
        "Who is the CFO of Hooli?",
    ];
    let inputs = questions.iter().map(|q| RunInput::new(*q, "base-fast"));
    let spec = TaskSpec::text("A short answer with its source");
    client
        .group(&group_id)
        .add_runs(AddRuns::new(inputs).default_task_spec(spec))
        .await?;

    // The stream resumes by itself after a dropped connection and ends when the group is done.
    let mut events = client
        .group(&group_id)
        .events(GroupEventsOptions::default());
    while let Some(event) = events.next().await {
        match event? {
            GroupEvent::TaskGroupStatus(status) => {
                let s = status.status;
                println!(
                    "progress: {}/{} finished, active: {}",
                    s.finished(),
                    s.num_task_runs,
                    s.is_active
                );
            }
            GroupEvent::TaskRunState(event) if event.run.status == RunStatus::Completed => {
                // Completion events carry no output: fetch it.
                let result = client
                    .run_result_as::<String>(&event.run.run_id)
                    .timeout(Duration::from_secs(60))
                    .await?;
                println!("{} completed: {}", event.run.run_id, result.content);
            }
            GroupEvent::TaskRunState(event) => {
                let message = event.run.error.map(|e| e.message).unwrap_or_default();
                println!("{} ended {}: {message}", event.run.run_id, event.run.status);
            }
            _ => {}
        }
    }

    if let Some(emulator) = emulator {
        emulator.shutdown().await;
    }
    Ok(())
}

/// The Parallel API when `PARALLEL_API_KEY` is set; otherwise a local emulator, started here.
async fn connect() -> Result<(Client, Option<EmulatorHandle>), Box<dyn Error>> {
    if std::env::var_os("PARALLEL_API_KEY").is_some() {
        return Ok((Client::from_env()?, None));
    }
    let emulator = Emulator::builder().time_scale(TIME_SCALE).start().await?;
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
