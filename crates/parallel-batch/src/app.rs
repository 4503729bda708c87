//! Command dispatch: picks the backend (API, a given URL, or the embedded emulator) and runs
//! the subcommand.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use futures::StreamExt;
use parallel_client::{Client, ClientBuilder, GroupEventsOptions};
use parallel_types::{GroupEvent, TaskGroup};

use crate::cli::{Cli, Command, EmulatorArgs};
use crate::progress::{Counts, Progress, ProgressMode};
use crate::run::{Backend, Summary};
use crate::{Error, OutputFormat};

const EMBEDDED: &str = "embedded-emulator";

/// Parses the command line, runs the command, and returns the process exit code.
pub fn main_with_args<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::Parser;
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() && args.iter().any(|a| a == "--json") => {
            let message = e.render().to_string();
            eprintln!("{}", serde_json::json!({"error": message.trim()}));
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    crate::progress::set_json_messages(cli.json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let resume_command = shell_command(&args);
    let json = cli.json;
    let outcome = runtime.block_on(dispatch(cli, &resume_command));
    // Everything the command does is done (files written and synced): the process exits
    // without waiting for idle workers, pooled connections or a blocked reader of standard
    // input to wind down.
    runtime.shutdown_background();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !e.is_interrupted() {
                if json {
                    // On stdout for scripts that read the summary, and on stderr, where
                    // every line is JSON too.
                    let line = serde_json::json!({"error": e.report()});
                    println!("{line}");
                    eprintln!("{line}");
                } else {
                    eprintln!("error: {}", e.report());
                }
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// The command line as a user can paste it back into a POSIX shell.
fn shell_command(args: &[std::ffi::OsString]) -> String {
    args.iter()
        .enumerate()
        .map(|(i, a)| {
            let s = a.to_string_lossy();
            let s = if i == 0 {
                Path::new(s.as_ref())
                    .file_name()
                    .map_or(s.to_string(), |n| n.to_string_lossy().into_owned())
            } else {
                s.into_owned()
            };
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                s
            } else {
                format!("'{}'", s.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn api_key() -> Option<String> {
    std::env::var("PARALLEL_API_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty())
}

fn client_for(base_url: &str, key: Option<&str>) -> Result<Client, Error> {
    crate::base_url::check(base_url)?;
    // From the environment for `PARALLEL_CUSTOM_HEADERS`; the key and the URL were chosen
    // above. An emulator started without a key accepts any; the client insists on sending one.
    ClientBuilder::from_env()
        .base_url(base_url)
        .api_key(key.unwrap_or("no-key"))
        .build()
        .map_err(|e| Error::api("cannot set up the API client", e))
}

/// A client for commands that inspect an existing group (they cannot use a fresh emulator).
fn remote_client(cli: &Cli) -> Result<Client, Error> {
    if cli.emulator {
        return Err(Error::usage(
            "--emulator starts an empty emulator that has no groups to inspect; start one with \
             `parallel-batch emulator` and pass its --base-url instead",
        ));
    }
    match (api_key(), &cli.base_url) {
        (Some(key), url) => client_for(
            url.as_deref().unwrap_or("https://api.parallel.ai"),
            Some(&key),
        ),
        (None, Some(url)) => client_for(url, None),
        (None, None) => Err(Error::missing_key()),
    }
}

async fn dispatch(cli: Cli, resume_command: &str) -> Result<(), Error> {
    let interval = Duration::from_secs_f64(cli.progress_interval.max(0.1));
    let mode = ProgressMode::detect(cli.json, cli.quiet, interval);
    match &cli.command {
        Command::Run(args) => run_command(&cli, args, mode, resume_command).await,
        Command::Status { group } => {
            let client = remote_client(&cli)?;
            let group = client
                .group(group)
                .get()
                .await
                .map_err(|e| Error::api(format!("cannot get group {group}"), e))?;
            print_group(&group, cli.json);
            Ok(())
        }
        Command::Wait { group } => {
            let client = remote_client(&cli)?;
            wait(&client, group, mode, cli.json).await
        }
        Command::Results {
            group,
            output,
            output_format,
            force,
        } => results_command(&cli, group, output, *output_format, *force).await,
        Command::Events {
            group,
            last_event_id,
        } => {
            let client = remote_client(&cli)?;
            events(&client, group, last_event_id.clone()).await
        }
        Command::Emulator(args) => serve_emulator(args).await,
    }
}

/// `results`: every run of a group to a file (or standard output), and what was written.
async fn results_command(
    cli: &Cli,
    group: &str,
    output: &Path,
    output_format: Option<OutputFormat>,
    force: bool,
) -> Result<(), Error> {
    let format = OutputFormat::resolve(output, output_format);
    #[cfg(not(feature = "parquet"))]
    if format == OutputFormat::Parquet {
        return Err(Error::parquet_not_built());
    }
    let to_stdout = crate::run::is_dash(output);
    crate::run::check_output(output)?;
    let client = remote_client(cli)?;
    let counts = if to_stdout {
        crate::results::write_stdout(&client, group, format).await?
    } else {
        crate::results::check_target(output, force)?;
        crate::results::write(&client, group, output, format).await?
    };
    let output = if to_stdout {
        Path::new("standard output")
    } else {
        output
    };
    if cli.json {
        let summary = serde_json::json!({"group_id": group, "output": output,
            "rows": counts.runs(), "completed": counts.completed, "failed": counts.failed,
            "unfinished": counts.unfinished});
        // Standard output holds the runs when they go there.
        if to_stdout {
            eprintln!("{summary}");
        } else {
            println!("{summary}");
        }
    } else {
        let unfinished = if counts.unfinished > 0 {
            format!(", {} not finished yet", counts.unfinished)
        } else {
            String::new()
        };
        eprintln!(
            "Wrote {} runs of {group} to {} ({} completed, {} not completed{unfinished}).",
            counts.runs(),
            output.display(),
            counts.completed,
            counts.failed
        );
    }
    if counts.unfinished > 0 {
        crate::progress::notice(
            "unfinished",
            &format!(
                "{} of these runs were not finished yet (queued or running): the group is \
                 still running. `parallel-batch wait {group}` waits until it is done; run \
                 `results` again then to have every result.",
                counts.unfinished
            ),
        );
    }
    Ok(())
}

/// `run`: picks the backend (embedded emulator, a given URL, or the API) and runs the batch.
async fn run_command(
    cli: &Cli,
    args: &crate::cli::RunArgs,
    mode: ProgressMode,
    resume_command: &str,
) -> Result<(), Error> {
    if let Some(url) = &cli.base_url {
        crate::base_url::check(url)?;
    }
    crate::run::check_input(args)?;
    crate::run::check_output(&args.output)?;
    let key = api_key();
    let embedded = cli.emulator || (key.is_none() && cli.base_url.is_none());
    let emulator = if embedded {
        let emulator = parallel_emulator::Emulator::builder()
            .time_scale(args.emulator_time_scale)
            .fail_rate(args.emulator_fail_rate)
            .start()
            .await
            .map_err(|e| {
                Error::state(format!("cannot start the embedded emulator: {e}")).with_source(e)
            })?;
        if !cli.quiet {
            let why = if cli.emulator {
                "--emulator"
            } else {
                "PARALLEL_API_KEY is not set"
            };
            crate::progress::notice(
                "message",
                &format!(
                    "Using the embedded emulator ({why}): results are simulated. Set \
                     PARALLEL_API_KEY to run on the Parallel API."
                ),
            );
        }
        Some(emulator)
    } else {
        None
    };
    let backend = if let Some(emulator) = &emulator {
        Backend {
            client: client_for(&emulator.base_url(), None)?,
            label: EMBEDDED.to_owned(),
            embedded: true,
        }
    } else {
        let url = cli
            .base_url
            .clone()
            .unwrap_or_else(|| "https://api.parallel.ai".to_owned());
        Backend {
            client: client_for(&url, key.as_deref())?,
            label: url,
            embedded: false,
        }
    };
    let result = crate::run::run(args, &backend, mode, resume_command).await;
    if let Some(emulator) = emulator {
        emulator.shutdown().await;
    }
    print_summary(&result?, cli.json);
    Ok(())
}

fn print_summary(summary: &Summary, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string(summary).unwrap_or_else(|_| "{}".to_owned())
        );
        return;
    }
    if summary.written_now == 0 && summary.complete && summary.resumed {
        eprintln!(
            "Nothing to do: all {} rows are already in {} (group {}). Delete {} and its \
             .state.json file to run again.",
            summary.total,
            summary.output.display(),
            summary.group_id,
            summary.output.display()
        );
        return;
    }
    let rejected = if summary.rejected > 0 {
        format!(", {} rejected by the API", summary.rejected)
    } else {
        String::new()
    };
    let mut again = Vec::new();
    if summary.fixed > 0 {
        again.push(format!("{} fixed rows sent again", summary.fixed));
    }
    if summary.retried > 0 {
        again.push(format!("{} failed rows retried", summary.retried));
    }
    let again = if again.is_empty() {
        String::new()
    } else {
        format!("; {}", again.join(", "))
    };
    eprintln!(
        "Done: {} rows in {} ({} completed, {} failed{rejected}{again}) in {:.1} s ({:.0} rows/s). Group: {}",
        summary.total,
        summary.output.display(),
        summary.completed,
        summary.failed,
        summary.seconds,
        summary.rows_per_second,
        summary.group_id
    );
    if summary.throttled > 0 {
        eprintln!(
            "The API throttled the batch {} times (429 Too Many Requests): it slowed down and \
             retried; nothing was lost.",
            summary.throttled
        );
    }
    if summary.duplicate_runs > 0 {
        eprintln!(
            "warning: the group holds {} duplicate runs for rows already submitted; each row \
             is written once",
            summary.duplicate_runs
        );
    }
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

async fn wait(client: &Client, group: &str, mode: ProgressMode, json: bool) -> Result<(), Error> {
    let first = client
        .group(group)
        .get()
        .await
        .map_err(|e| Error::api(format!("cannot get group {group}"), e))?;
    let to_counts = |status: &parallel_types::TaskGroupStatus| {
        let mut c = Counts {
            total: status.num_task_runs,
            submitted: status.num_task_runs,
            completed: 0,
            failed: 0,
            rejected: 0,
        };
        for (k, v) in &status.task_run_status_counts {
            match k.to_string().as_str() {
                "completed" => c.completed += v,
                "failed" | "cancelled" => c.failed += v,
                _ => {}
            }
        }
        c
    };
    let mut counts = to_counts(&first.status);
    let mut progress = Progress::new(mode, counts, client);
    let mut last_event_id: Option<String> = None;
    let mut errors = 0;
    loop {
        let mut options = GroupEventsOptions::default();
        if let Some(id) = &last_event_id {
            options = options.last_event_id(id);
        }
        let mut stream = client.group(group).events(options);
        let mut inactive = false;
        while let Some(event) = stream.next().await {
            match event {
                Ok(GroupEvent::TaskGroupStatus(event)) => {
                    counts = to_counts(&event.status);
                    progress.update(&counts);
                    inactive = !event.status.is_active;
                    last_event_id = Some(event.event_id);
                }
                Ok(GroupEvent::TaskRunState(event)) => {
                    if event.event_id.is_some() {
                        last_event_id = event.event_id;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    errors += 1;
                    if errors > 5 {
                        return Err(Error::api(format!("cannot follow group {group}"), e));
                    }
                    break;
                }
            }
        }
        let group_now = client
            .group(group)
            .get()
            .await
            .map_err(|e| Error::api(format!("cannot get group {group}"), e))?;
        if inactive || !group_now.status.is_active {
            counts = to_counts(&group_now.status);
            progress.finish(&counts);
            print_group(&group_now, json);
            return Ok(());
        }
    }
}

async fn events(client: &Client, group: &str, last_event_id: Option<String>) -> Result<(), Error> {
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

async fn serve_emulator(args: &EmulatorArgs) -> Result<(), Error> {
    if !args.listen.ip().is_loopback() {
        return Err(Error::usage(
            "the emulator listens on loopback addresses only (127.0.0.1 or ::1)",
        ));
    }
    let mut emulator = parallel_emulator::Emulator::builder()
        .listen(args.listen)
        .time_scale(args.time_scale)
        .fail_rate(args.fail_rate)
        .seed(args.seed);
    if let Some(key) = &args.api_key {
        emulator = emulator.api_key(key.clone());
    }
    let emulator = emulator
        .start()
        .await
        .map_err(|e| Error::state(format!("cannot start the emulator: {e}")).with_source(e))?;
    // Listen for Ctrl-C before saying "listening": a SIGINT sent as soon as that line is read
    // must stop the server cleanly, not kill the process.
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| Error::io("cannot listen for Ctrl-C", e))?;
    crate::progress::notice(
        "listening",
        &format!(
            "Emulator listening on {} (Ctrl-C to stop). Use it with: parallel-batch --base-url {} ...",
            emulator.base_url(),
            emulator.base_url()
        ),
    );
    #[cfg(unix)]
    interrupt.recv().await;
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    emulator.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_command_is_quoted_for_the_shell() {
        let args: Vec<std::ffi::OsString> = [
            "/usr/bin/parallel-batch",
            "run",
            "in.csv",
            "--columns",
            "ceo: the CEO's name",
        ]
        .iter()
        .map(Into::into)
        .collect();
        assert_eq!(
            shell_command(&args),
            r"parallel-batch run in.csv --columns 'ceo: the CEO'\''s name'"
        );
    }
}
