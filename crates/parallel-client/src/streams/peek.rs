//! Reading an event's `type` and `event_id` without decoding the rest, and decoding events.

use std::borrow::Cow;

use parallel_types::{ErrorObject, from_json_slice, leading_type_and_id};
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

/// The `type` and `event_id` of an event, read without decoding the rest.
#[derive(Debug, Deserialize)]
pub(crate) struct Peek<'a> {
    #[serde(rename = "type", borrow)]
    pub(crate) kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub(crate) event_id: Option<Cow<'a, str>>,
}

impl<'a> Peek<'a> {
    /// Reads `type` and `event_id`. Servers write these two keys first; then they are read
    /// straight from the front of the event without scanning the rest (the caller's decode
    /// validates the whole event later). Any other layout takes the full JSON parse.
    pub(crate) fn parse(data: &'a [u8], what: &str) -> Result<Self, Error> {
        if let Some(peek) = Self::leading(data) {
            return Ok(peek);
        }
        decode_event(data, what)
    }

    /// Like [`Peek::parse`], but `None` for an event without a `type` (which the streams skip
    /// with a warning) instead of an error.
    pub(crate) fn parse_typed(data: &'a [u8], what: &str) -> Result<Option<Self>, Error> {
        #[derive(Deserialize)]
        struct Loose<'a> {
            #[serde(rename = "type", borrow, default)]
            kind: Option<Cow<'a, str>>,
            #[serde(borrow, default)]
            event_id: Option<Cow<'a, str>>,
        }
        if let Some(peek) = Self::leading(data) {
            return Ok(Some(peek));
        }
        let loose: Loose<'a> = decode_event(data, what)?;
        Ok(loose.kind.map(|kind| Peek {
            kind,
            event_id: loose.event_id,
        }))
    }

    /// The two keys in front, as servers write them
    /// ([`parallel_types::leading_type_and_id`]); `None` for any other layout.
    fn leading(data: &'a [u8]) -> Option<Self> {
        let (kind, event_id) = leading_type_and_id(data)?;
        Some(Peek {
            kind: Cow::Borrowed(kind),
            event_id: event_id.map(Cow::Borrowed),
        })
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

    fn peek(data: &str) -> (String, Option<String>) {
        let p = Peek::parse(data.as_bytes(), "test").unwrap();
        (p.kind.into_owned(), p.event_id.map(Cow::into_owned))
    }

    #[test]
    fn the_leading_fields_are_read_without_a_full_parse() {
        let fast = br#"{"type":"task_run.state","event_id":"17","run":{}}"#;
        let p = Peek::leading(fast).unwrap();
        assert_eq!(
            (p.kind.as_ref(), p.event_id.as_deref()),
            ("task_run.state", Some("17"))
        );
        let spaced = b"{ \"type\" : \"error\" ,\n \"event_id\" : null }";
        let p = Peek::leading(spaced).unwrap();
        assert_eq!((p.kind.as_ref(), p.event_id), ("error", None));
    }

    #[test]
    fn other_layouts_fall_back_to_the_full_parse_with_the_same_answer() {
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
            assert!(Peek::leading(data.as_bytes()).is_none(), "{data}");
            assert_eq!(
                peek(data),
                (kind.to_owned(), id.map(str::to_owned)),
                "{data}"
            );
        }
    }

    #[test]
    fn broken_events_are_decode_errors() {
        for data in [&b"{"[..], b"[]", b"{\"type\":1}", b"not json"] {
            assert!(Peek::parse(data, "test").unwrap_err().is_decode());
        }
    }
}
