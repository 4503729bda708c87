//! The event under construction: interpreting one complete line at a time (rules 9–19) and
//! dispatching at a blank line (rules 20–25).

use std::mem;

use bytes::{Bytes, BytesMut};

use super::buffer::make_room;
use crate::error::{Error, LimitKind};
use crate::event::SmallStr;
use crate::limits::Limits;

/// The event under construction (the spec's data, event-type and last-event-ID buffers).
#[derive(Debug, Clone, Default)]
pub(super) struct Block {
    pub(super) data: Data,
    /// Data bytes gathered, counting one separator per line (what the limits count).
    pub(super) data_len: usize,
    pub(super) data_lines: usize,
    /// Holds the joined data when the block has several `data:` lines.
    joined: BytesMut,
    /// The last non-empty `event:` value seen. Kept across events, so that a stream repeating
    /// one name stores it once; `has_type` says whether it applies to this block.
    pub(super) event_type: SmallStr,
    pub(super) has_type: bool,
    /// An `id:` field seen in this block, committed at the next blank line.
    pub(super) pending_id: Option<SmallStr>,
    /// A field line (anything but a comment) arrived since the last blank line: the stream is
    /// inside an event.
    pub(super) open: bool,
    /// Bytes looked at by field-name searches (tests only).
    #[cfg(test)]
    pub(super) colon_scanned: usize,
}

#[derive(Debug, Clone, Default)]
pub(super) enum Data {
    #[default]
    Empty,
    /// One `data:` line lying in the current chunk, `chunk[start..end]`: sliced only when the
    /// event is dispatched (or the chunk is replaced), so the slice is made once, in place.
    InChunk { start: usize, end: usize },
    /// One `data:` line: its value, sliced from a chunk.
    One(Bytes),
    /// Several lines, joined in `Block::joined`.
    Joined,
}

/// A dispatched event before it is handed out: its data, and whether the block named its
/// type (the stored `event_type`). Small, so that it moves cheaply between the scanning
/// functions; the [`Event`](crate::Event) itself is made once, in the caller's hands.
pub(super) struct Dispatched {
    pub(super) data: Bytes,
    pub(super) named: bool,
}

/// What a complete line was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LineKind {
    /// A field, known or not: part of the event under construction.
    Field,
    /// The blank line that ends a block: time to dispatch.
    Blank,
    /// A comment (`:` first).
    Comment,
}

impl Block {
    /// Interprets one complete line, `src[start..end]`, without its terminator; `src` is
    /// either the current `chunk` or a line joined from several.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn line(
        &mut self,
        src: &Bytes,
        start: usize,
        end: usize,
        chunk: &Bytes,
        last_event_id: &mut SmallStr,
        retry: &mut Option<u64>,
        limits: &Limits,
    ) -> Result<LineKind, Error> {
        let line = &src[start..end];
        if line.is_empty() {
            // Rule 20: the id is committed at every blank line, event or not.
            if let Some(id) = self.pending_id.take() {
                *last_event_id = id;
            }
            self.open = false;
            return Ok(LineKind::Blank);
        }
        // The common case first: a `data:` line needs no colon search.
        if line.starts_with(b"data:") {
            let value = if line.get(5) == Some(&b' ') {
                start + 6
            } else {
                start + 5
            };
            self.count_colon_scan(5);
            self.open = true;
            self.append_data(src, value, end, chunk, limits)?;
            return Ok(LineKind::Field);
        }
        if line[0] == b':' {
            self.count_colon_scan(1);
            return Ok(LineKind::Comment);
        }
        self.open = true;
        // Next most common: the `event:` line before each event's data.
        if let Some(rest) = line.strip_prefix(b"event:") {
            self.count_colon_scan(6);
            self.set_event_type(rest.strip_prefix(b" ").unwrap_or(rest));
            return Ok(LineKind::Field);
        }
        let (name, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = if line.get(colon + 1) == Some(&b' ') {
                    colon + 2
                } else {
                    colon + 1
                };
                (&line[..colon], value)
            }
            None => (line, line.len()),
        };
        self.count_colon_scan((name.len() + 1).min(line.len()));
        match name {
            b"data" => self.append_data(src, start + value, end, chunk, limits)?,
            b"event" => self.set_event_type(&line[value..]),
            b"id" => self.set_id(&line[value..], last_event_id),
            b"retry" => {
                if let Some(ms) = parse_retry(&line[value..]) {
                    *retry = Some(ms);
                }
            }
            _ => {}
        }
        Ok(LineKind::Field)
    }

    /// When `rest` opens with an `event:` line whose value is the stored, non-empty event
    /// type, the offset of that line's terminator. The prefix and the stored name hold no CR
    /// or LF (the name came from a line), so the terminator found here is the first one.
    #[inline(always)]
    pub(super) fn repeated_event_line(&self, rest: &[u8]) -> Option<usize> {
        let name = self.event_type.as_bytes();
        if name.is_empty() {
            return None;
        }
        let tail = rest.strip_prefix(b"event:")?;
        let (skipped, tail) = match tail.strip_prefix(b" ") {
            Some(tail) => (7, tail),
            None => (6, tail),
        };
        if !self.event_type.is_prefix_of(tail) {
            return None;
        }
        match tail.get(name.len()) {
            Some(b'\n' | b'\r') => Some(skipped + name.len()),
            _ => None,
        }
    }

    /// Adds the bytes the field-name search looked at to the scan counter (tests only).
    #[inline(always)]
    pub(super) fn count_colon_scan(&mut self, bytes: usize) {
        #[cfg(test)]
        {
            self.colon_scanned += bytes;
        }
        #[cfg(not(test))]
        let _ = (self, bytes);
    }

    fn set_event_type(&mut self, value: &[u8]) {
        // Streams repeat the same few names; keep the stored one when it matches, so a long
        // name is not reallocated for every event.
        // Rule 15: an empty value clears the type, so the event is a `message`.
        self.has_type = !value.is_empty();
        if self.has_type && value != self.event_type.as_bytes() {
            self.event_type = SmallStr::from_utf8_lossy(value);
        }
    }

    fn set_id(&mut self, id: &[u8], last_event_id: &SmallStr) {
        // Rule 17: an id containing NUL is ignored.
        if memchr::memchr(0, id).is_none() {
            self.pending_id = Some(if id == last_event_id.as_bytes() {
                last_event_id.clone()
            } else {
                SmallStr::from_utf8_lossy(id)
            });
        }
    }

    /// Appends `src[start..end]` to the data buffer (rule 16). The trailing LF the rules add
    /// after each line is never written, which also implements rule 22's "remove one".
    #[inline(always)]
    fn append_data(
        &mut self,
        src: &Bytes,
        start: usize,
        end: usize,
        chunk: &Bytes,
        limits: &Limits,
    ) -> Result<(), Error> {
        // The common case, an event's first `data:` line, inline and without moving the data.
        if let Data::Empty = self.data
            && self.data_lines < limits.max_data_lines
        {
            self.data_lines += 1;
            self.data_len += end - start + 1;
            self.data = if std::ptr::eq(src, chunk) {
                Data::InChunk { start, end }
            } else {
                Data::One(src.slice(start..end))
            };
            return Ok(());
        }
        self.detach_data(chunk);
        self.append_more_data(src, start, end, limits)
    }

    /// [`append_data`](Block::append_data) past the first line, or over the line limit.
    fn append_more_data(
        &mut self,
        src: &Bytes,
        start: usize,
        end: usize,
        limits: &Limits,
    ) -> Result<(), Error> {
        if self.data_lines >= limits.max_data_lines {
            return Err(too_many_data_lines(limits, self.data_lines + 1));
        }
        self.data_lines += 1;
        self.data_len += end - start + 1;
        if let Data::Joined = self.data {
            // The third line and after, the bulk of a many-line event: appended in place.
            make_room(&mut self.joined, 1 + (end - start));
            self.joined.extend_from_slice(b"\n");
            self.joined.extend_from_slice(&src[start..end]);
            return Ok(());
        }
        match mem::take(&mut self.data) {
            Data::Empty | Data::InChunk { .. } => self.data = Data::One(src.slice(start..end)),
            Data::One(first) => {
                make_room(&mut self.joined, first.len() + 1 + (end - start));
                self.joined.extend_from_slice(&first);
                self.joined.extend_from_slice(b"\n");
                self.joined.extend_from_slice(&src[start..end]);
                self.data = Data::Joined;
            }
            // Handled above; kept whole so that no line can be lost.
            Data::Joined => {
                make_room(&mut self.joined, 1 + (end - start));
                self.joined.extend_from_slice(b"\n");
                self.joined.extend_from_slice(&src[start..end]);
                self.data = Data::Joined;
            }
        }
        Ok(())
    }

    /// After a blank line: the event's data and whether it has a type, if the block had data
    /// (rules 21–25). The caller makes the [`Event`](crate::Event) where it hands it out.
    #[inline(always)]
    pub(super) fn dispatch(&mut self, chunk: &Bytes) -> Option<Dispatched> {
        let data = match mem::take(&mut self.data) {
            Data::Empty => {
                self.has_type = false;
                return None;
            }
            Data::InChunk { start, end } => chunk.slice(start..end),
            Data::One(data) => data,
            Data::Joined => self.joined.split().freeze(),
        };
        self.data_len = 0;
        self.data_lines = 0;
        Some(Dispatched {
            data,
            named: mem::take(&mut self.has_type),
        })
    }

    /// Turns data still referring to `chunk` by position into a slice of it, before the
    /// chunk is replaced (or before a second line is joined to it).
    #[inline]
    pub(super) fn detach_data(&mut self, chunk: &Bytes) {
        if let Data::InChunk { start, end } = self.data {
            self.data = Data::One(chunk.slice(start..end));
        }
    }

    /// Drops the block at the end of the stream (rule 26): its data, type and id.
    pub(super) fn discard(&mut self) {
        self.data = Data::Empty;
        self.joined.clear();
        self.data_len = 0;
        self.data_lines = 0;
        self.has_type = false;
        self.pending_id = None;
        self.open = false;
    }
}

/// The error for a `data:` line past [`Limits::max_data_lines`]; `seen` counts it.
pub(super) fn too_many_data_lines(limits: &Limits, seen: usize) -> Error {
    Error::new(LimitKind::DataLines, limits.max_data_lines, seen)
}

/// Rule 18: only a non-empty run of ASCII digits, in base 10. A value that does not fit in a
/// `u64` is ignored (the spec leaves overflow open; ignoring keeps the previous, sane value).
pub(super) fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |ms, &byte| {
        if byte.is_ascii_digit() {
            ms.checked_mul(10)?.checked_add(u64::from(byte - b'0'))
        } else {
            None
        }
    })
}
