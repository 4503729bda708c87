//! The files the tool keeps for the job writing an output, in one hidden directory beside
//! the output and named after it: `.results.csv.parallel-batch/` for `results.csv`. It
//! holds `state.json` (the job's state), `rows` (the hash of every input row), `journal`
//! (for an output written whole when the job completes, Parquet: its rows so far) and,
//! while a run holds the job, `lock`.
//! (Earlier releases kept them beside the output: see `earlier.rs`.)

use std::path::{Path, PathBuf};

use super::{Fresh, no_follow};
use crate::error::Error;

/// The files kept for the job writing one output.
#[derive(Debug, Clone)]
pub(crate) struct Companion {
    output: PathBuf,
    dir: PathBuf,
}

impl Companion {
    /// The files of the job writing `output`.
    pub(crate) fn of(output: &Path) -> Self {
        let mut name = std::ffi::OsString::from(".");
        name.push(output.file_name().unwrap_or_default());
        name.push(".parallel-batch");
        Self {
            output: output.to_owned(),
            dir: output.with_file_name(name),
        }
    }

    /// The output itself.
    pub(crate) fn output(&self) -> &Path {
        &self.output
    }

    /// The directory that holds the job's files.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The job's state: group, token, rows written, how much of the output is good.
    pub(crate) fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// The hash of every input row when the input was last accepted.
    pub(crate) fn row_hashes(&self) -> PathBuf {
        self.dir.join("rows")
    }

    /// The rows of an output written whole at the end (Parquet), as they finish.
    pub(crate) fn journal(&self) -> PathBuf {
        self.dir.join("journal")
    }

    /// The lock a run holds while it writes the output.
    pub(crate) fn lock(&self) -> PathBuf {
        self.dir.join("lock")
    }

    /// Makes the directory, or checks that the one there is a directory and not a link
    /// (whose target the tool would write into).
    pub(crate) fn make_dir(&self) -> Result<(), Error> {
        let io = |e| Error::io(format!("cannot make {}", self.dir.display()), e);
        match std::fs::create_dir(&self.dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
        let metadata = self.dir.symlink_metadata().map_err(io)?;
        if metadata.file_type().is_symlink() {
            return Err(io(no_follow::link_refused(&self.dir)));
        }
        if !metadata.is_dir() {
            return Err(Error::state(format!(
                "{} is where parallel-batch keeps the files of the job writing {}, and it is \
                 not a directory; move it away",
                self.dir.display(),
                self.output.display()
            )));
        }
        Ok(())
    }

    /// Removes the directory if nothing is left in it (a job that never got going).
    pub(crate) fn remove_if_empty(&self) {
        let _ = std::fs::remove_dir(&self.dir);
    }

    /// Removes the temporary files a killed run of this job left behind: in the directory,
    /// and the output's beside it. The caller holds the job's lock.
    pub(crate) fn remove_stale(&self) {
        Fresh::remove_stale(&self.output);
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let temporary = entry.path().extension().is_some_and(|e| e == "tmp");
            if temporary && entry.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_of_a_job_are_in_one_hidden_directory_named_after_the_output() {
        let files = Companion::of(Path::new("data/results.csv"));
        assert_eq!(files.dir(), Path::new("data/.results.csv.parallel-batch"));
        assert_eq!(
            files.state(),
            Path::new("data/.results.csv.parallel-batch/state.json")
        );
        let here = Companion::of(Path::new("out.jsonl"));
        assert_eq!(here.lock(), Path::new(".out.jsonl.parallel-batch/lock"));
    }
}
