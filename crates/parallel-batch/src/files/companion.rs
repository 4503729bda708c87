//! The files the tool keeps beside an output for the job that writes it: one table, so
//! that every part of the tool (and every message) names them the same way.

use std::path::{Path, PathBuf};

use super::{Fresh, with_suffix};

/// The files kept for the job writing one output.
#[derive(Debug, Clone)]
pub(crate) struct Companion {
    output: PathBuf,
}

impl Companion {
    /// The files of the job writing `output`.
    pub(crate) fn of(output: &Path) -> Self {
        Self {
            output: output.to_owned(),
        }
    }

    /// The output itself.
    pub(crate) fn output(&self) -> &Path {
        &self.output
    }

    /// The job's state: group, token, rows written, how much of the output is good.
    pub(crate) fn state(&self) -> PathBuf {
        with_suffix(&self.output, ".state.json")
    }

    /// The hash of every input row when the input was last accepted.
    pub(crate) fn row_hashes(&self) -> PathBuf {
        with_suffix(&self.output, ".rows")
    }

    /// The rows of an output written whole at the end (Parquet), as they finish.
    pub(crate) fn journal(&self) -> PathBuf {
        with_suffix(&self.output, ".journal")
    }

    /// The lock that keeps a second run off the output.
    pub(crate) fn lock(&self) -> PathBuf {
        with_suffix(&self.output, ".lock")
    }

    /// Removes the temporary files a killed run of this job left behind (the caller holds
    /// the job's lock).
    pub(crate) fn remove_stale(&self) {
        for file in [
            self.output.clone(),
            self.state(),
            self.row_hashes(),
            self.journal(),
        ] {
            Fresh::remove_stale(&file);
        }
    }
}
