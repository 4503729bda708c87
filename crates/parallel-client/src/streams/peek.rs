//! An event's `type` and `event_id`, read once on its way from the socket to the caller
//! without decoding the rest, and decoding events.

use std::borrow::Cow;
use std::ops::Range;

use bytes::Bytes;
use parallel_types::{ErrorObject, EventHead, from_json_slice};
use serde::Deserialize;

use crate::error::Error;

/// Decodes an event's JSON; `what` names it in the error.
pub(crate) fn decode<'a, T: Deserialize<'a>>(data: &'a [u8], what: &str) -> Result<T, Error> {
    from_json_slice(data).map_err(|e| Error::decode(what, e))
}

/// Decodes an event of the stream `stream` (a session's `what`); the error's wording is
/// only built when there is an error.
pub(crate) fn decode_event<'a, T: Deserialize<'a>>(
    data: &'a [u8],
    stream: &str,
) -> Result<T, Error> {
    from_json_slice(data).map_err(|e| Error::decode(&format!("an event of {stream}"), e))
}

/// An event's JSON with its `type` and `event_id` ([`EventHead`]), read once, when the
/// session takes the event from the parser: the session, the stream and the caller's routing
/// all ask these two of it, and none reads the JSON again for them.
#[derive(Debug)]
pub(crate) struct Peeked {
    data: Bytes,
    kind: Option<Text>,
    event_id: Option<Text>,
}

/// A string read from the event: where it lies in the JSON, or decoded (when it had escapes).
#[derive(Debug)]
enum Text {
    At(Range<usize>),
    Decoded(Box<str>),
}

impl Peeked {
    /// Reads the `type` and `event_id` of the event in `data`; `what` names the stream in the
    /// error when `data` is not an event object.
    pub(crate) fn read(data: Bytes, what: &str) -> Result<Self, Error> {
        let head = EventHead::from_slice(&data)
            .map_err(|e| Error::decode(&format!("an event of {what}"), e))?;
        let kind = head.event_type.map(|text| Text::locate(&data, text));
        let event_id = head.event_id.map(|text| Text::locate(&data, text));
        Ok(Self {
            data,
            kind,
            event_id,
        })
    }

    /// The event's `type`; `None` when it has none, or one that is not a string (the streams
    /// skip such events with a warning).
    pub(crate) fn kind(&self) -> Option<&str> {
        self.kind.as_ref().map(|text| text.get(&self.data))
    }

    /// The event's `event_id`, its resume cursor.
    pub(crate) fn event_id(&self) -> Option<&str> {
        self.event_id.as_ref().map(|text| text.get(&self.data))
    }

    /// The event's JSON.
    pub(crate) fn data(&self) -> &[u8] {
        &self.data
    }

    /// The event's JSON, as received.
    pub(crate) fn into_data(self) -> Bytes {
        self.data
    }
}

impl Text {
    /// Where `text`, read from `data`, lies in it; decoded text is kept as it is.
    fn locate(data: &[u8], text: Cow<'_, str>) -> Self {
        match text {
            Cow::Borrowed(text) => {
                let start = text.as_ptr().addr().wrapping_sub(data.as_ptr().addr());
                match data.get(start..start.wrapping_add(text.len())) {
                    Some(within) if within.as_ptr() == text.as_ptr() => {
                        Text::At(start..start + text.len())
                    }
                    _ => Text::Decoded(text.into()),
                }
            }
            Cow::Owned(text) => Text::Decoded(text.into_boxed_str()),
        }
    }

    fn get<'a>(&'a self, data: &'a [u8]) -> &'a str {
        match self {
            // The range held a `&str` when it was read, so it is UTF-8; the fallback only
            // keeps the code free of panics.
            Text::At(range) => data
                .get(range.clone())
                .and_then(|bytes| std::str::from_utf8(bytes).ok())
                .unwrap_or_default(),
            Text::Decoded(text) => text,
        }
    }
}

/// Skips an event of a type this client does not know (a newer server), with a warning.
pub(crate) fn skip_unknown(what: &str, kind: &str) {
    tracing::warn!(stream = %what, event_type = %kind, "skipping an event of a type this client does not know");
}

/// Skips an event without a `type`, with a warning.
pub(crate) fn skip_untyped(what: &str) {
    tracing::warn!(stream = %what, "skipping an event without a type");
}

/// An in-band `error` event, as the client's error.
pub(crate) fn error_event(data: &[u8], what: &str) -> Error {
    #[derive(Deserialize)]
    struct ErrorEventBody {
        error: ErrorObject,
    }
    match from_json_slice::<ErrorEventBody>(data) {
        Ok(body) => Error::stream_event(what, body.error),
        Err(e) => Error::decode(&format!("an error event of {what}"), e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peek(data: &'static str) -> (Option<String>, Option<String>) {
        let p = Peeked::read(Bytes::from_static(data.as_bytes()), "test").unwrap();
        (p.kind().map(str::to_owned), p.event_id().map(str::to_owned))
    }

    #[test]
    fn the_leading_fields_are_found_in_place() {
        let fast = br#"{"type":"task_run.state","event_id":"17","run":{}}"#;
        let p = Peeked::read(Bytes::from_static(fast), "test").unwrap();
        assert!(matches!(p.kind, Some(Text::At(_))) && matches!(p.event_id, Some(Text::At(_))));
        assert_eq!(
            (p.kind(), p.event_id()),
            (Some("task_run.state"), Some("17"))
        );
        let spaced = "{ \"type\" : \"error\" ,\n \"event_id\" : null }";
        assert_eq!(peek(spaced), (Some("error".to_owned()), None));
    }

    #[test]
    fn other_layouts_give_the_same_answer() {
        for (data, kind, id) in [
            (
                r#"{"event_id":"3","type":"task_group_status"}"#,
                "task_group_status",
                Some("3"),
            ),
            (
                r#"{"type":"task_run.state","run":{"event_id":"x"},"event_id":"4"}"#,
                "task_run.state",
                Some("4"),
            ),
            (r#"{"type":"a\u002eb","event_id":"5"}"#, "a.b", Some("5")),
            (r#"{"type":"error","error":{}}"#, "error", None),
        ] {
            assert_eq!(
                peek(data),
                (Some(kind.to_owned()), id.map(str::to_owned)),
                "{data}"
            );
        }
    }

    #[test]
    fn events_without_a_string_type_have_none() {
        for data in [r#"{"type":1}"#, r#"{"event_id":"1"}"#] {
            assert_eq!(peek(data).0, None, "{data}");
        }
    }

    #[test]
    fn broken_events_are_decode_errors() {
        for data in [
            &b"{"[..],
            b"[]",
            b"not json",
            br#"{"type":"x","event_id":5}"#,
        ] {
            assert!(
                Peeked::read(Bytes::from_static(data), "test")
                    .unwrap_err()
                    .is_decode()
            );
        }
    }
}
