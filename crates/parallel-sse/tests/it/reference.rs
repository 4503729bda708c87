//! A deliberately plain reference parser, written line by line from the WHATWG rules (see
//! `shared/spec/sse.md`, section 1): decode the whole input to a `String`, split it into
//! lines, interpret each. Slow and obviously right; the real parser must agree with it.
//! Also compiled into the fuzz target.

// Written to read like the rules, not to be clever.
#![allow(clippy::assigning_clones, clippy::collapsible_match)]

/// One dispatched event: type, data (decoded), last event id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefEvent {
    pub(crate) event_type: String,
    pub(crate) data: String,
    pub(crate) last_event_id: String,
}

/// What a stream says about its framing: each comment line (its text after the colon) with the
/// number of events dispatched before it, and whether the stream ended inside an event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RefFraming {
    pub(crate) comments: Vec<(usize, String)>,
    pub(crate) ended_inside_event: bool,
}

/// Everything a stream produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefOutput {
    pub(crate) events: Vec<RefEvent>,
    pub(crate) last_event_id: String,
    pub(crate) retry: Option<u64>,
}

/// Rules 1-8: one UTF-8 BOM stripped at offset 0, UTF-8 decoding with replacement, lines ended
/// by CRLF, LF or CR. The complete lines, and the unterminated last line if any.
fn lines(input: &[u8]) -> (Vec<String>, String) {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let text = String::from_utf8_lossy(input);
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                lines.push(std::mem::take(&mut current));
            }
            '\n' => lines.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    (lines, current)
}

/// The comments, and whether the stream ended inside an event: with a line cut short, or
/// with field lines (anything but comments) after the last blank line.
pub(crate) fn framing(input: &[u8]) -> RefFraming {
    let (lines, unterminated) = lines(input);
    let mut framing = RefFraming::default();
    let mut events = 0;
    let mut data = false;
    let mut open = false;
    for line in lines {
        if line.is_empty() {
            events += usize::from(data);
            data = false;
            open = false;
        } else if let Some(text) = line.strip_prefix(':') {
            framing.comments.push((events, text.to_owned()));
        } else {
            open = true;
            let name = line.split(':').next().unwrap_or_default();
            data |= name == "data";
        }
    }
    framing.ended_inside_event = open || !unterminated.is_empty();
    framing
}

pub(crate) fn parse(input: &[u8]) -> RefOutput {
    // Rule 26: a final unterminated line is dropped.
    let (lines, _) = lines(input);

    let mut events = Vec::new();
    let mut data = String::new();
    let mut event_type = String::new();
    let mut id_buffer = String::new();
    let mut last_event_id = String::new();
    let mut retry = None;
    for line in lines {
        if line.is_empty() {
            // Rules 20-25.
            last_event_id = id_buffer.clone();
            if data.is_empty() {
                event_type.clear();
                continue;
            }
            if data.ends_with('\n') {
                data.pop();
            }
            let name = if event_type.is_empty() {
                "message".to_owned()
            } else {
                event_type.clone()
            };
            events.push(RefEvent {
                event_type: name,
                data: data.clone(),
                last_event_id: last_event_id.clone(),
            });
            data.clear();
            event_type.clear();
            continue;
        }
        if line.starts_with(':') {
            continue; // rule 10
        }
        // Rules 11-12.
        let (name, value) = match line.find(':') {
            Some(i) => (
                &line[..i],
                line[i + 1..].strip_prefix(' ').unwrap_or(&line[i + 1..]),
            ),
            None => (line.as_str(), ""),
        };
        // Rules 13-19.
        match name {
            "event" => event_type = value.to_owned(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "id" => {
                if !value.contains('\0') {
                    id_buffer = value.to_owned();
                }
            }
            "retry" => {
                if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
                    // Overflow: ignored.
                    if let Ok(ms) = value.parse::<u64>() {
                        retry = Some(ms);
                    }
                }
            }
            _ => {}
        }
    }
    RefOutput {
        events,
        last_event_id,
        retry,
    }
}
