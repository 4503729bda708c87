//! Zero copy: a one-line `data:` field inside one chunk is returned as a slice of that chunk,
//! and such events cost no allocation.

use bytes::Bytes;
use parallel_sse::Parser;

use crate::alloc::{allocated_bytes, allocations};

/// `count` events of the usual run-stream shape, and the byte offset of each data value.
fn run_stream(count: usize) -> (Bytes, Vec<(usize, usize)>) {
    let mut out = Vec::new();
    let mut spans = Vec::new();
    for i in 0..count {
        out.extend_from_slice(b"event: task_run.state\n");
        if i % 3 == 0 {
            out.extend_from_slice(format!("id: {i}\n").as_bytes());
        }
        out.extend_from_slice(b"data: ");
        let start = out.len();
        out.extend_from_slice(
            format!("{{\"type\":\"task_run.state\",\"run\":{{\"run_id\":\"run_{i}\"}}}}")
                .as_bytes(),
        );
        spans.push((start, out.len()));
        out.extend_from_slice(b"\n\n: keep-alive\n\n");
    }
    (Bytes::from(out), spans)
}

#[test]
fn one_line_data_is_a_slice_of_the_chunk() {
    let (chunk, spans) = run_stream(50);
    let mut parser = Parser::new();
    parser.push(chunk.clone());
    for (start, end) in spans {
        let event = parser.next_event().expect("an event").expect("no error");
        assert_eq!(event.data().as_ref(), &chunk[start..end]);
        assert_eq!(
            event.data().as_ptr(),
            chunk[start..].as_ptr(),
            "data must point into the chunk"
        );
    }
    assert!(parser.next_event().is_none());
}

#[test]
fn one_line_events_allocate_nothing() {
    let (chunk, spans) = run_stream(1000);
    let mut parser = Parser::new();
    // Warm-up is not needed: nothing in the parser allocates for this shape, not even once.
    let before = allocations();
    parser.push(chunk);
    let mut events = 0;
    let mut data_bytes = 0;
    while let Some(event) = parser.next_event() {
        let event = event.expect("no error");
        assert_eq!(event.event_type(), "task_run.state");
        data_bytes += event.data().len();
        events += 1;
    }
    let allocated = allocations() - before;
    assert_eq!(events, spans.len());
    assert!(data_bytes > 0);
    assert_eq!(
        allocated, 0,
        "{allocated} allocations for {events} one-line events"
    );
}

#[test]
fn multi_line_events_allocate_at_most_once_each() {
    let mut input = Vec::new();
    for i in 0..500 {
        for line in 0..20 {
            input.extend_from_slice(format!("data: event {i} line {line} of twenty\n").as_bytes());
        }
        input.push(b'\n');
    }
    let mut parser = Parser::new();
    let mut events = Vec::with_capacity(500);
    let before = allocations();
    parser.push(Bytes::from(input));
    while let Some(event) = parser.next_event() {
        events.push(event.expect("no error"));
    }
    let allocated = allocations() - before;
    assert_eq!(events.len(), 500);
    assert!(
        allocated <= events.len(),
        "{allocated} allocations for {} twenty-line events",
        events.len()
    );
    for (i, event) in events.iter().enumerate() {
        let expected: Vec<String> = (0..20)
            .map(|line| format!("event {i} line {line} of twenty"))
            .collect();
        assert_eq!(event.data_str(), expected.join("\n"));
    }
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the tests above against a counter that never counts.
    let before = allocations();
    let v = std::hint::black_box(vec![1u8; 64]);
    assert!(allocations() > before);
    drop(v);
}

#[test]
fn line_spanning_many_chunks_is_copied_once() {
    // 16 MiB of data in 1,460-byte chunks: held as chunk slices, joined with one copy, so the
    // parser allocates little more than the line itself (an eighth of headroom and the list of
    // slices), not the 32 MiB and more of a doubling buffer.
    let mut input = b"data: ".to_vec();
    input.resize(16 << 20, b'x');
    input.extend_from_slice(b"\n\n");
    let input = Bytes::from(input);
    let chunks: Vec<Bytes> = (0..input.len())
        .step_by(1460)
        .map(|at| input.slice(at..(at + 1460).min(input.len())))
        .collect();
    let mut parser = Parser::new();
    let mut sizes = Vec::with_capacity(1);
    let before = allocated_bytes();
    for chunk in chunks {
        parser.push(chunk);
        while let Some(event) = parser.next_event() {
            sizes.push(event.expect("no error").data().len());
        }
    }
    let allocated = allocated_bytes() - before;
    assert_eq!(sizes, [(16 << 20) - 6]);
    assert!(
        allocated < (16 << 20) + (4 << 20),
        "allocated {allocated} bytes for a 16 MiB line"
    );
}
