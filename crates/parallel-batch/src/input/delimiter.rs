//! The field delimiter of a CSV input: the one given with `--delimiter`, or the one its
//! header line is delimited by. Excel saves "CSV" with `;` where `,` is the decimal
//! separator, and tab- and `|`-separated files are common: read with `,`, such a file would
//! be one column holding whole lines, and every row would be paid for.
//!
//! The header is read for `,` `;` tab and `|` outside quotes: the one it holds most often is
//! used (none: the file has one column, and the extension's delimiter is used, `,` or tab for
//! `.tsv`). A header that holds two of them as often is ambiguous, and an error before
//! anything is sent, unless `--delimiter` says which.

use std::path::Path;

use super::lines::LineCounting;
use crate::error::Error;

/// The delimiters a header line is read for, in the order a tie is named.
const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];

/// The most of a header line read to find its delimiter.
const MAX_HEADER: usize = 1024 * 1024;

/// How a CSV input's delimiter is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delimiter {
    /// Given by the user (`--delimiter`), or found by an earlier read of the same file.
    Given(u8),
    /// Found in the header line; `expected` is the extension's (`,`, or tab for `.tsv`).
    Detect { expected: u8 },
}

impl Delimiter {
    /// The delimiter of `path`: `given`, else detected from its header.
    pub(crate) fn of(path: &Path, given: Option<u8>) -> Self {
        match given {
            Some(byte) => Self::Given(byte),
            None => Self::Detect {
                expected: expected_for(path),
            },
        }
    }
}

/// The delimiter a reader uses, and whether it is another than the extension says (to be
/// told to the user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chosen {
    pub(crate) byte: u8,
    pub(crate) unexpected: bool,
}

impl Chosen {
    /// What the user is told when the delimiter was found in the header and is not the one
    /// the extension implies; `None` otherwise.
    pub(crate) fn notice(self, path: &Path) -> Option<String> {
        self.unexpected.then(|| {
            format!(
                "{}: read as {}-separated values, as its header line is (pass --delimiter \
                 to choose the delimiter)",
                path.display(),
                name(self.byte)
            )
        })
    }
}

/// The delimiter a file's extension implies: tab for `.tsv`, else `,`.
fn expected_for(path: &Path) -> u8 {
    let tsv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
    if tsv { b'\t' } else { b',' }
}

/// The delimiter `--delimiter VALUE` names: one ASCII character other than a quote or a line
/// break, or `tab` (or `\t`).
pub(crate) fn parse(value: &str) -> Result<u8, Error> {
    let byte = match value {
        "tab" | "\\t" | "\t" => b'\t',
        _ => match value.as_bytes() {
            [b] if b.is_ascii() && !matches!(b, b'"' | b'\n' | b'\r') => *b,
            _ => {
                return Err(Error::usage(format!(
                    "--delimiter `{value}`: expected one character, such as `,` `;` `|` or \
                     `tab` (not a quote or a line break)"
                )));
            }
        },
    };
    Ok(byte)
}

/// The delimiter to read `path` with; `source` is its start, read ahead of the parser.
pub(crate) fn choose<R: std::io::Read>(
    path: &Path,
    delimiter: Delimiter,
    source: &mut LineCounting<R>,
) -> Result<Chosen, Error> {
    let expected = match delimiter {
        Delimiter::Given(byte) => {
            return Ok(Chosen {
                byte,
                unexpected: false,
            });
        }
        Delimiter::Detect { expected } => expected,
    };
    let start = source
        .peek(|bytes| line_end(bytes).is_some(), MAX_HEADER)
        .map_err(|e| Error::io(format!("cannot read input {}", path.display()), e))?;
    let header = header_line(start);
    let byte = detect(header, expected).map_err(|message| Error::input(path, 1, None, message))?;
    Ok(Chosen {
        byte,
        unexpected: byte != expected,
    })
}

/// The delimiter of a header line: the candidate it holds most often outside quotes, or
/// `expected` if it holds none; an ambiguous header is an error.
fn detect(header: &[u8], expected: u8) -> Result<u8, String> {
    let mut counts = [0usize; CANDIDATES.len()];
    let mut quoted = false;
    for &b in header {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(i) = CANDIDATES.iter().position(|&c| c == b) {
            counts[i] += 1;
        }
    }
    let most = counts.iter().copied().max().unwrap_or(0);
    if most == 0 {
        return Ok(expected);
    }
    let tied: Vec<u8> = (0..CANDIDATES.len())
        .filter(|&i| counts[i] == most)
        .map(|i| CANDIDATES[i])
        .collect();
    if let [only] = tied[..] {
        return Ok(only);
    }
    let names: Vec<String> = tied.iter().map(|&b| name(b)).collect();
    Err(format!(
        "the header line looks delimited by {} alike ({most} of each): pass --delimiter to \
         say which (e.g. --delimiter '{}')",
        names.join(" and by "),
        shown(tied[0])
    ))
}

/// Where the first line of `bytes` ends: its first line break outside quotes.
fn line_end(bytes: &[u8]) -> Option<usize> {
    let mut quoted = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// The header line at the start of a file (at most [`MAX_HEADER`] bytes), without a byte
/// order mark.
fn header_line(start: &[u8]) -> &[u8] {
    let line = &start[..line_end(start).unwrap_or(start.len()).min(MAX_HEADER)];
    line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
}

/// A delimiter in words: `` `;` (semicolon) ``.
pub(crate) fn name(byte: u8) -> String {
    let word = match byte {
        b',' => " (comma)",
        b';' => " (semicolon)",
        b'\t' => return "tab".to_owned(),
        b'|' => " (pipe)",
        _ => "",
    };
    format!("`{}`{word}", shown(byte))
}

/// A delimiter as it is typed after `--delimiter`.
pub(crate) fn shown(byte: u8) -> String {
    if byte == b'\t' {
        "tab".to_owned()
    } else {
        char::from(byte).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_says_which_delimiter() {
        assert_eq!(detect(b"name,website,country", b','), Ok(b','));
        assert_eq!(detect(b"name;website;country", b','), Ok(b';'));
        assert_eq!(detect(b"name\twebsite", b','), Ok(b'\t'));
        assert_eq!(detect(b"name|website", b','), Ok(b'|'));
        assert_eq!(detect(b"name,website", b'\t'), Ok(b','));
        // One column: the extension's.
        assert_eq!(detect(b"name", b','), Ok(b','));
        assert_eq!(detect(b"name", b'\t'), Ok(b'\t'));
        // A delimiter inside quotes, or less often than another, is not the delimiter.
        assert_eq!(detect(b"\"a;b;c\",d", b','), Ok(b','));
        assert_eq!(detect(b"id,price (EUR; incl. VAT),name", b','), Ok(b','));
    }

    #[test]
    fn a_header_delimited_two_ways_alike_is_an_error_that_says_what_to_do() {
        let err = detect(b"name;website,country", b',').unwrap_err();
        assert!(
            err.contains("`,` (comma) and by `;` (semicolon) alike (1 of each)"),
            "{err}"
        );
        assert!(err.contains("--delimiter ','"), "{err}");
    }

    #[test]
    fn delimiter_flags() {
        assert_eq!(parse(";").unwrap(), b';');
        assert_eq!(parse("tab").unwrap(), b'\t');
        assert_eq!(parse("\\t").unwrap(), b'\t');
        for bad in ["", ";;", "\"", "é"] {
            assert!(parse(bad).unwrap_err().is_usage(), "{bad}");
        }
    }

    #[test]
    fn tsv_files_expect_tabs() {
        assert_eq!(expected_for(Path::new("a.TSV")), b'\t');
        assert_eq!(expected_for(Path::new("a.csv")), b',');
        assert_eq!(
            Delimiter::of(Path::new("a.tsv"), Some(b';')),
            Delimiter::Given(b';')
        );
    }

    #[test]
    fn the_header_line_ends_at_a_line_break_outside_quotes() {
        let start = "\u{feff}\"a\nb\";c\r\nd,e,f\n";
        assert_eq!(header_line(start.as_bytes()), b"\"a\nb\";c");
        assert_eq!(header_line(b"a;b"), b"a;b");
    }
}
