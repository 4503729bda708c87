//! The `Stream` adapter over byte chunks.

use std::io;

use bytes::Bytes;
use futures::executor::block_on;
use futures::{StreamExt, stream};
use parallel_sse::{EventStream, Frame, Limits, StreamError};

fn chunks(parts: &[&'static [u8]]) -> Vec<Result<Bytes, io::Error>> {
    parts.iter().map(|p| Ok(Bytes::from_static(p))).collect()
}

#[test]
fn yields_events_across_chunks_and_drops_unterminated_tail() {
    let source = stream::iter(chunks(&[
        b"id: 1\ndata: a",
        b"b\n\nevent: x\r",
        b"\ndata: c\n\ndata: never",
    ]));
    let mut events = EventStream::new(source);
    let all: Vec<_> = block_on((&mut events).collect::<Vec<_>>());
    let all: Vec<_> = all.into_iter().map(|e| e.expect("no error")).collect();
    assert_eq!(all.len(), 2);
    assert_eq!(
        (
            all[0].event_type(),
            all[0].data().as_ref(),
            all[0].last_event_id()
        ),
        ("message", &b"ab"[..], "1")
    );
    assert_eq!(
        (
            all[1].event_type(),
            all[1].data().as_ref(),
            all[1].last_event_id()
        ),
        ("x", &b"c"[..], "1")
    );
    assert_eq!(events.last_event_id(), "1");
}

#[test]
fn source_errors_pass_through_and_parsing_continues() {
    let source = stream::iter(vec![
        Ok(Bytes::from_static(b"data: a")),
        Err(io::Error::other("connection reset")),
        Ok(Bytes::from_static(b"\n\n")),
    ]);
    let items = block_on(EventStream::new(source).collect::<Vec<_>>());
    assert_eq!(items.len(), 2);
    match &items[0] {
        Err(e @ StreamError::Source(inner)) => {
            assert!(e.is_source() && !e.is_parse());
            assert_eq!(inner.to_string(), "connection reset");
            // The cause is `source()`, and only there: a report prints each once.
            assert_eq!(e.to_string(), "reading the event stream failed");
            let source = std::error::Error::source(e).expect("the cause");
            assert_eq!(source.to_string(), "connection reset");
        }
        other => panic!("expected a source error, got {other:?}"),
    }
    assert_eq!(items[1].as_ref().expect("event").data().as_ref(), b"a");
}

#[test]
fn limit_error_ends_the_stream() {
    let source = stream::iter(chunks(&[
        b"data: ok\n\n",
        b"data: 0123456789abcdef\n\n",
        b"data: later\n\n",
    ]));
    let items = block_on(
        EventStream::with_limits(source, Limits::default().max_line_bytes(16)).collect::<Vec<_>>(),
    );
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0].as_ref().expect("first event").data().as_ref(),
        b"ok"
    );
    match &items[1] {
        Err(e @ StreamError::Parse(inner)) => {
            assert!(e.is_parse() && inner.is_line_too_long());
            // The parser's error is the whole story: shown as it is, not repeated below.
            assert_eq!(e.to_string(), inner.to_string());
            assert!(std::error::Error::source(e).is_none());
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn frames_bring_comments_and_the_end_says_whether_an_event_was_cut() {
    let source = stream::iter(chunks(&[
        b": hello\n\nevent: x\ndata: a",
        b"\n\n:",
        b"ping\n\ndata: cut",
    ]));
    let mut frames = EventStream::new(source).frames();
    let all: Vec<Frame> = block_on((&mut frames).collect::<Vec<_>>())
        .into_iter()
        .map(|frame| frame.expect("no error"))
        .collect();
    let shown: Vec<String> = all
        .iter()
        .map(|frame| match frame {
            Frame::Comment(text) => format!("comment {}", String::from_utf8_lossy(text)),
            Frame::Event(event) => format!("event {} {}", event.event_type(), event.data_str()),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(shown, ["comment  hello", "event x a", "comment ping"]);
    assert!(frames.ended_inside_event());

    let mut events = EventStream::new(stream::iter(chunks(&[b"data: a\n\n: bye\n"])));
    assert_eq!(block_on((&mut events).collect::<Vec<_>>()).len(), 1);
    assert!(!events.ended_inside_event());
}

#[test]
fn retry_is_exposed() {
    let mut events = EventStream::new(stream::iter(chunks(&[b"retry: 1500\n\n"])));
    assert!(block_on(events.next()).is_none());
    assert_eq!(events.retry(), Some(1500));
}

#[test]
fn works_with_a_source_that_is_not_unpin() {
    let source = stream::unfold(0u8, |n| async move {
        (n < 2).then(|| {
            (
                Ok::<_, io::Error>(Bytes::from_static(b"data: x\n\n")),
                n + 1,
            )
        })
    });
    let items = block_on(EventStream::new(source).collect::<Vec<_>>());
    assert_eq!(items.len(), 2);
}

#[test]
fn debug_output_summarises_instead_of_dumping_buffers() {
    let mut parser = parallel_sse::Parser::new();
    parser.push(Bytes::from(vec![b'x'; 10_000]));
    assert!(parser.next_event().is_none());
    let shown = format!("{parser:?}");
    assert!(shown.contains("partial_line_bytes: 10000"), "{shown}");
    assert!(shown.len() < 500, "{shown}");
}
