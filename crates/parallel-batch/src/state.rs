//! The state file kept beside the output, and the compact row sets it stores.
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

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;

/// A set of row numbers, one bit per row: 125 KB for a million rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowSet {
    words: Vec<u64>,
    len: u64,
}

impl RowSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `row`; returns whether it was new.
    pub fn insert(&mut self, row: u64) -> bool {
        let (word, bit) = Self::locate(row);
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let mask = 1u64 << bit;
        if self.words[word] & mask == 0 {
            self.words[word] |= mask;
            self.len += 1;
            true
        } else {
            false
        }
    }

    /// Removes `row`; returns whether it was there.
    pub fn remove(&mut self, row: u64) -> bool {
        let (word, bit) = Self::locate(row);
        let mask = 1u64 << bit;
        match self.words.get_mut(word) {
            Some(w) if *w & mask != 0 => {
                *w &= !mask;
                self.len -= 1;
                true
            }
            _ => false,
        }
    }

    /// Whether `row` is in the set.
    pub fn contains(&self, row: u64) -> bool {
        let (word, bit) = Self::locate(row);
        self.words.get(word).is_some_and(|w| w & (1u64 << bit) != 0)
    }

    /// How many rows are in the set.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The set as sorted, disjoint, half-open ranges `[start, end)`.
    pub fn ranges(&self) -> Vec<[u64; 2]> {
        let mut ranges: Vec<[u64; 2]> = Vec::new();
        for (index, &word) in self.words.iter().enumerate() {
            if word == 0 {
                continue;
            }
            let base = index as u64 * 64;
            let mut bits = word;
            while bits != 0 {
                let row = base + u64::from(bits.trailing_zeros());
                bits &= bits - 1;
                match ranges.last_mut() {
                    Some(last) if last[1] == row => last[1] = row + 1,
                    _ => ranges.push([row, row + 1]),
                }
            }
        }
        ranges
    }

    /// Builds a set from half-open ranges (as written by [`RowSet::ranges`]).
    pub fn from_ranges(ranges: &[[u64; 2]]) -> Self {
        let mut set = Self::new();
        for &[start, end] in ranges {
            for row in start..end {
                set.insert(row);
            }
        }
        set
    }

    fn locate(row: u64) -> (usize, u32) {
        // Row numbers index a file the tool streams; they fit usize on every supported target.
        #[allow(clippy::cast_possible_truncation)]
        let word = (row / 64) as usize;
        #[allow(clippy::cast_possible_truncation)]
        let bit = (row % 64) as u32;
        (word, bit)
    }
}

/// What identifies the input file: its length and a hash of all its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Size in bytes.
    pub len: u64,
    /// FNV-1a 64 of the whole file, hex.
    pub hash: String,
}

/// The persisted state of one `run` command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Format version of this file.
    pub version: u32,
    /// The batch token tagging every run of this job (`client_tag = "<token>:<row>"`).
    pub token: String,
    /// The task group, once created.
    pub group_id: Option<String>,
    /// Where the group lives: `embedded-emulator` or the API base URL.
    pub backend: String,
    /// The input file this job reads.
    pub input: Fingerprint,
    /// The input's absolute path when the job started (to tell another file from an edit).
    #[serde(default)]
    pub input_path: Option<String>,
    /// Hash of everything that shapes the runs and the output (task spec, processor, columns).
    pub task_hash: String,
    /// The number of data rows in the input.
    pub total_rows: u64,
    /// The output file is valid up to this many bytes.
    pub output_len: u64,
    /// FNV-1a 64 (hex) of the output's first `output_len` bytes: resume refuses a file whose
    /// prefix no longer hashes to it. FNV is not collision-resistant; it guards against
    /// accidents (a sort, an edit, another file), not against a forger.
    #[serde(default)]
    pub output_hash: Option<String>,
    /// Rows written to the output within `output_len`, as half-open ranges.
    pub written: Vec<[u64; 2]>,
    /// Rows whose add-runs request was confirmed by the API, as half-open ranges (a hint only:
    /// the group's run list is authoritative on resume).
    pub submitted: Vec<[u64; 2]>,
    /// Written rows whose run completed.
    #[serde(default)]
    pub completed: u64,
    /// Written rows whose run failed or was cancelled.
    #[serde(default)]
    pub failed: u64,
    /// Written rows the API refused (no run was made for them).
    #[serde(default)]
    pub rejected: u64,
    /// Every row has been written.
    pub complete: bool,
    /// Written rows the API refused, as half-open ranges: the rows a user may fix in the
    /// input and send again.
    #[serde(default)]
    pub rejected_rows: Vec<[u64; 2]>,
    /// Written rows whose run failed or was cancelled, as half-open ranges (`--retry-failed`).
    #[serde(default)]
    pub failed_rows: Vec<[u64; 2]>,
    /// Rows whose earlier line in the output is obsolete (a fixed or retried row): the file
    /// is rewritten with only each row's last line when the job completes.
    #[serde(default)]
    pub superseded: Vec<[u64; 2]>,
    /// Rows being sent again by the `--retry-failed` round in progress (0: none).
    #[serde(default)]
    pub retrying: u64,
    /// The rewritten output about to replace the file (see [`PendingRewrite`]).
    #[serde(default)]
    pub pending_rewrite: Option<PendingRewrite>,
    /// For an output written whole when the job completes (Parquet): the file made from the
    /// journal, once it is in place. `None` while the job runs, and after a crash between
    /// completing the journal and renaming the file into place: the next run writes it.
    #[serde(default)]
    pub finished_output: Option<FileStamp>,
}

/// A file as written: its length and FNV-1a 64 hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    /// Size in bytes.
    pub len: u64,
    /// FNV-1a 64 of the whole file, hex.
    pub hash: String,
}

/// A rewritten output, recorded before it is renamed over the output: if the process dies
/// after the rename but before the state says so, the next run recognises the new file by
/// its length and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRewrite {
    /// The rewritten file's length.
    pub len: u64,
    /// FNV-1a 64 (hex) of the rewritten file.
    pub hash: String,
}

/// The current state-file format.
pub const STATE_VERSION: u32 = 1;

/// Where the state of a run writing `output` lives: `<output>.state.json`.
pub fn state_path(output: &Path) -> PathBuf {
    with_suffix(output, ".state.json")
}

/// The file beside `path` whose name is `path`'s with `suffix` added (`out.csv` →
/// `out.csv.lock`): where the tool keeps what goes with a file.
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

impl State {
    /// Reads a state file; `Ok(None)` when there is none.
    pub fn load(path: &Path) -> Result<Option<Self>, Error> {
        let bytes = match fs::read(path) {
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
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let tmp = with_suffix(path, ".tmp");
        let write = || -> std::io::Result<()> {
            let mut file = File::create(&tmp)?;
            let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
            file.write_all(&bytes)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            fs::rename(&tmp, path)?;
            // The rename itself is durable only once the directory entry is synced.
            if let Some(dir) = path.parent() {
                let dir = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                };
                if let Ok(dir) = File::open(dir) {
                    let _ = dir.sync_all();
                }
            }
            Ok(())
        };
        write().map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
    }
}

/// FNV-1a 64: tiny, dependency-free, and plenty to notice that an input file changed.
#[derive(Debug, Clone, Copy)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// The hash as a number.
    pub fn value(&self) -> u64 {
        self.0
    }

    /// The hash as 16 hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_set_counts_and_ranges() {
        let mut set = RowSet::new();
        for row in [0, 1, 2, 5, 63, 64, 65, 200] {
            assert!(set.insert(row));
        }
        assert!(!set.insert(64));
        assert_eq!(set.len(), 8);
        assert!(set.contains(63) && !set.contains(3) && !set.contains(10_000));
        assert_eq!(set.ranges(), vec![[0, 3], [5, 6], [63, 66], [200, 201]]);
        assert_eq!(RowSet::from_ranges(&set.ranges()), set);
    }

    #[test]
    fn state_round_trips_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = state_path(&dir.path().join("out.csv"));
        assert!(path.ends_with("out.csv.state.json"));
        assert_eq!(State::load(&path).unwrap(), None);
        let mut state = State {
            version: STATE_VERSION,
            token: "abc".into(),
            group_id: None,
            backend: "embedded-emulator".into(),
            input: Fingerprint {
                len: 3,
                hash: "00".into(),
            },
            input_path: None,
            task_hash: "t".into(),
            total_rows: 10,
            output_len: 0,
            output_hash: None,
            written: vec![],
            submitted: vec![[0, 10]],
            completed: 0,
            failed: 0,
            rejected: 0,
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
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn damaged_state_is_a_state_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        fs::write(&path, b"{not json").unwrap();
        let err = State::load(&path).unwrap_err();
        assert!(err.is_state());
        assert!(err.to_string().contains("delete it"));
    }

    #[test]
    fn fnv_is_the_reference_value() {
        // Reference vector from the FNV specification: fnv1a64("a").
        let mut h = Fnv64::default();
        h.update(b"a");
        assert_eq!(h.hex(), "af63dc4c8601ec8c");
    }
}
