//! The last step of a file the tool wrote as rows finished, shared by `run` (its output, or
//! a Parquet output's journal) and `results` (the runs it read): the records put in their
//! final shape (each row's last record, or every record; in input order or as they
//! finished) in a fresh file beside the target, to be synced and renamed over it, so that a
//! crash leaves the old file or the new one, never a mix. Memory is an index of the records,
//! not the file ([`Records`]).

mod order;
mod records;

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::Error;
use crate::files::{FileStamp, Fresh, Hashing, no_follow};
use crate::output::JournalLine;
pub(crate) use order::Order;
pub(crate) use records::{RecordFormat, Records};

/// Writes the records `records` keeps, read from `source`, to a fresh file beside
/// `target`: the file (to persist over `target`, or to read and drop) and its stamp.
pub(crate) fn write_fresh(
    source: &Path,
    records: &Records,
    target: &Path,
) -> Result<(Fresh, FileStamp), Error> {
    let read = no_follow::open_to_read(source)
        .map_err(|e| Error::io(format!("cannot read {}", source.display()), e))?;
    let io = |e| Error::io(format!("cannot write {}", target.display()), e);
    let fresh = Fresh::beside(target).map_err(io)?;
    let mut out = Hashing::new(BufWriter::with_capacity(256 * 1024, fresh.file()));
    records.copy(&read, &mut out).map_err(io)?;
    out.flush().map_err(io)?;
    let stamp = out.stamp();
    drop(out);
    Ok((fresh, stamp))
}

/// Calls `each` with every JSON Lines record of the first `len` bytes of `path`.
pub(crate) fn each_journal_line(
    path: &Path,
    len: u64,
    mut each: impl FnMut(&JournalLine<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    use std::io::{BufRead, Read};
    let io = |e| Error::io(format!("cannot read {}", path.display()), e);
    let file = no_follow::open_to_read(path).map_err(io)?;
    let mut reader = std::io::BufReader::with_capacity(256 * 1024, file.take(len));
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(io)? == 0 {
            return Ok(());
        }
        let line: JournalLine<'_> = serde_json::from_slice(&buf)
            .map_err(|e| Error::state(format!("{} is damaged: {e}", path.display())))?;
        each(&line)?;
    }
}
