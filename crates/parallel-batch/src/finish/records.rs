//! The records of a file the tool appended rows to (CSV or JSON Lines), found in one
//! sequential pass, and which of them, in which order, make the finished file.
//!
//! Memory is an index, not the file: 12 bytes a record kept (its offset and length), plus
//! while the index is built 12 more a row for each row's last record, or 24 a record when
//! every record is kept and sorted. The records are then copied in order with positioned
//! reads, runs of records that follow each other in the file read at once.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use super::Order;
use crate::error::Error;
use crate::row_set::RowSet;

/// How the records of a file are delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordFormat {
    /// CSV with a header line; a record may span lines (quoted line breaks); its first
    /// field is the row.
    Csv,
    /// JSON Lines; each line an object whose `row` member is the row.
    Jsonl,
}

/// An offset of no record.
const NONE: u64 = u64::MAX;

/// Bytes read at once when records follow each other in the file.
const READ_AT_ONCE: u64 = 1 << 20;

/// Which records of a file make the finished file, in order.
#[derive(Debug)]
pub(crate) struct Records {
    /// A CSV file's header: kept first.
    head: Option<(u64, u32)>,
    /// The records kept, in the finished file's order.
    offsets: Vec<u64>,
    lens: Vec<u32>,
    /// Whether the file already is the finished file (the same records in that order).
    unchanged: bool,
}

/// One record as the pass finds it.
struct Found {
    row: u64,
    offset: u64,
    len: u32,
}

impl Records {
    /// Each row's last record, for rows `0..total` (every one must have one), in `order`.
    pub(crate) fn last_of_each_row(
        path: &Path,
        format: RecordFormat,
        len: u64,
        total: u64,
        order: Order,
    ) -> Result<Self, Error> {
        Self::last_of_rows(path, format, len, total, None, order)
    }

    /// Each row's last record, for the rows of `0..total` in `rows` (every one must have one;
    /// `None`: every row), in `order`.
    pub(crate) fn last_of_rows(
        path: &Path,
        format: RecordFormat,
        len: u64,
        total: u64,
        rows: Option<&RowSet>,
        order: Order,
    ) -> Result<Self, Error> {
        let slots = usize::try_from(total).map_err(|_| too_large(path))?;
        let (mut offsets, mut lens) = (vec![NONE; slots], vec![0u32; slots]);
        let (mut records, mut in_row_order) = (0u64, true);
        let head = each_record(path, format, len, |found| {
            let slot = usize::try_from(found.row)
                .ok()
                .filter(|&slot| slot < slots)
                .ok_or_else(|| {
                    Error::state(format!(
                        "{} holds row {}, but the input has {total} rows",
                        path.display(),
                        found.row
                    ))
                })?;
            in_row_order &= found.row == records;
            records += 1;
            offsets[slot] = found.offset;
            lens[slot] = found.len;
            Ok(())
        })?;
        let wanted = |row: usize| rows.is_none_or(|rows| rows.contains(row as u64));
        if let Some(row) = (0..slots).find(|&row| offsets[row] == NONE && wanted(row)) {
            return Err(Error::state(format!(
                "row {row} is missing from {}, though the job's state says it was written",
                path.display()
            )));
        }
        if rows.is_some() {
            let kept: Vec<(u64, u32)> = (offsets.iter().copied().zip(lens.iter().copied()))
                .filter(|&(offset, _)| offset != NONE)
                .collect();
            (offsets, lens) = kept.into_iter().unzip();
        }
        let once_each = records == offsets.len() as u64;
        let mut kept = Self {
            head,
            offsets,
            lens,
            unchanged: once_each && (in_row_order || order == Order::Completion),
        };
        if order == Order::Completion && !once_each {
            kept.sort_by_offset();
        }
        Ok(kept)
    }

    /// Every record, in `order`: by row (records of one row as they are in the file), or as
    /// they are in the file.
    pub(crate) fn every(
        path: &Path,
        format: RecordFormat,
        len: u64,
        order: Order,
    ) -> Result<Self, Error> {
        let mut found = Vec::new();
        let mut sorted = true;
        let head = each_record(path, format, len, |record| {
            sorted &= found.last().is_none_or(|&(row, _, _)| row <= record.row);
            found.push((record.row, record.offset, record.len));
            Ok(())
        })?;
        let unchanged = sorted || order == Order::Completion;
        if !unchanged {
            // The offsets make every key unique: an unstable sort keeps a row's records in
            // file order.
            found.sort_unstable();
        }
        Ok(Self {
            head,
            offsets: found.iter().map(|&(_, offset, _)| offset).collect(),
            lens: found.iter().map(|&(_, _, len)| len).collect(),
            unchanged,
        })
    }

    /// Whether the file already is the finished file.
    pub(crate) fn unchanged(&self) -> bool {
        self.unchanged
    }

    /// Copies the header, then the records, in order, from `source` to `to`.
    pub(crate) fn copy(&self, source: &File, to: &mut impl Write) -> std::io::Result<()> {
        let mut buf = Vec::new();
        if let Some((offset, len)) = self.head {
            copy_span(source, offset, u64::from(len), &mut buf, to)?;
        }
        let mut i = 0;
        while i < self.offsets.len() {
            let start = self.offsets[i];
            let mut end = start + u64::from(self.lens[i]);
            i += 1;
            while i < self.offsets.len() && self.offsets[i] == end && end - start < READ_AT_ONCE {
                end += u64::from(self.lens[i]);
                i += 1;
            }
            copy_span(source, start, end - start, &mut buf, to)?;
        }
        Ok(())
    }

    fn sort_by_offset(&mut self) {
        let mut pairs: Vec<(u64, u32)> = self
            .offsets
            .iter()
            .copied()
            .zip(self.lens.iter().copied())
            .collect();
        pairs.sort_unstable();
        (self.offsets, self.lens) = pairs.into_iter().unzip();
    }
}

fn copy_span(
    source: &File,
    offset: u64,
    len: u64,
    buf: &mut Vec<u8>,
    to: &mut impl Write,
) -> std::io::Result<()> {
    buf.resize(usize::try_from(len).map_err(std::io::Error::other)?, 0);
    read_exact_at(source, buf, offset)?;
    to.write_all(buf)
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut file = file;
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

fn too_large(path: &Path) -> Error {
    Error::state(format!(
        "{} has more rows than this machine can index",
        path.display()
    ))
}

/// Calls `each` with every record of the first `len` bytes of `path` (a CSV file's header
/// aside, returned).
fn each_record(
    path: &Path,
    format: RecordFormat,
    len: u64,
    each: impl FnMut(Found) -> Result<(), Error>,
) -> Result<Option<(u64, u32)>, Error> {
    let io = |e| Error::io(format!("cannot read {}", path.display()), e);
    let file = crate::files::no_follow::open_to_read(path).map_err(io)?;
    let reader = BufReader::with_capacity(256 * 1024, file.take(len));
    match format {
        RecordFormat::Jsonl => each_line(path, reader, each).map(|()| None),
        RecordFormat::Csv => each_csv_record(path, reader, each),
    }
}

fn each_line(
    path: &Path,
    mut reader: impl BufRead,
    mut each: impl FnMut(Found) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut line = Vec::new();
    let mut offset = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        if n == 0 {
            return Ok(());
        }
        let row = jsonl_row(&line).ok_or_else(|| damaged(path, offset))?;
        let len = u32::try_from(n).map_err(|_| damaged(path, offset))?;
        each(Found { row, offset, len })?;
        offset += n as u64;
    }
}

/// The `row` of a JSON Lines record: read from its start, where the tool writes it
/// (`{"row":12,...`), else from the whole object.
fn jsonl_row(line: &[u8]) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct RowOnly {
        row: u64,
    }
    if let Some(rest) = line.strip_prefix(b"{\"row\":") {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 && rest.get(digits) == Some(&b',') {
            return std::str::from_utf8(&rest[..digits]).ok()?.parse().ok();
        }
    }
    serde_json::from_slice::<RowOnly>(line).ok().map(|r| r.row)
}

fn each_csv_record(
    path: &Path,
    reader: impl Read,
    mut each: impl FnMut(Found) -> Result<(), Error>,
) -> Result<Option<(u64, u32)>, Error> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    let (mut head, mut start) = (None, 0u64);
    loop {
        let more = csv
            .read_byte_record(&mut record)
            .map_err(|e| Error::state(format!("{} is damaged: {e}", path.display())))?;
        if !more {
            return Ok(head);
        }
        let end = csv.position().byte();
        let len = u32::try_from(end - start).map_err(|_| damaged(path, start))?;
        let row = std::str::from_utf8(record.get(0).unwrap_or_default())
            .ok()
            .and_then(|field| field.parse().ok());
        match row {
            Some(row) => each(Found {
                row,
                offset: start,
                len,
            })?,
            None if start == 0 => head = Some((0, len)),
            None => return Err(damaged(path, start)),
        }
        start = end;
    }
}

fn damaged(path: &Path, offset: u64) -> Error {
    Error::state(format!(
        "{} is damaged at byte {offset} (not a record this tool wrote)",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(text: &str, records: &Records) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, text).unwrap();
        let mut out = Vec::new();
        records.copy(&File::open(&path).unwrap(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn records_of(text: &str, pick: impl Fn(&Path, u64) -> Records) -> Records {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, text).unwrap();
        pick(&path, text.len() as u64)
    }

    const CSV: &str = "row,name,status\n2,\"B\nb\",failed\n0,A,completed\n1,x,rejected\n\
                       2,\"B\nb\",completed\n1,x,completed\n";

    #[test]
    fn each_rows_last_csv_record_in_input_or_completion_order() {
        let input = records_of(CSV, |p, len| {
            Records::last_of_each_row(p, RecordFormat::Csv, len, 3, Order::Input).unwrap()
        });
        assert!(!input.unchanged());
        assert_eq!(
            finished(CSV, &input),
            "row,name,status\n0,A,completed\n1,x,completed\n2,\"B\nb\",completed\n"
        );
        let completion = records_of(CSV, |p, len| {
            Records::last_of_each_row(p, RecordFormat::Csv, len, 3, Order::Completion).unwrap()
        });
        assert_eq!(
            finished(CSV, &completion),
            "row,name,status\n0,A,completed\n2,\"B\nb\",completed\n1,x,completed\n"
        );
    }

    #[test]
    fn a_file_already_in_its_final_shape_is_left_as_it_is() {
        let text = "{\"row\":0,\"a\":1}\n{\"row\":1,\"a\":2}\n";
        for order in [Order::Input, Order::Completion] {
            let records = records_of(text, |p, len| {
                Records::last_of_each_row(p, RecordFormat::Jsonl, len, 2, order).unwrap()
            });
            assert!(records.unchanged(), "{order:?}");
        }
        let swapped = "{\"row\":1,\"a\":2}\n{\"row\":0,\"a\":1}\n";
        let completion = records_of(swapped, |p, len| {
            Records::last_of_each_row(p, RecordFormat::Jsonl, len, 2, Order::Completion).unwrap()
        });
        assert!(completion.unchanged());
    }

    #[test]
    fn every_record_by_row_keeps_a_rows_records_in_file_order() {
        let text = "{\"row\":3,\"n\":\"a\"}\n{\"row\":1,\"n\":\"b\"}\n{ \"n\":\"c\", \"row\": 3}\n\
                    {\"row\":0,\"n\":\"d\"}\n";
        let records = records_of(text, |p, len| {
            Records::every(p, RecordFormat::Jsonl, len, Order::Input).unwrap()
        });
        assert_eq!(
            finished(text, &records),
            "{\"row\":0,\"n\":\"d\"}\n{\"row\":1,\"n\":\"b\"}\n{\"row\":3,\"n\":\"a\"}\n\
             { \"n\":\"c\", \"row\": 3}\n"
        );
    }

    #[test]
    fn a_missing_row_or_a_row_past_the_input_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "{\"row\":0}\n{\"row\":2}\n").unwrap();
        let err =
            Records::last_of_each_row(&path, RecordFormat::Jsonl, 20, 3, Order::Input).unwrap_err();
        assert!(err.to_string().contains("row 1 is missing"), "{err}");
        let some = RowSet::from_ranges(&[[0, 1], [2, 3]]);
        let records =
            Records::last_of_rows(&path, RecordFormat::Jsonl, 20, 3, Some(&some), Order::Input)
                .unwrap();
        assert_eq!(records.offsets, [0, 10], "the rows asked for");
        let err =
            Records::last_of_each_row(&path, RecordFormat::Jsonl, 20, 2, Order::Input).unwrap_err();
        assert!(err.to_string().contains("holds row 2"), "{err}");
        std::fs::write(&path, "not json\n").unwrap();
        let err = Records::every(&path, RecordFormat::Jsonl, 9, Order::Input).unwrap_err();
        assert!(err.to_string().contains("damaged at byte 0"), "{err}");
    }
}
