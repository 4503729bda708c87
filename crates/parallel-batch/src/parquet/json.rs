//! Arrow values as JSON text, keeping their types: integers and floats stay numbers, booleans
//! booleans, strings strings, nulls null, lists arrays, structs and maps objects; dates,
//! times and timestamps become ISO 8601 strings (timestamps with a time zone in UTC, `Z`),
//! decimals exact numbers. Binary values are text when they are UTF-8 (many writers store
//! strings that way) and base64 otherwise. NaN and infinities, which JSON cannot hold, are
//! null.
//!
//! A small converter of our own rather than `arrow-json`: that crate brings `arrow-cast` and
//! more, which would cost a cold build far more than these lines.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    DecimalType, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrowPrimitiveType, PrimitiveArray};
use arrow_schema::{DataType, TimeUnit};
use base64::Engine as _;

use crate::input::push_json_string;

/// Why a column of this type cannot be sent, or `None` when it can.
pub(crate) fn unsupported(data_type: &DataType) -> Option<String> {
    match data_type {
        DataType::Null
        | DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_)
        | DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(_, _)
        | DataType::Time32(TimeUnit::Second | TimeUnit::Millisecond)
        | DataType::Time64(TimeUnit::Microsecond | TimeUnit::Nanosecond)
        | DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => None,
        DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
            unsupported(item.data_type())
        }
        DataType::Struct(fields) => fields.iter().find_map(|f| unsupported(f.data_type())),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 && is_text(kv[0].data_type()) => {
                unsupported(kv[1].data_type())
            }
            _ => Some("a map whose keys are not strings".to_owned()),
        },
        DataType::Dictionary(key, value) if key.is_dictionary_key_type() => unsupported(value),
        other => Some(format!("{other}")),
    }
}

fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// Appends the value at `idx` of `array` as JSON (a type [`unsupported`] accepts).
pub(crate) fn push_value(out: &mut String, array: &dyn Array, idx: usize) {
    if array.is_null(idx) {
        out.push_str("null");
        return;
    }
    match array.data_type() {
        DataType::Null => out.push_str("null"),
        DataType::Boolean => out.push_str(if array.as_boolean().value(idx) {
            "true"
        } else {
            "false"
        }),
        DataType::Int8 => push_display(out, array.as_primitive::<Int8Type>().value(idx)),
        DataType::Int16 => push_display(out, array.as_primitive::<Int16Type>().value(idx)),
        DataType::Int32 => push_display(out, array.as_primitive::<Int32Type>().value(idx)),
        DataType::Int64 => push_display(out, array.as_primitive::<Int64Type>().value(idx)),
        DataType::UInt8 => push_display(out, array.as_primitive::<UInt8Type>().value(idx)),
        DataType::UInt16 => push_display(out, array.as_primitive::<UInt16Type>().value(idx)),
        DataType::UInt32 => push_display(out, array.as_primitive::<UInt32Type>().value(idx)),
        DataType::UInt64 => push_display(out, array.as_primitive::<UInt64Type>().value(idx)),
        DataType::Float16 => {
            push_float(out, array.as_primitive::<Float16Type>().value(idx).to_f64());
        }
        DataType::Float32 => push_float(
            out,
            f64::from(array.as_primitive::<Float32Type>().value(idx)),
        ),
        DataType::Float64 => push_float(out, array.as_primitive::<Float64Type>().value(idx)),
        DataType::Utf8 => push_json_string(out, array.as_string::<i32>().value(idx)),
        DataType::LargeUtf8 => push_json_string(out, array.as_string::<i64>().value(idx)),
        DataType::Utf8View => push_json_string(out, array.as_string_view().value(idx)),
        DataType::Binary => push_bytes(out, array.as_binary::<i32>().value(idx)),
        DataType::LargeBinary => push_bytes(out, array.as_binary::<i64>().value(idx)),
        DataType::BinaryView => push_bytes(out, array.as_binary_view().value(idx)),
        DataType::FixedSizeBinary(_) => push_bytes(out, array.as_fixed_size_binary().value(idx)),
        DataType::Decimal32(p, s) => push_decimal::<Decimal32Type>(out, array, idx, *p, *s),
        DataType::Decimal64(p, s) => push_decimal::<Decimal64Type>(out, array, idx, *p, *s),
        DataType::Decimal128(p, s) => push_decimal::<Decimal128Type>(out, array, idx, *p, *s),
        DataType::Decimal256(p, s) => push_decimal::<Decimal256Type>(out, array, idx, *p, *s),
        DataType::List(_)
        | DataType::LargeList(_)
        | DataType::FixedSizeList(_, _)
        | DataType::Struct(_)
        | DataType::Map(_, _)
        | DataType::Dictionary(_, _) => push_nested(out, array, idx),
        _ => push_iso(out, array, idx),
    }
}

/// Lists, structs, maps and dictionaries.
fn push_nested(out: &mut String, array: &dyn Array, idx: usize) {
    match array.data_type() {
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            let offsets = list.value_offsets();
            push_items(
                out,
                list.values().as_ref(),
                to_usize(offsets[idx]),
                to_usize(offsets[idx + 1]),
            );
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>();
            let offsets = list.value_offsets();
            push_items(
                out,
                list.values().as_ref(),
                to_usize(offsets[idx]),
                to_usize(offsets[idx + 1]),
            );
        }
        DataType::FixedSizeList(_, _) => {
            let list = array.as_fixed_size_list();
            let start = to_usize(list.value_offset(idx));
            let len = to_usize(list.value_length());
            push_items(out, list.values().as_ref(), start, start + len);
        }
        DataType::Struct(fields) => {
            let array = array.as_struct();
            out.push('{');
            for (n, (field, column)) in fields.iter().zip(array.columns()).enumerate() {
                if n > 0 {
                    out.push(',');
                }
                push_json_string(out, field.name());
                out.push(':');
                push_value(out, column.as_ref(), idx);
            }
            out.push('}');
        }
        DataType::Map(_, _) => {
            let map = array.as_map();
            let offsets = map.value_offsets();
            out.push('{');
            for (n, entry) in (to_usize(offsets[idx])..to_usize(offsets[idx + 1])).enumerate() {
                if n > 0 {
                    out.push(',');
                }
                // Keys are strings (checked by `unsupported`) and never null in a valid map.
                let mut key = String::new();
                push_value(&mut key, map.keys().as_ref(), entry);
                out.push_str(&key);
                out.push(':');
                push_value(out, map.values().as_ref(), entry);
            }
            out.push('}');
        }
        DataType::Dictionary(_, _) => {
            let dictionary = array.as_any_dictionary();
            match key_at(dictionary.keys(), idx) {
                Some(key) => push_value(out, dictionary.values().as_ref(), key),
                None => out.push_str("null"),
            }
        }
        _ => out.push_str("null"),
    }
}

/// Dates, times and timestamps as ISO 8601 strings.
fn push_iso(out: &mut String, array: &dyn Array, idx: usize) {
    use arrow_array::temporal_conversions as tc;
    let text = match array.data_type() {
        DataType::Date32 => tc::date32_to_datetime(array.as_primitive::<Date32Type>().value(idx))
            .map(|d| d.date().to_string()),
        DataType::Date64 => tc::date64_to_datetime(array.as_primitive::<Date64Type>().value(idx))
            .map(|d| d.date().to_string()),
        DataType::Time32(TimeUnit::Second) => {
            tc::time32s_to_time(array.as_primitive::<Time32SecondType>().value(idx))
                .map(|t| t.to_string())
        }
        DataType::Time32(_) => {
            tc::time32ms_to_time(array.as_primitive::<Time32MillisecondType>().value(idx))
                .map(|t| t.to_string())
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            tc::time64us_to_time(array.as_primitive::<Time64MicrosecondType>().value(idx))
                .map(|t| t.to_string())
        }
        DataType::Time64(_) => {
            tc::time64ns_to_time(array.as_primitive::<Time64NanosecondType>().value(idx))
                .map(|t| t.to_string())
        }
        DataType::Timestamp(unit, zone) => {
            // A zoned timestamp is an instant counted from the UTC epoch: written in UTC.
            let suffix = if zone.is_some() { "Z" } else { "" };
            match unit {
                TimeUnit::Second => timestamp::<TimestampSecondType>(array, idx, suffix),
                TimeUnit::Millisecond => timestamp::<TimestampMillisecondType>(array, idx, suffix),
                TimeUnit::Microsecond => timestamp::<TimestampMicrosecondType>(array, idx, suffix),
                TimeUnit::Nanosecond => timestamp::<TimestampNanosecondType>(array, idx, suffix),
            }
        }
        _ => None,
    };
    match text {
        Some(text) => push_json_string(out, &text),
        None => out.push_str("null"),
    }
}

fn timestamp<T: ArrowPrimitiveType<Native = i64>>(
    array: &dyn Array,
    idx: usize,
    suffix: &str,
) -> Option<String> {
    let value = array.as_primitive::<T>().value(idx);
    arrow_array::temporal_conversions::as_datetime::<T>(value)
        .map(|t| format!("{}T{}{suffix}", t.date(), t.time()))
}

fn push_items(out: &mut String, values: &dyn Array, start: usize, end: usize) {
    out.push('[');
    for i in start..end {
        if i > start {
            out.push(',');
        }
        push_value(out, values, i);
    }
    out.push(']');
}

fn push_display(out: &mut String, value: impl std::fmt::Display) {
    use std::fmt::Write;
    let _ = write!(out, "{value}");
}

/// A float as `serde_json` writes it (shortest round-trip form); NaN and infinities as null.
fn push_float(out: &mut String, value: f64) {
    match serde_json::Number::from_f64(value) {
        Some(number) => push_display(out, number),
        None => out.push_str("null"),
    }
}

fn push_decimal<T: DecimalType>(out: &mut String, array: &dyn Array, idx: usize, p: u8, s: i8) {
    let value: &PrimitiveArray<T> = array.as_primitive::<T>();
    out.push_str(&T::format_decimal(value.value(idx), p, s));
}

fn push_bytes(out: &mut String, bytes: &[u8]) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        push_json_string(out, text);
    } else {
        out.push('"');
        base64::engine::general_purpose::STANDARD.encode_string(bytes, out);
        out.push('"');
    }
}

/// The dictionary key at `idx` as an index into the values.
fn key_at(keys: &dyn Array, idx: usize) -> Option<usize> {
    if keys.is_null(idx) {
        return None;
    }
    let key = match keys.data_type() {
        DataType::Int8 => i64::from(keys.as_primitive::<Int8Type>().value(idx)),
        DataType::Int16 => i64::from(keys.as_primitive::<Int16Type>().value(idx)),
        DataType::Int32 => i64::from(keys.as_primitive::<Int32Type>().value(idx)),
        DataType::Int64 => keys.as_primitive::<Int64Type>().value(idx),
        DataType::UInt8 => i64::from(keys.as_primitive::<UInt8Type>().value(idx)),
        DataType::UInt16 => i64::from(keys.as_primitive::<UInt16Type>().value(idx)),
        DataType::UInt32 => i64::from(keys.as_primitive::<UInt32Type>().value(idx)),
        DataType::UInt64 => i64::try_from(keys.as_primitive::<UInt64Type>().value(idx)).ok()?,
        _ => return None,
    };
    usize::try_from(key).ok()
}

fn to_usize<O: TryInto<usize>>(offset: O) -> usize {
    offset.try_into().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{MapBuilder, StringBuilder};
    use arrow_array::types::Int8Type;
    use arrow_array::{
        BinaryArray, Decimal128Array, DictionaryArray, Float64Array, Time64MicrosecondArray,
        TimestampMillisecondArray,
    };
    use serde_json::{Value, json};

    use super::*;

    fn values(array: &dyn Array) -> Vec<Value> {
        (0..array.len())
            .map(|i| {
                let mut out = String::new();
                push_value(&mut out, array, i);
                serde_json::from_str(&out).unwrap_or_else(|e| panic!("{out}: {e}"))
            })
            .collect()
    }

    #[test]
    fn less_common_types_become_the_json_a_reader_expects() {
        let decimals = Decimal128Array::from(vec![Some(12_345), Some(-5), None])
            .with_precision_and_scale(10, 2)
            .unwrap();
        assert_eq!(
            values(&decimals),
            [json!(123.45), json!(-0.05), Value::Null]
        );
        // 2024-05-01T12:00:00.250 UTC
        let zoned =
            TimestampMillisecondArray::from(vec![1_714_564_800_250]).with_timezone("+02:00");
        assert_eq!(values(&zoned), [json!("2024-05-01T12:00:00.250Z")]);
        let naive = TimestampMillisecondArray::from(vec![1_714_564_800_000]);
        assert_eq!(values(&naive), [json!("2024-05-01T12:00:00")]);
        let time = Time64MicrosecondArray::from(vec![3_600_000_001]);
        assert_eq!(values(&time), [json!("01:00:00.000001")]);
        let floats = Float64Array::from(vec![1.0, f64::NAN, f64::INFINITY, 0.1]);
        assert_eq!(
            values(&floats),
            [json!(1.0), Value::Null, Value::Null, json!(0.1)]
        );
        let binary = BinaryArray::from(vec![&b"text"[..], &[0xff, 0x00][..]]);
        assert_eq!(values(&binary), [json!("text"), json!("/wA=")]);
        let dictionary: DictionaryArray<Int8Type> = vec!["b", "a", "b"].into_iter().collect();
        assert_eq!(values(&dictionary), [json!("b"), json!("a"), json!("b")]);
        let mut map = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        map.keys().append_value("k \"1\"");
        map.values().append_value("v");
        map.append(true).unwrap();
        map.append(false).unwrap();
        let map = map.finish();
        assert_eq!(values(&map), [json!({"k \"1\"": "v"}), Value::Null]);
        let strings: Arc<dyn Array> = Arc::new(arrow_array::StringArray::from(vec!["x"]));
        assert_eq!(values(strings.as_ref()), [json!("x")]);
    }

    #[test]
    fn types_without_a_json_form_are_named() {
        assert!(unsupported(&DataType::Int64).is_none());
        let interval = DataType::Interval(arrow_schema::IntervalUnit::DayTime);
        assert!(unsupported(&interval).is_some());
        let list = DataType::List(Arc::new(arrow_schema::Field::new("item", interval, true)));
        assert!(unsupported(&list).is_some(), "found inside a list too");
    }
}
