//! The state of a `run` job, kept beside its output.
//!
//! The state is what makes a run resumable after any crash, `kill -9` included:
//!
//! - `token` is created and saved before anything is submitted. Every run carries the metadata
//!   tag `client_tag = "<token>:<row>"`, so on resume the group's own run list says exactly
//!   which rows reached the server, even those whose add-runs response was lost.
//! - `output_len` and `written` are saved together, only after the output file has been synced
//!   up to `output_len`. On resume the output is cut back to `output_len` (dropping any partial
//!   line and any row written after the last checkpoint) and `written` is exact for what is
//!   left. Rows dropped that way are fetched again from the group and written once.
//!
//! The file is replaced atomically (write a temporary file, sync it, rename it over the old
//! one, sync the directory), so a crash leaves either the old or the new state, never a mix.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::counts::Counts;
use crate::error::Error;
use crate::files::FileStamp;

/// The persisted state of one `run` command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct State {
    /// Format version of this file.
    pub(crate) version: u32,
    /// The batch token tagging every run of this job (`client_tag = "<token>:<row>"`).
    pub(crate) token: String,
    /// The tokens of earlier rounds of this job in the same group (`--retry-failed` sends
    /// rows again under a new token), oldest first: with `token`, they tell this job's runs
    /// in the group from others', to write the output again from the group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) earlier_tokens: Vec<String>,
    /// The task group, once created.
    pub(crate) group_id: Option<String>,
    /// Where the group lives: `embedded-emulator` or the API base URL.
    pub(crate) backend: String,
    /// The input file this job reads.
    pub(crate) input: FileStamp,
    /// The input's absolute path when the job started (to tell another file from an edit).
    #[serde(default)]
    pub(crate) input_path: Option<String>,
    /// The field delimiter a CSV input is read with; a CSV job's state without one was made
    /// by an earlier release, which read every file with `,`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) delimiter: Option<u8>,
    /// Hash of everything that shapes the runs and the output (task spec, processor, columns).
    pub(crate) task_hash: String,
    /// The number of data rows in the input.
    pub(crate) total_rows: u64,
    /// The output file is valid up to this many bytes.
    pub(crate) output_len: u64,
    /// FNV-1a 64 (hex) of the output's first `output_len` bytes: resume refuses a file whose
    /// prefix no longer hashes to it. FNV is not collision-resistant; it guards against
    /// accidents (a sort, an edit, another file), not against a forger.
    #[serde(default)]
    pub(crate) output_hash: Option<String>,
    /// Rows written to the output within `output_len`, as half-open ranges.
    pub(crate) written: Vec<[u64; 2]>,
    /// Rows whose add-runs request was confirmed by the API, as half-open ranges (a hint only:
    /// the group's run list is authoritative on resume).
    pub(crate) submitted: Vec<[u64; 2]>,
    /// The written rows, by how their runs ended (`completed`, `failed`, `rejected`).
    #[serde(flatten)]
    pub(crate) counts: Counts,
    /// Every row has been written.
    pub(crate) complete: bool,
    /// Written rows the API refused, as half-open ranges: the rows a user may fix in the
    /// input and send again.
    #[serde(default)]
    pub(crate) rejected_rows: Vec<[u64; 2]>,
    /// Written rows whose run failed or was cancelled, as half-open ranges (`--retry-failed`).
    #[serde(default)]
    pub(crate) failed_rows: Vec<[u64; 2]>,
    /// Rows whose earlier line in the output is obsolete (a fixed or retried row): the file
    /// is rewritten with only each row's last line when the job completes.
    #[serde(default)]
    pub(crate) superseded: Vec<[u64; 2]>,
    /// Rows being sent again by the `--retry-failed` round in progress (0: none).
    #[serde(default)]
    pub(crate) retrying: u64,
    /// A rewritten output, recorded before it is renamed over the output: if the process
    /// dies after the rename but before the state says so, the next run recognises the new
    /// file by its length and hash.
    #[serde(default)]
    pub(crate) pending_rewrite: Option<FileStamp>,
    /// For an output written whole when the job completes (Parquet): the file made from the
    /// journal, once it is in place. `None` while the job runs, and after a crash between
    /// completing the journal and renaming the file into place: the next run writes it.
    #[serde(default)]
    pub(crate) finished_output: Option<FileStamp>,
}

/// The current state-file format.
pub(crate) const STATE_VERSION: u32 = 1;

impl State {
    /// Reads a state file; `Ok(None)` when there is none.
    pub(crate) fn load(path: &Path) -> Result<Option<Self>, Error> {
        let read = crate::files::no_follow::open_to_read(path).and_then(|mut file| {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut file, &mut bytes).map(|_| bytes)
        });
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
        };
        let state: Self = serde_json::from_slice(&bytes).map_err(|e| {
            Error::state(format!(
                "the state file {} is damaged ({e}); delete it to start over (the output \
                 will be rewritten)",
                path.display()
            ))
        })?;
        if state.version != STATE_VERSION {
            return Err(Error::state(format!(
                "the state file {} has format version {}, this tool writes {STATE_VERSION}; \
                 finish the job with the tool that started it, or delete the state file",
                path.display(),
                state.version
            )));
        }
        Ok(Some(state))
    }

    /// Replaces the state file atomically and durably.
    pub(crate) fn save(&self, path: &Path) -> Result<(), Error> {
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other);
        crate::files::replace(path, |file| {
            file.write_all(&bytes?)?;
            file.write_all(b"\n")
        })
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(State::load(&path).unwrap(), None);
        let mut state = State {
            version: STATE_VERSION,
            token: "abc".into(),
            earlier_tokens: vec!["0a".into()],
            group_id: None,
            backend: "embedded-emulator".into(),
            input: FileStamp {
                len: 3,
                hash: "00".into(),
            },
            input_path: None,
            delimiter: Some(b';'),
            task_hash: "t".into(),
            total_rows: 10,
            output_len: 0,
            output_hash: None,
            written: vec![],
            submitted: vec![[0, 10]],
            counts: Counts::default(),
            complete: false,
            rejected_rows: vec![],
            failed_rows: vec![[3, 4]],
            superseded: vec![],
            retrying: 0,
            pending_rewrite: None,
            finished_output: None,
        };
        state.save(&path).unwrap();
        state.group_id = Some("tgrp_1".into());
        state.save(&path).unwrap();
        assert_eq!(State::load(&path).unwrap(), Some(state));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn damaged_state_is_a_state_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, b"{not json").unwrap();
        let err = State::load(&path).unwrap_err();
        assert!(err.is_state());
        assert!(err.to_string().contains("delete it"));
    }
}
