//! The commands that look at an existing group: `status`, `wait` and `events`.

use std::time::Duration;

use futures::StreamExt;
use parallel_client::{Client, GroupEventsOptions};
use parallel_types::{TaskGroup, TaskGroupStatus};

use crate::counts::Counts;
use crate::error::Error;
use crate::progress::{Progress, ProgressMode};

/// `status`: the group's run counts.
pub(crate) async fn status(client: &Client, group: &str, json: bool) -> Result<(), Error> {
    print_group(&get(client, group).await?, json);
    Ok(())
}

/// `wait`: waits until no run of the group is active (the client's
/// [`GroupHandle::wait`](parallel_client::GroupHandle::wait)), showing its progress, then
/// prints its status.
pub(crate) async fn wait(
    client: &Client,
    group: &str,
    mode: ProgressMode,
    json: bool,
) -> Result<(), Error> {
    let first = get(client, group).await?;
    let mut progress = Progress::new(mode, first.status.num_task_runs);
    show(&mut progress, &first.status);
    let waiting = std::future::IntoFuture::into_future(client.group(group).wait());
    tokio::pin!(waiting);
    // The progress is read from the group's status now and then while the client waits.
    let mut poll = tokio::time::interval(poll_every(mode));
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    poll.tick().await;
    let status = loop {
        tokio::select! {
            status = &mut waiting => {
                break status.map_err(|e| Error::api(format!("cannot follow group {group}"), e))?;
            }
            _ = poll.tick(), if mode != ProgressMode::Quiet => {
                if let Ok(now) = client.group(group).get().await {
                    show(&mut progress, &now.status);
                }
            }
        }
    };
    progress.set_total(status.num_task_runs);
    progress.finish(status.num_task_runs, &Counts::of_group(&status));
    print_group(&get(client, group).await?, json);
    Ok(())
}

/// How often `wait` reads the group's status for its progress display.
fn poll_every(mode: ProgressMode) -> Duration {
    match mode {
        ProgressMode::Lines(interval) | ProgressMode::Json(interval) => interval,
        ProgressMode::Bars | ProgressMode::Quiet => Duration::from_secs(2),
    }
}

fn show(progress: &mut Progress, status: &TaskGroupStatus) {
    progress.set_total(status.num_task_runs);
    progress.update(status.num_task_runs, &Counts::of_group(status));
}

/// `events`: the group's events as they happen, one JSON object per line on standard output.
pub(crate) async fn events(
    client: &Client,
    group: &str,
    last_event_id: Option<String>,
) -> Result<(), Error> {
    use std::io::Write;
    let mut options = GroupEventsOptions::default();
    if let Some(id) = last_event_id {
        options = options.last_event_id(id);
    }
    let mut stream = client.group(group).events(options);
    let stdout = std::io::stdout();
    while let Some(event) = stream.next().await {
        let event = event.map_err(|e| Error::api(format!("cannot follow group {group}"), e))?;
        let line = serde_json::to_string(&event).unwrap_or_default();
        let mut out = stdout.lock();
        // A closed stdout (e.g. `| head`) ends the command quietly.
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

async fn get(client: &Client, group: &str) -> Result<TaskGroup, Error> {
    client
        .group(group)
        .get()
        .await
        .map_err(|e| Error::api(format!("cannot get group {group}"), e))
}

fn print_group(group: &TaskGroup, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string(group).unwrap_or_else(|_| "{}".to_owned())
        );
        return;
    }
    let status = &group.status;
    let counts: Vec<String> = status
        .task_run_status_counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    println!(
        "{}: {} · {} runs ({})",
        group.taskgroup_id,
        if status.is_active { "active" } else { "idle" },
        status.num_task_runs,
        if counts.is_empty() {
            "none".to_owned()
        } else {
            counts.join(", ")
        }
    );
    if let Some(message) = status.status_message.as_deref().filter(|m| !m.is_empty()) {
        println!("  {message}");
    }
}
