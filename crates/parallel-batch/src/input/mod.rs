//! Lazy readers for the input file: CSV (first line is the header), JSON Lines, or Parquet.
//!
//! A reader yields one [`Row`] at a time and never holds more than one row (one record batch
//! of about a thousand rows for Parquet), so a file of any size streams in constant memory.
//! Each row becomes the run's `input`: a JSON object of the chosen columns (CSV values are
//! strings; Parquet values keep their types), or, for a JSONL line holding a JSON string, that
//! text. A malformed row is an error naming its line and column.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::value::RawValue;

use crate::error::Error;
use crate::files::{FileStamp, Hashing};
use delimited::CsvRows;
pub(crate) use delimiter::Chosen;
use delimiter::Delimiter;
pub(crate) use delimiter::{
    name as delimiter_name, parse as parse_delimiter, shown as delimiter_shown,
};

mod delimited;
mod delimiter;
mod lines;

/// The input file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum InputFormat {
    /// Delimited values with a header line: comma-, semicolon-, tab- or `|`-separated, as
    /// the header is (`--delimiter` to choose); a `.tsv` file is tab-separated.
    Csv,
    /// One JSON object (or string) per line.
    Jsonl,
    /// Apache Parquet: each row a JSON object whose values keep their column types (needs
    /// the `parquet` feature).
    Parquet,
}

impl InputFormat {
    /// What a row's position counts in messages: `line` (CSV, JSONL), or `row` (Parquet,
    /// 0-based like the output's `row` column).
    pub(crate) fn unit(self) -> &'static str {
        match self {
            Self::Csv | Self::Jsonl => "line",
            Self::Parquet => "row",
        }
    }

    /// The format's name, as `--format` takes it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Jsonl => "jsonl",
            Self::Parquet => "parquet",
        }
    }

    /// The format named by `explicit`, else guessed from the file extension.
    pub(crate) fn resolve(path: &Path, explicit: Option<Self>) -> Result<Self, Error> {
        if let Some(format) = explicit {
            return Ok(format);
        }
        if path.as_os_str() == "-" {
            return Err(Error::usage(
                "reading standard input (`-`) needs --format csv, jsonl or parquet",
            ));
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv" | "tsv") => Ok(Self::Csv),
            Some("jsonl" | "ndjson" | "json") => Ok(Self::Jsonl),
            Some("parquet") => Ok(Self::Parquet),
            _ => Err(Error::usage(format!(
                "cannot tell the format of {} from its extension (.csv, .tsv, .jsonl, \
                 .parquet); pass --format csv, --format jsonl or --format parquet",
                path.display()
            ))),
        }
    }
}

/// `--input-columns`: which input columns become the run input, and under which names.
///
/// Syntax: a comma-separated list of `source` or `source=target`, e.g. `name=company,website`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnMap {
    picks: Vec<(String, String)>,
}

impl ColumnMap {
    /// Parses the `--input-columns` syntax.
    pub(crate) fn parse(spec: &str) -> Result<Self, Error> {
        let mut picks: Vec<(String, String)> = Vec::new();
        for item in spec.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (source, target) = match item.split_once('=') {
                Some((s, t)) => (s.trim(), t.trim()),
                None => (item, item),
            };
            if source.is_empty() || target.is_empty() {
                return Err(Error::usage(format!(
                    "--input-columns: `{item}` needs a column name on both sides of `=`"
                )));
            }
            if picks.iter().any(|(_, t)| t == target) {
                return Err(Error::usage(format!(
                    "--input-columns: the name `{target}` is used twice"
                )));
            }
            picks.push((source.to_owned(), target.to_owned()));
        }
        if picks.is_empty() {
            return Err(Error::usage("--input-columns: no column named"));
        }
        Ok(Self { picks })
    }

    /// (column in the file, name in the run input), in order.
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    pub(crate) fn picks(&self) -> impl Iterator<Item = (&str, &str)> {
        self.picks.iter().map(|(s, t)| (s.as_str(), t.as_str()))
    }

    /// The names the columns get in the run input, in order.
    pub(crate) fn targets(&self) -> impl Iterator<Item = &str> {
        self.picks.iter().map(|(_, t)| t.as_str())
    }
}

/// One input row, ready to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    /// 0-based position among the data rows (the header is not a row).
    pub(crate) index: u64,
    /// 1-based line in the file where the row starts; for Parquet, the row's 0-based
    /// position (`index`), which messages call its row.
    pub(crate) line: u64,
    /// The run input as compact JSON: an object, or a string.
    pub(crate) input: String,
}

enum Source {
    Csv(CsvRows),
    Jsonl(JsonlRows),
    #[cfg(feature = "parquet")]
    Parquet(Box<crate::parquet::ParquetRows>),
}

/// Default for [`InputReader::set_max_row_lines`].
pub(crate) const MAX_ROW_LINES: u64 = 100;

struct JsonlRows {
    reader: BufReader<Hashing<File>>,
    buf: String,
    line: u64,
    map: Option<ColumnMap>,
}

impl JsonlRows {
    fn next(&mut self, path: &Path, index: u64) -> Result<Option<Row>, Error> {
        loop {
            self.buf.clear();
            let n = self.reader.read_line(&mut self.buf).map_err(|e| {
                if e.kind() == std::io::ErrorKind::InvalidData {
                    Error::input(path, self.line + 1, None, "the line is not valid UTF-8")
                } else {
                    Error::io(format!("cannot read {}", path.display()), e)
                }
            })?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            let text = if self.line == 1 {
                self.buf.trim_start_matches('\u{feff}').trim()
            } else {
                self.buf.trim()
            };
            if text.is_empty() {
                continue;
            }
            if self.line == 1 && text.starts_with('[') {
                return Err(Error::input(path, 1, None, ARRAY_HINT));
            }
            let input = jsonl_input(text, self.map.as_ref())
                .map_err(|(column, message)| Error::input(path, self.line, column, message))?;
            return Ok(Some(Row {
                index,
                line: self.line,
                input,
            }));
        }
    }
}

/// A lazy reader over an input file.
pub(crate) struct InputReader {
    path: PathBuf,
    source: Source,
    next_index: u64,
    columns: Option<Vec<String>>,
    max_row_lines: u64,
}

impl std::fmt::Debug for InputReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputReader")
            .field("path", &self.path)
            .field("next_index", &self.next_index)
            .finish_non_exhaustive()
    }
}

impl InputReader {
    /// Opens `path`; for CSV, reads and checks the header line, with `delimiter` or the
    /// one the header is delimited by.
    pub(crate) fn open(
        path: &Path,
        format: InputFormat,
        map: Option<&ColumnMap>,
        delimiter: Option<u8>,
    ) -> Result<Self, Error> {
        if format == InputFormat::Parquet {
            return Self::open_parquet(path, map);
        }
        let file = File::open(path)
            .map_err(|e| Error::io(format!("cannot open input {}", path.display()), e))?;
        let (source, columns) = match format {
            InputFormat::Csv => {
                let (rows, columns) =
                    CsvRows::open(path, file, map, Delimiter::of(path, delimiter))?;
                (Source::Csv(rows), Some(columns))
            }
            InputFormat::Parquet => return Self::open_parquet(path, map),
            InputFormat::Jsonl => (
                Source::Jsonl(JsonlRows {
                    reader: BufReader::with_capacity(256 * 1024, Hashing::new(file)),
                    buf: String::new(),
                    line: 0,
                    map: map.cloned(),
                }),
                map.map(|m| m.targets().map(str::to_owned).collect()),
            ),
        };
        Ok(Self {
            path: path.to_owned(),
            source,
            next_index: 0,
            columns,
            max_row_lines: MAX_ROW_LINES,
        })
    }

    #[cfg(feature = "parquet")]
    fn open_parquet(path: &Path, map: Option<&ColumnMap>) -> Result<Self, Error> {
        let rows = crate::parquet::ParquetRows::open(path, map)?;
        Ok(Self {
            path: path.to_owned(),
            columns: Some(rows.columns()),
            source: Source::Parquet(Box::new(rows)),
            next_index: 0,
            max_row_lines: MAX_ROW_LINES,
        })
    }

    #[cfg(not(feature = "parquet"))]
    fn open_parquet(_: &Path, _: Option<&ColumnMap>) -> Result<Self, Error> {
        Err(Error::parquet_not_built())
    }

    /// The input column names, when known up front (CSV, or JSONL with `--input-columns`).
    pub(crate) fn columns(&self) -> Option<&[String]> {
        self.columns.as_deref()
    }

    /// The delimiter a CSV input is read with.
    pub(crate) fn delimiter(&self) -> Option<Chosen> {
        match &self.source {
            Source::Csv(csv) => Some(csv.delimiter()),
            Source::Jsonl(_) => None,
            #[cfg(feature = "parquet")]
            Source::Parquet(_) => None,
        }
    }

    /// The next row, or `None` at the end of the file.
    pub(crate) fn next_row(&mut self) -> Result<Option<Row>, Error> {
        let index = self.next_index;
        let row = match &mut self.source {
            Source::Csv(csv) => csv.next(&self.path, index, self.max_row_lines)?,
            Source::Jsonl(jsonl) => jsonl.next(&self.path, index)?,
            #[cfg(feature = "parquet")]
            Source::Parquet(rows) => rows.next_input(&self.path)?.map(|input| Row {
                index,
                line: index,
                input,
            }),
        };
        if row.is_some() {
            self.next_index += 1;
        }
        Ok(row)
    }

    /// Sets the most lines one CSV row may span (a quoted field with line breaks); a row
    /// longer than that is an error at its first line, most likely a quote never closed.
    pub(crate) fn set_max_row_lines(&mut self, lines: u64) {
        self.max_row_lines = lines.max(1);
    }

    /// Length and hash of everything read so far: the whole file once `next_row` returned
    /// `None`. (A Parquet file is not read in order: it is read once more for its stamp.)
    #[cfg_attr(not(feature = "parquet"), allow(clippy::unnecessary_wraps))]
    pub(crate) fn fingerprint(&self) -> Result<FileStamp, Error> {
        let hashing = match &self.source {
            Source::Csv(csv) => csv.hashing(),
            Source::Jsonl(jsonl) => jsonl.reader.get_ref(),
            #[cfg(feature = "parquet")]
            Source::Parquet(_) => {
                return crate::files::stamp_of(&self.path).map_err(|e| {
                    Error::io(format!("cannot read input {}", self.path.display()), e)
                });
            }
        };
        Ok(hashing.stamp())
    }
}

/// Refuses an input that cannot be read (a wrong path, a directory) before anything else
/// happens: before a backend is picked or started, and before the output is locked (which
/// leaves its `.lock` file).
pub(crate) fn check_input(path: &Path) -> Result<(), Error> {
    if path.as_os_str() == "-" {
        return Ok(());
    }
    let cannot = |e: std::io::Error| Error::input_file(path, format!("cannot be opened: {e}"));
    let metadata = std::fs::metadata(path).map_err(cannot)?;
    if metadata.is_dir() {
        return Err(Error::input_file(
            path,
            "is a directory; give the CSV, JSONL or Parquet file to read",
        ));
    }
    // A regular file is opened to see that it can be read; a pipe is not (it is read once,
    // by the job).
    if metadata.is_file() {
        std::fs::File::open(path).map_err(cannot)?;
    }
    Ok(())
}

/// Why a JSON array is not read as rows, and what to do.
const ARRAY_HINT: &str = "expected a JSON object (or a JSON string) on each line, found a JSON \
     array: this reads JSON Lines (one object per line); convert the array first, e.g. \
     `jq -c '.[]' in.json > in.jsonl`";

/// One JSONL line to a run input; the error carries (column, message).
fn jsonl_input(text: &str, map: Option<&ColumnMap>) -> Result<String, (Option<String>, String)> {
    let raw: &RawValue = serde_json::from_str(text)
        .map_err(|e| (Some(e.column().to_string()), format!("invalid JSON: {e}")))?;
    let first = raw.get().as_bytes().first().copied();
    match (first, map) {
        (Some(b'{' | b'"'), None) => Ok(raw.get().to_owned()),
        (Some(b'{'), Some(map)) => {
            let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
                .map_err(|e| (Some(e.column().to_string()), format!("invalid JSON: {e}")))?;
            let mut input = String::from("{");
            for (n, (source, target)) in map.picks.iter().enumerate() {
                let Some(value) = object.get(source) else {
                    return Err((
                        Some(format!("`{source}`")),
                        format!("the object has no key `{source}` (named by --input-columns)"),
                    ));
                };
                if n > 0 {
                    input.push(',');
                }
                push_json_string(&mut input, target);
                input.push(':');
                input.push_str(&value.to_string());
            }
            input.push('}');
            Ok(input)
        }
        (Some(b'"'), Some(_)) => Err((
            None,
            "the line is a JSON string, but --input-columns needs JSON objects".to_owned(),
        )),
        _ => Err((
            Some("1".to_owned()),
            "expected a JSON object (or a JSON string) on each line".to_owned(),
        )),
    }
}

/// A JSON string literal for `s`.
pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_string(&mut out, s);
    out
}

/// Appends `s` as a JSON string literal.
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if let Some(e) = escape {
            out.push_str(e);
        } else {
            use std::fmt::Write;
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn all(reader: &mut InputReader) -> Vec<Row> {
        let mut rows = Vec::new();
        while let Some(row) = reader.next_row().unwrap() {
            rows.push(row);
        }
        rows
    }

    #[test]
    fn csv_rows_become_json_objects_with_picked_and_renamed_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "in.csv",
            "name,website,country\nAcme \"A\",acme.example,US\n\"Multi\nLine\",m.example,GB\n",
        );
        let map = ColumnMap::parse("name=company, website").unwrap();
        let mut reader = InputReader::open(&path, InputFormat::Csv, Some(&map), None).unwrap();
        assert_eq!(reader.columns().unwrap(), ["company", "website"]);
        let rows = all(&mut reader);
        assert_eq!(rows.len(), 2);
        let first: serde_json::Value = serde_json::from_str(&rows[0].input).unwrap();
        assert_eq!(
            first,
            serde_json::json!({"company": "Acme \"A\"", "website": "acme.example"})
        );
        assert_eq!((rows[0].index, rows[0].line), (0, 2));
        let second: serde_json::Value = serde_json::from_str(&rows[1].input).unwrap();
        assert_eq!(second["company"], "Multi\nLine");
        assert_eq!((rows[1].index, rows[1].line), (1, 3));
        assert_eq!(
            reader.fingerprint().unwrap().len,
            std::fs::metadata(&path).unwrap().len()
        );
    }

    #[test]
    fn csv_unknown_input_column_is_reported_with_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "in.csv", "name,website\na,b\n");
        let map = ColumnMap::parse("nmae").unwrap();
        let err = InputReader::open(&path, InputFormat::Csv, Some(&map), None).unwrap_err();
        assert_eq!(err.line(), Some(1));
        assert!(err.to_string().contains("no column `nmae`"));
    }

    #[test]
    fn jsonl_passes_objects_and_strings_and_skips_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "in.jsonl",
            "{\"a\": 1}\n\n\"free text\"\n{\"a\":2,\"b\":[1]}\n",
        );
        let mut reader = InputReader::open(&path, InputFormat::Jsonl, None, None).unwrap();
        let rows = all(&mut reader);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].input, "{\"a\": 1}");
        assert_eq!(rows[1].input, "\"free text\"");
        assert_eq!((rows[2].index, rows[2].line), (2, 4));
    }

    #[test]
    fn jsonl_bad_line_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "in.jsonl", "{\"a\":1}\n{\"a\":2}\n{\"a\" 3}\n");
        let mut reader = InputReader::open(&path, InputFormat::Jsonl, None, None).unwrap();
        reader.next_row().unwrap();
        reader.next_row().unwrap();
        let err = reader.next_row().unwrap_err();
        assert_eq!(err.line(), Some(3));
        assert!(err.to_string().contains("line 3, column 6"), "{err}");
        let path = write(&dir, "arr.jsonl", "[1,2]\n");
        let err = InputReader::open(&path, InputFormat::Jsonl, None, None)
            .unwrap()
            .next_row()
            .unwrap_err();
        assert!(err.to_string().contains("expected a JSON object"), "{err}");
    }

    #[test]
    fn jsonl_with_column_map_picks_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "in.jsonl",
            "{\"n\":\"x\",\"skip\":1,\"w\":{\"u\":2}}\n{\"w\":1}\n",
        );
        let map = ColumnMap::parse("n=name,w").unwrap();
        let mut reader = InputReader::open(&path, InputFormat::Jsonl, Some(&map), None).unwrap();
        let row = reader.next_row().unwrap().unwrap();
        assert_eq!(row.input, "{\"name\":\"x\",\"w\":{\"u\":2}}");
        let err = reader.next_row().unwrap_err();
        assert!(err.to_string().contains("line 2, column `n`"), "{err}");
    }

    #[test]
    fn format_from_extension_or_flag() {
        let p = Path::new("x.CSV");
        assert_eq!(InputFormat::resolve(p, None).unwrap(), InputFormat::Csv);
        assert_eq!(
            InputFormat::resolve(Path::new("x.ndjson"), None).unwrap(),
            InputFormat::Jsonl
        );
        assert!(
            InputFormat::resolve(Path::new("x.txt"), None)
                .unwrap_err()
                .is_usage()
        );
        assert_eq!(
            InputFormat::resolve(Path::new("x.txt"), Some(InputFormat::Csv)).unwrap(),
            InputFormat::Csv
        );
    }

    #[test]
    fn column_map_rejects_duplicates_and_empty_names() {
        assert!(ColumnMap::parse("a=x,b=x").is_err());
        assert!(ColumnMap::parse("a=").is_err());
        assert!(ColumnMap::parse(" , ").is_err());
    }

    #[test]
    fn json_string_escapes_control_characters() {
        let s = "a\"b\\c\nd\u{1}é";
        let encoded = json_string(s);
        let back: String = serde_json::from_str(&encoded).unwrap();
        assert_eq!(back, s);
    }
}
