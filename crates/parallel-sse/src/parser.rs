//! The sans-IO parser: bytes in through [`Parser::push`], events out of [`Parser::next_event`].

// The per-line helpers are forced inline: measured on 230-byte events, leaving them to the
// inliner cost a quarter of the throughput in moves of the event between frames.
#![allow(clippy::inline_always)]

use std::collections::VecDeque;
use std::mem;

use bytes::{Bytes, BytesMut};

use crate::error::{Error, LimitKind};
use crate::event::{Event, SmallStr};
use crate::limits::Limits;

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// Smallest buffer allocated for lines spanning chunks and for multi-line data. Events are
/// frozen out of these buffers as slices, so one allocation serves many events.
const MIN_BUFFER: usize = 16 * 1024;

/// An incremental, zero-copy server-sent events parser (sans-IO).
///
/// Feed chunks with [`push`](Parser::push) in stream order, then call
/// [`next_event`](Parser::next_event) until it returns `None`; call [`finish`](Parser::finish)
/// at end of stream. The output depends only on the concatenated bytes, never on how they were
/// cut.
///
/// Every byte is scanned once (by `memchr2` for CR/LF). A line lying inside one chunk is never
/// copied: a one-line `data:` event's data is a slice of the chunk. A line spanning chunks is
/// copied once; several `data:` lines are joined with one copy.
///
/// ```
/// use bytes::Bytes;
/// use parallel_sse::Parser;
///
/// let mut parser = Parser::new();
/// parser.push(Bytes::from_static(b"event: ping\ndata: {\"n\":"));
/// assert!(parser.next_event().is_none()); // the event is not complete yet
/// parser.push(Bytes::from_static(b"1}\n\n"));
/// let event = parser.next_event().unwrap().unwrap();
/// assert_eq!(event.event_type(), "ping");
/// assert_eq!(event.data_str(), r#"{"n":1}"#);
/// ```
#[derive(Clone, Default)]
pub struct Parser {
    /// The chunk being scanned and the offset of its first unscanned byte.
    chunk: Bytes,
    pos: usize,
    /// The CR/LF search, resolved to the best implementation once.
    line_ends: LineEnds,
    /// Chunks pushed before the current one was used up.
    queue: VecDeque<Bytes>,
    /// The start of a line that began in an earlier chunk.
    line: Partial,
    /// The previous chunk ended with CR: an LF starting the next chunk belongs to it.
    skip_lf: bool,
    /// Past the leading BOM (or its absence): set once the first bytes are seen.
    past_bom: bool,
    /// How many bytes of a leading BOM have been matched so far.
    bom_matched: u8,
    block: Block,
    last_event_id: SmallStr,
    retry: Option<u64>,
    limits: Limits,
    finished: bool,
    failed: bool,
    /// Bytes looked at by the line and colon scans, to prove no byte is rescanned.
    #[cfg(test)]
    examined: usize,
}

impl std::fmt::Debug for Parser {
    // A summary: the buffered bytes themselves can be megabytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parser")
            .field(
                "unscanned_bytes",
                &(self.chunk.len() - self.pos + self.queue.iter().map(Bytes::len).sum::<usize>()),
            )
            .field("partial_line_bytes", &self.line.len)
            .field("data_lines", &self.block.data_lines)
            .field("last_event_id", &self.last_event_id)
            .field("retry", &self.retry)
            .field("limits", &self.limits)
            .field("finished", &self.finished)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

/// The event under construction (the spec's data, event-type and last-event-ID buffers).
#[derive(Debug, Clone, Default)]
struct Block {
    data: Data,
    /// Data bytes gathered, counting one separator per line (what the limits count).
    data_len: usize,
    data_lines: usize,
    /// Holds the joined data when the block has several `data:` lines.
    joined: BytesMut,
    /// The last non-empty `event:` value seen. Kept across events, so that a stream repeating
    /// one name stores it once; `has_type` says whether it applies to this block.
    event_type: SmallStr,
    has_type: bool,
    /// An `id:` field seen in this block, committed at the next blank line.
    pending_id: Option<SmallStr>,
    /// Bytes looked at by field-name searches (tests only).
    #[cfg(test)]
    colon_scanned: usize,
}

#[derive(Debug, Clone, Default)]
enum Data {
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

impl Parser {
    /// A parser with the default [`Limits`].
    pub fn new() -> Self {
        Parser::default()
    }

    /// A parser with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        Parser {
            limits,
            ..Parser::default()
        }
    }

    /// The limits this parser enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Feeds the next chunk of the stream. Empty chunks are fine. Chunks pushed after
    /// [`finish`](Parser::finish) or after an error are ignored.
    ///
    /// Call [`next_event`](Parser::next_event) until it returns `None` before pushing more, so
    /// that only the unfinished line is held in memory.
    pub fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() || self.finished || self.failed {
            return;
        }
        if self.pos == self.chunk.len() && self.queue.is_empty() {
            self.block.detach_data(&self.chunk);
            self.chunk = chunk;
            self.pos = 0;
        } else {
            self.queue.push_back(chunk);
        }
    }

    /// Marks the end of the stream. Events already complete are still returned by
    /// [`next_event`](Parser::next_event); a final event without its closing blank line is
    /// discarded, and an `id:` inside it is not committed.
    pub fn finish(&mut self) {
        self.finished = true;
    }

    /// The stream's last event id: the value of the most recent `id:` field whose block was
    /// closed by a blank line (`""` if none). Send it as `Last-Event-ID` when reconnecting.
    pub fn last_event_id(&self) -> &str {
        self.last_event_id.as_str()
    }

    /// The reconnection time in milliseconds from the most recent valid `retry:` field. A value
    /// too large for `u64` is ignored, like any other invalid value.
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// The next complete event, `None` when more input is needed (or the stream is over).
    ///
    /// An `Err` means a limit was exceeded; the parser then drops its buffers and returns
    /// `None` from then on.
    pub fn next_event(&mut self) -> Option<Result<Event, Error>> {
        loop {
            if self.failed {
                return None;
            }
            if self.pos == self.chunk.len() {
                if let Some(next) = self.queue.pop_front() {
                    self.block.detach_data(&self.chunk);
                    self.chunk = next;
                    self.pos = 0;
                } else {
                    if self.finished {
                        // End of stream: a partial line and an unclosed block are dropped.
                        self.line.clear();
                        self.block.clear();
                        self.block.pending_id = None;
                    }
                    return None;
                }
            }
            if self.skip_lf {
                self.skip_lf = false;
                if self.chunk[self.pos] == b'\n' {
                    self.pos += 1;
                    continue;
                }
            }
            if !self.past_bom {
                self.match_bom();
                continue;
            }
            // The steady state: line after line of this chunk. Nothing checked above can
            // change until the chunk is used up (a CR that may need its LF skipped is always
            // the chunk's last byte).
            loop {
                match self.step() {
                    Ok(false) => {}
                    Ok(true) => {
                        if let Some(event) = self.block.dispatch(&self.chunk, &self.last_event_id) {
                            return Some(Ok(event));
                        }
                    }
                    Err(error) => {
                        self.fail();
                        return Some(Err(error));
                    }
                }
                if self.pos == self.chunk.len() {
                    break;
                }
            }
        }
    }

    /// Matches a leading BOM, which may arrive split over several chunks.
    fn match_bom(&mut self) {
        let matched = self.bom_matched;
        let rest = &self.chunk[self.pos..];
        let mut count = usize::from(matched);
        let mut taken = 0;
        while count < BOM.len() && taken < rest.len() && rest[taken] == BOM[count] {
            count += 1;
            taken += 1;
        }
        if count == BOM.len() {
            self.past_bom = true;
            self.pos += taken;
        } else if taken == rest.len() {
            // Still a BOM prefix; wait for the next chunk. (`count < 3` fits in a u8.)
            #[allow(clippy::cast_possible_truncation)]
            let count = count as u8;
            self.bom_matched = count;
            self.pos += taken;
        } else {
            // Not a BOM: the bytes matched in earlier chunks are content after all. Those
            // matched in this chunk are left unconsumed and scanned as usual.
            self.past_bom = true;
            self.line.push_copy(&BOM[..usize::from(matched)]);
        }
    }

    /// Scans for the next line end in the current chunk and interprets the line if one ends.
    /// `Ok(true)` means a blank line: time to dispatch.
    #[inline(always)]
    fn step(&mut self) -> Result<bool, Error> {
        let start = self.pos;
        let rest = &self.chunk[start..];
        // A blank line (one per event) needs no scan call.
        let found = match rest.first() {
            Some(b'\n' | b'\r') => Some(0),
            Some(b'e') if self.line.is_empty() => {
                // Streams repeat one event name: an `event:` line naming the stored type ends
                // right after it, so it needs no scan either.
                if let Some(offset) = self.block.repeated_event_line(rest) {
                    #[cfg(test)]
                    {
                        self.examined += offset + 1;
                    }
                    self.pos = Self::after_terminator(rest, start, offset, &mut self.skip_lf);
                    self.check_line(offset)?;
                    self.block.count_colon_scan(6);
                    self.block.has_type = true;
                    return Ok(false);
                }
                self.line_ends.find(rest)
            }
            _ => self.line_ends.find(rest),
        };
        let Some(offset) = found else {
            #[cfg(test)]
            {
                self.examined += rest.len();
            }
            // The line continues in the next chunk: keep what we have.
            self.check_line(self.line.len + rest.len())?;
            self.line.push(self.chunk.slice(start..));
            self.pos = self.chunk.len();
            return Ok(false);
        };
        #[cfg(test)]
        {
            self.examined += offset + 1;
        }
        let end = start + offset;
        self.pos = Self::after_terminator(rest, start, offset, &mut self.skip_lf);
        if self.line.is_empty() {
            self.check_line(offset)?;
            self.block.line(
                &self.chunk,
                start,
                end,
                &self.chunk,
                &mut self.last_event_id,
                &mut self.retry,
                &self.limits,
            )
        } else {
            self.check_line(self.line.len + offset)?;
            let line = self.line.complete(&self.chunk[start..end]);
            self.block.line(
                &line,
                0,
                line.len(),
                &self.chunk,
                &mut self.last_event_id,
                &mut self.retry,
                &self.limits,
            )
        }
    }

    /// The chunk offset just past the line terminator at `rest[offset]` (`rest` starting at
    /// chunk offset `start`). A CR ending the chunk sets `skip_lf`.
    #[inline(always)]
    fn after_terminator(rest: &[u8], start: usize, offset: usize, skip_lf: &mut bool) -> usize {
        let end = start + offset;
        if rest[offset] == b'\n' {
            end + 1
        } else if let Some(&next) = rest.get(offset + 1) {
            // CR, then LF in the same chunk: one terminator.
            if next == b'\n' { end + 2 } else { end + 1 }
        } else {
            // CR ends the line now; an LF opening the next chunk is part of this terminator.
            *skip_lf = true;
            end + 1
        }
    }

    /// Checks a line of `line_len` bytes (so far) against the line and event limits. When both
    /// are exceeded, reports the one the stream crossed first, so the error does not depend on
    /// where chunks were cut.
    fn check_line(&self, line_len: usize) -> Result<(), Error> {
        let Limits {
            max_line_bytes,
            max_event_bytes,
            ..
        } = self.limits;
        let event_len = self.block.data_len.saturating_add(line_len);
        let line_over = line_len > max_line_bytes;
        let event_over = event_len > max_event_bytes;
        let event_first = event_over
            && (!line_over || max_event_bytes.saturating_sub(self.block.data_len) < max_line_bytes);
        if event_first {
            Err(Error::new(LimitKind::Event, max_event_bytes, event_len))
        } else if line_over {
            Err(Error::new(LimitKind::Line, max_line_bytes, line_len))
        } else {
            Ok(())
        }
    }

    /// Stops for good after an error, releasing everything buffered.
    fn fail(&mut self) {
        self.failed = true;
        self.chunk = Bytes::new();
        self.pos = 0;
        self.queue = VecDeque::new();
        self.line = Partial::default();
        self.block = Block::default();
    }

    #[cfg(test)]
    pub(crate) fn examined(&self) -> usize {
        self.examined + self.block.colon_scanned
    }
}

/// Finds the next CR or LF. On x86-64 with AVX2 the vector searcher is chosen once, here,
/// instead of through `memchr2`'s per-call dispatch, which costs as much as the search itself on
/// the short lines of a typical event.
#[derive(Debug, Clone, Copy)]
struct LineEnds {
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::Two>,
}

impl Default for LineEnds {
    fn default() -> Self {
        LineEnds {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::Two::new(b'\n', b'\r'),
        }
    }
}

impl LineEnds {
    #[inline(always)]
    fn find(self, haystack: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = self.avx2 {
            return avx2.find(haystack);
        }
        memchr::memchr2(b'\n', b'\r', haystack)
    }
}

/// Most chunk slices a partial line holds before they are copied together, bounding the
/// handles (32 bytes each, so at most 512 KiB) a line cut into tiny chunks can pile up. A
/// 16 MiB line in 1,460-byte chunks still fits, and is copied once.
const MAX_SEGMENTS: usize = 16 * 1024;

/// A line that began in an earlier chunk: a copied prefix, then zero-copy slices of the
/// chunks that followed. Joined with one copy, of known size, when the line ends.
#[derive(Debug, Clone, Default)]
struct Partial {
    copied: BytesMut,
    segments: Vec<Bytes>,
    /// Bytes held in `copied` and `segments`.
    len: usize,
}

impl Partial {
    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push(&mut self, piece: Bytes) {
        let added = piece.len();
        if self.segments.len() < MAX_SEGMENTS {
            self.segments.push(piece);
        } else {
            self.collapse(added);
            self.copied.extend_from_slice(&piece);
        }
        self.len += added;
    }

    fn push_copy(&mut self, bytes: &[u8]) {
        self.collapse(bytes.len());
        self.copied.extend_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Copies the segments into `copied`, with room for `extra` more bytes.
    fn collapse(&mut self, extra: usize) {
        let in_segments = self.len - self.copied.len();
        make_room(&mut self.copied, in_segments + extra);
        for segment in self.segments.drain(..) {
            self.copied.extend_from_slice(&segment);
        }
    }

    /// The whole line, ending with `last`; leaves `self` empty.
    fn complete(&mut self, last: &[u8]) -> Bytes {
        if last.is_empty() && self.copied.is_empty() && self.segments.len() == 1 {
            // The line ended exactly at a chunk boundary: still no copy.
            if let Some(whole) = self.segments.pop() {
                self.len = 0;
                return whole;
            }
        }
        self.collapse(last.len());
        self.copied.extend_from_slice(last);
        self.len = 0;
        self.copied.split().freeze()
    }

    fn clear(&mut self) {
        self.copied.clear();
        self.segments.clear();
        self.len = 0;
    }
}

impl Block {
    /// Interprets one complete line, `src[start..end]`, without its terminator; `src` is
    /// either the current `chunk` or a line joined from several. `Ok(true)` for a blank line.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn line(
        &mut self,
        src: &Bytes,
        start: usize,
        end: usize,
        chunk: &Bytes,
        last_event_id: &mut SmallStr,
        retry: &mut Option<u64>,
        limits: &Limits,
    ) -> Result<bool, Error> {
        let line = &src[start..end];
        if line.is_empty() {
            // Rule 20: the id is committed at every blank line, event or not.
            if let Some(id) = self.pending_id.take() {
                *last_event_id = id;
            }
            return Ok(true);
        }
        // The common case first: a `data:` line needs no colon search.
        if line.starts_with(b"data:") {
            let value = if line.get(5) == Some(&b' ') {
                start + 6
            } else {
                start + 5
            };
            self.count_colon_scan(5);
            self.append_data(src, value, end, chunk, limits)?;
            return Ok(false);
        }
        // Next most common: the `event:` line before each event's data.
        if let Some(rest) = line.strip_prefix(b"event:") {
            self.count_colon_scan(6);
            self.set_event_type(rest.strip_prefix(b" ").unwrap_or(rest));
            return Ok(false);
        }
        let (name, value) = match memchr::memchr(b':', line) {
            // A comment.
            Some(0) => {
                self.count_colon_scan(1);
                return Ok(false);
            }
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
            b"id" => {
                let id = &line[value..];
                // Rule 17: an id containing NUL is ignored.
                if memchr::memchr(0, id).is_none() {
                    self.pending_id = Some(if id == last_event_id.as_bytes() {
                        last_event_id.clone()
                    } else {
                        SmallStr::from_utf8_lossy(id)
                    });
                }
            }
            b"retry" => {
                if let Some(ms) = parse_retry(&line[value..]) {
                    *retry = Some(ms);
                }
            }
            _ => {}
        }
        Ok(false)
    }

    /// When `rest` opens with an `event:` line whose value is the stored, non-empty event
    /// type, the offset of that line's terminator. The prefix and the stored name hold no CR
    /// or LF (the name came from a line), so the terminator found here is the first one.
    #[inline(always)]
    fn repeated_event_line(&self, rest: &[u8]) -> Option<usize> {
        let name = self.event_type.as_bytes();
        if name.is_empty() {
            return None;
        }
        let tail = rest.strip_prefix(b"event:")?;
        let (skipped, tail) = match tail.strip_prefix(b" ") {
            Some(tail) => (7, tail),
            None => (6, tail),
        };
        match tail.strip_prefix(name)?.first() {
            Some(b'\n' | b'\r') => Some(skipped + name.len()),
            _ => None,
        }
    }

    /// Adds the bytes the field-name search looked at to the scan counter (tests only).
    #[inline(always)]
    fn count_colon_scan(&mut self, bytes: usize) {
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
            return Err(Error::new(
                LimitKind::DataLines,
                limits.max_data_lines,
                self.data_lines + 1,
            ));
        }
        self.data_lines += 1;
        self.data_len += end - start + 1;
        match mem::take(&mut self.data) {
            Data::Empty | Data::InChunk { .. } => self.data = Data::One(src.slice(start..end)),
            Data::One(first) => {
                make_room(&mut self.joined, first.len() + 1 + (end - start));
                self.joined.extend_from_slice(&first);
                self.joined.extend_from_slice(b"\n");
                self.joined.extend_from_slice(&src[start..end]);
                self.data = Data::Joined;
            }
            Data::Joined => {
                make_room(&mut self.joined, 1 + (end - start));
                self.joined.extend_from_slice(b"\n");
                self.joined.extend_from_slice(&src[start..end]);
                self.data = Data::Joined;
            }
        }
        Ok(())
    }

    /// After a blank line: the event, if the block had data (rules 21–25).
    #[inline(always)]
    fn dispatch(&mut self, chunk: &Bytes, last_event_id: &SmallStr) -> Option<Event> {
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
        Some(Event {
            data,
            name: if mem::take(&mut self.has_type) {
                self.event_type.clone()
            } else {
                SmallStr::EMPTY
            },
            id: last_event_id.clone(),
        })
    }

    /// Turns data still referring to `chunk` by position into a slice of it, before the
    /// chunk is replaced (or before a second line is joined to it).
    #[inline]
    fn detach_data(&mut self, chunk: &Bytes) {
        if let Data::InChunk { start, end } = self.data {
            self.data = Data::One(chunk.slice(start..end));
        }
    }

    /// Drops the data and event type (end of stream).
    fn clear(&mut self) {
        self.data = Data::Empty;
        self.joined.clear();
        self.data_len = 0;
        self.data_lines = 0;
        self.has_type = false;
    }
}

/// Makes room for `additional` more bytes in `buf`, which lends its memory to events as
/// frozen slices. Reuses the allocation when every event cut from it is gone; otherwise starts
/// a new one of at least `MIN_BUFFER` bytes, doubling for a growing line so that a long line
/// costs amortised linear time.
fn make_room(buf: &mut BytesMut, additional: usize) {
    if buf.capacity() - buf.len() >= additional || buf.try_reclaim(additional) {
        return;
    }
    let capacity = (buf.len() + additional).max(2 * buf.len()).max(MIN_BUFFER);
    // An eighth more, so that the next line of about the same size reuses this buffer (once
    // the events cut from it are dropped) instead of allocating again.
    let capacity = capacity + capacity / 8;
    let mut fresh = BytesMut::with_capacity(capacity);
    fresh.extend_from_slice(buf);
    *buf = fresh;
}

/// Rule 18: only a non-empty run of ASCII digits, in base 10. A value that does not fit in a
/// `u64` is ignored (the spec leaves overflow open; ignoring keeps the previous, sane value).
fn parse_retry(value: &[u8]) -> Option<u64> {
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

#[cfg(test)]
mod tests;
