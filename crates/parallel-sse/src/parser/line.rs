//! Finding line ends, and holding a line that spans chunks.

use bytes::{Bytes, BytesMut};

use super::buffer::make_room;

/// Finds the next CR or LF. On x86-64 with AVX2 the vector searcher is chosen once, here,
/// instead of through `memchr2`'s per-call dispatch, which costs as much as the search itself on
/// the short lines of a typical event.
#[derive(Debug, Clone, Copy)]
pub(super) struct LineEnds {
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
    pub(super) fn find(self, haystack: &[u8]) -> Option<usize> {
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
pub(super) struct Partial {
    copied: BytesMut,
    segments: Vec<Bytes>,
    /// Bytes held in `copied` and `segments`.
    pub(super) len: usize,
}

impl Partial {
    #[inline(always)]
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    pub(super) fn push(&mut self, piece: Bytes) {
        let added = piece.len();
        if self.segments.len() < MAX_SEGMENTS {
            self.segments.push(piece);
        } else {
            self.collapse(added);
            self.copied.extend_from_slice(&piece);
        }
        self.len += added;
    }

    pub(super) fn push_copy(&mut self, bytes: &[u8]) {
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
    pub(super) fn complete(&mut self, last: &[u8]) -> Bytes {
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

    pub(super) fn clear(&mut self) {
        self.copied.clear();
        self.segments.clear();
        self.len = 0;
    }
}
