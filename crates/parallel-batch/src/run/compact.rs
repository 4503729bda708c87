//! Rewriting the output so that each row has one line, after rows were sent again (fixed
//! rejected rows, `--retry-failed`): their old lines are dropped, their last lines kept.
//!
//! Crash-safe at every point: the new file is written beside the output and synced, its
//! length and hash are recorded in the state as a pending rewrite, then it is renamed over
//! the output, then the state adopts it. A run that finds the rename done but not recorded
//! ([`settle`]) recognises the new file by its length and hash; one that finds it not done
//! carries on with the old file and rewrites again at the end.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use crate::error::Error;
use crate::files::{Fresh, Hashing, stamp_of};
use crate::output::OutputFormat;
use crate::row_set::RowSet;
use crate::state::State;

/// Before the output is opened: adopts a rewrite that was renamed into place but not yet
/// recorded, or forgets one that was not.
pub(crate) fn settle(output: &Path, state: &mut State, state_file: &Path) -> Result<(), Error> {
    let Some(pending) = state.pending_rewrite.take() else {
        return Ok(());
    };
    let io = |e| Error::io(format!("cannot read {}", output.display()), e);
    let now = stamp_of(output).map_err(io)?;
    if now == pending {
        state.output_len = now.len;
        state.output_hash = Some(now.hash);
        state.superseded.clear();
    }
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
    let fresh = Fresh::beside(output).map_err(io)?;
    let mut target = Hashing::new(BufWriter::new(fresh.file()));
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
    target.flush().map_err(io)?;
    let stamp = target.stamp();
    drop(target);
    fresh.file().sync_all().map_err(io)?;
    state.pending_rewrite = Some(stamp.clone());
    state.save(state_file)?;
    fresh.persist(output).map_err(io)?;
    state.pending_rewrite = None;
    state.output_len = stamp.len;
    state.output_hash = Some(stamp.hash);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counts::Counts;
    use crate::files::FileStamp;
    use crate::state::STATE_VERSION;

    fn state(len: u64, superseded: Vec<[u64; 2]>) -> State {
        State {
            version: STATE_VERSION,
            token: "t".into(),
            group_id: None,
            backend: "b".into(),
            input: FileStamp {
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
            counts: Counts {
                completed: 3,
                ..Counts::default()
            },
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
        std::fs::write(&output, text).unwrap();
        let mut st = state(text.len() as u64, vec![[1, 3]]);
        rewrite(&output, OutputFormat::Csv, &mut st, &state_file).unwrap();
        let expected = "row,name,status\n0,\"A\nB\",completed\n1,x,completed\n\
                        2,\"y\ny\",completed\n";
        assert_eq!(std::fs::read_to_string(&output).unwrap(), expected);
        assert!(st.complete && st.superseded.is_empty() && st.pending_rewrite.is_none());
        assert_eq!(st.output_len, expected.len() as u64);
        assert_eq!(State::load(&state_file).unwrap(), Some(st));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temporary file"
        );
    }

    #[test]
    fn rewrite_reads_jsonl_rows() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out.jsonl");
        let text = "{\"row\":0,\"s\":\"a\"}\n{\"row\":0,\"s\":\"b\"}\n{\"row\":1,\"s\":\"c\"}\n";
        std::fs::write(&output, text).unwrap();
        let mut st = state(text.len() as u64, vec![[0, 1]]);
        rewrite(&output, OutputFormat::Jsonl, &mut st, &dir.path().join("s")).unwrap();
        assert_eq!(
            std::fs::read_to_string(&output).unwrap(),
            "{\"row\":0,\"s\":\"b\"}\n{\"row\":1,\"s\":\"c\"}\n"
        );
    }

    #[test]
    fn settle_adopts_a_rename_the_state_did_not_record_and_forgets_one_not_made() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out.csv");
        let state_file = dir.path().join("out.csv.state.json");
        std::fs::write(&output, "row\n1\n").unwrap();
        let stamp = stamp_of(&output).unwrap();
        // Crash after the rename: the file is the pending one.
        let mut st = state(99, vec![[1, 2]]);
        st.pending_rewrite = Some(stamp.clone());
        settle(&output, &mut st, &state_file).unwrap();
        assert_eq!(
            (st.output_len, st.output_hash.clone()),
            (stamp.len, Some(stamp.hash))
        );
        assert!(st.superseded.is_empty() && st.pending_rewrite.is_none());
        // Crash before the rename: the old file stays the job's, to be rewritten again.
        let mut st = state(99, vec![[1, 2]]);
        st.pending_rewrite = Some(FileStamp {
            len: 1,
            hash: "0".into(),
        });
        settle(&output, &mut st, &state_file).unwrap();
        assert_eq!(st.output_len, 99);
        assert_eq!(st.superseded, vec![[1, 2]]);
    }
}
