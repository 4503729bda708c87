//! Decoding of unions discriminated by a `"type"` key, where unknown tags must survive.
//!
//! serde's internally tagged enums buffer the whole object and cannot keep an unknown tag
//! with its payload. The server writes `"type"` first, so the fast path reads the first key,
//! and, for a known tag, hands the rest of the map straight to the variant's own decoder:
//! nothing is buffered. Only when `"type"` comes later are the earlier entries buffered.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::serde_util::Key;

/// A union whose variants are chosen by the `"type"` key.
pub(crate) trait Tagged<'de>: Sized {
    /// What the union is, for error messages.
    const EXPECTING: &'static str;

    /// Whether `tag` names a variant decoded by [`Tagged::decode`].
    fn is_known(tag: &str) -> bool;

    /// Decodes the variant named by a known `tag` from the object's other entries.
    fn decode<D: Deserializer<'de>>(tag: &str, rest: D) -> Result<Self, D::Error>;

    /// Wraps an object with an unknown or missing tag, kept whole.
    fn unknown(raw: Value) -> Self;
}

/// Decodes a [`Tagged`] union from any deserializer.
pub(crate) fn deserialize_tagged<'de, T, D>(deserializer: D) -> Result<T, D::Error>
where
    T: Tagged<'de>,
    D: Deserializer<'de>,
{
    deserializer.deserialize_map(TaggedVisitor(PhantomData))
}

struct TaggedVisitor<T>(PhantomData<T>);

impl<'de, T: Tagged<'de>> Visitor<'de> for TaggedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut buffered: Vec<(String, Value)> = Vec::new();
        let tag = loop {
            let Some(Key(key)) = map.next_key::<Key<'de>>()? else {
                // No tag at all: keep the object as an unknown variant.
                return Ok(T::unknown(Value::Object(buffered.into_iter().collect())));
            };
            if key == "type" {
                break map.next_value::<Value>()?;
            }
            let value = map.next_value::<Value>()?;
            buffered.push((key.into_owned(), value));
        };
        match tag {
            Value::String(tag) if T::is_known(&tag) => {
                if buffered.is_empty() {
                    T::decode(&tag, MapAccessDeserializer::new(map))
                } else {
                    let rest = Chain {
                        buffered: buffered.into_iter(),
                        pending: None,
                        rest: map,
                    };
                    T::decode(&tag, MapAccessDeserializer::new(rest))
                }
            }
            tag => {
                let mut object: Map<String, Value> = buffered.into_iter().collect();
                object.insert("type".to_owned(), tag);
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    object.insert(key, value);
                }
                Ok(T::unknown(Value::Object(object)))
            }
        }
    }
}

/// Replays buffered entries, then continues with the live map.
struct Chain<A> {
    buffered: std::vec::IntoIter<(String, Value)>,
    pending: Option<Value>,
    rest: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Chain<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        if let Some((key, value)) = self.buffered.next() {
            self.pending = Some(value);
            return seed.deserialize(key.into_deserializer()).map(Some);
        }
        self.rest.next_key_seed(seed)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        match self.pending.take() {
            Some(value) => seed.deserialize(value).map_err(de::Error::custom),
            None => self.rest.next_value_seed(seed),
        }
    }
}
