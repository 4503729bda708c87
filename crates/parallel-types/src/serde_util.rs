//! Small serde helpers shared by the wire types.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::Error;

/// Accepts `null` as well as a value; `null` becomes `T::default()`. Pair with
/// `#[serde(default)]` so that absence is accepted too.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Distinguishes an explicit `null` (`Some(None)`) from absence (`None`, via
/// `#[serde(default)]`).
#[allow(clippy::option_option)]
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

struct CowStrVisitor;

impl<'de> Visitor<'de> for CowStrVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(value))
    }
}

/// A string borrowed from the input when it holds no escape, copied otherwise.
/// (serde's own `Cow<str>` impl always copies.)
pub(crate) fn cow_str<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Cow<'de, str>, D::Error> {
    deserializer.deserialize_str(CowStrVisitor)
}

/// A map key or tag read without copying when possible.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        cow_str(deserializer).map(Key)
    }
}

/// [`cow_str`] for a nullable field; pair with `#[serde(default)]`.
pub(crate) fn option_cow_str<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct OptionVisitor;

    impl<'de> Visitor<'de> for OptionVisitor {
        type Value = Option<Cow<'de, str>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            cow_str(deserializer).map(Some)
        }
    }

    deserializer.deserialize_option(OptionVisitor)
}

/// `serde_json::from_slice`, faster on the events of a stream: the bytes are checked to be
/// UTF-8 once, in one pass, and then decoded as text, so that each borrowed string and raw
/// part is not checked again on its own. Bytes that are not UTF-8 are decoded by
/// `serde_json::from_slice` itself, so results and errors are exactly its own.
pub(crate) fn json_from_slice<'a, T: Deserialize<'a>>(json: &'a [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(json) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(json),
    }
}

/// Decodes JSON bytes into any of this crate's types (or yours), the way the stream readers
/// do: like `serde_json::from_slice`, but faster on stream events, because the bytes are
/// checked to be UTF-8 once, in one pass, and then decoded as text, so that each borrowed
/// string and raw part is not checked again on its own (a third less time for a
/// `task_run.state` event with borrowed ids; half for the owned event). It accepts and
/// refuses exactly what `serde_json::from_slice` does; the `serde_json` error is the
/// [`source`](std::error::Error::source) of the [`Error`].
///
/// ```
/// let event: parallel_types::TaskRunEventRef<'_> = parallel_types::from_json_slice(
///     br#"{"run":{"run_id":"trun_1","status":"queued","is_active":true,"processor":"base"}}"#,
/// )?;
/// assert_eq!(event.run.run_id, "trun_1");
/// let error = parallel_types::from_json_slice::<parallel_types::TaskRun>(b"{").unwrap_err();
/// assert!(error.is_decode());
/// # Ok::<(), parallel_types::Error>(())
/// ```
pub fn from_json_slice<'a, T: Deserialize<'a>>(json: &'a [u8]) -> Result<T, Error> {
    json_from_slice(json).map_err(Error::decode("the JSON payload"))
}
