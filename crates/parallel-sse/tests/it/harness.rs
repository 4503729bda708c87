//! Runs the real parser over chunked input and compares against expectations.

use bytes::Bytes;
use parallel_sse::{Frame, Limits, Parser};

pub(crate) use crate::reference::{RefEvent, RefFraming, RefOutput};

/// What one run of the parser produced.
pub(crate) struct Run {
    pub(crate) output: RefOutput,
    pub(crate) framing: RefFraming,
    /// The error, if a limit was hit.
    pub(crate) error: Option<parallel_sse::Error>,
}

fn ref_event(event: &parallel_sse::Event) -> RefEvent {
    RefEvent {
        event_type: event.event_type().to_owned(),
        data: event.data_str().into_owned(),
        last_event_id: event.last_event_id().to_owned(),
    }
}

/// Feeds `chunks` to a parser, draining with [`Parser::next_frame`] after each; every frame,
/// and what the parser says at the end.
fn run_frames(chunks: &[&[u8]], limits: Limits) -> Run {
    let mut parser = Parser::with_limits(limits);
    let mut events = Vec::new();
    let mut framing = RefFraming::default();
    let mut error = None;
    let mut drain = |parser: &mut Parser| {
        while let Some(item) = parser.next_frame() {
            match item {
                Ok(Frame::Event(event)) => events.push(ref_event(&event)),
                Ok(Frame::Comment(text)) => framing
                    .comments
                    .push((events.len(), String::from_utf8_lossy(&text).into_owned())),
                Ok(other) => panic!("a frame this test does not know: {other:?}"),
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
    framing.ended_inside_event = parser.ended_inside_event();
    let output = RefOutput {
        events,
        last_event_id: parser.last_event_id().to_owned(),
        retry: parser.retry(),
    };
    Run {
        output,
        framing,
        error,
    }
}

/// The events and the error of the same input through [`Parser::next_event`].
fn run_events(chunks: &[&[u8]], limits: Limits) -> (Vec<RefEvent>, Option<parallel_sse::Error>) {
    let mut parser = Parser::with_limits(limits);
    let mut events = Vec::new();
    let mut error = None;
    let mut drain = |parser: &mut Parser| {
        while let Some(item) = parser.next_event() {
            match item {
                Ok(event) => events.push(ref_event(&event)),
                Err(e) => error = Some(e),
            }
        }
    };
    for chunk in chunks {
        parser.push(Bytes::copy_from_slice(chunk));
        drain(&mut parser);
    }
    parser.finish();
    drain(&mut parser);
    (events, error)
}

/// Runs the parser over `chunks`, through [`Parser::next_frame`] and [`Parser::next_event`],
/// which must agree on the events and the error.
pub(crate) fn run<'a>(chunks: impl IntoIterator<Item = &'a [u8]>, limits: Limits) -> Run {
    let chunks: Vec<&[u8]> = chunks.into_iter().collect();
    let run = run_frames(&chunks, limits);
    let (events, error) = run_events(&chunks, limits);
    assert_eq!(
        events, run.output.events,
        "next_event and next_frame differ"
    );
    assert_eq!(error, run.error, "next_event and next_frame differ");
    run
}

/// Output with default limits, which the tests never reach.
pub(crate) fn output<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> RefOutput {
    outcome(chunks).0
}

/// Output and framing with default limits, which the tests never reach.
pub(crate) fn outcome<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> (RefOutput, RefFraming) {
    let run = run(chunks, Limits::default());
    assert!(run.error.is_none(), "unexpected error {:?}", run.error);
    (run.output, run.framing)
}

/// Replays `input` as given, in 1- and 2-byte chunks and split in two at every byte position,
/// and checks each against `expected`, and the comments and the end against the reference
/// parser.
pub(crate) fn check(input: &[u8], expected: &RefOutput) {
    let expected = (expected.clone(), crate::reference::framing(input));
    assert_eq!(
        outcome([input]),
        expected,
        "input as one chunk: {:?}",
        String::from_utf8_lossy(input)
    );
    assert_eq!(outcome(input.chunks(1)), expected, "1-byte chunks");
    assert_eq!(outcome(input.chunks(2)), expected, "2-byte chunks");
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        assert_eq!(outcome([a, b]), expected, "split at byte {at}");
    }
}

/// Like [`check`], for the framing: `comments` (each with the number of events before it) and
/// whether the stream ended inside an event, written from the rules.
pub(crate) fn check_framing(input: &[u8], comments: &[(usize, &str)], ended_inside_event: bool) {
    let expected = RefFraming {
        comments: comments
            .iter()
            .map(|&(events, text)| (events, text.to_owned()))
            .collect(),
        ended_inside_event,
    };
    assert_eq!(
        crate::reference::framing(input),
        expected,
        "the reference parser: {:?}",
        String::from_utf8_lossy(input)
    );
    assert_eq!(outcome([input]).1, expected, "one chunk");
    assert_eq!(outcome(input.chunks(1)).1, expected, "1-byte chunks");
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        assert_eq!(outcome([a, b]).1, expected, "split at byte {at}");
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
