//! Issue 26: what a job will cost, said before it sends anything: `--dry-run`, the estimate
//! every run prints, `--max-cost`, and prices from `--prices` or `PARALLEL_PRICES`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::support::{
    COLUMNS, Emu, SLOW, companion, files_in, read_csv_output, run_command, run_ok,
    signal_after_lines, state_path, stderr_of, write_csv,
};

/// The JSON object on stdout (`--json`).
fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The `estimate` line among the JSON lines on stderr (`--json`), if any.
fn estimate_line(out: &Output) -> Option<Value> {
    stderr_of(out)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "estimate")
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn a_dry_run_says_what_a_job_would_cost_and_sends_and_writes_nothing() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 120);
    let output = dir.path().join("out.csv");
    let args = ["--columns", COLUMNS, "--processor", "core", "--dry-run"];
    let out = run_ok(run_command(&emu, &["--json"], &input, &output).args(args));
    let plan = stdout_json(&out);
    assert_eq!(plan["dry_run"], true, "{plan}");
    assert_eq!((&plan["rows"], &plan["runs"]), (&120.into(), &120.into()));
    assert_eq!(plan["processor"], "core");
    // The list price of core: USD 25 per 1,000 runs.
    assert!(
        close(&plan["usd"], 3.0) && close(&plan["usd_per_1000"], 25.0),
        "{plan}"
    );

    let out = run_ok(run_command(&emu, &[], &input, &output).args(args));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("120 runs on core: about USD 3.00 (USD 25 per 1,000 runs)"),
        "{text}"
    );
    assert!(text.contains("Nothing was sent"), "{text}");

    assert_eq!(emu.handle.stats().total_requests(), 0, "no request at all");
    assert_eq!(
        files_in(dir.path()),
        ["companies.csv"],
        "no file, no directory"
    );
}

#[test]
fn every_run_prints_its_estimate_before_it_starts_unless_quiet() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 40);
    let output = dir.path().join("out.csv");
    let args = ["--columns", COLUMNS, "--processor", "pro"];
    let out = run_ok(run_command(&emu, &[], &input, &output).args(args));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("Estimated cost: 40 runs on pro: about USD 4.00 (USD 100 per 1,000 runs)."),
        "{stderr}"
    );
    assert!(
        stderr.find("Estimated cost").unwrap() < stderr.find("Done:").unwrap(),
        "{stderr}"
    );
    std::fs::remove_file(&output).unwrap();
    std::fs::remove_dir_all(companion(&output)).unwrap();
    let out = run_ok(run_command(&emu, &["--json"], &input, &output).args(args));
    let line = estimate_line(&out).expect("an estimate line");
    assert_eq!(
        (&line["runs"], &line["processor"]),
        (&40.into(), &"pro".into())
    );
    assert!(close(&line["usd"], 4.0), "{line}");
    std::fs::remove_file(&output).unwrap();
    std::fs::remove_dir_all(companion(&output)).unwrap();
    let out = run_ok(run_command(&emu, &["--quiet"], &input, &output).args(args));
    assert!(
        !stderr_of(&out).contains("Estimated"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn max_cost_refuses_a_dearer_job_before_anything_is_sent() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 100);
    let output = dir.path().join("out.csv");
    // 100 core runs: USD 2.50.
    let args = [
        "--columns",
        COLUMNS,
        "--processor",
        "core",
        "--max-cost",
        "2",
    ];
    let out = run_command(&emu, &[], &input, &output)
        .args(args)
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("100 runs on core: about USD 2.50")
            && stderr.contains("--max-cost 2.5 or more"),
        "{stderr}"
    );
    assert_eq!(emu.handle.stats().total_requests(), 0);
    assert_eq!(files_in(dir.path()), ["companies.csv"]);

    // The same limit, with the account's own price for core (flag, or environment).
    run_ok(
        run_command(&emu, &["--quiet"], &input, &output)
            .args(args)
            .args(["--prices", "core=15"]),
    );
    assert_eq!(emu.runs_created(), 100);
    let other = dir.path().join("other.csv");
    let out = run_ok(
        run_command(&emu, &[], &input, &other)
            .args(args)
            .env("PARALLEL_PRICES", "core=15"),
    );
    assert!(
        stderr_of(&out).contains("(USD 15 per 1,000 runs)"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn max_cost_with_a_processor_of_no_price_is_refused_with_how_to_price_it() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 10);
    let output = dir.path().join("out.csv");
    let args = [
        "--columns",
        COLUMNS,
        "--processor",
        "warp-9",
        "--allow-processor",
    ];
    let out = run_command(&emu, &[], &input, &output)
        .args(args)
        .args(["--max-cost", "100"])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no price for processor `warp-9`")
            && stderr.contains("--prices warp-9=USD")
            && stderr.contains("PARALLEL_PRICES"),
        "{stderr}"
    );
    assert_eq!(emu.handle.stats().total_requests(), 0);
    // Without a limit a dry run says there is no estimate, and a price gives one.
    let out = run_ok(
        run_command(&emu, &["--json"], &input, &output)
            .args(args)
            .arg("--dry-run"),
    );
    assert_eq!(stdout_json(&out)["usd"], Value::Null);
    let out = run_ok(
        run_command(&emu, &["--json"], &input, &output)
            .args(args)
            .args(["--dry-run", "--max-cost", "1"])
            .env("PARALLEL_PRICES", "warp-9=50"),
    );
    assert!(close(&stdout_json(&out)["usd"], 0.5));
    let out = run_command(&emu, &[], &input, &output)
        .args(args)
        .args(["--dry-run", "--prices", "warp-9=lots"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("--prices: price `warp-9=lots`"));
}

#[test]
fn retrying_failed_rows_is_estimated_and_limited_by_those_rows_only() {
    let emu = Emu::start(0.2, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 200);
    let output = dir.path().join("out.csv");
    let args = ["--columns", COLUMNS, "--processor", "core"];
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(args));
    let failed = read_csv_output(&output)
        .1
        .values()
        .filter(|r| r["status"] == "failed")
        .count() as u64;
    assert!((1..100).contains(&failed), "{failed} failed");
    let created = emu.runs_created();

    // A finished job has nothing to send.
    let out = run_ok(
        run_command(&emu, &["--json"], &input, &output)
            .args(args)
            .arg("--dry-run"),
    );
    assert_eq!(stdout_json(&out)["runs"], 0);

    let retry = ["--retry-failed", "--max-cost", "2.5"];
    let out = run_ok(
        run_command(&emu, &["--json"], &input, &output)
            .args(args)
            .args(retry)
            .arg("--dry-run"),
    );
    let plan = stdout_json(&out);
    assert_eq!(
        (&plan["runs"], &plan["retried"]),
        (&failed.into(), &failed.into())
    );
    #[allow(clippy::cast_precision_loss)]
    let usd = failed as f64 * 25.0 / 1000.0;
    assert!(close(&plan["usd"], usd), "{plan}");

    // Under a limit below those rows' cost, nothing is sent; above it, only they are.
    let out = run_command(&emu, &[], &input, &output)
        .args(args)
        .args(["--retry-failed", "--max-cost", "0.01"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert_eq!(emu.runs_created(), created);
    let out = run_ok(
        run_command(&emu, &["--json"], &input, &output)
            .args(args)
            .args(retry),
    );
    assert_eq!(estimate_line(&out).unwrap()["runs"], failed);
    assert_eq!(emu.runs_created(), created + failed);
}

#[test]
fn a_dry_run_of_an_interrupted_job_counts_the_rows_still_to_send() {
    const ROWS: u64 = 1500;
    let emu = Emu::start(0.0, 0.01);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), ROWS);
    let output = dir.path().join("out.csv");
    let out = signal_after_lines(
        run_command(&emu, &[], &input, &output).args(SLOW),
        &output,
        100,
        "INT",
    );
    assert_eq!(out.status.code(), Some(130), "{}", stderr_of(&out));
    let state_before = std::fs::read(state_path(&output)).unwrap();
    let files_before = files_in(&companion(&output));
    let written = read_csv_output(&output).1.len() as u64;

    let out = run_ok(
        run_command(&emu, &["--json"], &input, &output)
            .args(SLOW)
            .arg("--dry-run"),
    );
    let plan = stdout_json(&out);
    let runs = plan["runs"].as_u64().unwrap();
    assert_eq!(plan["written"], written, "{plan}");
    assert!(
        runs < ROWS - written,
        "rows sent earlier are not counted: {plan}"
    );
    assert_eq!(std::fs::read(state_path(&output)).unwrap(), state_before);
    assert_eq!(files_in(&companion(&output)), files_before);

    // The resume estimates the same (a job with nothing to send says nothing), and sends
    // no more than that.
    let created = emu.runs_created();
    let out = run_ok(run_command(&emu, &["--json"], &input, &output).args(SLOW));
    let estimated = estimate_line(&out).map(|line| line["runs"].clone());
    assert_eq!(estimated, (runs > 0).then(|| runs.into()), "{plan}");
    assert!(emu.runs_created() - created <= runs);
    assert_eq!(emu.runs_created(), ROWS);
}

#[test]
fn a_dry_run_checks_what_a_run_checks() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 10);
    let output = dir.path().join("out.csv");
    std::fs::write(&output, "someone else's file\n").unwrap();
    let out = run_command(&emu, &[], &input, &output)
        .args(["--columns", COLUMNS, "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("already exists"),
        "{}",
        stderr_of(&out)
    );
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "name,website\nA,https://a.example\nB\n").unwrap();
    let out = run_command(&emu, &[], &bad, Path::new(&dir.path().join("o.csv")))
        .args(["--columns", COLUMNS, "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("line 3"), "{}", stderr_of(&out));
    assert_eq!(emu.handle.stats().total_requests(), 0);
}

#[test]
fn a_dry_run_counts_fixed_rows_and_refuses_edits_a_run_would_refuse() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let output = dir.path().join("out.csv");
    // Rows 5 and 9 are over the API's size limit (the tool's own check raised, so that the
    // API refuses them), then fixed.
    let write = |long: &[u64], edited: Option<u64>| {
        let mut text = String::from("name,website\n");
        for i in 0..20u64 {
            let name = match i {
                i if long.contains(&i) => "x".repeat(30_000),
                i if edited == Some(i) => format!("Company {i} (edited)"),
                i => format!("Company {i}"),
            };
            writeln!(text, "{name},https://c{i}.example").unwrap();
        }
        std::fs::write(&input, text).unwrap();
    };
    let args = ["--columns", COLUMNS, "--max-input-chars", "100000"];
    write(&[5, 9], None);
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(args));
    assert_eq!(emu.runs_created(), 18);

    write(&[], None);
    let out = run_ok(
        run_command(&emu, &["--json"], &input, &output)
            .args(args)
            .arg("--dry-run"),
    );
    let plan = stdout_json(&out);
    assert_eq!(
        (&plan["runs"], &plan["fixed"]),
        (&2.into(), &2.into()),
        "{plan}"
    );
    let out = run_ok(
        run_command(&emu, &[], &input, &output)
            .args(args)
            .arg("--dry-run"),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2 of the 20 rows of") && text.contains("(2 fixed rows sent again)"),
        "{text}"
    );

    // A row that has a run may not change: the dry run refuses as the run would.
    write(&[], Some(3));
    let out = run_command(&emu, &[], &input, &output)
        .args(args)
        .arg("--dry-run")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("line 5 (row 3)"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(emu.runs_created(), 18, "nothing sent");
}
