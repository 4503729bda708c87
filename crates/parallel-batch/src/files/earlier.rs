//! Jobs started by an earlier release, which kept the job's files beside the output:
//! `results.csv.state.json`, `results.csv.rows`, `results.csv.journal` and
//! `results.csv.lock`. A run that takes such a job up moves them into the job's directory
//! ([`take_over`]); until then they mark the output as a job's as the new ones do
//! ([`in_use`]).

use std::path::{Path, PathBuf};

use super::{Companion, OutputLock, with_suffix};
use crate::error::Error;

/// Whether the output is a `run` job's: its state exists, or a run holds its lock (in
/// this release's layout or an earlier one's).
pub(crate) fn in_use(files: &Companion) -> bool {
    let earlier = Earlier::of(files.output());
    files.state().exists()
        || OutputLock::is_held(&files.lock())
        || earlier.state.exists()
        || OutputLock::is_held(&earlier.lock)
}

/// Whether the job writing the output was started by an earlier release whose files are
/// still beside the output (a run moves them into the job's directory).
pub(crate) fn not_taken_over(files: &Companion) -> bool {
    Earlier::of(files.output()).state.symlink_metadata().is_ok() && !files.state().exists()
}

/// Takes up a job an earlier release started: moves its files into the directory and
/// removes its lock and temporary files. The caller holds this job's lock. Returns the
/// names of the files moved (none if there was no such job).
pub(crate) fn take_over(files: &Companion) -> Result<Vec<String>, Error> {
    let earlier = Earlier::of(files.output());
    if OutputLock::is_held(&earlier.lock) {
        return Err(Error::state(format!(
            "{} is being written by a run of an earlier parallel-batch ({} is locked); \
             wait for it to finish or stop it, or write to another output file",
            files.output().display(),
            earlier.lock.display()
        )));
    }
    let mut moved = Vec::new();
    if earlier.state.symlink_metadata().is_ok() {
        if files.state().exists() {
            return Err(Error::state(format!(
                "{} holds the state of a job on {} and so does {}; delete the one that is \
                 not this job's",
                earlier.state.display(),
                files.output().display(),
                files.state().display()
            )));
        }
        // The state last: until it is moved, a rerun moves the others again.
        for (from, to) in [
            (&earlier.rows, files.row_hashes()),
            (&earlier.journal, files.journal()),
            (&earlier.state, files.state()),
        ] {
            if move_file(from, &to)? {
                moved.push(file_name(from));
            }
        }
    }
    for leftover in earlier.leftovers() {
        if leftover.symlink_metadata().is_ok_and(|m| m.is_file()) {
            let _ = std::fs::remove_file(&leftover);
        }
    }
    super::sync_dir(files.output());
    Ok(moved)
}

/// Moves `from` (a regular file, if there is one) to `to`; whether it did.
fn move_file(from: &Path, to: &Path) -> Result<bool, Error> {
    match from.symlink_metadata() {
        Err(_) => Ok(false),
        Ok(m) if !m.is_file() => Err(Error::state(format!(
            "{} is not a file an earlier parallel-batch wrote ({}); remove it",
            from.display(),
            if m.file_type().is_symlink() {
                "a symbolic link"
            } else {
                "not a regular file"
            }
        ))),
        Ok(_) => std::fs::rename(from, to)
            .map(|()| true)
            .map_err(|e| Error::io(format!("cannot move {} into place", from.display()), e)),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// Where an earlier release kept the job's files: beside the output.
struct Earlier {
    output: PathBuf,
    state: PathBuf,
    rows: PathBuf,
    journal: PathBuf,
    lock: PathBuf,
}

impl Earlier {
    fn of(output: &Path) -> Self {
        Self {
            output: output.to_owned(),
            state: with_suffix(output, ".state.json"),
            rows: with_suffix(output, ".rows"),
            journal: with_suffix(output, ".journal"),
            lock: with_suffix(output, ".lock"),
        }
    }

    /// The files a run of an earlier release could leave besides those moved: its lock and
    /// its temporary files (`OUTPUT.tmp` was one only for a Parquet output).
    fn leftovers(&self) -> Vec<PathBuf> {
        let mut files = vec![
            self.lock.clone(),
            with_suffix(&self.output, ".state.json.tmp"),
            with_suffix(&self.output, ".rows.tmp"),
            with_suffix(&self.output, ".rewrite"),
        ];
        if self.output.extension().is_some_and(|e| e == "parquet") {
            files.push(with_suffix(&self.output, ".tmp"));
        }
        files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_earlier_releases_files_are_moved_in_and_its_leftovers_removed() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out.parquet");
        for (suffix, text) in [
            (".state.json", "state"),
            (".rows", "rows"),
            (".journal", "journal"),
            (".lock", "123\n"),
            (".rewrite", "half"),
            (".tmp", "half"),
        ] {
            std::fs::write(with_suffix(&output, suffix), text).unwrap();
        }
        std::fs::write(&output, "the output").unwrap();
        let files = Companion::of(&output);
        files.make_dir().unwrap();
        let moved = take_over(&files).unwrap();
        assert_eq!(
            moved,
            [
                "out.parquet.rows",
                "out.parquet.journal",
                "out.parquet.state.json"
            ]
        );
        assert_eq!(std::fs::read_to_string(files.state()).unwrap(), "state");
        assert_eq!(std::fs::read_to_string(files.row_hashes()).unwrap(), "rows");
        assert_eq!(std::fs::read_to_string(files.journal()).unwrap(), "journal");
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".out.parquet.parallel-batch", "out.parquet"]);
        // Nothing more to move the next time.
        assert!(take_over(&files).unwrap().is_empty());
    }
}
