//! Project automation, run as `cargo xtask <task>`.
//!
//! - `ci`: everything CI checks, in order: formatting, clippy with warnings denied, the whole
//!   test suite, rustdoc with warnings denied, and the official Python SDK running a complete
//!   workflow against the emulator.
//! - `sdk-compat`: only that last step.
//! - `bench [ARGS]`: the criterion benchmarks (`cargo bench -p parallel-benches`).
//! - `fuzz [SECONDS]`: the SSE parser fuzz target under `cargo fuzz` (default 600 s; works on
//!   stable through `RUSTC_BOOTSTRAP=1`).
//! - `emulator [ARGS]`: serve the emulator (`parallel-emulator --listen 127.0.0.1:8080`).
//!
//! It depends on nothing but `std`, so it builds in seconds.

use std::env;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((task, rest)) => (task.as_str(), rest),
        None => ("help", &[][..]),
    };
    let result = match task {
        "ci" => ci(),
        "sdk-compat" => sdk_compat(),
        "bench" => cargo(
            &[
                &["bench", "-p", "parallel-benches", "--"],
                strs(rest).as_slice(),
            ]
            .concat(),
        ),
        "fuzz" => fuzz(rest.first().map_or("600", String::as_str)),
        "emulator" => {
            let mut cmd = vec!["run", "--release", "-p", "parallel-emulator", "--"];
            if rest.is_empty() {
                cmd.extend(["--listen", "127.0.0.1:8080"]);
            }
            cmd.extend(strs(rest));
            cargo(&cmd)
        }
        "help" | "-h" | "--help" => {
            println!(
                "usage: cargo xtask <ci | sdk-compat | bench [ARGS] | fuzz [SECONDS] | emulator [ARGS]>"
            );
            Ok(())
        }
        other => Err(format!("unknown task `{other}`; try `cargo xtask help`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// The whole CI gate. Each step builds on the previous one's artefacts where cargo allows it.
fn ci() -> Result<(), String> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(&["test", "--workspace", "--locked"])?;
    run(Command::new(cargo_bin())
        .args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    sdk_compat()
}

/// Runs `crates/parallel-emulator/tests/sdk_compat.py` with the official Python SDK
/// (`parallel-web` from the Python package index, in a virtual environment under `target/`)
/// against a freshly started emulator binary.
fn sdk_compat() -> Result<(), String> {
    let root = workspace_root();
    let target = env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let venv = target.join("sdk-venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "parallel-web",
    ]))?;
    cargo(&[
        "build",
        "--locked",
        "-p",
        "parallel-emulator",
        "--bin",
        "parallel-emulator",
    ])?;

    let emulator = target.join("debug").join("parallel-emulator");
    let mut server = Command::new(&emulator)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            "sdk-compat-key",
            "--time-scale",
            "0.001",
            "--seed",
            "7",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", emulator.display()))?;
    let first_line = server
        .stdout
        .take()
        .and_then(|out| BufReader::new(out).lines().next())
        .and_then(Result::ok)
        .unwrap_or_default();
    let outcome = match first_line.strip_prefix("listening on ") {
        Some(base_url) => run(Command::new(&python)
            .arg(root.join("crates/parallel-emulator/tests/sdk_compat.py"))
            .env("PARALLEL_BASE_URL", base_url.trim())
            .env("PARALLEL_API_KEY", "sdk-compat-key")),
        None => Err(format!(
            "the emulator printed `{first_line}` instead of `listening on http://ADDR`"
        )),
    };
    let _ = server.kill();
    let _ = server.wait();
    outcome
}

/// Runs the SSE parser's fuzz target (`crates/parallel-sse/fuzz`) for `seconds`.
///
/// cargo-fuzz passes nightly-only `-Z` flags to rustc. No nightly toolchain is needed:
/// `RUSTC_BOOTSTRAP=1` lets a stable rustc accept them. The target is built with the address
/// sanitizer when the toolchain supports it, else without a sanitizer (the parser is
/// `forbid(unsafe_code)`, so the sanitizer mostly guards the dependencies). Needs
/// `cargo install cargo-fuzz`.
fn fuzz(seconds: &str) -> Result<(), String> {
    let dir = workspace_root().join("crates/parallel-sse/fuzz");
    let cargo_fuzz = |args: &[&str]| {
        let mut cmd = Command::new(cargo_bin());
        cmd.current_dir(&dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .arg("fuzz")
            .args(args);
        cmd
    };
    let installed = cargo_fuzz(&["--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !installed.is_ok_and(|status| status.success()) {
        return Err("cargo-fuzz is not installed; run `cargo install cargo-fuzz` first".to_owned());
    }
    // Build first, so that a sanitizer the toolchain lacks is told apart from a crash found.
    let sanitizer = if run(&mut cargo_fuzz(&["build", "parse"])).is_ok() {
        "address"
    } else {
        eprintln!("xtask: the address-sanitizer build failed; fuzzing without a sanitizer");
        run(&mut cargo_fuzz(&["build", "--sanitizer", "none", "parse"]))?;
        "none"
    };
    let dict = dir.join("sse.dict");
    run(&mut cargo_fuzz(&[
        "run",
        "--sanitizer",
        sanitizer,
        "parse",
        "--",
        &format!("-max_total_time={seconds}"),
        &format!("-dict={}", dict.display()),
        "-print_final_stats=1",
    ]))
}

fn cargo(args: &[&str]) -> Result<(), String> {
    run(Command::new(cargo_bin())
        .args(args)
        .current_dir(workspace_root()))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ");
    eprintln!("$ {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not run `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

fn cargo_bin() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
