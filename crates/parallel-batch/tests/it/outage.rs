//! The network goes away in the middle of a batch: the tool waits it out.

use std::process::Stdio;
use std::time::{Duration, Instant};

use parallel_emulator::OutageMode;

use crate::support::{COLUMNS, Emu, read_csv_output, run_command, write_csv};

/// How long the server is away. A proxy or a restarting load balancer is often gone this long.
const OUTAGE: Duration = Duration::from_secs(30);

#[test]
fn a_30_second_outage_in_the_middle_of_5000_rows_is_ridden_out() {
    // Runs take seconds (time scale 0.3), so thousands are in flight when the port closes.
    let emu = Emu::start(0.0, 0.3);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 5000);
    let output = dir.path().join("out.csv");
    let mut child = run_command(&emu, &["--json"], &input, &output)
        .args(["--columns", COLUMNS])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The outage starts once the first rows are written: the batch is under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&output).map_or(0, |m| m.len()) < 2_000 {
        assert!(Instant::now() < deadline, "no rows written");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the batch ended before the outage"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    emu.handle.outage(OutageMode::Refuse, OUTAGE);
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit {:?}", out.status);
    assert!(started.elapsed() >= OUTAGE, "it finished during the outage");
    let (_, rows) = read_csv_output(&output);
    assert_eq!(rows.len(), 5000, "every row once");
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        (0..5000).collect::<Vec<_>>()
    );
    assert!(rows.values().all(|r| r["status"] == "completed"));
    assert_eq!(emu.runs_created(), 5000, "no run created twice");
    assert!(
        emu.handle.stats().outage_connections > 0,
        "the outage was met"
    );
}
