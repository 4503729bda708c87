//! [`RunResultRef`]: the result of a run read from a `task_run.state` event on demand, as
//! far as it is needed and no further.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::serde_util::Key;
use crate::{Error, TaskRunRef};

/// The result of a run in a `task_run.state` event: the run, its own input and its output
/// content, read on demand.
///
/// Reading stops as soon as all three have been read. In the events of a runs stream the
/// output's research basis comes after its content and is most of the event's bytes; it is
/// neither decoded nor checked, which makes this the fastest way to read the results of a
/// group. Everything returned is checked as fully as by
/// [`TaskRunEventRef`](crate::TaskRunEventRef): the run, and the input and content as whole
/// JSON values. What comes after them is not: an event whose basis is broken JSON reads
/// without error here (read it with `TaskRunEventRef` to check the whole event). An event
/// without an input or an output (not requested, or a run that did not complete) is read to
/// its end.
///
/// ```
/// use parallel_types::RunResultRef;
///
/// let data = br#"{"type":"task_run.state","event_id":"17",
///   "input":{"input":{"company_name":"Acme"},"processor":"core-fast"},
///   "run":{"run_id":"trun_1","status":"completed","is_active":false,"processor":"core-fast"},
///   "output":{"type":"json","content":{"founded_year":"1998"},"basis":[]}}"#;
/// let result = RunResultRef::from_slice(data)?;
/// assert_eq!(result.run.run_id, "trun_1");
/// assert_eq!(result.input.map(|raw| raw.get()), Some(r#"{"company_name":"Acme"}"#));
/// assert_eq!(result.content.map(|raw| raw.get()), Some(r#"{"founded_year":"1998"}"#));
/// # Ok::<(), parallel_types::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunResultRef<'a> {
    /// The run.
    pub run: TaskRunRef<'a>,
    /// The run's own input (the `input` member of the run input), raw; `None` when the event
    /// carries no input or it is `null`.
    pub input: Option<&'a RawValue>,
    /// The output content, raw; `None` when the event carries no output or its content is
    /// `null`.
    pub content: Option<&'a RawValue>,
}

impl<'a> RunResultRef<'a> {
    /// Reads the run, its input and its output content from the event's JSON bytes,
    /// borrowing from them, and stops there. Fails when what it reads is not valid, or when
    /// the event has no `run`.
    pub fn from_slice(json: &'a [u8]) -> Result<Self, Error> {
        // As `from_json_slice`: the bytes are checked to be UTF-8 once, in one pass, not
        // string by string; bytes that are not are read (and refused) as serde_json does.
        match std::str::from_utf8(json) {
            Ok(text) => Self::read(serde_json::Deserializer::from_str(text)),
            Err(_) => Self::read(serde_json::Deserializer::from_slice(json)),
        }
    }

    fn read<R: serde_json::de::Read<'a>>(
        mut deserializer: serde_json::Deserializer<R>,
    ) -> Result<Self, Error> {
        const WHAT: &str = "a task_run.state event";
        let mut parts = Parts::default();
        match deserializer.deserialize_map(EventSeed { parts: &mut parts }) {
            Ok(()) => deserializer.end().map_err(Error::decode(WHAT))?,
            // Stopped on purpose, with everything read.
            Err(_) if parts.done() => {}
            Err(e) => return Err(Error::decode(WHAT)(e)),
        }
        let run = parts
            .run
            .ok_or_else(|| Error::decode(WHAT)(de::Error::missing_field("run")))?;
        Ok(Self {
            run,
            input: parts.input.flatten(),
            content: parts.content.flatten(),
        })
    }
}

/// What has been read so far; an outer `None` is "not seen yet".
#[derive(Default)]
#[allow(clippy::option_option)] // not seen yet, seen and absent or `null`, seen
struct Parts<'a> {
    run: Option<TaskRunRef<'a>>,
    input: Option<Option<&'a RawValue>>,
    content: Option<Option<&'a RawValue>>,
}

impl Parts<'_> {
    fn done(&self) -> bool {
        self.run.is_some() && self.input.is_some() && self.content.is_some()
    }
}

/// The error that stops reading once everything is read; never seen by a caller.
fn stop<E: de::Error>() -> E {
    E::custom("stopped after the run's result")
}

/// The event object.
struct EventSeed<'p, 'a> {
    parts: &'p mut Parts<'a>,
}

impl<'de> Visitor<'de> for EventSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a task_run.state event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.0.as_ref() {
                "run" => self.parts.run = Some(map.next_value()?),
                "input" => {
                    let input: Option<InputMember<'de>> = map.next_value()?;
                    self.parts.input = Some(input.and_then(|member| member.input));
                }
                "output" => map.next_value_seed(OutputSeed {
                    parts: &mut *self.parts,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            if self.parts.done() {
                return Err(stop());
            }
        }
        Ok(())
    }
}

/// The `input` member of a run input object, the other members checked and skipped.
#[derive(Deserialize)]
struct InputMember<'a> {
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
}

/// The output object (or `null`), read up to its content when everything else is read.
struct OutputSeed<'p, 'a> {
    parts: &'p mut Parts<'a>,
}

impl<'de> DeserializeSeed<'de> for OutputSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OutputSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a run output object or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.parts.content = Some(None);
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.0 == "content" {
                self.parts.content = Some(map.next_value()?);
                if self.parts.done() {
                    return Err(stop());
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        // An output without content has none.
        self.parts.content.get_or_insert(None);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RunStatus;

    const RUN: &str = r#"{"run_id":"trun_1","status":"completed","is_active":false,"processor":"base","metadata":{"client_tag":"t:3"}}"#;

    fn event(members: &[&str]) -> String {
        format!("{{{}}}", members.join(","))
    }

    fn raw(value: Option<&RawValue>) -> Option<&str> {
        value.map(RawValue::get)
    }

    #[test]
    fn reads_the_run_input_and_content_in_any_order() {
        let input =
            r#""input":{"processor":"base","input":{"name":"A \"quoted\" name"},"metadata":null}"#;
        let output = r#""output":{"type":"json","content":{"ceo":"Ana\u00efs"},"basis":[]}"#;
        let run = format!(r#""run":{RUN}"#);
        for members in [
            [input, run.as_str(), output],
            [output, input, run.as_str()],
            [run.as_str(), output, input],
        ] {
            let json = event(&members);
            let result = RunResultRef::from_slice(json.as_bytes()).unwrap();
            assert_eq!(result.run.run_id, "trun_1", "{json}");
            assert_eq!(result.run.status, RunStatus::Completed);
            assert_eq!(raw(result.input), Some(r#"{"name":"A \"quoted\" name"}"#));
            assert_eq!(raw(result.content), Some(r#"{"ceo":"Ana\u00efs"}"#));
        }
    }

    #[test]
    fn what_follows_the_result_is_not_read() {
        // The basis after the content is broken: not read, so not an error. The same event
        // with the basis first is read through it, and refused.
        let run = format!(r#""run":{RUN}"#);
        let after = event(&[
            r#""input":{"input":"x"}"#,
            &run,
            r#""output":{"type":"text","content":"done","basis":[{"field": oops"#,
        ]);
        let result = RunResultRef::from_slice(after.as_bytes()).unwrap();
        assert_eq!(raw(result.content), Some(r#""done""#));
        let before = event(&[
            r#""input":{"input":"x"}"#,
            &run,
            r#""output":{"type":"text","basis":[{"field": oops],"content":"done"}"#,
        ]);
        let error = RunResultRef::from_slice(before.as_bytes()).unwrap_err();
        assert!(error.is_decode(), "{error}");
    }

    #[test]
    fn an_event_without_input_or_output_is_read_to_its_end() {
        let run = format!(r#""run":{RUN}"#);
        let failed = event(&[&run, r#""input":{"input":{"a":1}}"#, r#""output":null"#]);
        let result = RunResultRef::from_slice(failed.as_bytes()).unwrap();
        assert_eq!(
            (raw(result.input), raw(result.content)),
            (Some(r#"{"a":1}"#), None)
        );

        let bare = event(&[&run, r#""type":"task_run.state""#]);
        let result = RunResultRef::from_slice(bare.as_bytes()).unwrap();
        assert_eq!((raw(result.input), raw(result.content)), (None, None));
        // Read to the end, so what follows the run is checked.
        let broken = format!("{}x", event(&[&run]));
        assert!(RunResultRef::from_slice(broken.as_bytes()).is_err());

        let no_content = event(&[&run, r#""input":null"#, r#""output":{"type":"json"}"#]);
        let result = RunResultRef::from_slice(no_content.as_bytes()).unwrap();
        assert_eq!((raw(result.input), raw(result.content)), (None, None));
    }

    #[test]
    fn what_is_returned_is_checked() {
        let run = format!(r#""run":{RUN}"#);
        for broken in [
            event(&[
                r#""input":{"input":{"a":}}"#,
                &run,
                r#""output":{"content":1}"#,
            ]),
            event(&[
                r#""input":{"input":1}"#,
                &run,
                r#""output":{"content":[1,}"#,
            ]),
            event(&[r#""input":{"input":1}"#, r#""run":{"run_id":7}"#]),
            event(&[r#""input":{"input":1}"#, r#""output":{"content":1}"#]),
            r#"[{"run":{}}]"#.to_owned(),
            String::new(),
        ] {
            let error = RunResultRef::from_slice(broken.as_bytes()).unwrap_err();
            assert!(error.is_decode(), "{broken}: {error}");
        }
        // Bytes that are not UTF-8 inside a returned part are refused.
        let mut bytes = event(&[
            r#""input":{"input":"ab"}"#,
            &run,
            r#""output":{"content":1}"#,
        ])
        .into_bytes();
        let at = bytes.windows(2).position(|w| w == b"ab").unwrap();
        bytes[at] = 0xff;
        assert!(RunResultRef::from_slice(&bytes).unwrap_err().is_decode());
    }
}
