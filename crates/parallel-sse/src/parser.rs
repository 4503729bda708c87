//! The sans-IO parser: bytes in through [`Parser::push`], frames out of [`Parser::next_frame`]
//! (or events only, out of [`Parser::next_event`]).

// The per-line helpers are forced inline: measured on 230-byte events, leaving them to the
// inliner cost a quarter of the throughput in moves of the event between frames.
#![allow(clippy::inline_always)]

mod block;
mod buffer;
mod line;
mod whole;

use std::collections::VecDeque;

use bytes::Bytes;

use self::block::{Block, Dispatched, LineKind};
use self::line::{LineEnds, Partial};
use self::whole::Whole;
use crate::error::{Error, LimitKind};
use crate::event::{Event, SmallStr};
use crate::frame::Frame;
use crate::limits::Limits;

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// An incremental, zero-copy server-sent events parser (sans-IO).
///
/// Feed chunks with [`push`](Parser::push) in stream order, then call
/// [`next_event`](Parser::next_event) (or [`next_frame`](Parser::next_frame), which also
/// reports comments) until it returns `None`; call [`finish`](Parser::finish) at end of stream,
/// drain the last events, and ask [`ended_inside_event`](Parser::ended_inside_event) whether
/// the stream was cut short. The output depends only on the concatenated bytes, never on how
/// they were cut.
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
/// parser.push(Bytes::from_static(b"1}\n\ndata: {\"n\":2"));
/// let event = parser.next_event().unwrap().unwrap();
/// assert_eq!(event.event_type(), "ping");
/// assert_eq!(event.data_str(), r#"{"n":1}"#);
/// // The server stops in the middle of the second event.
/// parser.finish();
/// assert!(parser.next_event().is_none());
/// assert!(parser.ended_inside_event());
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
    /// A comment line just read, for [`Parser::next_frame`].
    comment: Option<Bytes>,
    last_event_id: SmallStr,
    retry: Option<u64>,
    limits: Limits,
    finished: bool,
    /// The end of the stream was reached (after `finish`, every chunk read).
    ended: bool,
    /// The stream ended inside an event (set when `ended` is).
    cut: bool,
    failed: bool,
    /// Bytes looked at by the line scans, to prove no byte is rescanned.
    examined: Examined,
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
            .field("ended_inside_event", &self.cut)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
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

    /// Whether the stream ended inside an event: after [`finish`](Parser::finish), once
    /// [`next_event`](Parser::next_event) or [`next_frame`](Parser::next_frame) has returned
    /// `None`, true when the last bytes were a line without its line end, or lines of a block
    /// that no blank line closed (which the SSE rules discard, `id:` included). A stream that
    /// ended after a blank line, or after a complete comment line, ended between events.
    ///
    /// An HTTP client uses this to tell a server that closed the stream cleanly from a
    /// connection cut in the middle of an event. Always false before the end.
    pub fn ended_inside_event(&self) -> bool {
        self.cut
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
    /// Comments are skipped; [`next_frame`](Parser::next_frame) reports them too.
    ///
    /// An `Err` means a limit was exceeded; the parser then drops its buffers and returns
    /// `None` from then on.
    #[inline]
    pub fn next_event(&mut self) -> Option<Result<Event, Error>> {
        // Inlined, so that the event is made in the caller's frame: returned from a call,
        // the caller's copy of it would reload what was just stored, in other pieces, and
        // stall on every event.
        match self.next_dispatched()? {
            Ok(found) => Some(Ok(self.event(found))),
            Err(error) => Some(Err(error)),
        }
    }

    /// The data of the next event (for [`next_event`](Parser::next_event)).
    fn next_dispatched(&mut self) -> Option<Result<Dispatched, Error>> {
        loop {
            match self.advance::<false>()? {
                Ok(Found::Event(found)) => return Some(Ok(found)),
                // Not made when comments are not asked for.
                Ok(Found::Comment(_)) => {}
                Err(error) => return Some(Err(error)),
            }
        }
    }

    /// The next complete event or comment line, in stream order; `None` when more input is
    /// needed (or the stream is over). A comment completes at its line end, an event at the
    /// blank line that dispatches it. Errors as for [`next_event`](Parser::next_event).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use parallel_sse::{Frame, Parser};
    ///
    /// let mut parser = Parser::new();
    /// parser.push(Bytes::from_static(b": keep-alive\n\ndata: 1\n\n"));
    /// assert!(matches!(parser.next_frame(), Some(Ok(Frame::Comment(text))) if text == " keep-alive"));
    /// assert!(matches!(parser.next_frame(), Some(Ok(Frame::Event(event))) if event.data() == "1"));
    /// assert!(parser.next_frame().is_none());
    /// ```
    #[inline]
    pub fn next_frame(&mut self) -> Option<Result<Frame, Error>> {
        // Inlined for the reason given in `next_event`.
        Some(match self.next_found()? {
            Ok(Found::Event(found)) => Ok(Frame::Event(self.event(found))),
            Ok(Found::Comment(text)) => Ok(Frame::Comment(text)),
            Err(error) => Err(error),
        })
    }

    /// The next event's data or comment (for [`next_frame`](Parser::next_frame)).
    fn next_found(&mut self) -> Option<Result<Found, Error>> {
        self.advance::<true>()
    }

    /// The event handed out for a dispatched block: its type and the stream's last event id
    /// as they stand at dispatch.
    #[inline(always)]
    fn event(&self, found: Dispatched) -> Event {
        Event {
            data: found.data,
            name: if found.named {
                self.block.event_type.clone()
            } else {
                SmallStr::EMPTY
            },
            id: self.last_event_id.clone(),
        }
    }

    /// Scans until an event or (when `COMMENTS` is set) a comment completes.
    #[inline(always)]
    fn advance<const COMMENTS: bool>(&mut self) -> Option<Result<Found, Error>> {
        loop {
            if self.failed {
                return None;
            }
            if self.pos == self.chunk.len() {
                let next = self.queue.pop_front();
                let Some(next) = next else {
                    if self.finished {
                        self.end_of_stream();
                    }
                    return None;
                };
                self.block.detach_data(&self.chunk);
                self.chunk = next;
                self.pos = 0;
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
            // The steady state: event after event, line after line of this chunk. Nothing
            // checked above can change until the chunk is used up (a CR that may need its LF
            // skipped is always the chunk's last byte).
            loop {
                if let Some(frame) = self.next_in_chunk::<COMMENTS>() {
                    return Some(frame);
                }
                if self.pos == self.chunk.len() {
                    break;
                }
            }
        }
    }

    /// Reads one event of the usual shape, or else one line, of the current chunk (which has
    /// bytes left); a frame if one completed.
    #[inline(always)]
    fn next_in_chunk<const COMMENTS: bool>(&mut self) -> Option<Result<Found, Error>> {
        if !self.block.open && self.line.is_empty() {
            match self.whole_event() {
                Whole::Event(found) => return Some(Ok(Found::Event(found))),
                Whole::Partly => return None,
                Whole::Other => {}
                Whole::Failed(error) => {
                    self.fail();
                    return Some(Err(error));
                }
            }
        }
        match self.step::<COMMENTS>() {
            Ok(LineKind::Blank) => self
                .block
                .dispatch(&self.chunk)
                .map(|found| Ok(Found::Event(found))),
            Ok(LineKind::Comment) if COMMENTS => {
                self.comment.take().map(|text| Ok(Found::Comment(text)))
            }
            Ok(LineKind::Field | LineKind::Comment) => None,
            Err(error) => {
                self.fail();
                Some(Err(error))
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
    /// A comment line is kept in `self.comment` when `COMMENTS` is set.
    #[inline(always)]
    fn step<const COMMENTS: bool>(&mut self) -> Result<LineKind, Error> {
        let start = self.pos;
        let rest = &self.chunk[start..];
        // A blank line (one per event) needs no scan call.
        let found = match rest.first() {
            Some(b'\n' | b'\r') => Some(0),
            Some(b'e') if self.line.is_empty() => {
                // Streams repeat one event name: an `event:` line naming the stored type ends
                // right after it, so it needs no scan either.
                if let Some(offset) = self.block.repeated_event_line(rest) {
                    self.examined.add(offset + 1);
                    self.pos = Self::after_terminator(rest, start, offset, &mut self.skip_lf);
                    check_line(&self.limits, self.block.data_len, offset)?;
                    self.block.count_colon_scan(6);
                    self.block.has_type = true;
                    self.block.open = true;
                    return Ok(LineKind::Field);
                }
                self.line_ends.find(rest)
            }
            _ => self.line_ends.find(rest),
        };
        let Some(offset) = found else {
            self.examined.add(rest.len());
            // The line continues in the next chunk: keep what we have.
            check_line(
                &self.limits,
                self.block.data_len,
                self.line.len + rest.len(),
            )?;
            self.line.push(self.chunk.slice(start..));
            self.pos = self.chunk.len();
            return Ok(LineKind::Field);
        };
        self.examined.add(offset + 1);
        let end = start + offset;
        self.pos = Self::after_terminator(rest, start, offset, &mut self.skip_lf);
        if self.line.is_empty() {
            check_line(&self.limits, self.block.data_len, offset)?;
            let kind = self.block.line(
                &self.chunk,
                start,
                end,
                &self.chunk,
                &mut self.last_event_id,
                &mut self.retry,
                &self.limits,
            )?;
            if COMMENTS && kind == LineKind::Comment {
                self.comment = Some(self.chunk.slice(start + 1..end));
            }
            Ok(kind)
        } else {
            check_line(&self.limits, self.block.data_len, self.line.len + offset)?;
            let line = self.line.complete(&self.chunk[start..end]);
            let kind = self.block.line(
                &line,
                0,
                line.len(),
                &self.chunk,
                &mut self.last_event_id,
                &mut self.retry,
                &self.limits,
            )?;
            if COMMENTS && kind == LineKind::Comment {
                self.comment = Some(line.slice(1..));
            }
            Ok(kind)
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

    /// Every chunk is read and the stream is over: records whether it ended inside an event,
    /// then drops the partial line and the unclosed block (rule 26).
    fn end_of_stream(&mut self) {
        if self.ended {
            return;
        }
        self.ended = true;
        let partial_bom = !self.past_bom && self.bom_matched > 0;
        self.cut = !self.line.is_empty() || self.block.open || partial_bom;
        self.line.clear();
        self.block.discard();
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
        self.examined.bytes + self.block.colon_scanned
    }
}

/// A count of bytes looked at, kept by tests only (nothing outside them).
#[derive(Debug, Clone, Copy, Default)]
struct Examined {
    #[cfg(test)]
    bytes: usize,
}

impl Examined {
    #[inline(always)]
    fn add(&mut self, bytes: usize) {
        #[cfg(test)]
        {
            self.bytes += bytes;
        }
        #[cfg(not(test))]
        let _ = (self, bytes);
    }
}

/// What the scan found: [`Frame`] before the event is made.
enum Found {
    Event(Dispatched),
    Comment(Bytes),
}

/// Checks a line of `line_len` bytes (so far), in a block holding `data_len` bytes of data,
/// against the line and event limits. When both are exceeded, reports the one the stream
/// crossed first, so the error does not depend on where chunks were cut.
#[inline(always)]
fn check_line(limits: &Limits, data_len: usize, line_len: usize) -> Result<(), Error> {
    let Limits {
        max_line_bytes,
        max_event_bytes,
        ..
    } = *limits;
    let event_len = data_len.saturating_add(line_len);
    let line_over = line_len > max_line_bytes;
    let event_over = event_len > max_event_bytes;
    let event_first =
        event_over && (!line_over || max_event_bytes.saturating_sub(data_len) < max_line_bytes);
    if event_first {
        Err(Error::new(LimitKind::Event, max_event_bytes, event_len))
    } else if line_over {
        Err(Error::new(LimitKind::Line, max_line_bytes, line_len))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
