//! Issue 26: the completion scripts and man pages the binary writes.

use std::path::Path;
use std::process::Command;

use crate::support::{batch, files_in, run_ok, stderr_of};

/// What bash offers for `words` (the last one being completed), with the script sourced.
fn bash_offers(script: &Path, words: &[&str]) -> Vec<String> {
    let line = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; $(complete -p parallel-batch | \
         sed 's/.*-F \\([^ ]*\\).*/\\1/') parallel-batch '{}' '{}'; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        words.join(" "),
        words.len() - 1,
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = Command::new("bash").args(["-c", &line]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_bash_script_completes_commands_and_each_commands_flags() {
    let out = run_ok(batch().args(["completions", "bash"]));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("parallel-batch.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    assert_eq!(
        bash_offers(&script, &["parallel-batch", "r"]),
        ["run", "results"]
    );
    let run = bash_offers(&script, &["parallel-batch", "run", "--ma"]);
    assert!(run.contains(&"--max-cost".to_owned()), "{run:?}");
    let results = bash_offers(&script, &["parallel-batch", "results", "--ba"]);
    assert!(results.contains(&"--basis".to_owned()), "{results:?}");
    assert!(
        !bash_offers(&script, &["parallel-batch", "m"]).contains(&"man-pages".to_owned()),
        "the hidden command is offered"
    );

    let out = batch().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("possible values"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn the_man_pages_are_written_into_the_directory_given() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(batch().arg("man-pages").arg(dir.path()));
    let pages = files_in(dir.path());
    assert!(pages.contains(&"parallel-batch.1".to_owned()), "{pages:?}");
    assert!(
        pages.contains(&"parallel-batch-run.1".to_owned()),
        "{pages:?}"
    );
    let run = std::fs::read_to_string(dir.path().join("parallel-batch-run.1")).unwrap();
    assert!(run.starts_with(".ie") || run.contains(".TH"), "not roff");
    assert!(run.contains(r"\-\-max\-cost"));
    let out = batch()
        .arg("man-pages")
        .arg(dir.path().join("missing"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
}
