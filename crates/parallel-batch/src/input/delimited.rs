//! Delimited input (CSV): a header line naming the columns, then one row per record, parsed by the `csv`
//! crate with the delimiter the file uses ([`super::delimiter`]) and positions given as the
//! lines a text editor shows ([`super::lines`]).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::delimiter::{self, Chosen, Delimiter};
use super::lines::{LineCounting, line_breaks_in};
use super::{ColumnMap, Row, json_string, push_json_string};
use crate::error::Error;
use crate::files::Hashing;

/// The rows of a CSV file.
pub(super) struct CsvRows {
    reader: csv::Reader<LineCounting<Hashing<File>>>,
    record: csv::StringRecord,
    /// For each output key: (index in the CSV record, key already JSON-escaped).
    picks: Vec<(usize, String)>,
    headers: Vec<String>,
    /// The size of a regular file (not a pipe), to tell a row that runs to its end.
    file_len: Option<u64>,
    delimiter: Chosen,
}

impl CsvRows {
    /// Reads and checks the header of `file` (at `path`); also returns the names the
    /// columns get in the run input.
    pub(super) fn open(
        path: &Path,
        file: File,
        map: Option<&ColumnMap>,
        delimiter: Delimiter,
    ) -> Result<(Self, Vec<String>), Error> {
        let file_len = file
            .metadata()
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map(|m| m.len());
        // Read once (a pipe cannot be read again): the header is peeked for its delimiter,
        // then parsed.
        let mut source = LineCounting::new(Hashing::new(file));
        let delimiter = delimiter::choose(path, delimiter, &mut source)?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .delimiter(delimiter.byte)
            .buffer_capacity(256 * 1024)
            .from_reader(source);
        let headers: Vec<String> = match reader.headers() {
            Ok(headers) => headers.iter().map(|h| h.trim().to_owned()).collect(),
            Err(e) => return Err(csv_error(path, &e, &[], reader.get_mut())),
        };
        check_header(path, &headers)?;
        let pairs: Vec<(String, String)> = match map {
            Some(map) => map.picks.clone(),
            None => headers.iter().map(|h| (h.clone(), h.clone())).collect(),
        };
        let mut picks = Vec::with_capacity(pairs.len());
        for (source, target) in &pairs {
            let Some(index) = headers.iter().position(|h| h == source) else {
                return Err(Error::input(
                    path,
                    1,
                    None,
                    format!(
                        "no column `{source}` in the header (columns: {})",
                        headers.join(", ")
                    ),
                ));
            };
            picks.push((index, json_string(target)));
        }
        let columns = pairs.into_iter().map(|(_, t)| t).collect();
        let rows = Self {
            reader,
            record: csv::StringRecord::new(),
            picks,
            headers,
            file_len,
            delimiter,
        };
        Ok((rows, columns))
    }

    /// The delimiter the file is read with.
    pub(super) fn delimiter(&self) -> Chosen {
        self.delimiter
    }

    /// Everything read so far, counted and hashed.
    pub(super) fn hashing(&self) -> &Hashing<File> {
        self.reader.get_ref().get_ref()
    }

    pub(super) fn next(
        &mut self,
        path: &Path,
        index: u64,
        max_lines: u64,
    ) -> Result<Option<Row>, Error> {
        match self.reader.read_record(&mut self.record) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) => return Err(csv_error(path, &e, &self.headers, self.reader.get_mut())),
        }
        let start = self.record.position().map_or(0, csv::Position::byte);
        let line = self.reader.get_mut().line_at(start);
        // The line breaks a row holds are in its quoted fields.
        let spans = 1 + line_breaks_in(self.record.as_slice().as_bytes(), None);
        if spans > 1 {
            self.check_multiline(path, line, spans, max_lines)?;
        }
        let record = &self.record;
        let mut input = String::with_capacity(record.as_slice().len() + 16 * self.picks.len());
        input.push('{');
        for (n, (index, key)) in self.picks.iter().enumerate() {
            if n > 0 {
                input.push(',');
            }
            input.push_str(key);
            input.push(':');
            push_json_string(&mut input, record.get(*index).unwrap_or(""));
        }
        input.push('}');
        Ok(Some(Row { index, line, input }))
    }

    /// A row over several lines is a quoted field with line breaks: refused when it spans
    /// more than `max_lines`, or when its last field runs to the end of the file without a
    /// closing quote (a quote opened and never closed swallows every later row).
    fn check_multiline(
        &mut self,
        path: &Path,
        line: u64,
        spans: u64,
        max_lines: u64,
    ) -> Result<(), Error> {
        let last = self.record.len().saturating_sub(1);
        let column = match self.headers.get(last) {
            Some(name) => format!("{} (`{name}`)", last + 1),
            None => (last + 1).to_string(),
        };
        if spans > max_lines {
            return Err(Error::input(
                path,
                line,
                None,
                format!(
                    "this row spans {spans} lines, more than --max-row-lines {max_lines}: a \
                     quoted field (starting with `\"`) is probably never closed"
                ),
            ));
        }
        let runs_to_end = self
            .file_len
            .is_some_and(|len| self.reader.position().byte() >= len);
        let last_has_break = self
            .record
            .get(last)
            .is_some_and(|f| f.contains(['\n', '\r']));
        if last_has_break && runs_to_end && !ends_with_quote(path)? {
            return Err(Error::input(
                path,
                line,
                Some(column),
                "a quoted field opens on this line and is not closed before the end of the \
                 file (a missing `\"`?)",
            ));
        }
        Ok(())
    }
}

/// Whether the file's last character, line breaks aside, is a `"`.
fn ends_with_quote(path: &Path) -> Result<bool, Error> {
    use std::io::Seek;
    let io = |e| Error::io(format!("cannot read {}", path.display()), e);
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let take = len.min(64);
    file.seek(std::io::SeekFrom::Start(len - take))
        .map_err(io)?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).map_err(io)?;
    let trimmed = tail.trim_ascii_end();
    Ok(trimmed.last() == Some(&b'"'))
}

/// The header names every column, each once. Linear in the number of columns.
fn check_header(path: &Path, headers: &[String]) -> Result<(), Error> {
    if headers.iter().all(String::is_empty) {
        return Err(Error::input(
            path,
            1,
            None,
            "the header line is empty; the first line must name the columns",
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        if h.is_empty() {
            return Err(Error::input(
                path,
                1,
                Some((i + 1).to_string()),
                "this column has no name in the header; name it, or remove the column",
            ));
        }
        if !seen.insert(h.as_str()) {
            return Err(Error::input(
                path,
                1,
                Some(format!("{} (`{h}`)", i + 1)),
                "this column name appears twice in the header",
            ));
        }
    }
    Ok(())
}

/// A parse error at the line a text editor shows.
fn csv_error<R>(
    path: &Path,
    error: &csv::Error,
    headers: &[String],
    lines: &mut LineCounting<R>,
) -> Error {
    let line = error
        .position()
        .map_or(1, |position| lines.line_at(position.byte()));
    let column_name = |index: usize| -> String {
        match headers.get(index) {
            Some(name) if !name.is_empty() => format!("{} (`{name}`)", index + 1),
            _ => (index + 1).to_string(),
        }
    };
    match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            #[allow(clippy::cast_possible_truncation)]
            let (expected, found) = (*expected_len as usize, *len as usize);
            let column = if found < expected {
                column_name(found)
            } else {
                column_name(expected)
            };
            Error::input(
                path,
                line,
                Some(column),
                format!(
                    "expected {expected} fields like the header, found {found} (a stray \
                     delimiter, or a quote not closed?)"
                ),
            )
        }
        csv::ErrorKind::Utf8 { err, .. } => Error::input(
            path,
            line,
            Some(column_name(err.field())),
            "the field is not valid UTF-8 (save the file as UTF-8)",
        ),
        csv::ErrorKind::Io(e) => Error::io(
            format!("cannot read {}", path.display()),
            std::io::Error::new(e.kind(), e.to_string()),
        ),
        _ => Error::input(path, line, None, error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{InputFormat, InputReader};

    fn reader(text: &str) -> (tempfile::TempDir, InputReader) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        std::fs::write(&path, text).unwrap();
        let reader = InputReader::open(&path, InputFormat::Csv, None, None).unwrap();
        (dir, reader)
    }

    #[test]
    fn csv_row_with_wrong_field_count_names_line_and_column() {
        let (_dir, mut reader) = reader("name,website\na,b\nc\nd,e\n");
        assert!(reader.next_row().unwrap().is_some());
        let err = reader.next_row().unwrap_err();
        assert!(err.is_input());
        assert_eq!(err.line(), Some(3));
        let text = err.to_string();
        assert!(text.contains("line 3, column 2 (`website`)"), "{text}");
    }

    #[test]
    fn windows_line_endings_and_blank_lines_give_the_lines_an_editor_shows() {
        let (_dir, mut reader) = reader("name,website\r\na,b\r\n\r\nc,\"d\r\ne\"\r\nf,g\r\nh\r\n");
        let lines: Vec<u64> = (0..3)
            .map(|_| reader.next_row().unwrap().unwrap().line)
            .collect();
        assert_eq!(lines, [2, 4, 6]);
        let err = reader.next_row().unwrap_err();
        assert!(err.to_string().contains("line 7, column 2"), "{err}");
    }

    #[test]
    fn a_semicolon_separated_file_has_its_columns() {
        let (_dir, mut reader) = reader("name;website\nAcme;acme.example\n");
        assert_eq!(reader.columns().unwrap(), ["name", "website"]);
        assert_eq!(
            reader.next_row().unwrap().unwrap().input,
            r#"{"name":"Acme","website":"acme.example"}"#
        );
        assert!(reader.delimiter().unwrap().unexpected);
    }
}
