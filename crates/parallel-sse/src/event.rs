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

/// Inline capacity of [`SmallStr`]: event names such as `task_run.state` and typical ids fit.
const INLINE: usize = 22;

/// An immutable string that is stored inline up to 22 bytes, else shared behind an `Arc`, so
/// copying it into every event costs no allocation and never pins a chunk.
#[derive(Clone)]
pub(crate) enum SmallStr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Arc<str>),
}

impl SmallStr {
    pub(crate) const EMPTY: SmallStr = SmallStr::Inline {
        len: 0,
        bytes: [0; INLINE],
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
            let mut bytes = [0; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            // `s.len() <= 22`, so the cast cannot truncate.
            #[allow(clippy::cast_possible_truncation)]
            SmallStr::Inline {
                len: s.len() as u8,
                bytes,
            }
        } else {
            SmallStr::Shared(Arc::from(s))
        }
    }

    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            SmallStr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            SmallStr::Shared(s) => s.as_bytes(),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Inline bytes were copied from a `&str`, so this never fails; the fallback only
            // keeps the code free of panics.
            SmallStr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            SmallStr::Shared(s) => s,
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
        let short = SmallStr::from_utf8_lossy(b"task_run.state");
        assert!(matches!(short, SmallStr::Inline { .. }));
        assert_eq!(short.as_str(), "task_run.state");
        let long = SmallStr::from_utf8_lossy(&[b'x'; 23]);
        assert!(matches!(long, SmallStr::Shared(_)));
        assert_eq!(long.as_str(), "x".repeat(23));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(SmallStr::from_utf8_lossy(b"a\xFFb").as_str(), "a\u{FFFD}b");
    }
}
