//! The `run` command: read, submit, collect, write, checkpoint; resume after any crash.
//!
//! One loop owns all the state (which rows are submitted, pending, written) and reacts to five
//! sources: input chunks from a reader thread, the single add-runs request in flight, the
//! group's events stream (terminal run states), result downloads, and a checkpoint timer.
//! Nothing here holds more than `--max-in-flight` rows: the reader is lazy and waits while
//! that many rows are submitted but not yet written.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::{Future, StreamExt};
use parallel_client::{Client, GroupEventsOptions, GroupRunsOptions};
use parallel_types::{
    CreateTaskGroupRequest, ErrorObject, GroupEvent, Metadata, MetadataValue, Processor, RunInput,
    RunOutput, RunStatus, TaskRun, TaskSpec,
};
use serde_json::value::RawValue;
use tokio::sync::{Notify, mpsc};

use crate::cli::RunArgs;
use crate::progress::{Counts, Progress, ProgressMode};
use crate::state::{Fingerprint, Fnv64, RowSet, STATE_VERSION, State, state_path};
use crate::{
    ColumnMap, Error, InputFormat, InputReader, OutputFormat, OutputWriter, Record, Row, Task,
    TaskSource,
};

/// A sweep starts once this many completed rows wait for one...
const SWEEP_MIN: usize = 1000;
/// ...or once this long has passed since the last sweep.
const SWEEP_EVERY: Duration = Duration::from_millis(200);
/// At most this many runs are read per sweep (bounds the memory a sweep holds).
const SWEEP_CAP: usize = 5000;
/// How many runs a sweep's stream may read ahead of the sweep.
const SWEEP_READ_AHEAD: usize = 256;

/// The metadata key tagging each run with its batch token and row.
pub(crate) const CLIENT_TAG: &str = parallel_client::CLIENT_TAG_KEY;

/// Where the runs go.
pub(crate) struct Backend {
    pub(crate) client: Client,
    /// `embedded-emulator`, or the base URL.
    pub(crate) label: String,
    pub(crate) embedded: bool,
}

/// What a finished (or interrupted) `run` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Summary {
    pub(crate) group_id: String,
    pub(crate) output: PathBuf,
    pub(crate) total: u64,
    pub(crate) completed: u64,
    pub(crate) failed: u64,
    pub(crate) submitted_now: u64,
    pub(crate) written_now: u64,
    pub(crate) resumed: bool,
    pub(crate) seconds: f64,
    pub(crate) rows_per_second: f64,
    pub(crate) complete: bool,
    pub(crate) duplicate_runs: u64,
}

/// The run input of one row, once known.
struct Pending {
    input: Option<Arc<RawValue>>,
}

/// A result download: the run's output and, after a restart, its input.
struct Fetched {
    row: u64,
    run: TaskRun,
    input: Option<Arc<RawValue>>,
    output: Option<Box<RawValue>>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What an add-runs request gives back: its rows, their inputs, and the run ids or the error.
type Submitted = (
    Vec<Row>,
    Vec<Arc<RawValue>>,
    Result<Vec<String>, parallel_client::Error>,
);

enum ReaderMsg {
    Chunk(Vec<Row>),
    Failed(Error),
}

enum EventMsg {
    /// A run of ours (its row) changed state.
    Run(u64, Box<TaskRun>),
    /// The stream ended (the group had no active run).
    Ended,
    Failed(parallel_client::Error),
}

/// Parses `"<token>:<row>"` when the token is ours.
fn tag_row(metadata: Option<&Metadata>, token: &str) -> Option<u64> {
    let tag = metadata?.get(CLIENT_TAG)?.as_str()?;
    let (tag_token, row) = parallel_client::add_runs::parse_client_tag(tag)?;
    (tag_token == token).then_some(row)
}

/// The run without what this command never reads (metadata, timestamps, warnings): rows wait
/// in queues by the tens of thousands, and a full run costs several allocations each.
fn slim(run: TaskRun) -> TaskRun {
    lean_run(
        run.run_id,
        run.status,
        run.is_active,
        run.processor,
        run.error,
    )
}

/// A completed run known only by its id (a completion event whose row a sweep had not read).
fn completed_run(run_id: Box<str>, processor: &Processor) -> TaskRun {
    lean_run(
        run_id.into_string(),
        RunStatus::Completed,
        false,
        processor.clone(),
        None,
    )
}

/// A run holding only what this command reads.
fn lean_run(
    run_id: String,
    status: RunStatus,
    is_active: bool,
    processor: Processor,
    error: Option<ErrorObject>,
) -> TaskRun {
    TaskRun {
        run_id,
        interaction_id: String::new(),
        status,
        is_active,
        processor,
        created_at: None,
        modified_at: None,
        warnings: None,
        error,
        metadata: None,
        taskgroup_id: None,
    }
}

fn is_final(status: &RunStatus) -> bool {
    matches!(
        status,
        RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled | RunStatus::ActionRequired
    )
}

fn new_token() -> String {
    format!("{:016x}", fastrand::u64(..))
}

fn parse_metadata(items: &[String]) -> Result<Metadata, Error> {
    let mut metadata = Metadata::new();
    for item in items {
        let Some((key, value)) = item.split_once('=') else {
            return Err(Error::usage(format!(
                "--metadata `{item}`: expected KEY=VALUE"
            )));
        };
        if key == CLIENT_TAG {
            return Err(Error::usage(format!(
                "--metadata: the key `{CLIENT_TAG}` is reserved for resuming"
            )));
        }
        metadata.insert(key.to_owned(), MetadataValue::String(value.to_owned()));
    }
    Ok(metadata)
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

/// The JSON content of a run output: the object for JSON output, a string for text.
pub(crate) fn output_content(output: &RunOutput) -> Option<Box<RawValue>> {
    match output {
        RunOutput::Json(json) => serde_json::value::to_raw_value(&json.content).ok(),
        RunOutput::Text(text) => serde_json::value::to_raw_value(&text.content).ok(),
        RunOutput::Other(raw) => raw
            .get("content")
            .and_then(|c| serde_json::value::to_raw_value(c).ok()),
    }
}

pub(crate) fn error_message(run: &TaskRun) -> Option<String> {
    match (&run.status, &run.error) {
        (RunStatus::Completed, _) => None,
        (_, Some(error)) => Some(error.message.clone()),
        (RunStatus::ActionRequired, None) => {
            Some("the run needs action on the Parallel platform".to_owned())
        }
        (status, None) => Some(format!("the run ended {}", status.as_str())),
    }
}

/// Runs the `run` command to completion, interruption or error.
#[allow(clippy::too_many_lines)]
pub(crate) async fn run(
    args: &RunArgs,
    backend: &Backend,
    mode: ProgressMode,
    resume_command: &str,
) -> Result<Summary, Error> {
    let started = Instant::now();
    let input_format = InputFormat::resolve(&args.input, args.format)?;
    let output_format = OutputFormat::resolve(&args.output, args.output_format);
    let map = args
        .input_columns
        .as_deref()
        .map(ColumnMap::parse)
        .transpose()?;
    let task = Task::build(&task_source(args))?;
    let spec: TaskSpec = serde_json::from_value(task.spec.clone())
        .map_err(|e| Error::usage(format!("the task spec is not valid: {e}")))?;
    let processor: Processor = args
        .processor
        .parse()
        .map_err(|_| Error::usage(format!("unknown processor `{}`", args.processor)))?;
    let user_metadata = parse_metadata(&args.metadata)?;
    if args.chunk_size == 0 || args.chunk_size > 1000 {
        return Err(Error::usage("--chunk-size must be between 1 and 1000"));
    }
    let chunk_size = usize::from(args.chunk_size);
    let max_in_flight = args.max_in_flight.max(chunk_size);

    // Pass 1: validate every row (a bad row stops us before anything is submitted), count
    // them for the ETA, and fingerprint the file so a resume can tell it did not change.
    let (total, fingerprint, input_columns) = {
        let path = args.input.clone();
        let map = map.clone();
        tokio::task::spawn_blocking(
            move || -> Result<(u64, Fingerprint, Option<Vec<String>>), Error> {
                let mut reader = InputReader::open(&path, input_format, map.as_ref())?;
                let columns = reader.columns().map(<[String]>::to_vec);
                let mut total = 0u64;
                while reader.next_row()?.is_some() {
                    total += 1;
                }
                Ok((total, reader.fingerprint(), columns))
            },
        )
        .await
        .map_err(|e| Error::state(format!("the input reader stopped: {e}")))??
    };

    let task_hash = {
        let mut h = Fnv64::default();
        h.update(task.spec.to_string().as_bytes());
        h.update(b"\0");
        h.update(args.processor.as_bytes());
        h.update(b"\0");
        h.update(args.input_columns.as_deref().unwrap_or("").as_bytes());
        h.update(b"\0");
        h.update(format!("{output_format:?}").as_bytes());
        h.hex()
    };

    // The state: load it (resume) or create it before anything is submitted.
    let state_file = state_path(&args.output);
    let mut resumed = false;
    // A job that never got a row accepted (say the API refused the processor) holds nothing
    // worth keeping: a rerun with corrected options starts over instead of refusing.
    let loaded = State::load(&state_file)?.filter(|s| {
        let fresh_start = s.submitted.is_empty() && s.written.is_empty();
        !(fresh_start && (s.input != fingerprint || s.task_hash != task_hash))
    });
    let mut state = if let Some(mut state) = loaded {
        if state.input != fingerprint {
            return Err(Error::state(format!(
                "{} changed since this job started (its state is in {}); restore the \
                 original input, or write to another output file",
                args.input.display(),
                state_file.display()
            )));
        }
        if state.task_hash != task_hash {
            return Err(Error::state(format!(
                "the task (spec, processor, columns or output format) differs from the one \
                 that started {}; rerun with the same options, or write to another output file",
                args.output.display()
            )));
        }
        if state.complete {
            return Ok(Summary {
                group_id: state.group_id.clone().unwrap_or_default(),
                output: args.output.clone(),
                total,
                completed: state.completed,
                failed: state.failed,
                submitted_now: 0,
                written_now: 0,
                resumed: true,
                seconds: 0.0,
                rows_per_second: 0.0,
                complete: true,
                duplicate_runs: 0,
            });
        }
        if state.backend != backend.label {
            if state.backend == "embedded-emulator" && backend.embedded {
                // The embedded emulator died with the previous process; its runs are
                // gone. Keep what was written and send the other rows to a new group.
                state.group_id = None;
                state.submitted.clear();
                state.token = new_token();
            } else {
                return Err(Error::state(format!(
                    "{} was started against {}, not {}; rerun with the same backend",
                    args.output.display(),
                    state.backend,
                    backend.label
                )));
            }
        } else if state.backend == "embedded-emulator" {
            state.group_id = None;
            state.submitted.clear();
            state.token = new_token();
        }
        if let (Some(wanted), Some(have)) = (&args.group, &state.group_id)
            && wanted != have
        {
            return Err(Error::state(format!(
                "{} belongs to group {have}, not {wanted}",
                args.output.display()
            )));
        }
        resumed = true;
        state
    } else {
        let exists =
            std::fs::metadata(&args.output).is_ok_and(|m| m.len() > 0) && !state_file.exists();
        if exists && !args.force {
            return Err(Error::usage(format!(
                "{} already exists and has no state file beside it; pass --force to \
                 replace it, or choose another output file",
                args.output.display()
            )));
        }
        let state = State {
            version: STATE_VERSION,
            token: new_token(),
            group_id: args.group.clone(),
            backend: backend.label.clone(),
            input: fingerprint.clone(),
            task_hash: task_hash.clone(),
            total_rows: total,
            output_len: 0,
            written: Vec::new(),
            submitted: Vec::new(),
            completed: 0,
            failed: 0,
            complete: false,
        };
        state.save(&state_file)?;
        state
    };

    let mut writer = OutputWriter::open(
        &args.output,
        output_format,
        state.output_len,
        input_columns.as_deref(),
        task.output_fields.as_deref(),
    )?;
    let mut written = RowSet::from_ranges(&state.written);
    let mut submitted = RowSet::from_ranges(&state.submitted);
    let mut counts = Counts {
        total,
        submitted: 0,
        completed: state.completed,
        failed: state.failed,
    };
    let client = &backend.client;

    let mut group_created_now = false;
    let group_id = if let Some(id) = state.group_id.clone() {
        id
    } else {
        group_created_now = true;
        let mut metadata = user_metadata.clone();
        metadata.insert(
            "batch_token".into(),
            MetadataValue::String(state.token.clone()),
        );
        let group = client
            .create_group(CreateTaskGroupRequest {
                metadata: Some(metadata),
            })
            .await
            .map_err(|e| Error::api("cannot create the task group", e))?;
        state.group_id = Some(group.taskgroup_id.clone());
        state.save(&state_file)?;
        group.taskgroup_id
    };
    let token = state.token.clone();

    let mut progress = Progress::new(mode, counts);
    let mut pending: HashMap<u64, Pending> = HashMap::new();
    let mut fetch_queue: VecDeque<(u64, TaskRun)> = VecDeque::new();
    let mut queued = RowSet::new();
    // Results come in two ways. Rows a sweep of the runs stream has not read yet ("ahead")
    // are collected in bulk by the next sweep, which starts at `frontier`. Rows a sweep has
    // read while still running ("swept") are fetched one by one when their completion event
    // arrives.
    let mut swept = RowSet::new();
    // Only the run id is kept for rows "ahead": up to `--max-in-flight` of them wait here, and
    // whole runs (metadata, timestamps) would make this the largest structure of the process.
    // Each entry also records how many sweeps had started when its event came: a sweep that
    // reads to the end of the group accounts only for the rows it could have seen.
    let mut ahead: HashMap<u64, (Box<str>, u64)> = HashMap::new();
    let mut sweeps_started = 0u64;
    let mut sweep_generation = 0u64;
    let mut frontier: Option<String> = None;
    let mut duplicate_runs = 0u64;

    // Resume: the group's run list says which rows reached the server, whatever the state
    // file had time to record. Rows that finished but were not written are queued now.
    if resumed && !group_created_now {
        let mut seen = RowSet::new();
        frontier = scan_group(client, &group_id, &token, |row, run| {
            if !seen.insert(row) {
                duplicate_runs += 1;
                return;
            }
            submitted.insert(row);
            swept.insert(row);
            if written.contains(row) {
                return;
            }
            pending.insert(row, Pending { input: None });
            if is_final(&run.status) && queued.insert(row) {
                fetch_queue.push_back((row, slim(run)));
            }
        })
        .await?;
        if !written.is_empty() || !submitted.is_empty() {
            progress.println(&format!(
                "Resuming group {group_id}: {} of {total} rows written, {} submitted.",
                written.len(),
                submitted.len()
            ));
        }
    }
    counts.submitted = submitted.len();
    let submitted_at_start = submitted.len();
    let written_at_start = written.len();

    // The reader thread: rows never submitted nor written, in chunks.
    let (reader_tx, mut reader_rx) = mpsc::channel::<ReaderMsg>(2);
    {
        let skip = {
            let mut skip = submitted.clone();
            for [start, end] in written.ranges() {
                for row in start..end {
                    skip.insert(row);
                }
            }
            skip
        };
        let path = args.input.clone();
        let map = map.clone();
        std::thread::spawn(move || {
            let send = |msg| reader_tx.blocking_send(msg).is_ok();
            let mut reader = match InputReader::open(&path, input_format, map.as_ref()) {
                Ok(r) => r,
                Err(e) => {
                    send(ReaderMsg::Failed(e));
                    return;
                }
            };
            let mut chunk = Vec::with_capacity(chunk_size);
            loop {
                match reader.next_row() {
                    Ok(Some(row)) => {
                        if skip.contains(row.index) {
                            continue;
                        }
                        // Tags are `first_position + i`: a chunk holds consecutive rows only.
                        if chunk
                            .last()
                            .is_some_and(|last: &Row| last.index + 1 != row.index)
                            && !send(ReaderMsg::Chunk(std::mem::replace(
                                &mut chunk,
                                Vec::with_capacity(chunk_size),
                            )))
                        {
                            return;
                        }
                        chunk.push(row);
                        if chunk.len() == chunk_size
                            && !send(ReaderMsg::Chunk(std::mem::replace(
                                &mut chunk,
                                Vec::with_capacity(chunk_size),
                            )))
                        {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        send(ReaderMsg::Failed(e));
                        return;
                    }
                }
            }
            if !chunk.is_empty() {
                send(ReaderMsg::Chunk(chunk));
            }
        });
    }
    let mut reader_done = false;

    // The events follower: reconnects after each stream end once new runs were added.
    let kick = Arc::new(Notify::new());
    let (event_tx, mut event_rx) = mpsc::channel::<EventMsg>(4096);
    let follower = {
        let client = client.clone();
        let group_id = group_id.clone();
        let token = token.clone();
        let kick = Arc::clone(&kick);
        tokio::spawn(async move {
            let mut last_event_id: Option<String> = None;
            loop {
                let mut options = GroupEventsOptions::default();
                options.last_event_id.clone_from(&last_event_id);
                let mut stream = client.group_events(&group_id, options);
                let mut failed = false;
                while let Some(event) = stream.next().await {
                    match event {
                        Ok(GroupEvent::TaskRunState(event)) => {
                            if let Some(id) = event.event_id {
                                last_event_id = Some(id);
                            }
                            let Some(row) = tag_row(event.run.metadata.as_ref(), &token) else {
                                continue;
                            };
                            if event_tx
                                .send(EventMsg::Run(row, Box::new(slim(event.run))))
                                .await
                                .is_err()
                            {
                                return;
                            }
                        }
                        Ok(GroupEvent::TaskGroupStatus(event)) => {
                            if !event.event_id.is_empty() {
                                last_event_id = Some(event.event_id);
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            failed = true;
                            if event_tx.send(EventMsg::Failed(e)).await.is_err() {
                                return;
                            }
                            break;
                        }
                    }
                }
                if failed {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                if event_tx.send(EventMsg::Ended).await.is_err() {
                    return;
                }
                kick.notified().await;
            }
        })
    };

    // Ctrl-C: stop submitting, keep what was written.
    let (interrupt_tx, mut interrupt_rx) = mpsc::channel::<()>(1);
    let interrupt_task = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = interrupt_tx.send(()).await;
        }
    });

    let mut submit: Option<BoxFuture<Submitted>> = None;
    let mut sweep: Option<BoxFuture<Result<Sweep, Error>>> = None;
    let mut last_sweep = Instant::now();
    let mut fetches: FuturesUnordered<BoxFuture<Result<Fetched, (u64, parallel_client::Error)>>> =
        FuturesUnordered::new();
    let mut checkpoint = tokio::time::interval(Duration::from_secs(1));
    checkpoint.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stream_errors = 0u32;
    let mut idle_sweeps = 0u32;
    let mut interrupted = false;
    let mut failure: Option<Error> = None;

    loop {
        // Start result downloads up to the limit.
        while fetches.len() < args.fetch_concurrency.max(1) {
            let Some((row, run)) = fetch_queue.pop_front() else {
                break;
            };
            let input = pending.get(&row).and_then(|p| p.input.clone());
            if input.is_some() && run.status != RunStatus::Completed {
                // A failed run with its input at hand: nothing to download.
                let ready = Fetched {
                    row,
                    run,
                    input,
                    output: None,
                };
                write_fetched(&mut writer, &ready, &mut written, &mut counts)?;
                pending.remove(&row);
                continue;
            }
            let client = client.clone();
            fetches.push(Box::pin(async move {
                let output = if run.status == RunStatus::Completed {
                    match client
                        .run_result(&run.run_id, Duration::from_secs(60))
                        .await
                    {
                        Ok(result) => output_content(&result.output),
                        Err(e) => return Err((row, e)),
                    }
                } else {
                    None
                };
                let input = match input {
                    Some(input) => Some(input),
                    None => match client.run_input(&run.run_id).await {
                        Ok(run_input) => serde_json::value::to_raw_value(&run_input.input)
                            .ok()
                            .map(Arc::from),
                        Err(e) => return Err((row, e)),
                    },
                };
                Ok(Fetched {
                    row,
                    run,
                    input,
                    output,
                })
            }));
        }

        if sweep.is_none()
            && !ahead.is_empty()
            && (ahead.len() >= SWEEP_MIN || last_sweep.elapsed() >= SWEEP_EVERY)
        {
            sweep_generation = sweeps_started;
            sweeps_started += 1;
            sweep = Some(Box::pin(sweep_group(
                client.clone(),
                group_id.clone(),
                token.clone(),
                frontier.clone(),
                SWEEP_CAP,
            )));
        }
        let work_left = !reader_done
            || submit.is_some()
            || !pending.is_empty()
            || !fetches.is_empty()
            || sweep.is_some();
        if !work_left || interrupted || failure.is_some() {
            break;
        }
        let can_take_chunk =
            !reader_done && submit.is_none() && pending.len() + chunk_size <= max_in_flight;

        tokio::select! {
            biased;
            Some(()) = interrupt_rx.recv() => {
                interrupted = true;
            }
            Some(done) = fetches.next(), if !fetches.is_empty() => {
                match done {
                    Ok(done) => {
                        write_fetched(&mut writer, &done, &mut written, &mut counts)?;
                        pending.remove(&done.row);
                    }
                    Err((row, e)) => {
                        failure = Some(Error::api(format!("cannot download the result of row {row}"), e));
                    }
                }
            }
            Some(msg) = event_rx.recv() => {
                match msg {
                    EventMsg::Run(row, run) => {
                        stream_errors = 0;
                        if is_final(&run.status) && !written.contains(row) {
                            if run.status == RunStatus::Completed && !swept.contains(row) {
                                ahead.insert(row, (run.run_id.into_boxed_str(), sweeps_started));
                            } else if queued.insert(row) {
                                fetch_queue.push_back((row, *run));
                            }
                        }
                    }
                    EventMsg::Ended => {
                        stream_errors = 0;
                        // The group has no active run. Rows still pending with nothing in flight
                        // mean events were missed: look them up in the group's run list.
                        if submit.is_none() && !pending.is_empty() && fetch_queue.is_empty() && fetches.is_empty() && ahead.is_empty() && sweep.is_none() {
                            let before = queued.len();
                            scan_group(client, &group_id, &token, |row, run| {
                                if pending.contains_key(&row) && is_final(&run.status) && queued.insert(row) {
                                    fetch_queue.push_back((row, slim(run)));
                                }
                            }).await?;
                            if queued.len() == before {
                                idle_sweeps += 1;
                                tokio::time::sleep(Duration::from_millis(200 * u64::from(idle_sweeps.min(10)))).await;
                            } else {
                                idle_sweeps = 0;
                            }
                            kick.notify_one();
                        }
                    }
                    EventMsg::Failed(e) => {
                        stream_errors += 1;
                        if stream_errors >= 5 {
                            failure = Some(Error::api("the group's event stream keeps failing", e));
                        }
                    }
                }
            }
            Some((rows, inputs, result)) = async { match submit.as_mut() { Some(f) => Some(f.await), None => None } }, if submit.is_some() => {
                submit = None;
                match result {
                    Ok(run_ids) => {
                        if run_ids.len() != rows.len() {
                            failure = Some(Error::api_message_only(
                                "add runs",
                                format!("the API returned {} run ids for {} inputs", run_ids.len(), rows.len()),
                            ));
                        }
                        for row in &rows {
                            submitted.insert(row.index);
                        }
                        counts.submitted = submitted.len();
                        kick.notify_one();
                    }
                    Err(e) if e.is_outcome_unknown() || e.is_timeout() || e.is_connection() || e.status().is_some_and(|s| s.is_server_error()) => {
                        // The request may or may not have created the runs: ask the group.
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        let mut present = RowSet::new();
                        scan_group(client, &group_id, &token, |row, _| { present.insert(row); }).await?;
                        let mut missing = Vec::new();
                        let mut missing_inputs = Vec::new();
                        for (row, input) in rows.into_iter().zip(inputs) {
                            if present.contains(row.index) {
                                submitted.insert(row.index);
                            } else {
                                missing.push(row);
                                missing_inputs.push(input);
                            }
                        }
                        counts.submitted = submitted.len();
                        kick.notify_one();
                        if !missing.is_empty() {
                            progress.println(&format!("add runs failed ({e}); retrying {} rows", missing.len()));
                            submit = Some(add_runs_future(client, &group_id, &spec, missing, missing_inputs, &processor, &user_metadata, &token));
                        }
                    }
                    Err(e) => {
                        for row in &rows {
                            pending.remove(&row.index);
                        }
                        failure = Some(Error::api(
                            format!("the API refused rows {}..={}", rows.first().map_or(0, |r| r.index), rows.last().map_or(0, |r| r.index)),
                            e,
                        ));
                    }
                }
            }
            msg = reader_rx.recv(), if can_take_chunk => {
                match msg {
                    Some(ReaderMsg::Chunk(rows)) => {
                        let mut inputs = Vec::with_capacity(rows.len());
                        for row in &rows {
                            let raw: Arc<RawValue> = Arc::from(
                                RawValue::from_string(row.input.clone())
                                    .map_err(|e| Error::input(&args.input, row.line, None, e.to_string()))?,
                            );
                            pending.insert(row.index, Pending { input: Some(Arc::clone(&raw)) });
                            inputs.push(raw);
                        }
                        submit = Some(add_runs_future(client, &group_id, &spec, rows, inputs, &processor, &user_metadata, &token));
                    }
                    Some(ReaderMsg::Failed(e)) => failure = Some(e),
                    None => reader_done = true,
                }
            }
            done = async { match sweep.as_mut() { Some(f) => f.await, None => std::future::pending().await } }, if sweep.is_some() => {
                sweep = None;
                last_sweep = Instant::now();
                let done = done?;
                frontier = done.cursor;
                for (row, run, output) in done.runs {
                    swept.insert(row);
                    let reported_done = ahead.remove(&row);
                    if written.contains(row) {
                        continue;
                    }
                    if !is_final(&run.status) {
                        // Read while still running. If its completion event already came (the
                        // sweep read an older state), download it now; otherwise that event
                        // will queue the download.
                        if let Some((run_id, _)) = reported_done
                            && queued.insert(row)
                        {
                            fetch_queue.push_back((row, completed_run(run_id, &processor)));
                        }
                        continue;
                    }
                    let input = pending.get(&row).and_then(|p| p.input.clone());
                    if input.is_some() && (output.is_some() || run.status != RunStatus::Completed) {
                        write_fetched(&mut writer, &Fetched { row, run, input, output }, &mut written, &mut counts)?;
                        pending.remove(&row);
                    } else if queued.insert(row) {
                        fetch_queue.push_back((row, run));
                    }
                }
                if !done.capped {
                    // The sweep read to the end of the group: a row reported done before it
                    // started and still "ahead" was not there (it cannot happen with a
                    // consistent server); fetch it directly. Rows reported while it read are
                    // left to the next sweep: sending them all to one-by-one downloads made
                    // the download queue, and the time the job took, grow with the group.
                    let generation = sweep_generation;
                    ahead.retain(|&row, (run_id, seen_at)| {
                        if *seen_at > generation {
                            return true;
                        }
                        swept.insert(row);
                        if queued.insert(row) {
                            fetch_queue.push_back((row, completed_run(std::mem::take(run_id), &processor)));
                        }
                        false
                    });
                }
            }
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(last_sweep + SWEEP_EVERY)), if sweep.is_none() && !ahead.is_empty() => {}
            _ = checkpoint.tick() => {
                save_checkpoint(&mut writer, &mut state, &written, &submitted, &counts, &state_file)?;
            }
        }
        if fetches.is_empty() && event_rx.is_empty() {
            writer.flush()?;
        }
        progress.update(&counts);
    }

    follower.abort();
    interrupt_task.abort();
    if failure.is_none() && !interrupted && written.len() < total {
        // Every row counted in the first pass must have been read, submitted and written.
        // Anything else (the file shrank while the batch ran, the reader died) must not end
        // as a success with rows missing.
        failure = Some(Error::state(format!(
            "the input ended early: {} of the {total} rows counted at the start were read and \
             written (did {} change while the batch ran?)",
            written.len(),
            args.input.display()
        )));
    }
    let complete = written.len() >= total;
    state.complete = complete && failure.is_none() && !interrupted;
    save_checkpoint(
        &mut writer,
        &mut state,
        &written,
        &submitted,
        &counts,
        &state_file,
    )?;
    progress.finish(&counts);

    if let Some(error) = failure {
        progress.println(&format!(
            "Stopped. {} of {total} rows are in {}. Fix the cause, then run the same command to resume:\n  {resume_command}",
            written.len(),
            args.output.display()
        ));
        return Err(error);
    }
    if interrupted {
        let note = if backend.embedded {
            " (the embedded emulator stops with this process: rows not yet written will be sent again to a new group)"
        } else {
            " (submitted runs keep running on the server)"
        };
        eprintln!(
            "Interrupted. {} of {total} rows are in {}{note}. To resume, run the same command again:\n  {resume_command}",
            written.len(),
            args.output.display()
        );
        return Err(Error::interrupted());
    }
    let seconds = started.elapsed().as_secs_f64();
    let written_now = written.len() - written_at_start;
    #[allow(clippy::cast_precision_loss)]
    let rows_per_second = if seconds > 0.0 {
        written_now as f64 / seconds
    } else {
        0.0
    };
    Ok(Summary {
        group_id,
        output: args.output.clone(),
        total,
        completed: counts.completed,
        failed: counts.failed,
        submitted_now: submitted.len().saturating_sub(submitted_at_start),
        written_now,
        resumed,
        seconds,
        rows_per_second,
        complete,
        duplicate_runs,
    })
}

fn write_fetched(
    writer: &mut OutputWriter,
    fetched: &Fetched,
    written: &mut RowSet,
    counts: &mut Counts,
) -> Result<(), Error> {
    if written.contains(fetched.row) {
        return Ok(());
    }
    let null;
    let input: &RawValue = if let Some(input) = &fetched.input {
        input
    } else {
        null = RawValue::from_string("null".to_owned()).map_err(|e| Error::state(e.to_string()))?;
        &null
    };
    let error = error_message(&fetched.run);
    writer.write(&Record {
        row: fetched.row,
        input,
        output: fetched.output.as_deref(),
        run_id: &fetched.run.run_id,
        status: fetched.run.status.as_str(),
        error: error.as_deref(),
    })?;
    written.insert(fetched.row);
    if fetched.run.status == RunStatus::Completed {
        counts.completed += 1;
    } else {
        counts.failed += 1;
    }
    Ok(())
}

fn save_checkpoint(
    writer: &mut OutputWriter,
    state: &mut State,
    written: &RowSet,
    submitted: &RowSet,
    counts: &Counts,
    path: &std::path::Path,
) -> Result<(), Error> {
    // Order matters: the output must be on disk up to `output_len` before the state says so.
    state.output_len = writer.sync()?;
    state.written = written.ranges();
    state.submitted = submitted.ranges();
    state.completed = counts.completed;
    state.failed = counts.failed;
    state.save(path)
}

/// One add-runs request for consecutive rows. The client tags each input
/// `client_tag = "<token>:<row>"` and, if the answer is lost, looks the tags up in the group
/// before sending again, so no row is submitted twice.
#[allow(clippy::too_many_arguments)]
fn add_runs_future(
    client: &Client,
    group_id: &str,
    spec: &TaskSpec,
    rows: Vec<Row>,
    inputs: Vec<Arc<RawValue>>,
    processor: &Processor,
    metadata: &Metadata,
    token: &str,
) -> BoxFuture<Submitted> {
    let client = client.clone();
    let group_id = group_id.to_owned();
    let spec = spec.clone();
    let processor = processor.clone();
    let metadata = (!metadata.is_empty()).then(|| metadata.clone());
    let token = token.to_owned();
    Box::pin(async move {
        let first = rows.first().map_or(0, |r| r.index);
        let run_inputs: Vec<RunInput> = inputs
            .iter()
            .map(|raw| {
                // The raw text came from our own JSON encoder or a validated JSONL line.
                let value: serde_json::Value =
                    serde_json::from_str(raw.get()).unwrap_or(serde_json::Value::Null);
                let input = RunInput::new(value, processor.clone());
                match &metadata {
                    Some(m) => input.with_metadata(m.clone()),
                    None => input,
                }
            })
            .collect();
        let request = parallel_client::AddRuns::new(run_inputs)
            .default_task_spec(spec)
            .token(token)
            .first_position(first);
        let result = client.add_runs(&group_id, request).await;
        (rows, inputs, result.map(|added| added.run_ids))
    })
}

/// Streams the group's runs and calls `f(row, run)` for each run tagged with `token`;
/// returns the cursor after the last run.
async fn scan_group(
    client: &Client,
    group_id: &str,
    token: &str,
    mut f: impl FnMut(u64, TaskRun),
) -> Result<Option<String>, Error> {
    let mut stream = client.group_runs(group_id, GroupRunsOptions::default());
    let mut last = None;
    while let Some(run) = stream.next().await {
        let what = || format!("cannot list the runs of {group_id}");
        let event = run
            .and_then(|run| run.to_event())
            .map_err(|e| Error::api(what(), e))?;
        if event.event_id.is_some() {
            last = event.event_id;
        }
        if let Some(row) = tag_row(event.run.metadata.as_ref(), token) {
            f(row, event.run);
        }
    }
    Ok(last)
}

/// What one sweep of the runs stream read.
struct Sweep {
    /// Our runs, in stream order, with the output of completed ones.
    runs: Vec<(u64, TaskRun, Option<Box<RawValue>>)>,
    /// The cursor after the last run read.
    cursor: Option<String>,
    /// Whether the sweep stopped at the cap rather than at the end of the group.
    capped: bool,
}

/// Reads the group's runs after `cursor`, with outputs, up to `cap` runs.
///
/// Downloading finished results this way costs one streamed request per thousands of runs
/// instead of one request per run, which is what lets a fast backend go at full speed.
async fn sweep_group(
    client: Client,
    group_id: String,
    token: String,
    cursor: Option<String>,
    cap: usize,
) -> Result<Sweep, Error> {
    // Only the run and the raw output content are decoded: the basis (citations, reasoning)
    // is skipped without allocating, and the content is copied as it came.
    #[derive(serde::Deserialize)]
    struct SweepEvent<'a> {
        #[serde(default)]
        event_id: Option<String>,
        run: TaskRun,
        #[serde(borrow, default)]
        output: Option<ContentOnly<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct ContentOnly<'a> {
        #[serde(borrow)]
        content: &'a RawValue,
    }
    // A sweep often stops early (at the cap, or before a run still going); a small read-ahead
    // still overlaps reading with decoding without fetching much that is thrown away.
    let options = GroupRunsOptions {
        include_output: true,
        last_event_id: cursor.clone(),
        read_ahead: SWEEP_READ_AHEAD,
        ..GroupRunsOptions::default()
    };
    let mut stream = client.group_runs(&group_id, options);
    let mut sweep = Sweep {
        runs: Vec::new(),
        cursor,
        capped: false,
    };
    let mut read = 0usize;
    let mut finished = 0usize;
    while let Some(run) = stream.next().await {
        let run = run.map_err(|e| Error::api(format!("cannot read the runs of {group_id}"), e))?;
        let event: SweepEvent<'_> = parallel_types::from_json_slice(run.json()).map_err(|e| {
            Error::api_message_only(
                format!("cannot read the runs of {group_id}"),
                format!("undecodable run event: {e}"),
            )
        })?;
        if let Some(row) = tag_row(event.run.metadata.as_ref(), &token) {
            if is_final(&event.run.status) {
                finished += 1;
            } else if finished > 0 {
                // Stop before the first run still going, once something was collected: the
                // next sweep starts here, so runs are read when they are done. (A straggler
                // at the front is stepped over instead; its completion event will queue a
                // direct download.)
                sweep.capped = true;
                break;
            }
            let output = event.output.map(|o| o.content.to_owned());
            sweep.runs.push((row, slim(event.run), output));
        }
        if event.event_id.is_some() {
            sweep.cursor = event.event_id;
        }
        read += 1;
        if read >= cap {
            sweep.capped = true;
            break;
        }
    }
    Ok(sweep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_ours_only() {
        let mut m = Metadata::new();
        m.insert(CLIENT_TAG.into(), MetadataValue::String("abc:42".into()));
        assert_eq!(tag_row(Some(&m), "abc"), Some(42));
        assert_eq!(tag_row(Some(&m), "abd"), None);
        m.insert(CLIENT_TAG.into(), MetadataValue::String("abc:x".into()));
        assert_eq!(tag_row(Some(&m), "abc"), None);
        assert_eq!(tag_row(None, "abc"), None);
    }

    #[test]
    fn metadata_flags_parse_and_reserve_the_tag() {
        let m = parse_metadata(&["team=growth".into(), "q=a=b".into()]).unwrap();
        assert_eq!(m["q"], MetadataValue::String("a=b".into()));
        assert!(parse_metadata(&["oops".into()]).unwrap_err().is_usage());
        assert!(
            parse_metadata(&["client_tag=x".into()])
                .unwrap_err()
                .is_usage()
        );
    }
}
