//! Property tests: chunking never changes the output, the output equals the reference parser,
//! and no input makes the parser panic.

use parallel_sse::Limits;
use proptest::prelude::*;

use crate::harness::{outcome, run};
use crate::reference;

/// Pieces of text that exercise every rule: multi-byte characters, NUL, invalid UTF-8, BOM
/// bytes, colons and spaces.
fn value() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"x".to_vec()),
        Just(b" ".to_vec()),
        Just(b":".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"\t".to_vec()),
        Just("é".as_bytes().to_vec()),
        Just("😀".as_bytes().to_vec()),
        Just(b"\xF0\x9F\x98".to_vec()),
        Just(b"\xFF".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"{\"k\":1}".to_vec()),
        "[a-z0-9]{0,12}".prop_map(String::into_bytes),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|pieces| pieces.concat())
}

fn terminator() -> impl Strategy<Value = &'static [u8]> {
    prop_oneof![Just(&b"\n"[..]), Just(&b"\r"[..]), Just(&b"\r\n"[..])]
}

/// One line of a model stream (without its terminator).
fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => value().prop_map(|v| [b"data:".as_slice(), &v].concat()),
        2 => value().prop_map(|v| [b"data: ".as_slice(), &v].concat()),
        3 => Just(Vec::new()),
        1 => Just(b"data".to_vec()),
        1 => value().prop_map(|v| [b"event:".as_slice(), &v].concat()),
        // The shape read in one go (an `event:` line repeating the stored type, one `data:`
        // line, a blank line), and lines that nearly repeat the type.
        2 => Just(b"event: tick".to_vec()),
        1 => prop_oneof![Just(b"event:tick".to_vec()), Just(b"event: tic".to_vec()), Just(b"event: ticks".to_vec())],
        1 => value().prop_map(|v| [b"id: ".as_slice(), &v].concat()),
        1 => Just(b"id".to_vec()),
        1 => "[0-9+ x-]{0,6}".prop_map(|v| [b"retry:".as_slice(), v.as_bytes()].concat()),
        1 => value().prop_map(|v| [b":".as_slice(), &v].concat()),
        1 => value().prop_map(|v| [b"Data:".as_slice(), &v].concat()),
        1 => value(),
    ]
}

/// A stream built from the model: optional BOM(s), lines with random terminators, and maybe an
/// unterminated tail.
fn model_stream() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            Just(&b""[..]),
            Just(&b"\xEF\xBB\xBF"[..]),
            Just(&b"\xEF\xBB"[..]),
            Just(&b"\xEF\xBB\xBF\xEF\xBB\xBF"[..])
        ],
        prop::collection::vec((line(), terminator()), 0..24),
        prop::option::of(line()),
    )
        .prop_map(|(bom, lines, tail)| {
            let mut out = bom.to_vec();
            for (line, end) in lines {
                out.extend_from_slice(&line);
                out.extend_from_slice(end);
            }
            out.extend(tail.unwrap_or_default());
            out
        })
}

/// Bytes from an alphabet dense in the characters that matter.
fn noisy_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        3 => Just(b'\n'),
        3 => Just(b'\r'),
        2 => Just(b':'),
        2 => Just(b' '),
        4 => prop::sample::select(b"dataeventidretry".to_vec()),
        1 => Just(0xEF),
        1 => Just(0xBB),
        1 => Just(0xBF),
        1 => Just(0),
        2 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..200)
}

/// Cuts `input` at the given points (duplicates give empty chunks).
fn cut(input: &[u8], mut points: Vec<usize>) -> Vec<&[u8]> {
    for p in &mut points {
        *p %= input.len() + 1;
    }
    points.sort_unstable();
    let mut chunks = Vec::with_capacity(points.len() + 1);
    let mut start = 0;
    for p in points {
        chunks.push(&input[start..p]);
        start = p;
    }
    chunks.push(&input[start..]);
    chunks
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(any::<usize>(), 0..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn model_streams_match_reference_however_cut(input in model_stream(), points in cuts()) {
        let expected = (reference::parse(&input), reference::framing(&input));
        prop_assert_eq!(&outcome([input.as_slice()]), &expected);
        prop_assert_eq!(&outcome(cut(&input, points)), &expected);
    }

    #[test]
    fn noisy_bytes_match_reference_however_cut(input in noisy_bytes(), points in cuts()) {
        let expected = (reference::parse(&input), reference::framing(&input));
        prop_assert_eq!(&outcome([input.as_slice()]), &expected);
        prop_assert_eq!(&outcome(cut(&input, points)), &expected);
    }

    #[test]
    fn one_byte_chunks_match_one_chunk(input in model_stream()) {
        prop_assert_eq!(outcome(input.chunks(1)), outcome([input.as_slice()]));
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..512), points in cuts()) {
        let expected = (reference::parse(&input), reference::framing(&input));
        prop_assert_eq!(&outcome(cut(&input, points)), &expected);
    }

    /// With tight limits the error, and the events before it, still do not depend on the cuts,
    /// and the events are a prefix of what an unlimited parser produces.
    #[test]
    fn limit_errors_do_not_depend_on_chunking(
        input in model_stream(),
        points in cuts(),
        line in 0usize..24,
        event in 0usize..48,
        lines in 0usize..4,
    ) {
        let limits = Limits::default().max_line_bytes(line).max_event_bytes(event).max_data_lines(lines);
        let whole = run([input.as_slice()], limits);
        let chunked = run(cut(&input, points), limits);
        let (whole, whole_error, chunked, chunked_error) = (whole.output, whole.error, chunked.output, chunked.error);
        prop_assert_eq!(&whole.events, &chunked.events);
        let kind = |e: &Option<parallel_sse::Error>| e.as_ref().map(|e| (e.is_line_too_long(), e.is_event_too_large(), e.is_too_many_data_lines(), e.limit()));
        prop_assert_eq!(kind(&whole_error), kind(&chunked_error));
        let unlimited = reference::parse(&input);
        prop_assert!(unlimited.events.starts_with(&whole.events));
        if whole_error.is_none() {
            prop_assert_eq!(whole, unlimited);
        }
    }
}
