//! Arrow values as JSON text, keeping their types: integers and floats stay numbers, booleans
//! booleans, strings strings, nulls null, lists arrays, structs and maps objects; dates,
//! times and timestamps become ISO 8601 strings (timestamps with a time zone in UTC, `Z`),
//! decimals exact numbers. Binary values are text when they are UTF-8 (many writers store
//! strings that way) and base64 otherwise. NaN and infinities, which JSON cannot hold, are
//! null.
//!
//! A small converter of our own rather than `arrow-json`: that crate brings `arrow-cast` and
//! more, which would cost a cold build of parallel-batch far more than these lines; strings
//! and numbers are written by `serde_json`.

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

use crate::Error;

/// Whether values of `data_type` can be written as JSON ([`write_json`]); the error names
/// the type that cannot, found in the column or inside it (a list's items, a struct's
/// fields).
///
/// ```
/// use arrow_schema::{DataType, IntervalUnit};
///
/// assert!(parallel_arrow::check_json_type(&DataType::Date32).is_ok());
/// let interval = DataType::Interval(IntervalUnit::DayTime);
/// assert!(parallel_arrow::check_json_type(&interval).unwrap_err().is_unsupported_type());
/// ```
pub fn check_json_type(data_type: &DataType) -> Result<(), Error> {
    match unsupported(data_type) {
        None => Ok(()),
        Some(what) => Err(Error::unsupported(what)),
    }
}

/// What in `data_type` has no JSON form, or `None`.
fn unsupported(data_type: &DataType) -> Option<String> {
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

/// Appends the value at `row` of `array` as JSON text. A type that [`check_json_type`]
/// refuses is written as `null`: check the columns' types first.
///
/// ```
/// use arrow_array::{Float64Array, StringArray};
///
/// let mut out = Vec::new();
/// parallel_arrow::write_json(&mut out, &StringArray::from(vec!["say \"hi\""]), 0);
/// out.push(b' ');
/// parallel_arrow::write_json(&mut out, &Float64Array::from(vec![f64::NAN]), 0);
/// assert_eq!(out, br#""say \"hi\"" null"#);
/// ```
pub fn write_json(out: &mut Vec<u8>, array: &dyn Array, row: usize) {
    if array.is_null(row) {
        out.extend_from_slice(b"null");
        return;
    }
    match array.data_type() {
        DataType::Null => out.extend_from_slice(b"null"),
        DataType::Boolean => {
            let value = array.as_boolean().value(row);
            out.extend_from_slice(if value { b"true" } else { b"false" });
        }
        DataType::Int8 => write_serde(out, &array.as_primitive::<Int8Type>().value(row)),
        DataType::Int16 => write_serde(out, &array.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => write_serde(out, &array.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => write_serde(out, &array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => write_serde(out, &array.as_primitive::<UInt8Type>().value(row)),
        DataType::UInt16 => write_serde(out, &array.as_primitive::<UInt16Type>().value(row)),
        DataType::UInt32 => write_serde(out, &array.as_primitive::<UInt32Type>().value(row)),
        DataType::UInt64 => write_serde(out, &array.as_primitive::<UInt64Type>().value(row)),
        DataType::Float16 => {
            write_float(out, array.as_primitive::<Float16Type>().value(row).to_f64());
        }
        DataType::Float32 => write_float(
            out,
            f64::from(array.as_primitive::<Float32Type>().value(row)),
        ),
        DataType::Float64 => write_float(out, array.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => write_serde(out, array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => write_serde(out, array.as_string::<i64>().value(row)),
        DataType::Utf8View => write_serde(out, array.as_string_view().value(row)),
        DataType::Binary => write_bytes(out, array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => write_bytes(out, array.as_binary::<i64>().value(row)),
        DataType::BinaryView => write_bytes(out, array.as_binary_view().value(row)),
        DataType::FixedSizeBinary(_) => write_bytes(out, array.as_fixed_size_binary().value(row)),
        DataType::Decimal32(p, s) => write_decimal::<Decimal32Type>(out, array, row, *p, *s),
        DataType::Decimal64(p, s) => write_decimal::<Decimal64Type>(out, array, row, *p, *s),
        DataType::Decimal128(p, s) => write_decimal::<Decimal128Type>(out, array, row, *p, *s),
        DataType::Decimal256(p, s) => write_decimal::<Decimal256Type>(out, array, row, *p, *s),
        DataType::List(_)
        | DataType::LargeList(_)
        | DataType::FixedSizeList(_, _)
        | DataType::Struct(_)
        | DataType::Map(_, _)
        | DataType::Dictionary(_, _) => write_nested(out, array, row),
        _ => write_iso(out, array, row),
    }
}

/// Lists, structs, maps and dictionaries.
fn write_nested(out: &mut Vec<u8>, array: &dyn Array, row: usize) {
    match array.data_type() {
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            let offsets = list.value_offsets();
            let (start, end) = (to_usize(offsets[row]), to_usize(offsets[row + 1]));
            write_items(out, list.values().as_ref(), start, end);
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>();
            let offsets = list.value_offsets();
            let (start, end) = (to_usize(offsets[row]), to_usize(offsets[row + 1]));
            write_items(out, list.values().as_ref(), start, end);
        }
        DataType::FixedSizeList(_, _) => {
            let list = array.as_fixed_size_list();
            let start = to_usize(list.value_offset(row));
            let len = to_usize(list.value_length());
            write_items(out, list.values().as_ref(), start, start + len);
        }
        DataType::Struct(fields) => {
            let array = array.as_struct();
            let names = fields.iter().map(|f| f.name().as_str());
            let columns = array.columns().iter().map(AsRef::as_ref);
            write_object(out, names.zip(columns), row);
        }
        DataType::Map(_, _) => {
            let map = array.as_map();
            let offsets = map.value_offsets();
            out.push(b'{');
            for (n, entry) in (to_usize(offsets[row])..to_usize(offsets[row + 1])).enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                // Keys are strings (checked by `check_json_type`), never null in a valid map.
                write_json(out, map.keys().as_ref(), entry);
                out.push(b':');
                write_json(out, map.values().as_ref(), entry);
            }
            out.push(b'}');
        }
        DataType::Dictionary(_, _) => {
            let dictionary = array.as_any_dictionary();
            match key_at(dictionary.keys(), row) {
                Some(key) => write_json(out, dictionary.values().as_ref(), key),
                None => out.extend_from_slice(b"null"),
            }
        }
        _ => out.extend_from_slice(b"null"),
    }
}

/// Appends row `row` of `batch` as a JSON object: a member per column, named as its field,
/// in the schema's order, each value as [`write_json`] writes it (null ones too).
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch, StringArray};
///
/// let batch = RecordBatch::try_from_iter([
///     ("company", Arc::new(StringArray::from(vec![Some("Acme")])) as _),
///     ("employees", Arc::new(Int64Array::from(vec![None::<i64>])) as _),
/// ])?;
/// let mut out = Vec::new();
/// parallel_arrow::write_json_object(&mut out, &batch, 0);
/// assert_eq!(out, br#"{"company":"Acme","employees":null}"#);
/// # Ok::<(), arrow_schema::ArrowError>(())
/// ```
pub fn write_json_object(out: &mut Vec<u8>, batch: &arrow_array::RecordBatch, row: usize) {
    let schema = batch.schema_ref();
    let names = schema.fields().iter().map(|f| f.name().as_str());
    write_object(
        out,
        names.zip(batch.columns().iter().map(AsRef::as_ref)),
        row,
    );
}

/// Appends the JSON object of `row` made of these `(name, column)` pairs, in their order.
fn write_object<'a>(
    out: &mut Vec<u8>,
    members: impl Iterator<Item = (&'a str, &'a dyn Array)>,
    row: usize,
) {
    out.push(b'{');
    for (n, (name, column)) in members.enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_serde(out, name);
        out.push(b':');
        write_json(out, column, row);
    }
    out.push(b'}');
}

/// Dates, times and timestamps as ISO 8601 strings.
fn write_iso(out: &mut Vec<u8>, array: &dyn Array, row: usize) {
    use arrow_array::temporal_conversions as tc;
    let text = match array.data_type() {
        DataType::Date32 => tc::date32_to_datetime(array.as_primitive::<Date32Type>().value(row))
            .map(|d| d.date().to_string()),
        DataType::Date64 => tc::date64_to_datetime(array.as_primitive::<Date64Type>().value(row))
            .map(|d| d.date().to_string()),
        DataType::Time32(TimeUnit::Second) => {
            tc::time32s_to_time(array.as_primitive::<Time32SecondType>().value(row))
                .map(|t| t.to_string())
        }
        DataType::Time32(_) => {
            tc::time32ms_to_time(array.as_primitive::<Time32MillisecondType>().value(row))
                .map(|t| t.to_string())
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            tc::time64us_to_time(array.as_primitive::<Time64MicrosecondType>().value(row))
                .map(|t| t.to_string())
        }
        DataType::Time64(_) => {
            tc::time64ns_to_time(array.as_primitive::<Time64NanosecondType>().value(row))
                .map(|t| t.to_string())
        }
        DataType::Timestamp(unit, zone) => {
            // A zoned timestamp is an instant counted from the UTC epoch: written in UTC.
            let suffix = if zone.is_some() { "Z" } else { "" };
            match unit {
                TimeUnit::Second => timestamp::<TimestampSecondType>(array, row, suffix),
                TimeUnit::Millisecond => timestamp::<TimestampMillisecondType>(array, row, suffix),
                TimeUnit::Microsecond => timestamp::<TimestampMicrosecondType>(array, row, suffix),
                TimeUnit::Nanosecond => timestamp::<TimestampNanosecondType>(array, row, suffix),
            }
        }
        _ => None,
    };
    match text {
        Some(text) => write_serde(out, &text),
        None => out.extend_from_slice(b"null"),
    }
}

fn timestamp<T: ArrowPrimitiveType<Native = i64>>(
    array: &dyn Array,
    row: usize,
    suffix: &str,
) -> Option<String> {
    let value = array.as_primitive::<T>().value(row);
    arrow_array::temporal_conversions::as_datetime::<T>(value)
        .map(|t| format!("{}T{}{suffix}", t.date(), t.time()))
}

fn write_items(out: &mut Vec<u8>, values: &dyn Array, start: usize, end: usize) {
    out.push(b'[');
    for i in start..end {
        if i > start {
            out.push(b',');
        }
        write_json(out, values, i);
    }
    out.push(b']');
}

/// A string or number as `serde_json` writes it.
fn write_serde<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing strings and numbers to a `Vec` cannot fail.
    let _ = serde_json::to_writer(out, value);
}

/// A float in its shortest round-trip form; NaN and infinities as null.
fn write_float(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        write_serde(out, &value);
    } else {
        out.extend_from_slice(b"null");
    }
}

fn write_decimal<T: DecimalType>(out: &mut Vec<u8>, array: &dyn Array, row: usize, p: u8, s: i8) {
    let value: &PrimitiveArray<T> = array.as_primitive::<T>();
    out.extend_from_slice(T::format_decimal(value.value(row), p, s).as_bytes());
}

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        write_serde(out, text);
    } else {
        out.push(b'"');
        out.extend_from_slice(
            base64::engine::general_purpose::STANDARD
                .encode(bytes)
                .as_bytes(),
        );
        out.push(b'"');
    }
}

/// The dictionary key at `row` as an index into the values.
fn key_at(keys: &dyn Array, row: usize) -> Option<usize> {
    if keys.is_null(row) {
        return None;
    }
    let key = match keys.data_type() {
        DataType::Int8 => i64::from(keys.as_primitive::<Int8Type>().value(row)),
        DataType::Int16 => i64::from(keys.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => i64::from(keys.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => keys.as_primitive::<Int64Type>().value(row),
        DataType::UInt8 => i64::from(keys.as_primitive::<UInt8Type>().value(row)),
        DataType::UInt16 => i64::from(keys.as_primitive::<UInt16Type>().value(row)),
        DataType::UInt32 => i64::from(keys.as_primitive::<UInt32Type>().value(row)),
        DataType::UInt64 => i64::try_from(keys.as_primitive::<UInt64Type>().value(row)).ok()?,
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
        BinaryArray, Decimal128Array, DictionaryArray, Float64Array, StringArray,
        Time64MicrosecondArray, TimestampMillisecondArray,
    };
    use serde_json::{Value, json};

    use super::*;

    fn values(array: &dyn Array) -> Vec<Value> {
        (0..array.len())
            .map(|i| {
                let mut out = Vec::new();
                write_json(&mut out, array, i);
                serde_json::from_slice(&out)
                    .unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(&out)))
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
        let strings: Arc<dyn Array> = Arc::new(StringArray::from(vec!["x\u{1}\n\"é"]));
        assert_eq!(values(strings.as_ref()), [json!("x\u{1}\n\"é")]);
    }

    #[test]
    fn types_without_a_json_form_are_named() {
        assert!(check_json_type(&DataType::Int64).is_ok());
        let interval = DataType::Interval(arrow_schema::IntervalUnit::DayTime);
        assert!(
            check_json_type(&interval)
                .unwrap_err()
                .is_unsupported_type()
        );
        let list = DataType::List(Arc::new(arrow_schema::Field::new("item", interval, true)));
        let error = check_json_type(&list).unwrap_err();
        assert!(
            error.to_string().contains("Interval"),
            "found inside a list too: {error}"
        );
    }
}
