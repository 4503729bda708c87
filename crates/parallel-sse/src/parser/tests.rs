//! Unit tests of the scanner internals: the bytes-examined counter, BOM matching, retry
//! parsing and the choice between two exceeded limits.

use bytes::Bytes;

use super::Parser;
use super::block::parse_retry;
use crate::Limits;

const EIGHT_MIB: usize = 8 << 20;

/// Feeds `input` in chunks of `size`, draining after each, and returns (events, examined).
fn scan(input: &Bytes, size: usize) -> (usize, usize) {
    let mut parser = Parser::new();
    let mut events = 0;
    let mut start = 0;
    while start < input.len() {
        let end = (start + size).min(input.len());
        parser.push(input.slice(start..end));
        start = end;
        while let Some(event) = parser.next_event() {
            assert!(event.is_ok());
            events += 1;
        }
    }
    parser.finish();
    assert!(parser.next_event().is_none());
    (events, parser.examined())
}

fn eight_mib_line() -> Bytes {
    let mut input = Vec::with_capacity(EIGHT_MIB + 8);
    input.extend_from_slice(b"data: ");
    input.resize(EIGHT_MIB, b'x');
    input.extend_from_slice(b"\n\n");
    Bytes::from(input)
}

#[test]
fn eight_mib_line_in_one_byte_chunks_is_scanned_linearly() {
    let input = eight_mib_line();
    let (events, examined) = scan(&input, 1);
    assert_eq!(events, 1);
    // Each byte once by the line scan, plus the 5-byte `data:` check.
    assert!(
        examined <= input.len() + 16,
        "examined {examined} bytes of {}",
        input.len()
    );
    assert!(
        examined >= input.len(),
        "the counter must see every byte: {examined}"
    );
}

#[test]
fn eight_mib_line_in_1460_byte_chunks_is_scanned_linearly() {
    let input = eight_mib_line();
    let (events, examined) = scan(&input, 1460);
    assert_eq!(events, 1);
    assert!(
        examined <= input.len() + 16,
        "examined {examined} bytes of {}",
        input.len()
    );
    assert!(examined >= input.len());
}

#[test]
fn colonless_line_costs_at_most_two_passes() {
    // The colon search runs once over a complete line; still linear.
    let mut input = vec![b'y'; 1 << 20];
    input.extend_from_slice(b"\n\n");
    let input = Bytes::from(input);
    let (events, examined) = scan(&input, 1460);
    assert_eq!(events, 0);
    assert!(
        examined <= 2 * input.len(),
        "examined {examined} of {}",
        input.len()
    );
}

#[test]
fn bom_split_over_three_chunks_is_stripped() {
    let mut parser = Parser::new();
    for byte in [0xEF, 0xBB, 0xBF] {
        parser.push(Bytes::from(vec![byte]));
        assert!(parser.next_event().is_none());
    }
    parser.push(Bytes::from_static(b"data:a\n\n"));
    assert_eq!(
        parser
            .next_event()
            .and_then(Result::ok)
            .map(|e| e.data().clone()),
        Some(Bytes::from_static(b"a"))
    );
}

#[test]
fn retry_values() {
    assert_eq!(parse_retry(b"0"), Some(0));
    assert_eq!(parse_retry(b"03000"), Some(3000));
    assert_eq!(parse_retry(b"18446744073709551615"), Some(u64::MAX));
    for bad in [
        &b""[..],
        b"+5",
        b"-1",
        b" 5",
        b"5 ",
        b"1.5",
        b"1000x",
        b"18446744073709551616",
        b"\xD9\xA3",
    ] {
        assert_eq!(parse_retry(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn when_both_limits_are_exceeded_the_first_crossed_is_reported() {
    let limits = Limits::default().max_line_bytes(9).max_event_bytes(10);
    // A 12-byte line: the line limit is crossed at its 10th byte, the event limit at its 11th.
    let mut parser = Parser::with_limits(limits);
    parser.push(Bytes::from_static(b"data:abcdefg\n"));
    let error = parser.next_event().and_then(Result::err).expect("an error");
    assert!(error.is_line_too_long());

    // After 5 data bytes, a 10-byte line crosses the event limit at its 6th byte, before the
    // line limit at its 10th.
    let mut parser = Parser::with_limits(limits);
    parser.push(Bytes::from_static(b"data:abcd\ndata:xyzwv\n"));
    let error = parser.next_event().and_then(Result::err).expect("an error");
    assert!(error.is_event_too_large());
}

/// The shortcut for an `event:` line repeating the stored name must agree with a full parse
/// of lines that only look like a repeat, in every chunking.
#[test]
fn repeated_event_lines_and_near_misses() {
    let input: &[u8] = b"event: tick\ndata: 1\n\n\
        event: tick\ndata: 2\n\n\
        event:tick\rdata: 3\r\n\r\n\
        event:  tick\ndata: 4\n\n\
        event:  tick\ndata: 5\n\n\
        event: tick\ndata: 6\n\n\
        event: ticks\ndata: 7\n\n\
        event: tick\r\ndata: 8\n\n\
        event: tic\ndata: 9\n\n\
        event: tick:x\ndata: 10\n\n\
        event:\ndata: 11\n\n\
        event: tick\ndata: 12\n\n";
    let expected = [
        "tick", "tick", "tick", " tick", " tick", "tick", "ticks", "tick", "tic", "tick:x",
        "message", "tick",
    ];
    for size in 1..=input.len() {
        let mut parser = Parser::new();
        let mut seen = Vec::new();
        for piece in input.chunks(size) {
            parser.push(Bytes::copy_from_slice(piece));
            while let Some(event) = parser.next_event() {
                let event = event.expect("no limit is near");
                seen.push((event.event_type().to_owned(), event.data_str().into_owned()));
            }
        }
        let names: Vec<&str> = seen.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, expected, "chunks of {size}");
        for (index, (_, data)) in seen.iter().enumerate() {
            assert_eq!(data, &(index + 1).to_string(), "chunks of {size}");
        }
    }
}
