//! Limits: which one is reported, the size seen, and that the parser stops after.

use bytes::Bytes;
use parallel_sse::{Limits, Parser};

use crate::harness::{Run, messages, run};

#[test]
fn defaults_fit_16_mib_run_outputs() {
    let limits = Limits::default();
    assert!(limits.max_line_bytes >= 32 << 20);
    assert!(limits.max_event_bytes >= 32 << 20);
    let payload = vec![b'x'; 16 << 20];
    let input = [b"data: ".as_slice(), &payload, b"\n\n"].concat();
    let Run {
        output: out, error, ..
    } = run(input.chunks(1 << 16), limits);
    assert!(error.is_none());
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.events[0].data.len(), 16 << 20);
}

#[test]
fn long_line_is_reported_with_limit_and_size() {
    let limits = Limits::default().max_line_bytes(10);
    let Run {
        output: out, error, ..
    } = run(
        [b"data:a\n\ndata:0123456789\n\ndata:b\n\n".as_slice()],
        limits,
    );
    assert_eq!(out.events, messages(&["a"]).events);
    let error = error.expect("the 15-byte line exceeds 10");
    assert!(error.is_line_too_long() && !error.is_event_too_large() && error.is_limit());
    assert_eq!((error.limit(), error.size()), (10, 15));
    let message = error.to_string();
    assert!(
        message.contains("max_line_bytes") && message.contains("15") && message.contains("10"),
        "{message}"
    );
}

#[test]
fn line_limit_applies_while_the_line_is_still_arriving() {
    let mut parser = Parser::with_limits(Limits::default().max_line_bytes(100));
    parser.push(Bytes::from_static(b"data:"));
    assert!(parser.next_event().is_none());
    parser.push(Bytes::from(vec![b'x'; 200]));
    let error = parser
        .next_event()
        .expect("an error")
        .expect_err("over the line limit");
    assert!(error.is_line_too_long());
    assert_eq!(error.size(), 205);
    // Stopped for good: nothing more, whatever is pushed.
    parser.push(Bytes::from_static(b"\n\ndata:ok\n\n"));
    assert!(parser.next_event().is_none());
}

#[test]
fn event_limit_counts_data_across_lines() {
    let limits = Limits::default().max_event_bytes(16);
    // Data "aaaa\n" + "bbbb\n" is 10 bytes; with the 7-byte third line that is 17.
    let Run {
        output: out, error, ..
    } = run([b"data:aaaa\ndata:bbbb\ndata:cc\n\n".as_slice()], limits);
    assert!(out.events.is_empty());
    let error = error.expect("event limit");
    assert!(error.is_event_too_large());
    assert_eq!(error.limit(), 16);
    assert_eq!(error.size(), 17);
}

#[test]
fn data_line_limit() {
    let limits = Limits::default().max_data_lines(2);
    let Run {
        output: out, error, ..
    } = run(
        [b"data:a\ndata:b\n\ndata:a\ndata:b\ndata:c\n\n".as_slice()],
        limits,
    );
    assert_eq!(out.events, messages(&["a\nb"]).events);
    let error = error.expect("three lines");
    assert!(error.is_too_many_data_lines());
    assert_eq!((error.limit(), error.size()), (2, 3));
    assert!(error.to_string().contains("max_data_lines"));
}

#[test]
fn events_within_limits_pass() {
    let limits = Limits::default()
        .max_line_bytes(6)
        .max_event_bytes(8)
        .max_data_lines(2);
    let Run {
        output: out, error, ..
    } = run([b"data:a\ndata:b\n\n".as_slice()], limits);
    assert!(error.is_none());
    assert_eq!(out.events, messages(&["a\nb"]).events);
}
