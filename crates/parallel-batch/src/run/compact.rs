//! Rewriting the output so that each row has one line, after rows were sent again (fixed
//! rejected rows, `--retry-failed`): their old lines are dropped, their last lines kept.
//!
//! Crash-safe at every point: the new file is written beside the output and synced, its
//! length and hash are recorded in the state as a pending rewrite, then it is renamed over
//! the output, then the state adopts it. A run that finds the rename done but not recorded
//! ([`settle`]) recognises the new file by its length and hash; one that finds it not done
//! carries on with the old file and rewrites again at the end.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::state::{Fnv64, PendingRewrite, RowSet, State};
use crate::{Error, OutputFormat};

/// Where the rewritten output is made.
fn tmp_path(output: &Path) -> PathBuf {
    crate::state::with_suffix(output, ".rewrite")
}

/// Before the output is opened: adopts a rewrite that was renamed into place but not yet
/// recorded, or forgets one that was not.
pub(crate) fn settle(output: &Path, state: &mut State, state_file: &Path) -> Result<(), Error> {
    let Some(pending) = state.pending_rewrite.take() else {
        return Ok(());
    };
    let io = |e| Error::io(format!("cannot read {}", output.display()), e);
    let (len, hash) = hash_file(output).map_err(io)?;
    if len == pending.len && hash == pending.hash {
        state.output_len = len;
        state.output_hash = Some(hash);
        state.superseded.clear();
    }
    let _ = fs::remove_file(tmp_path(output));
    state.save(state_file)
}

/// Rewrites `output` keeping each row's last line, and records it in the state as the
/// finished job's output.
pub(crate) fn rewrite(
    output: &Path,
    format: OutputFormat,
    state: &mut State,
    state_file: &Path,
) -> Result<(), Error> {
    let tmp = tmp_path(output);
    let io = |e| Error::io(format!("cannot rewrite {}", output.display()), e);
    let superseded = RowSet::from_ranges(&state.superseded);
    let records = records(output, format, state.output_len).map_err(io)?;
    // Lines of superseded rows to drop: all but the last of each.
    let mut seen = std::collections::HashMap::new();
    for record in &records {
        if let Some(row) = record.row.filter(|r| superseded.contains(*r)) {
            *seen.entry(row).or_insert(0u32) += 1;
        }
    }
    let mut source = BufReader::new(File::open(output).map_err(io)?);
    let mut target = HashingWriter::new(BufWriter::new(File::create(&tmp).map_err(io)?));
    let mut buf = Vec::new();
    for record in &records {
        buf.resize(usize::try_from(record.len).unwrap_or(usize::MAX), 0);
        source.read_exact(&mut buf).map_err(io)?;
        let drop = record.row.is_some_and(|row| {
            seen.get_mut(&row).is_some_and(|left| {
                *left -= 1;
                *left > 0
            })
        });
        if !drop {
            target.write_all(&buf).map_err(io)?;
        }
    }
    let (len, hash) = target.finish().map_err(io)?;
    state.pending_rewrite = Some(PendingRewrite {
        len,
        hash: hash.clone(),
    });
    state.save(state_file)?;
    fs::rename(&tmp, output).map_err(io)?;
    sync_dir(output);
    state.pending_rewrite = None;
    state.output_len = len;
    state.output_hash = Some(hash);
    state.superseded.clear();
    state.complete = true;
    state.retrying = 0;
    state.save(state_file)
}

/// One record of the output: its length in bytes and its row (`None` for the header).
struct Span {
    len: u64,
    row: Option<u64>,
}

/// The output's first `len` bytes as records, in order, covering every byte.
fn records(output: &Path, format: OutputFormat, len: u64) -> std::io::Result<Vec<Span>> {
    let file = File::open(output)?.take(len);
    let mut spans = Vec::new();
    match format {
        OutputFormat::Jsonl | OutputFormat::Parquet => {
            let mut reader = BufReader::new(file);
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = std::io::BufRead::read_until(&mut reader, b'\n', &mut line)?;
                if n == 0 {
                    break;
                }
                let row = serde_json::from_slice::<RowOnly>(&line).ok().map(|r| r.row);
                spans.push(Span { len: n as u64, row });
            }
        }
        OutputFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(file);
            let mut record = csv::ByteRecord::new();
            let mut start = 0;
            while reader
                .read_byte_record(&mut record)
                .map_err(std::io::Error::other)?
            {
                let end = reader.position().byte();
                let row = std::str::from_utf8(record.get(0).unwrap_or_default())
                    .ok()
                    .and_then(|r| r.parse().ok());
                spans.push(Span {
                    len: end - start,
                    row,
                });
                start = end;
            }
            if start < len {
                spans.push(Span {
                    len: len - start,
                    row: None,
                });
            }
        }
    }
    Ok(spans)
}

#[derive(serde::Deserialize)]
struct RowOnly {
    row: u64,
}

/// Length and FNV-1a 64 of a whole file.
fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = BufReader::new(File::open(path)?);
    let mut hash = Fnv64::default();
    let mut len = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok((len, hash.hex()));
        }
        hash.update(&buf[..n]);
        len += n as u64;
    }
}

/// A writer that counts and hashes what goes through it.
struct HashingWriter<W: Write> {
    inner: W,
    hash: Fnv64,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hash: Fnv64::default(),
            len: 0,
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(bytes)?;
        self.hash.update(bytes);
        self.len += bytes.len() as u64;
        Ok(())
    }
}

impl HashingWriter<BufWriter<File>> {
    /// Flushes and syncs; the length and hash written.
    fn finish(self) -> std::io::Result<(u64, String)> {
        let file = self
            .inner
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        file.sync_all()?;
        Ok((self.len, self.hash.hex()))
    }
}

/// Makes a rename in `path`'s directory durable.
pub(crate) fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Fingerprint, STATE_VERSION};

    fn state(len: u64, superseded: Vec<[u64; 2]>) -> State {
        State {
            version: STATE_VERSION,
            token: "t".into(),
            group_id: None,
            backend: "b".into(),
            input: Fingerprint {
                len: 0,
                hash: String::new(),
            },
            input_path: None,
            task_hash: String::new(),
            total_rows: 3,
            output_len: len,
            output_hash: None,
            written: vec![[0, 3]],
            submitted: vec![],
            completed: 3,
            failed: 0,
            rejected: 0,
            complete: false,
            rejected_rows: vec![],
            failed_rows: vec![],
            superseded,
            retrying: 0,
            pending_rewrite: None,
            finished_output: None,
        }
    }

    #[test]
    fn rewrite_keeps_each_rows_last_line_and_multiline_records_whole() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out.csv");
        let state_file = dir.path().join("out.csv.state.json");
        let text = "row,name,status\n0,\"A\nB\",completed\n1,x,rejected\n2,y,failed\n\
                    1,x,completed\n2,\"y\ny\",completed\n";
        fs::write(&output, text).unwrap();
        let mut st = state(text.len() as u64, vec![[1, 3]]);
        rewrite(&output, OutputFormat::Csv, &mut st, &state_file).unwrap();
        let expected = "row,name,status\n0,\"A\nB\",completed\n1,x,completed\n\
                        2,\"y\ny\",completed\n";
        assert_eq!(fs::read_to_string(&output).unwrap(), expected);
        assert!(st.complete && st.superseded.is_empty() && st.pending_rewrite.is_none());
        assert_eq!(st.output_len, expected.len() as u64);
        assert_eq!(State::load(&state_file).unwrap(), Some(st));
        assert!(!tmp_path(&output).exists());
    }

    #[test]
    fn rewrite_reads_jsonl_rows() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out.jsonl");
        let text = "{\"row\":0,\"s\":\"a\"}\n{\"row\":0,\"s\":\"b\"}\n{\"row\":1,\"s\":\"c\"}\n";
        fs::write(&output, text).unwrap();
        let mut st = state(text.len() as u64, vec![[0, 1]]);
        rewrite(&output, OutputFormat::Jsonl, &mut st, &dir.path().join("s")).unwrap();
        assert_eq!(
            fs::read_to_string(&output).unwrap(),
            "{\"row\":0,\"s\":\"b\"}\n{\"row\":1,\"s\":\"c\"}\n"
        );
    }

    #[test]
    fn settle_adopts_a_rename_the_state_did_not_record_and_forgets_one_not_made() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out.csv");
        let state_file = dir.path().join("out.csv.state.json");
        fs::write(&output, "row\n1\n").unwrap();
        let (len, hash) = hash_file(&output).unwrap();
        // Crash after the rename: the file is the pending one.
        let mut st = state(99, vec![[1, 2]]);
        st.pending_rewrite = Some(PendingRewrite {
            len,
            hash: hash.clone(),
        });
        settle(&output, &mut st, &state_file).unwrap();
        assert_eq!((st.output_len, st.output_hash.clone()), (len, Some(hash)));
        assert!(st.superseded.is_empty() && st.pending_rewrite.is_none());
        // Crash before the rename: the old file stays the job's, to be rewritten again.
        let mut st = state(99, vec![[1, 2]]);
        st.pending_rewrite = Some(PendingRewrite {
            len: 1,
            hash: "0".into(),
        });
        fs::write(tmp_path(&output), "half").unwrap();
        settle(&output, &mut st, &state_file).unwrap();
        assert_eq!(st.output_len, 99);
        assert_eq!(st.superseded, vec![[1, 2]]);
        assert!(
            !tmp_path(&output).exists(),
            "the unfinished rewrite is removed"
        );
    }
}
