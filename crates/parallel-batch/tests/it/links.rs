//! The tool never writes through a symbolic link it did not make: links planted in advance
//! at the name of every file it writes (its own files beside the output, in this release's
//! layout and the earlier one's, the output itself, `results`' files) are refused or
//! replaced, and the files they point to stay as they were.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::support::{
    COLUMNS, Emu, companion, files_in, read_csv_output, results_command, run_command, run_ok,
    state_of, stderr_of, write_csv,
};

/// A file the links point to, and what it holds.
const PRECIOUS: &str = "precious: not parallel-batch's\n";

fn precious(dir: &Path) -> PathBuf {
    let path = dir.join("precious.txt");
    std::fs::write(&path, PRECIOUS).unwrap();
    path
}

fn assert_intact(path: &Path) {
    assert_eq!(
        std::fs::read_to_string(path).unwrap(),
        PRECIOUS,
        "{}",
        path.display()
    );
}

fn is_link(path: &Path) -> bool {
    path.symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
}

#[test]
fn links_at_the_names_of_the_files_beside_the_output_are_not_written_through() {
    let emu = Emu::start(0.2, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let target = precious(dir.path());
    let input = write_csv(dir.path(), 40);
    let output = dir.path().join("out.csv");
    // Every name an earlier release wrote beside the output, and the temporary names.
    let planted: Vec<PathBuf> = [
        "out.csv.lock",
        "out.csv.state.json.tmp",
        "out.csv.rows.tmp",
        "out.csv.rewrite",
        "out.csv.tmp",
        "out.csv.journal",
        "out.csv.partial",
    ]
    .iter()
    .map(|name| dir.path().join(name))
    .collect();
    for link in &planted {
        symlink(&target, link).unwrap();
    }
    let run = |extra: &[&str]| {
        run_ok(
            run_command(&emu, &["--quiet"], &input, &output)
                .args(["--columns", COLUMNS])
                .args(extra),
        )
    };
    run(&[]);
    // Failed rows retried: the output is written again (a fresh file renamed over it).
    assert!(state_of(&output)["failed"].as_u64().unwrap() > 0);
    run(&["--retry-failed"]);
    assert_eq!(read_csv_output(&output).1.len(), 40);
    assert_intact(&target);
    for link in &planted {
        assert!(is_link(link), "{} is still the link it was", link.display());
    }
}

#[test]
fn links_in_the_jobs_directory_or_as_the_directory_are_refused() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let target = precious(dir.path());
    let input = write_csv(dir.path(), 5);
    let output = dir.path().join("out.csv");
    let job_dir = companion(&output);
    let run = || {
        run_command(&emu, &["--quiet"], &input, &output)
            .args(["--columns", COLUMNS])
            .output()
            .unwrap()
    };
    // The directory itself a link to another directory.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    symlink(&elsewhere, &job_dir).unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("is a symbolic link"),
        "{}",
        stderr_of(&out)
    );
    assert!(files_in(&elsewhere).is_empty());
    std::fs::remove_file(&job_dir).unwrap();

    // The lock, then the state, links to a file.
    for name in ["lock", "state.json"] {
        std::fs::create_dir(&job_dir).unwrap();
        symlink(&target, job_dir.join(name)).unwrap();
        let out = run();
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains("is a symbolic link"),
            "{}",
            stderr_of(&out)
        );
        assert_intact(&target);
        std::fs::remove_dir_all(&job_dir).unwrap();
    }
    let _ = std::fs::remove_file(&output);

    // The row hashes: replaced by the job's own file, never written through.
    std::fs::create_dir(&job_dir).unwrap();
    symlink(&target, job_dir.join("rows")).unwrap();
    let out = run();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!is_link(&job_dir.join("rows")));
    assert_intact(&target);
    assert_eq!(emu.runs_created(), 5);
}

#[test]
fn an_output_that_is_a_link_is_refused_unless_force_which_replaces_the_link() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let target = precious(dir.path());
    let input = write_csv(dir.path(), 5);
    let nowhere = dir.path().join("nowhere.csv");
    for (name, points_to) in [("dangling.csv", &nowhere), ("linked.csv", &target)] {
        let output = dir.path().join(name);
        symlink(points_to, &output).unwrap();
        let out = run_command(&emu, &[], &input, &output)
            .args(["--columns", COLUMNS])
            .output()
            .unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("is a symbolic link"), "{stderr}");
        assert!(stderr.contains("--force"), "{stderr}");
        assert!(is_link(&output));
        run_ok(run_command(&emu, &["--quiet"], &input, &output).args([
            "--columns",
            COLUMNS,
            "--force",
        ]));
        assert!(!is_link(&output), "the link is replaced by the output");
        assert_eq!(read_csv_output(&output).1.len(), 5);
    }
    assert!(!nowhere.exists(), "a dangling link's target is not created");
    assert_intact(&target);
    assert_eq!(
        emu.runs_created(),
        10,
        "5 rows for each output, none for a refusal"
    );
}

#[test]
fn results_neither_writes_through_a_link_at_its_file_nor_at_its_partial_file() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let target = precious(dir.path());
    let input = write_csv(dir.path(), 5);
    let output = dir.path().join("out.csv");
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(["--columns", COLUMNS]));
    let group = state_of(&output)["group_id"].as_str().unwrap().to_owned();

    let all = dir.path().join("all.jsonl");
    symlink(&target, &all).unwrap();
    let out = results_command(&emu.url(), &group, &all).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("is a symbolic link"));
    run_ok(results_command(&emu.url(), &group, &all).arg("--force"));
    assert!(!is_link(&all));
    assert_eq!(std::fs::read_to_string(&all).unwrap().lines().count(), 5);

    let partial = dir.path().join("again.csv.partial");
    symlink(&target, &partial).unwrap();
    let out = results_command(&emu.url(), &group, &dir.path().join("again.csv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("is a symbolic link"),
        "{}",
        stderr_of(&out)
    );
    assert!(is_link(&partial));
    assert_intact(&target);
}

#[test]
fn a_link_where_an_earlier_release_kept_the_state_is_not_taken_up() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let target = precious(dir.path());
    let input = write_csv(dir.path(), 5);
    let output = dir.path().join("out.csv");
    symlink(&target, dir.path().join("out.csv.state.json")).unwrap();
    let out = run_command(&emu, &[], &input, &output)
        .args(["--columns", COLUMNS])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("a symbolic link"),
        "{}",
        stderr_of(&out)
    );
    assert_intact(&target);
    assert_eq!(emu.runs_created(), 0);
}
