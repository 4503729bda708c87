//! The file the job's rows were appended to as they finished (the output, or a Parquet
//! output's journal) put in its final shape once every row is in: each row's last line only
//! (a row sent again after a fix or a retry has several), in input order unless the job asks
//! for completion order. The index and the copy are the finishing path `results` shares
//! ([`crate::finish`]).
//!
//! Crash-safe at every point: the new file is written beside the old one, its length and
//! hash are recorded in the state as a pending rewrite, then it is synced and renamed over
//! the old one, then the state adopts it. A run that finds the rename done but not recorded
//! ([`settle`]) recognises the new file by its length and hash; one that finds it not done
//! carries on with the old file and finishes again.

use std::path::Path;

use crate::error::Error;
use crate::files::stamp_of;
use crate::finish::{Order, RecordFormat, Records};
use crate::output::OutputFormat;
use crate::state::State;

/// Before the rows file is opened: adopts a rewrite that was renamed into place but not yet
/// recorded, or forgets one that was not.
pub(crate) fn settle(rows_file: &Path, state: &mut State, state_file: &Path) -> Result<(), Error> {
    let Some(pending) = state.pending_rewrite.take() else {
        return Ok(());
    };
    let io = |e| Error::io(format!("cannot read {}", rows_file.display()), e);
    let now = stamp_of(rows_file).map_err(io)?;
    if now == pending {
        state.output_len = now.len;
        state.output_hash = Some(now.hash);
        state.superseded.clear();
    }
    state.save(state_file)
}

/// Puts `rows_file` (its first `state.output_len` bytes, in `format`) in its final shape,
/// each row's last line in `order`, and records it in the state as the finished job's.
pub(crate) fn finish(
    rows_file: &Path,
    format: OutputFormat,
    state: &mut State,
    state_file: &Path,
    order: Order,
) -> Result<(), Error> {
    let format = match format {
        OutputFormat::Csv => RecordFormat::Csv,
        OutputFormat::Jsonl | OutputFormat::Parquet => RecordFormat::Jsonl,
    };
    let records =
        Records::last_of_each_row(rows_file, format, state.output_len, state.total_rows, order)?;
    if !records.unchanged() {
        let (fresh, stamp) = crate::finish::write_fresh(rows_file, &records, rows_file)?;
        state.pending_rewrite = Some(stamp.clone());
        state.save(state_file)?;
        fresh
            .persist(rows_file)
            .map_err(|e| Error::io(format!("cannot write {}", rows_file.display()), e))?;
        state.pending_rewrite = None;
        state.output_len = stamp.len;
        state.output_hash = Some(stamp.hash);
    }
    state.superseded.clear();
    state.complete = true;
    state.retrying = 0;
    state.save(state_file)
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
            earlier_tokens: Vec::new(),
            group_id: None,
            backend: "b".into(),
            input: FileStamp {
                len: 0,
                hash: String::new(),
            },
            input_path: None,
            delimiter: None,
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
    fn finish_puts_the_rows_in_input_order_and_leaves_a_file_in_order_alone() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out.csv");
        let state_file = dir.path().join("state.json");
        let text = "row,name\n2,\"c\nc\"\n0,a\n1,b\n";
        std::fs::write(&output, text).unwrap();
        let mut st = state(text.len() as u64, vec![]);
        finish(
            &output,
            OutputFormat::Csv,
            &mut st,
            &state_file,
            Order::Input,
        )
        .unwrap();
        let expected = "row,name\n0,a\n1,b\n2,\"c\nc\"\n";
        assert_eq!(std::fs::read_to_string(&output).unwrap(), expected);
        assert!(st.complete);
        assert_eq!(st.output_hash, Some(stamp_of(&output).unwrap().hash));
        assert_eq!(State::load(&state_file).unwrap(), Some(st.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let inode = std::fs::metadata(&output).unwrap().ino();
            finish(
                &output,
                OutputFormat::Csv,
                &mut st,
                &state_file,
                Order::Input,
            )
            .unwrap();
            assert_eq!(
                std::fs::metadata(&output).unwrap().ino(),
                inode,
                "not written again"
            );
        }
    }

    #[test]
    fn finish_keeps_each_rows_last_line_and_multiline_records_whole() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out.csv");
        let state_file = dir.path().join("out.csv.state.json");
        let text = "row,name,status\n0,\"A\nB\",completed\n1,x,rejected\n2,y,failed\n\
                    1,x,completed\n2,\"y\ny\",completed\n";
        std::fs::write(&output, text).unwrap();
        let mut st = state(text.len() as u64, vec![[1, 3]]);
        finish(
            &output,
            OutputFormat::Csv,
            &mut st,
            &state_file,
            Order::Completion,
        )
        .unwrap();
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
    fn finish_reads_jsonl_rows() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out.jsonl");
        let text = "{\"row\":0,\"s\":\"a\"}\n{\"row\":0,\"s\":\"b\"}\n{\"row\":1,\"s\":\"c\"}\n";
        std::fs::write(&output, text).unwrap();
        let mut st = state(text.len() as u64, vec![[0, 1]]);
        st.total_rows = 2;
        finish(
            &output,
            OutputFormat::Jsonl,
            &mut st,
            &dir.path().join("s"),
            Order::Completion,
        )
        .unwrap();
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
