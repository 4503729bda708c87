//! The tool when runs take real time: a group that queues, runs that finish out of order over
//! seconds, and the tool killed and started again in the middle of it.

use parallel_emulator::{Emulator, Endpoint};

use crate::resume::{kill_at_four_points, spawn};
use crate::support::{Emu, read_csv_output, state_path, temporary_files, write_csv};

#[test]
fn sigkill_at_several_points_of_a_queueing_group_then_resume() {
    const ROWS: u64 = 1500;
    // `lite-fast` runs of 0.2-0.4 s, 150 at a time: ten waves, each finishing out of order,
    // while the kills land mid-submission and mid-collection.
    let emu = Emu::start_with(
        Emulator::builder()
            .listen("127.0.0.1:0".parse().unwrap())
            .time_scale(0.02)
            .fail_rate(0.05)
            .capacity(Some(150)),
    );
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), ROWS);
    let output = dir.path().join("out.csv");
    let state = state_path(&output);
    kill_at_four_points(&emu, &input, &output, &state, &output, ROWS, || {});
    let status = spawn(&emu, &input, &output).wait().unwrap();
    assert!(status.success(), "the last run exits cleanly");

    let (_, rows) = read_csv_output(&output);
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        (0..ROWS).collect::<Vec<_>>(),
        "every row exactly once, in input order"
    );
    let failed = rows.values().filter(|r| r["status"] == "failed").count();
    assert!(
        failed > 0 && failed < 200,
        "about one in twenty failed: {failed}"
    );
    assert_eq!(emu.runs_created(), ROWS, "no row submitted twice");
    assert!(temporary_files(dir.path()).is_empty());
    // Five sessions of 1,500 rows read their results in bulk: a run read on its own is a
    // straggler, not the rule.
    let served = emu.handle.stats();
    assert!(
        served.requests(Endpoint::RunResult) < 100,
        "{} runs read one by one",
        served.requests(Endpoint::RunResult)
    );
}
