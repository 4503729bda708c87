//! Command dispatch: picks the backend (API, a given URL, or the embedded emulator) and runs
//! the subcommand.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use parallel_client::{Client, ClientBuilder};
use parallel_types::TaskSpec;

use crate::cli::{Cli, Command, EmulatorArgs, RunArgs};
use crate::error::Error;
use crate::input::{ColumnMap, InputFormat};
use crate::output::OutputFormat;
use crate::progress::ProgressMode;
use crate::run::{Backend, EMBEDDED, Job, LastFailure, Watched, watch};
use crate::spec::{Task, TaskSource};

/// The runtime the command runs on. `run` against a server elsewhere runs on this one thread:
/// the input's reader, the batch engine and the file writer hand every row along, and across
/// threads those hand-offs cost more CPU than working in parallel saves (100,000 rows on the
/// emulator: about a tenth less CPU, the same wall time). Everything else has two workers:
/// `results` receives a stream while it decodes and writes it (a fifth faster than on one
/// thread), and the embedded emulator serves from the same process.
fn runtime_for(cli: &Cli) -> std::io::Result<tokio::runtime::Runtime> {
    if matches!(cli.command, Command::Run(_)) && !embedded(cli) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .worker_threads(2)
            .build()
    }
}

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
    let runtime = match runtime_for(&cli) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let resume_command = shell_command(&args);
    let json = cli.json;
    // On a worker, not on this thread: the engine's items, the sink and the HTTP tasks then
    // wake each other on the workers' own queues.
    let outcome = runtime.block_on(async move {
        match tokio::spawn(async move { dispatch(cli, &resume_command).await }).await {
            Ok(outcome) => outcome,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    });
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

/// Whether `run` uses the embedded emulator: asked for, or neither a key nor a URL given.
fn embedded(cli: &Cli) -> bool {
    cli.emulator || (api_key().is_none() && cli.base_url.is_none())
}

fn api_key() -> Option<String> {
    std::env::var("PARALLEL_API_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty())
}

fn client_for(base_url: &str, key: Option<&str>) -> Result<Client, Error> {
    client_watched(base_url, key, &LastFailure::default())
}

/// A client whose requests record in `last` how they failed (what the "waiting for the
/// server" line of `run` tells).
fn client_watched(base_url: &str, key: Option<&str>, last: &LastFailure) -> Result<Client, Error> {
    crate::base_url::check(base_url)?;
    let transport = parallel_client::transport::HyperTransport::new()
        .map_err(|e| Error::state("cannot set up the HTTPS transport").with_source(e))?;
    let reconnected = last.clone();
    // From the environment for `PARALLEL_CUSTOM_HEADERS`; the key and the URL were chosen
    // above. An emulator started without a key accepts any; the client insists on sending one.
    ClientBuilder::from_env()
        .base_url(base_url)
        .api_key(key.unwrap_or("no-key"))
        .transport(Watched::new(transport, last.clone()))
        .on_reconnect(move |reconnect| reconnected.set(Some(watch::chain(reconnect.error))))
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
    let interval = seconds("--progress-interval", cli.progress_interval)?;
    let mode = ProgressMode::detect(
        cli.json,
        cli.quiet,
        interval.max(Duration::from_millis(100)),
    );
    match &cli.command {
        Command::Run(args) => run_command(&cli, args, mode, resume_command).await,
        Command::Status { group } => {
            crate::inspect::status(&remote_client(&cli)?, group, cli.json).await
        }
        Command::Wait { group } => {
            crate::inspect::wait(&remote_client(&cli)?, group, mode, cli.json).await
        }
        Command::Results {
            group,
            output,
            output_format,
            order,
            force,
            basis,
        } => {
            let format = OutputFormat::resolve(output, *output_format);
            crate::files::check_output(output, *force)?;
            let client = remote_client(&cli)?;
            let export = crate::results::Export {
                group,
                output,
                format,
                order: *order,
                force: *force,
                basis: *basis,
            };
            export.run(&client, cli.json).await
        }
        Command::Events {
            group,
            last_event_id,
        } => crate::inspect::events(&remote_client(&cli)?, group, last_event_id.clone()).await,
        Command::Emulator(args) => serve_emulator(args).await,
        Command::Completions { shell } => crate::generate::print_completions(*shell),
        Command::ManPages { dir } => crate::generate::write_man_pages(dir),
    }
}

/// A number of seconds from the command line: finite, not negative.
fn seconds(flag: &str, value: f64) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        Error::usage(format!(
            "{flag} {value}: expected a number of seconds, 0 or more"
        ))
    })
}

/// `run`: the job, checked before anything else happens; then the backend (embedded
/// emulator, a given URL, or the API) and the batch.
async fn run_command(
    cli: &Cli,
    args: &RunArgs,
    mode: ProgressMode,
    resume_command: &str,
) -> Result<(), Error> {
    if let Some(url) = &cli.base_url {
        crate::base_url::check(url)?;
    }
    crate::input::check_input(&args.input)?;
    crate::files::check_output(&args.output, args.force)?;
    let job = job(args)?;
    let key = api_key();
    let embedded = embedded(cli);
    if args.dry_run {
        let label = if embedded {
            EMBEDDED.to_owned()
        } else {
            api_url(cli)
        };
        crate::run::dry_run(job, &label, embedded)
            .await?
            .print(cli.json);
        return Ok(());
    }
    let emulator = if embedded {
        Some(start_embedded(cli, args).await?)
    } else {
        None
    };
    let last_failure = LastFailure::default();
    let backend = if let Some(emulator) = &emulator {
        Backend {
            client: client_watched(&emulator.base_url(), None, &last_failure)?,
            label: EMBEDDED.to_owned(),
            embedded: true,
            last_failure,
        }
    } else {
        let url = api_url(cli);
        Backend {
            client: client_watched(&url, key.as_deref(), &last_failure)?,
            label: url,
            embedded: false,
            last_failure,
        }
    };
    let result = crate::run::run(job, &backend, mode, resume_command).await;
    if let Some(emulator) = emulator {
        emulator.shutdown().await;
    }
    result?.print(cli.json);
    Ok(())
}

/// The API's base URL: `--base-url`, or the Parallel API's.
fn api_url(cli: &Cli) -> String {
    cli.base_url
        .clone()
        .unwrap_or_else(|| "https://api.parallel.ai".to_owned())
}

/// The job `run` asks for, resolved and checked once: what the rest of the tool reads.
fn job(args: &RunArgs) -> Result<Job, Error> {
    if crate::run::same_file(&args.input, &args.output) {
        return Err(Error::usage(format!(
            "the output {} is the input file itself; writing it would destroy the input \
             (--force never does); choose another output file",
            args.output.display()
        )));
    }
    let input_format = InputFormat::resolve(&args.input, args.format)?;
    let output_format = OutputFormat::resolve(&args.output, args.output_format);
    #[cfg(not(feature = "parquet"))]
    if input_format == InputFormat::Parquet || output_format == OutputFormat::Parquet {
        return Err(Error::parquet_not_built());
    }
    let map = args
        .input_columns
        .as_deref()
        .map(ColumnMap::parse)
        .transpose()?;
    let task = Task::build(&task_source(args))?;
    let basis = args
        .basis
        .then(|| crate::basis::fields_of(&task))
        .transpose()?;
    let spec: TaskSpec = serde_json::from_value(task.spec.clone())
        .map_err(|e| Error::usage(format!("the task spec is not valid: {e}")))?;
    crate::run::output_schema(&task.spec)?;
    let processor = crate::run::processor(&args.processor, args.allow_processor)?;
    let chunk_size = usize::from(args.chunk_size);
    Ok(Job {
        input: args.input.clone(),
        delimiter: delimiter(args, input_format)?,
        input_format,
        map,
        max_row_lines: args.max_row_lines,
        max_input_chars: args.max_input_chars,
        output: args.output.clone(),
        output_format,
        order: args.order,
        force: args.force,
        task_hash: crate::run::task_hash(
            &task,
            &processor,
            args.input_columns.as_deref(),
            output_format,
            args.basis,
        ),
        spec_chars: task.spec.to_string().chars().count(),
        task,
        spec,
        processor,
        metadata: crate::run::parse_metadata(&args.metadata)?,
        group: args.group.clone(),
        new_group: args.new_group,
        retry_failed: args.retry_failed,
        chunk_size,
        max_in_flight: args.max_in_flight.max(chunk_size),
        fetch_concurrency: args.fetch_concurrency,
        waiting_notice: seconds("--waiting-notice", args.waiting_notice)?,
        pricing: crate::cost::Pricing::new(args.prices.as_deref(), args.max_cost)?,
        basis,
    })
}

/// `--delimiter`, for a CSV input only.
fn delimiter(args: &RunArgs, format: InputFormat) -> Result<Option<u8>, Error> {
    let Some(value) = &args.delimiter else {
        return Ok(None);
    };
    if format != InputFormat::Csv {
        return Err(Error::usage(format!(
            "--delimiter applies to CSV input; {} is read as {}",
            args.input.display(),
            format.name()
        )));
    }
    crate::input::parse_delimiter(value).map(Some)
}

fn task_source(args: &RunArgs) -> TaskSource {
    if let Some(path) = &args.spec {
        TaskSource::SpecFile(path.clone())
    } else if let Some(path) = &args.output_schema {
        TaskSource::OutputSchemaFile(path.clone())
    } else if let Some(columns) = &args.columns {
        TaskSource::Columns(columns.clone())
    } else if let Some(text) = &args.text {
        TaskSource::Text(text.clone())
    } else {
        TaskSource::Auto
    }
}

/// The embedded emulator, started and announced.
async fn start_embedded(
    cli: &Cli,
    args: &RunArgs,
) -> Result<parallel_emulator::EmulatorHandle, Error> {
    let emulator = parallel_emulator::Emulator::builder()
        .time_scale(args.emulator_time_scale)
        .fail_rate(args.emulator_fail_rate)
        .start()
        .await
        .map_err(|e| Error::state("cannot start the embedded emulator").with_source(e))?;
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
    Ok(emulator)
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
        .map_err(|e| Error::state("cannot start the emulator").with_source(e))?;
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
    use clap::Parser;

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

    fn job_of(args: &[&str]) -> Job {
        let cli = Cli::try_parse_from(args).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not a run command")
        };
        job(&args).unwrap()
    }

    #[test]
    fn fetch_concurrency_reaches_the_engine() {
        let job = job_of(&[
            "parallel-batch",
            "run",
            "in.csv",
            "-o",
            "out.csv",
            "--fetch-concurrency",
            "3",
        ]);
        let options = crate::run::batch_options(&job, "token", None);
        let options = format!("{options:?}");
        assert!(options.contains("result_concurrency: 3"), "{options}");
    }

    #[test]
    fn durations_that_are_not_numbers_of_seconds_are_usage_errors() {
        assert_eq!(seconds("--x", 1.5).unwrap(), Duration::from_millis(1500));
        for bad in [f64::INFINITY, f64::NAN, -1.0] {
            let err = seconds("--waiting-notice", bad).unwrap_err();
            assert!(err.is_usage() && err.to_string().contains("--waiting-notice"));
        }
    }
}
