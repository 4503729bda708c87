//! An emulator served from this test process, and helpers to run the binary and read files.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use parallel_emulator::{Emulator, EmulatorHandle};

/// An emulator on its own runtime, so tests can block on child processes meanwhile.
pub(crate) struct Emu {
    pub handle: EmulatorHandle,
    runtime: tokio::runtime::Runtime,
}

impl Emu {
    pub(crate) fn start(fail_rate: f64, time_scale: f64) -> Self {
        Self::start_at(fail_rate, time_scale, "127.0.0.1:0".parse().unwrap())
    }

    /// An emulator on `addr` (say the address of one that was stopped: a server restarted
    /// empty).
    pub(crate) fn start_at(fail_rate: f64, time_scale: f64, addr: std::net::SocketAddr) -> Self {
        Self::start_with(
            Emulator::builder()
                .listen(addr)
                .time_scale(time_scale)
                .fail_rate(fail_rate),
        )
    }

    /// An instant emulator that answers only requests with the API key `key`.
    pub(crate) fn start_requiring_key(key: &str) -> Self {
        Self::start_with(
            Emulator::builder()
                .listen("127.0.0.1:0".parse().unwrap())
                .time_scale(0.0)
                .api_key(key),
        )
    }

    /// An emulator with these settings (seed 11 unless they set another).
    pub(crate) fn start_with(builder: parallel_emulator::EmulatorBuilder) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let handle = runtime.block_on(builder.seed(11).start()).unwrap();
        Self { handle, runtime }
    }

    /// Runs `future` (a client of this emulator, say) on the emulator's runtime.
    pub(crate) fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        self.handle.local_addr()
    }

    pub(crate) fn url(&self) -> String {
        self.handle.base_url()
    }

    pub(crate) fn runs_created(&self) -> u64 {
        self.handle.run_count()
    }
}

/// The binary with a clean environment (no key: every test names its server).
pub(crate) fn batch() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parallel-batch"));
    cmd.env_remove("PARALLEL_API_KEY")
        .env_remove("PARALLEL_BASE_URL")
        .stdin(Stdio::null());
    cmd
}

/// `parallel-batch --base-url <emu> [global flags] run <input> -o <output>`; add the run's
/// own flags to the result.
pub(crate) fn run_command(emu: &Emu, global: &[&str], input: &Path, output: &Path) -> Command {
    let mut cmd = batch();
    cmd.args(["--base-url", &emu.url()])
        .args(global)
        .arg("run")
        .arg(input)
        .arg("-o")
        .arg(output);
    cmd
}

/// `parallel-batch --base-url <base_url> --quiet results <group> -o <output>`.
pub(crate) fn results_command(base_url: &str, group: &str, output: &Path) -> Command {
    let mut cmd = batch();
    cmd.args(["--base-url", base_url, "--quiet", "results", group, "-o"])
        .arg(output);
    cmd
}

pub(crate) fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub(crate) const COLUMNS: &str =
    "ceo_name: Full name of the current CEO, founded_year: Year founded";

/// Small chunks and a small window: on a slow-enough emulator, a job that can be stopped
/// part-way.
pub(crate) const SLOW: [&str; 6] = [
    "--columns",
    COLUMNS,
    "--chunk-size",
    "100",
    "--max-in-flight",
    "300",
];

pub(crate) fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(crate) fn write_csv(dir: &Path, rows: u64) -> PathBuf {
    let path = dir.join("companies.csv");
    let mut text = String::from("name,website\n");
    for i in 0..rows {
        // A comma and a quote in some names exercise CSV quoting both ways.
        if i % 7 == 0 {
            let _ = writeln!(
                text,
                "\"Company {i}, \"\"Quoted\"\" Ltd\",https://c{i}.example"
            );
        } else {
            let _ = writeln!(text, "Company {i},https://c{i}.example");
        }
    }
    std::fs::write(&path, text).unwrap();
    path
}

pub(crate) fn input_name(i: u64) -> String {
    if i.is_multiple_of(7) {
        format!("Company {i}, \"Quoted\" Ltd")
    } else {
        format!("Company {i}")
    }
}

pub(crate) fn write_jsonl(dir: &Path, rows: u64) -> PathBuf {
    let path = dir.join("companies.jsonl");
    let mut text = String::new();
    for i in 0..rows {
        let line = serde_json::json!({"name": input_name(i), "website": format!("https://c{i}.example"), "rank": i});
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// CSV output rows keyed by their `row` column; panics on a row written twice.
pub(crate) fn read_csv_output(
    path: &Path,
) -> (Vec<String>, BTreeMap<u64, BTreeMap<String, String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let mut rows = BTreeMap::new();
    for record in reader.records() {
        let record = record.unwrap();
        let map: BTreeMap<String, String> = header
            .iter()
            .cloned()
            .zip(record.iter().map(str::to_owned))
            .collect();
        let row: u64 = map["row"].parse().unwrap();
        assert!(rows.insert(row, map).is_none(), "row {row} written twice");
    }
    (header, rows)
}

/// JSONL output lines keyed by `row`; panics on a row written twice.
pub(crate) fn read_jsonl_output(path: &Path) -> BTreeMap<u64, serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut rows = BTreeMap::new();
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let row = value["row"].as_u64().unwrap();
        assert!(rows.insert(row, value).is_none(), "row {row} written twice");
    }
    rows
}

/// The directory where the tool keeps the files of the job writing `output`.
pub(crate) fn companion(output: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(output.file_name().unwrap());
    name.push(".parallel-batch");
    output.with_file_name(name)
}

/// The state file of the job writing `output`.
pub(crate) fn state_path(output: &Path) -> PathBuf {
    companion(output).join("state.json")
}

pub(crate) fn state_of(output: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(state_path(output)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Data lines in a file (lines after the first).
pub(crate) fn lines_in(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |b| b.split(|&c| c == b'\n').count().saturating_sub(1))
}

/// Runs `rows` rows of [`write_csv`] to `out.csv` until about 100 are written, then Ctrl-C:
/// a checkpointed partial job; its input and output.
pub(crate) fn interrupted_job(emu: &Emu, dir: &Path, rows: u64) -> (PathBuf, PathBuf) {
    let input = write_csv(dir, rows);
    let output = dir.join("out.csv");
    let out = signal_after_lines(
        run_command(emu, &[], &input, &output).args(SLOW),
        &output,
        100,
        "INT",
    );
    assert_eq!(out.status.code(), Some(130), "{}", stderr_of(&out));
    (input, output)
}

/// Spawns `cmd` (stdout and stderr piped), waits until `output` holds `lines` data lines,
/// then sends `signal` (`INT`, `TERM`) and returns the finished process's output.
pub(crate) fn signal_after_lines(
    cmd: &mut Command,
    output: &Path,
    lines: usize,
    signal: &str,
) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(&mut child, "output", || lines_in(output) >= lines);
    send_signal(&child, signal);
    child.wait_with_output().unwrap()
}

/// Waits (at most a minute) until `ready()`, while `child` runs: it must not end first.
pub(crate) fn wait_until(child: &mut Child, what: &str, ready: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !ready() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        assert!(std::time::Instant::now() < deadline, "no {what} after 60 s");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Sends `signal` (`INT`, `TERM`) to `child`.
pub(crate) fn send_signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A group on `emu` with `runs` runs on `processor` (`{"n": i}` inputs, text outputs).
pub(crate) fn group_with_runs(emu: &Emu, runs: u64, processor: &str) -> String {
    use parallel_client::{AddRuns, Client};
    use parallel_types::{CreateTaskGroupRequest, RunInput, TaskSpec};
    emu.block_on(async {
        let client = Client::builder()
            .api_key("test")
            .base_url(emu.url())
            .build()
            .unwrap();
        let group = client
            .create_group(CreateTaskGroupRequest::default())
            .await
            .unwrap();
        let inputs = (0..runs).map(|n| RunInput::new(serde_json::json!({ "n": n }), processor));
        client
            .group(&group.taskgroup_id)
            .add_runs(AddRuns::new(inputs).default_task_spec(TaskSpec::text("a summary")))
            .await
            .unwrap();
        group.taskgroup_id
    })
}

/// A port on this machine that nothing listens on (one just let go).
pub(crate) fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The names of the files in `dir`, sorted.
pub(crate) fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The temporary files (`*.tmp`) in `dir` and in the directories in it.
pub(crate) fn temporary_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            found.extend(temporary_files(&path));
        } else if path.extension().is_some_and(|e| e == "tmp") {
            found.push(path);
        }
    }
    found
}
