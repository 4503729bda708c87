//! The usual shape of an event read in one go: an optional `event:` line repeating the stored
//! type, one `data:` line and a blank line, all inside the current chunk.
//!
//! JSON event streams send little else, so this path reads most events. It gives the same
//! result as the line-by-line path (the property tests compare both with a reference parser
//! under every chunking); it only skips the per-line bookkeeping, which costs more than finding
//! the line ends on events of a few hundred bytes. Where the input departs from the shape, it
//! leaves the parser exactly as the line-by-line path would have at that point, so no byte is
//! scanned twice.

use super::block::{Data, Dispatched, too_many_data_lines};
use super::{Parser, check_line};
use crate::error::Error;

/// What [`Parser::whole_event`] did.
pub(super) enum Whole {
    /// An event, dispatched.
    Event(Dispatched),
    /// Part of an event was read (and recorded in the block); the line-by-line path goes on.
    Partly,
    /// The input does not open with the usual shape; nothing was read.
    Other,
    /// A limit was exceeded.
    Failed(Error),
}

impl Parser {
    /// Reads the event at the scan position if it has the usual shape. Called at the start of
    /// a block (no field line since the last blank line, no partial line), past the BOM.
    #[inline(always)]
    pub(super) fn whole_event(&mut self) -> Whole {
        let start = self.pos;
        let rest = &self.chunk[start..];
        let len = rest.len();
        // An `event:` line naming the stored type ends right after the name: no scan.
        let (named, at) = match self.block.repeated_event_line(rest) {
            Some(offset) => {
                self.examined.add(offset + 1);
                if let Err(error) = check_line(&self.limits, 0, offset) {
                    return Whole::Failed(error);
                }
                self.block.count_colon_scan(6);
                let after = Self::after_terminator(rest, start, offset, &mut self.skip_lf);
                (true, after - start)
            }
            None => (false, 0),
        };
        let line = &rest[at..];
        if !line.starts_with(b"data:") {
            if !named {
                return Whole::Other;
            }
            self.read_partly(true, None, start + at);
            return Whole::Partly;
        }
        let value = at + if line.get(5) == Some(&b' ') { 6 } else { 5 };
        let Some(found) = self.line_ends.find(&rest[value..]) else {
            // The data line goes on in the next chunk: hold it as the line-by-line path does.
            self.examined.add(len - at);
            if let Err(error) = check_line(&self.limits, 0, len - at) {
                return Whole::Failed(error);
            }
            self.read_partly(named, None, start + at);
            self.line.push(self.chunk.slice(start + at..));
            self.pos = start + len;
            return Whole::Partly;
        };
        let end = value + found;
        self.examined.add(end - at + 1);
        if let Err(error) = check_line(&self.limits, 0, end - at) {
            return Whole::Failed(error);
        }
        if self.limits.max_data_lines == 0 {
            return Whole::Failed(too_many_data_lines(&self.limits, 1));
        }
        self.block.count_colon_scan(5);
        // Sliced before the blank line is looked for: the slice's stores then have time to
        // land before the slice is moved, which otherwise stalls on every event.
        let data = self.chunk.slice(start + value..start + end);
        let next = Self::after_terminator(rest, start, end, &mut self.skip_lf) - start;
        if !matches!(rest.get(next), Some(b'\n' | b'\r')) {
            // Another line of the block follows (or the chunk ends): go on line by line.
            self.read_partly(named, Some(Data::One(data)), start + next);
            return Whole::Partly;
        }
        // The blank line. The data counted against the event limit is shorter than the
        // `data:` line just checked, so no limit can be exceeded here.
        self.examined.add(1);
        self.pos = Self::after_terminator(rest, start, next, &mut self.skip_lf);
        Whole::Event(Dispatched { data, named })
    }

    /// Records the lines read so far in the block, as the line-by-line path would have, and
    /// moves the scan position to `pos`.
    fn read_partly(&mut self, named: bool, data: Option<Data>, pos: usize) {
        self.block.open = named || data.is_some();
        self.block.has_type = named;
        if let Some(data) = data {
            self.block.data_len = match &data {
                Data::One(bytes) => bytes.len() + 1,
                _ => 0,
            };
            self.block.data = data;
            self.block.data_lines = 1;
        }
        self.pos = pos;
    }
}
