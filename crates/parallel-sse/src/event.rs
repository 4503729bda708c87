//! A dispatched event and the small string type behind its name and id.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

/// One dispatched server-sent event.
///
/// The data is a [`Bytes`]: when the event had one `data:` line that arrived inside one chunk
/// it is a slice of that chunk (no copy, no allocation). Event names and ids are short, so they
/// are stored inline and never keep a chunk alive.
#[derive(Clone, PartialEq, Eq)]
pub struct Event {
    pub(crate) data: Bytes,
    pub(crate) name: SmallStr,
    pub(crate) id: SmallStr,
}

impl Event {
    /// The event type: the last `event:` field of the block, or `"message"` when there was none
    /// (or it was empty).
    pub fn event_type(&self) -> &str {
        if self.name.is_empty() {
            "message"
        } else {
            self.name.as_str()
        }
    }

    /// The data: every `data:` value of the block joined with `\n`, as raw bytes.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// The data decoded as UTF-8, invalid sequences replaced by U+FFFD (as the SSE rules
    /// require; never an error). Borrows when the data is valid UTF-8.
    pub fn data_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.data)
    }

    /// The stream's last event id when this event was dispatched (`""` when none was set).
    /// It persists across events until an `id:` field changes it.
    pub fn last_event_id(&self) -> &str {
        self.id.as_str()
    }

    /// Takes the data out of the event.
    pub fn into_data(self) -> Bytes {
        self.data
    }

    /// Copies the data out of the chunk it slices, so that holding this event no longer keeps
    /// that whole chunk alive. Worth calling before storing small events for long.
    pub fn detach(&mut self) {
        self.data = Bytes::copy_from_slice(&self.data);
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("event_type", &self.event_type())
            .field("data", &self.data_str())
            .field("last_event_id", &self.last_event_id())
            .finish()
    }
}

/// Inline capacity of [`SmallStr`]: event names such as `task_run.progress_stats` and
/// typical ids fit.
const INLINE: usize = 23;

/// An immutable string that is stored inline up to 23 bytes, else shared behind an `Arc`, so
/// copying it into every event costs no allocation and never pins a chunk.
///
/// Laid out in whole words (the inline text and its length share one 24-byte array) rather
/// than as an enum: every event copies two of these, and copies of odd sizes (overlapping
/// moves) stall the loads that follow them.
#[derive(Clone)]
pub(crate) struct SmallStr {
    /// The inline text in `inline[..len]`, its length in the last byte.
    inline: [u8; INLINE + 1],
    /// The text, when longer than `INLINE` bytes (then `inline` is unused).
    shared: Option<Arc<str>>,
}

impl SmallStr {
    pub(crate) const EMPTY: SmallStr = SmallStr {
        inline: [0; INLINE + 1],
        shared: None,
    };

    /// Decodes `raw` as UTF-8 with replacement (the SSE decoding rule).
    pub(crate) fn from_utf8_lossy(raw: &[u8]) -> SmallStr {
        if let Ok(s) = std::str::from_utf8(raw) {
            return SmallStr::from_str(s);
        }
        match String::from_utf8_lossy(raw) {
            Cow::Borrowed(s) => SmallStr::from_str(s),
            Cow::Owned(s) => SmallStr::from_str(&s),
        }
    }

    fn from_str(s: &str) -> SmallStr {
        if s.len() <= INLINE {
            let mut inline = [0; INLINE + 1];
            inline[..s.len()].copy_from_slice(s.as_bytes());
            // `s.len() <= 23`, so the cast cannot truncate.
            #[allow(clippy::cast_possible_truncation)]
            {
                inline[INLINE] = s.len() as u8;
            }
            SmallStr {
                inline,
                shared: None,
            }
        } else {
            SmallStr {
                shared: Some(Arc::from(s)),
                ..SmallStr::EMPTY
            }
        }
    }

    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match &self.shared {
            Some(s) => s.as_bytes(),
            None => &self.inline[..usize::from(self.inline[INLINE])],
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match &self.shared {
            Some(s) => s,
            // Inline bytes were copied from a `&str`, so this never fails; the fallback only
            // keeps the code free of panics.
            None => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
        }
    }

    /// Whether `hay` starts with this string. Inline strings are compared a word at a time,
    /// without a call: the parser asks this of every repeated `event:` line, where a call to
    /// `memcmp` for a name of a dozen bytes costs more than the comparison.
    #[inline]
    pub(crate) fn is_prefix_of(&self, hay: &[u8]) -> bool {
        let len = usize::from(self.inline[INLINE]);
        match (&self.shared, hay.get(..INLINE + 1)) {
            (None, Some(front)) => {
                let mut differ = 0;
                for (word, (h, n)) in front
                    .chunks_exact(8)
                    .zip(self.inline.chunks_exact(8))
                    .enumerate()
                {
                    let h = u64::from_le_bytes(h.try_into().unwrap_or_default());
                    let n = u64::from_le_bytes(n.try_into().unwrap_or_default());
                    // The bytes of this word that belong to the string (little-endian: low).
                    let kept = len.saturating_sub(8 * word).min(8);
                    let mask = if kept == 8 {
                        u64::MAX
                    } else {
                        (1u64 << (8 * kept)) - 1
                    };
                    differ |= (h ^ n) & mask;
                }
                differ == 0
            }
            _ => hay.starts_with(self.as_bytes()),
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }
}

impl Default for SmallStr {
    fn default() -> Self {
        SmallStr::EMPTY
    }
}

impl PartialEq for SmallStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for SmallStr {}

impl fmt::Debug for SmallStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_str().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::SmallStr;

    #[test]
    fn short_strings_are_inline_and_long_ones_shared() {
        let short = SmallStr::from_utf8_lossy(b"task_run.progress_stats");
        assert!(short.shared.is_none());
        assert_eq!(short.as_str(), "task_run.progress_stats");
        let long = SmallStr::from_utf8_lossy(&[b'x'; 24]);
        assert!(long.shared.is_some());
        assert_eq!(long.as_str(), "x".repeat(24));
    }

    #[test]
    fn prefixes_are_found_inline_and_shared() {
        let hay = b"task_run.state\nand a tail long enough for the word compare";
        for (name, expected) in [
            ("task_run.state", true),
            ("task_run.stat", true),
            ("", true),
            ("task_run.statf", false),
            ("uask_run.state", false),
            ("task_run.state\nand a tail", true),
            ("task_run.state\nand a tail long", true),
            ("task_run.state\nand a tail lonG", false),
        ] {
            let small = SmallStr::from_utf8_lossy(name.as_bytes());
            assert_eq!(small.is_prefix_of(hay), expected, "{name:?}");
            // Near the end of the input the plain comparison is used.
            let short = &hay[..name.len().min(hay.len())];
            assert_eq!(
                small.is_prefix_of(short),
                expected && short.len() == name.len(),
                "{name:?}"
            );
        }
        assert!(!SmallStr::from_utf8_lossy(b"event").is_prefix_of(b"even"));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(SmallStr::from_utf8_lossy(b"a\xFFb").as_str(), "a\u{FFFD}b");
    }
}
