//! One test (or more) per rule of the parsing checklist in `shared/spec/sse.md`, section 1.
//! `check` replays every vector as given, in 1- and 2-byte chunks and split at every byte.
//! Expected values are written from the rules, not taken from the parser.

use bytes::Bytes;
use parallel_sse::Parser;

use crate::harness::{check, check_framing, ev, messages, out, output};

#[test]
fn rule_01_body_is_always_utf8() {
    check("data: é€😀\n\n".as_bytes(), &messages(&["é€😀"]));
    // Latin-1 `é` (0xE9) is not honoured: it is an invalid UTF-8 byte.
    check(b"data: caf\xE9\n\n", &messages(&["caf\u{FFFD}"]));
}

#[test]
fn rule_02_invalid_sequences_become_replacement_characters() {
    check(
        b"data:a\xF0\x9F\x98b\xE2\x82\n\n",
        &messages(&["a\u{FFFD}b\u{FFFD}"]),
    );
    check(
        b"event:\xFFx\nid:\xC3\ndata:\x80\n\n",
        &out(
            vec![ev("\u{FFFD}x", "\u{FFFD}", "\u{FFFD}")],
            "\u{FFFD}",
            None,
        ),
    );
}

#[test]
fn rule_02_raw_bytes_are_kept_and_only_text_is_replaced() {
    let mut parser = Parser::new();
    parser.push(Bytes::from_static(b"data:a\xFFb\n\n"));
    let event = parser.next_event().unwrap().unwrap();
    assert_eq!(event.data().as_ref(), b"a\xFFb");
    assert_eq!(event.data_str(), "a\u{FFFD}b");
}

#[test]
fn rule_03_multibyte_characters_split_across_chunks() {
    // `check` cuts inside each of these characters.
    check("data:😀é\n\n".as_bytes(), &messages(&["😀é"]));
    check(
        "event:日本\ndata:語\n\n".as_bytes(),
        &out(vec![ev("日本", "語", "")], "", None),
    );
}

#[test]
fn rule_04_one_leading_bom_is_stripped() {
    check(b"\xEF\xBB\xBFdata:a\n\n", &messages(&["a"]));
    check(b"\xEF\xBB\xBF\n", &messages(&[]));
}

#[test]
fn rule_04_second_or_later_bom_is_content() {
    // A second BOM joins the field name of the first line, which is then ignored.
    check(
        b"\xEF\xBB\xBF\xEF\xBB\xBFdata:a\n\ndata:b\n\n",
        &messages(&["b"]),
    );
    check(b"data:a\n\n\xEF\xBB\xBFdata:b\n\n", &messages(&["a"]));
    check(b"data:\xEF\xBB\xBFx\n\n", &messages(&["\u{FEFF}x"]));
}

#[test]
fn rule_04_partial_bom_is_content() {
    check(b"\xEF\xBBdata:a\n\ndata:b\n\n", &messages(&["b"]));
    check(b"\xEFdata:a\n\ndata:b\n\n", &messages(&["b"]));
    // A BOM prefix then a line end: an empty-named line, ignored, not a dispatch.
    check(b"\xEF\xBB\ndata:b\n\n", &messages(&["b"]));
}

#[test]
fn rule_05_utf16_bom_is_not_honoured() {
    check(b"\xFF\xFEdata:a\n\ndata:b\n\n", &messages(&["b"]));
    check(b"\xFE\xFFdata:a\n\ndata:b\n\n", &messages(&["b"]));
}

#[test]
fn rule_06_crlf_lf_and_cr_all_end_lines() {
    check(b"data:a\rdata:b\r\ndata:c\n\r\n", &messages(&["a\nb\nc"]));
    check(
        b"data:a\r\rdata:b\n\ndata:c\r\n\r\n",
        &messages(&["a", "b", "c"]),
    );
}

#[test]
fn rule_06_other_separators_are_not_line_ends() {
    check(
        "data:a\u{2028}b\u{85}c\x0Bd\x0Ce\n\n".as_bytes(),
        &messages(&["a\u{2028}b\u{85}c\x0Bd\x0Ce"]),
    );
}

#[test]
fn rule_07_cr_ending_a_chunk_then_lf_is_one_terminator() {
    let chunks: [&[u8]; 3] = [b"data:a\r", b"\ndata:b\r", b"\n\r\n"];
    assert_eq!(output(chunks), messages(&["a\nb"]));
    let chunks: [&[u8]; 4] = [b"data:a\r", b"\n", b"\r", b"\n"];
    assert_eq!(output(chunks), messages(&["a"]));
    check(
        b"data:a\r\ndata:b\r\n\r\ndata:c\r\n\r\n",
        &messages(&["a\nb", "c"]),
    );
}

#[test]
fn rule_08_final_cr_ends_its_line() {
    check(b"data:x\n\r", &messages(&["x"]));
    check(b"data:x\r\r", &messages(&["x"]));
}

#[test]
fn rule_09_empty_line_dispatches() {
    check(b"data:a\n\ndata:b\n\n", &messages(&["a", "b"]));
}

#[test]
fn rule_10_comments_are_ignored() {
    check(b":comment\ndata:a\n: data:b\n:\n\n", &messages(&["a"]));
    check(b": only a keep-alive\n\n", &messages(&[]));
}

#[test]
fn rule_10_comments_are_reported_in_stream_order_with_their_text() {
    // The text after the colon, as sent: a leading space is kept (rule 11 is about fields).
    check_framing(b": keep-alive\n\n", &[(0, " keep-alive")], false);
    check_framing(
        b":a\ndata:x\n:\n\n: b\r\n\r\n:c\r",
        &[(0, "a"), (0, ""), (1, " b"), (1, "c")],
        false,
    );
    // A comment is not a field: a block of comments only is not an event, and a stream that
    // stops after one stopped between events.
    check_framing(b"data:x\n\n: bye\n", &[(1, " bye")], false);
    // Bytes that only look like comments are not.
    check_framing(b" :x\n\xEF\xBB\xBF:y\n\n", &[], false);
}

#[test]
fn rule_11_value_after_first_colon_minus_one_space() {
    check(b"data:  two\n\n", &messages(&[" two"]));
    check(b"data:\ttab\n\n", &messages(&["\ttab"]));
    check(b"data: x: y\n\n", &messages(&["x: y"]));
    check(b"data:no-space\n\n", &messages(&["no-space"]));
    check(b"data: \n\n", &messages(&[""]));
}

#[test]
fn rule_12_line_without_colon_is_a_name_with_empty_value() {
    check(b"data\ndata\n\n", &messages(&["\n"]));
    check(
        b"id:1\ndata:a\n\nid\ndata:b\n\n",
        &out(
            vec![ev("message", "a", "1"), ev("message", "b", "")],
            "",
            None,
        ),
    );
}

#[test]
fn rule_13_names_are_exact_and_case_sensitive() {
    check(
        b"Data:a\n\ndata\0:b\n\n data:c\n\nda-ta:d\n\nDATA:e\n\ndata:f\n\n",
        &messages(&["f"]),
    );
    check(b"Event:x\nID:1\ndata:a\n\n", &messages(&["a"]));
}

#[test]
fn rule_14_nul_is_ordinary() {
    check(b"data:\0\n\n", &messages(&["\0"]));
    check(
        b"event:a\0b\ndata:x\0y\n\n",
        &out(vec![ev("a\0b", "x\0y", "")], "", None),
    );
}

#[test]
fn rule_15_event_sets_the_type_and_empty_clears_it() {
    check(
        b"event:foo\ndata:x\n\n",
        &out(vec![ev("foo", "x", "")], "", None),
    );
    check(b"event:foo\nevent:\ndata:x\n\n", &messages(&["x"]));
    check(
        b"event:foo\nevent:bar\ndata:x\n\n",
        &out(vec![ev("bar", "x", "")], "", None),
    );
}

#[test]
fn rule_16_data_lines_are_joined_with_lf() {
    check(b"data:a\ndata:b\ndata:c\n\n", &messages(&["a\nb\nc"]));
    check(b"data:a\ndata:\ndata:c\n\n", &messages(&["a\n\nc"]));
}

#[test]
fn rule_17_id_with_nul_is_ignored_and_empty_id_resets() {
    check(
        b"id:1\ndata:a\n\nid:2\0\ndata:b\n\n",
        &out(
            vec![ev("message", "a", "1"), ev("message", "b", "1")],
            "1",
            None,
        ),
    );
    check(
        b"id:1\ndata:a\n\nid:\ndata:b\n\n",
        &out(
            vec![ev("message", "a", "1"), ev("message", "b", "")],
            "",
            None,
        ),
    );
}

#[test]
fn rule_18_retry_is_plain_decimal_digits() {
    check(b"retry:03000\n", &out(vec![], "", Some(3000)));
    let ignored =
        b"retry:1000\nretry:1000x\nretry:+5\nretry:  5\nretry:-1\nretry:1.5\nretry:\nretry\n";
    check(ignored, &out(vec![], "", Some(1000)));
    check(b"retry: 5\n", &out(vec![], "", Some(5)));
}

#[test]
fn rule_18_retry_overflow_is_ignored() {
    check(
        b"retry:7\nretry:18446744073709551616\n",
        &out(vec![], "", Some(7)),
    );
    check(
        b"retry:18446744073709551615\n",
        &out(vec![], "", Some(u64::MAX)),
    );
}

#[test]
fn rule_18_retry_applies_when_processed_not_at_dispatch() {
    // No blank line ever closes this block, yet the retry stands.
    check(b"data:a\nretry:250\n", &out(vec![], "", Some(250)));
}

#[test]
fn rule_19_unknown_fields_are_ignored() {
    check(b"foo:bar\ndata:a\nbaz\n\n", &messages(&["a"]));
    check(b"foo:bar\n\n", &messages(&[]));
}

#[test]
fn rule_20_id_commits_at_every_blank_line() {
    check(b"id:7\n\n", &out(vec![], "7", None));
    check(
        b"id:7\n\ndata:a\n\n",
        &out(vec![ev("message", "a", "7")], "7", None),
    );
}

#[test]
fn rule_21_block_without_data_dispatches_nothing() {
    check(
        b"event:x\n\nid:1\n\nretry:1\n\n:c\n\n\n\n",
        &out(vec![], "1", Some(1)),
    );
    // The event type was cleared with the block.
    check(b"event:x\n\ndata:a\n\n", &messages(&["a"]));
}

#[test]
fn rule_22_one_trailing_lf_is_removed() {
    check(b"data:\n\n", &messages(&[""]));
    check(b"data\ndata\n\n", &messages(&["\n"]));
    check(b"data:a\ndata:\n\n", &messages(&["a\n"]));
}

#[test]
fn rule_23_type_defaults_to_message() {
    check(b"data:x\n\n", &out(vec![ev("message", "x", "")], "", None));
    check(
        b"event:message\ndata:x\n\n",
        &out(vec![ev("message", "x", "")], "", None),
    );
}

#[test]
fn rule_24_last_event_id_persists() {
    let expected = out(
        vec![
            ev("message", "a", "1"),
            ev("message", "b", "1"),
            ev("message", "c", "2"),
        ],
        "2",
        None,
    );
    check(b"id:1\ndata:a\n\ndata:b\n\nid: 2\ndata:c\n\n", &expected);
}

#[test]
fn rule_25_dispatch_clears_data_and_type_not_id() {
    let expected = out(vec![ev("x", "a", "9"), ev("message", "b", "9")], "9", None);
    check(b"event:x\nid:9\ndata:a\n\ndata:b\n\n", &expected);
}

#[test]
fn rule_26_unterminated_block_is_discarded_at_eof() {
    check(b"data:a\n\ndata:b\nid:9\n", &messages(&["a"]));
    check(b"data:a\n\ndata:b", &messages(&["a"]));
    check(b"data:a\n\nid:9", &messages(&["a"]));
}

#[test]
fn rule_26_the_parser_says_whether_the_stream_ended_inside_an_event() {
    let no_comment: &[(usize, &str)] = &[];
    // Ended between events: nothing, a blank line, a complete comment, a final CR (rule 8).
    for (between, comments) in [
        (&b""[..], no_comment),
        (b"data:a\n\n", no_comment),
        (b"data:a\r\n\r\n", no_comment),
        (b"data:a\n\n:ping\n", &[(1, "ping")]),
        (b"data:x\n\r", no_comment),
        (b"\xEF\xBB\xBF", no_comment),
        (b"\n\n\n", no_comment),
    ] {
        check_framing(between, comments, false);
    }
    // Inside one: a line without its end, or field lines no blank line closed (data, type,
    // id, retry or an unknown field: the block would have been discarded).
    for (inside, comments) in [
        (&b"data:a\n\ndata:b"[..], no_comment),
        (b"data:a\n\ndata:b\n", no_comment),
        (b"data:b\r", no_comment),
        (b"event:x\n", no_comment),
        (b"id:9\n", no_comment),
        (b"retry:5\n", no_comment),
        (b"foo\n", no_comment),
        (b":c\nd", &[(0, "c")]),
        (b"data:a\n:c\n", &[(0, "c")]),
        (b"\xEF\xBB", no_comment),
        (b"\xEF", no_comment),
    ] {
        check_framing(inside, comments, true);
    }
}

#[test]
fn rule_26_before_the_end_no_stream_ended_inside_an_event() {
    let mut parser = Parser::new();
    parser.push(Bytes::from_static(b"data:a\n\ndata:b"));
    assert!(parser.next_event().is_some());
    assert!(parser.next_event().is_none());
    assert!(!parser.ended_inside_event(), "the stream is not over");
    parser.finish();
    assert!(
        !parser.ended_inside_event(),
        "not before the last chunk is read"
    );
    assert!(parser.next_event().is_none());
    assert!(parser.ended_inside_event());
    // It stays said.
    assert!(parser.next_event().is_none());
    assert!(parser.ended_inside_event());
}

#[test]
fn rule_27_last_event_id_never_holds_cr_lf_or_nul() {
    // The parser's part of the reconnect rule: the id it reports is safe to send as a header.
    check(b"id:a\rb\n\n", &out(vec![], "a", None));
    check(b"id:a\n\nid:b\0c\n\n", &out(vec![], "a", None));
}

#[test]
fn rule_28_output_depends_only_on_the_bytes() {
    let input = "\u{FEFF}: hi\r\nevent: task_run.state\r\nid: é1\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\nretry: 10\rdata:😀\n\ndata:z".as_bytes();
    let expected = out(
        vec![
            ev("task_run.state", "{\"a\":\n1}", "é1"),
            ev("message", "😀", "é1"),
        ],
        "é1",
        Some(10),
    );
    check(input, &expected);
    // Irregular chunkings, including empty chunks.
    for size in 1..input.len() {
        let mut chunks: Vec<&[u8]> = Vec::new();
        for (i, piece) in input.chunks(size).enumerate() {
            chunks.push(piece);
            if i % 2 == 0 {
                chunks.push(b"");
            }
        }
        assert_eq!(
            output(chunks),
            expected,
            "chunks of {size} with empty chunks between"
        );
    }
}
