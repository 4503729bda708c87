//! Line numbers as a text editor shows them, for the records the `csv` crate reads.
//!
//! The `csv` crate counts `\n` bytes, and puts a record's position before the line break
//! that ended the record before it when that break is `\r\n` (it stops at the `\r`), or
//! before the blank lines it skips: in a file with Windows line endings every row after the
//! first is one line too low. So the bytes the parser reads pass through [`LineCounting`],
//! which keeps them from the last record asked about onwards and counts line breaks (`\n`,
//! `\r\n`, and a lone `\r`, which the parser takes as a line end too) up to a record's first
//! character.

use std::io::Read;

/// A reader that counts the line breaks before each record the parser reports.
#[derive(Debug)]
pub(crate) struct LineCounting<R> {
    inner: R,
    /// Bytes read from `inner` and not counted yet; `pending[start]` is at file offset
    /// `offset`.
    pending: Vec<u8>,
    start: usize,
    offset: u64,
    /// Line breaks before `offset`.
    breaks: u64,
    /// Bytes read ahead of the parser ([`LineCounting::peek`]), from `ahead_at` on: handed
    /// out before more is read.
    ahead: Vec<u8>,
    ahead_at: usize,
}

/// Counted bytes are dropped from the front of the buffer once they are this many.
const COMPACT_AT: usize = 256 * 1024;

impl<R> LineCounting<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            start: 0,
            offset: 0,
            breaks: 0,
            ahead: Vec::new(),
            ahead_at: 0,
        }
    }

    pub(crate) fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The 1-based line of the first character of the record the parser reports at byte
    /// `record_start` (its `Position::byte`): past the end of the line before it and the
    /// blank lines the parser skipped. Positions must be asked in increasing order (a
    /// position asked again gives its line again).
    pub(crate) fn line_at(&mut self, record_start: u64) -> u64 {
        let at = usize::try_from(record_start.saturating_sub(self.offset)).unwrap_or(usize::MAX);
        let end = self.start.saturating_add(at).min(self.pending.len());
        self.count_to(end);
        // What the parser skipped before the record's first character: line ends only.
        let mut line = self.breaks + 1;
        let mut i = self.start;
        while let Some(&b) = self.pending.get(i) {
            match b {
                b'\n' => line += 1,
                b'\r' if self.pending.get(i + 1) != Some(&b'\n') => line += 1,
                b'\r' => {}
                _ => break,
            }
            i += 1;
        }
        line
    }

    /// Counts the line breaks in `pending[start..end]` and moves past them.
    fn count_to(&mut self, end: usize) {
        self.breaks += line_breaks_in(&self.pending[self.start..end], self.pending.get(end));
        self.offset += (end - self.start) as u64;
        self.start = end;
        if self.start >= COMPACT_AT {
            self.pending.drain(..self.start);
            self.start = 0;
        }
    }
}

/// The line breaks in `bytes` (`\n`, `\r\n`, a lone `\r`); `next` is the byte after them,
/// which says whether a `\r` at their end is followed by `\n`.
pub(crate) fn line_breaks_in(bytes: &[u8], next: Option<&u8>) -> u64 {
    let mut breaks = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\n' => breaks += 1,
            b'\r' => {
                let following = bytes
                    .get(i + 1)
                    .or(if i + 1 == bytes.len() { next } else { None });
                if following != Some(&b'\n') {
                    breaks += 1;
                }
            }
            _ => {}
        }
    }
    breaks
}

impl<R: Read> LineCounting<R> {
    /// The first bytes of the input, read ahead of the parser (which gets them next): until
    /// `enough` says they are, the input ends, or there are `max` of them. Before any read.
    pub(crate) fn peek(
        &mut self,
        enough: impl Fn(&[u8]) -> bool,
        max: usize,
    ) -> std::io::Result<&[u8]> {
        let mut chunk = vec![0u8; 64 * 1024];
        while self.ahead.len() < max && !enough(&self.ahead) {
            let n = self.inner.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            self.ahead.extend_from_slice(&chunk[..n]);
        }
        Ok(&self.ahead)
    }
}

impl<R: Read> Read for LineCounting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = if self.ahead_at < self.ahead.len() {
            let ahead = &self.ahead[self.ahead_at..];
            let n = ahead.len().min(buf.len());
            buf[..n].copy_from_slice(&ahead[..n]);
            self.ahead_at += n;
            if self.ahead_at == self.ahead.len() {
                self.ahead = Vec::new();
                self.ahead_at = 0;
            }
            n
        } else {
            self.inner.read(buf)?
        };
        self.pending.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line of each record's first character, as the parser reports the records.
    fn lines(text: &str) -> Vec<u64> {
        let counting = LineCounting::new(text.as_bytes());
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(7) // records across reads
            .from_reader(counting);
        let mut record = csv::ByteRecord::new();
        let mut lines = Vec::new();
        while reader.read_byte_record(&mut record).unwrap() {
            let byte = record.position().unwrap().byte();
            lines.push(reader.get_mut().line_at(byte));
        }
        lines
    }

    #[test]
    fn every_line_ending_gives_the_lines_an_editor_shows() {
        assert_eq!(lines("a,b\nc,d\ne,f\n"), [1, 2, 3]);
        assert_eq!(lines("a,b\r\nc,d\r\ne,f\r\n"), [1, 2, 3]);
        assert_eq!(lines("a,b\rc,d\re,f"), [1, 2, 3]);
        assert_eq!(lines("a,b\r\n\r\n\r\nc,d\n\ne,f"), [1, 4, 6]);
        // Quoted line breaks of either kind are inside their record.
        assert_eq!(lines("a,\"x\r\ny\"\r\nc,\"1\n2\n3\"\r\ne,f\r\n"), [1, 3, 6]);
    }

    #[test]
    fn a_position_asked_again_gives_the_same_line() {
        let mut counting = LineCounting::new(&b"a\r\nb\r\n"[..]);
        let mut sink = Vec::new();
        counting.read_to_end(&mut sink).unwrap();
        assert_eq!(counting.line_at(2), 2);
        assert_eq!(counting.line_at(2), 2);
    }

    #[test]
    fn bytes_peeked_are_read_next() {
        let mut counting = LineCounting::new(&b"name;web\r\nx;y\r\n"[..]);
        let peeked = counting.peek(|b| b.contains(&b'\n'), 1024).unwrap();
        assert!(peeked.starts_with(b"name;web\r\n"));
        let mut all = Vec::new();
        counting.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"name;web\r\nx;y\r\n");
        assert_eq!(counting.line_at(10), 2);
    }

    #[test]
    fn line_breaks_count_crlf_once() {
        assert_eq!(line_breaks_in(b"a\r\nb\nc\rd", None), 3);
        assert_eq!(line_breaks_in(b"a\r", Some(&b'\n')), 0);
        assert_eq!(line_breaks_in(b"a\r", None), 1);
    }
}
