//! Runs the real parser over chunked input and compares against expectations.

use bytes::Bytes;
use parallel_sse::{Limits, Parser};

pub(crate) use crate::reference::{RefEvent, RefOutput};

/// The parser's output in the reference parser's terms, plus the error (if a limit hit).
pub(crate) fn run<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
    limits: Limits,
) -> (RefOutput, Option<parallel_sse::Error>) {
    let mut parser = Parser::with_limits(limits);
    let mut events = Vec::new();
    let mut error = None;
    let mut drain = |parser: &mut Parser| {
        while let Some(item) = parser.next_event() {
            match item {
                Ok(event) => events.push(RefEvent {
                    event_type: event.event_type().to_owned(),
                    data: event.data_str().into_owned(),
                    last_event_id: event.last_event_id().to_owned(),
                }),
                Err(e) => {
                    assert!(error.is_none(), "a second error after {error:?}: {e}");
                    error = Some(e);
                }
            }
        }
    };
    for chunk in chunks {
        parser.push(Bytes::copy_from_slice(chunk));
        drain(&mut parser);
    }
    parser.finish();
    drain(&mut parser);
    let output = RefOutput {
        events,
        last_event_id: parser.last_event_id().to_owned(),
        retry: parser.retry(),
    };
    (output, error)
}

/// Output with default limits, which the tests never reach.
pub(crate) fn output<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> RefOutput {
    let (output, error) = run(chunks, Limits::default());
    assert!(error.is_none(), "unexpected error {error:?}");
    output
}

/// Replays `input` as given, in 1- and 2-byte chunks and split in two at every byte position,
/// and checks each against `expected`.
pub(crate) fn check(input: &[u8], expected: &RefOutput) {
    assert_eq!(
        &output([input]),
        expected,
        "input as one chunk: {:?}",
        String::from_utf8_lossy(input)
    );
    assert_eq!(&output(input.chunks(1)), expected, "1-byte chunks");
    assert_eq!(&output(input.chunks(2)), expected, "2-byte chunks");
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        assert_eq!(&output([a, b]), expected, "split at byte {at}");
    }
}

/// An expected event.
pub(crate) fn ev(event_type: &str, data: &str, last_event_id: &str) -> RefEvent {
    RefEvent {
        event_type: event_type.to_owned(),
        data: data.to_owned(),
        last_event_id: last_event_id.to_owned(),
    }
}

/// An expected output.
pub(crate) fn out(events: Vec<RefEvent>, last_event_id: &str, retry: Option<u64>) -> RefOutput {
    RefOutput {
        events,
        last_event_id: last_event_id.to_owned(),
        retry,
    }
}

/// Expected output: `message` events with these data, no id, no retry.
pub(crate) fn messages(data: &[&str]) -> RefOutput {
    out(
        data.iter().map(|d| ev("message", d, "")).collect(),
        "",
        None,
    )
}
