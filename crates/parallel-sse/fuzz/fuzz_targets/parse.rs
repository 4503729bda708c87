//! Fuzz target: for any bytes and any way of cutting them into chunks, the parser must not
//! panic, must give the same output (events, comments, and whether the stream ended inside an
//! event) as when fed in one chunk, and must agree with the reference parser. With tight
//! limits, the events before the error and the error itself must not depend on the cuts
//! either.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use parallel_sse::{Frame, Limits, Parser};

#[path = "../../tests/it/reference.rs"]
mod reference;

use reference::{RefEvent, RefFraming, RefOutput};

type ErrorKind = Option<(bool, bool, bool, usize)>;

fn run(chunks: &[&[u8]], limits: Limits) -> (RefOutput, RefFraming, ErrorKind) {
    let mut parser = Parser::with_limits(limits);
    let mut events = Vec::new();
    let mut framing = RefFraming::default();
    let mut error = None;
    let mut drain = |parser: &mut Parser| {
        while let Some(item) = parser.next_frame() {
            match item {
                Ok(Frame::Event(e)) => events.push(RefEvent {
                    event_type: e.event_type().to_owned(),
                    data: e.data_str().into_owned(),
                    last_event_id: e.last_event_id().to_owned(),
                }),
                Ok(Frame::Comment(text)) => framing.comments.push((events.len(), String::from_utf8_lossy(&text).into_owned())),
                Ok(_) => panic!("a frame this target does not know"),
                Err(e) => {
                    assert!(error.is_none(), "two errors");
                    error = Some((e.is_line_too_long(), e.is_event_too_large(), e.is_too_many_data_lines(), e.limit()));
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
    (RefOutput { events, last_event_id: parser.last_event_id().to_owned(), retry: parser.retry() }, framing, error)
}

fuzz_target!(|data: &[u8]| {
    // The first byte seeds the cut pattern and the limits; the rest is the stream.
    let Some((&seed, input)) = data.split_first() else { return };
    let mut chunks = Vec::new();
    let mut rest = input;
    let mut step = usize::from(seed % 7);
    while !rest.is_empty() {
        let take = step.min(rest.len()); // 0 gives an empty chunk
        chunks.push(&rest[..take]);
        rest = &rest[take..];
        // Never two zero steps in a row, so the loop always advances.
        step = if take == 0 { 1 + usize::from(seed % 10) } else { (step * 5 + usize::from(seed) + 1) % 11 };
    }

    let expected = reference::parse(input);
    let expected_framing = reference::framing(input);
    let (whole, whole_framing, whole_error) = run(&[input], Limits::default());
    assert_eq!(whole_error, None);
    assert_eq!(whole, expected);
    assert_eq!(whole_framing, expected_framing);
    let (chunked, chunked_framing, chunked_error) = run(&chunks, Limits::default());
    assert_eq!(chunked_error, None);
    assert_eq!(chunked, expected);
    assert_eq!(chunked_framing, expected_framing);

    let limits = Limits::default()
        .max_line_bytes(usize::from(seed % 32))
        .max_event_bytes(usize::from(seed / 4))
        .max_data_lines(usize::from(seed % 5));
    let (whole, _, whole_error) = run(&[input], limits);
    let (chunked, _, chunked_error) = run(&chunks, limits);
    assert_eq!(whole.events, chunked.events);
    assert_eq!(whole_error, chunked_error);
    assert!(expected.events.starts_with(&whole.events));
});
