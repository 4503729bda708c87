//! [`ColumnBuilder`]: an Arrow column built from JSON values, one value at a time.

use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
};
use serde_json::Value;

use crate::column_type::{ColumnType, date, integer};
use crate::error::Error;

/// Builds one Arrow column of a [`ColumnType`] from JSON values.
///
/// A string column takes strings as they are and any other value as its JSON text; a
/// [`Json`](ColumnType::Json) column takes every value as its JSON text (`"x"` with its
/// quotes); a typed column takes the values that [fit](ColumnType::fits) it. A value that
/// does not fit is appended as null and reported, so the caller can say which value of which
/// row did not fit (or, having checked every value with [`ColumnType::admit`] first, never
/// meets one).
///
/// ```
/// use arrow_array::{Array, cast::AsArray, types::Int64Type};
/// use parallel_arrow::{ColumnBuilder, ColumnType};
/// use serde_json::json;
///
/// let mut founded = ColumnBuilder::new(ColumnType::Integer);
/// founded.append(Some(&json!(1999)))?;
/// founded.append(None)?;
/// let misfit = founded.append(Some(&json!("about 1990"))).unwrap_err();
/// assert!(misfit.is_misfit());
/// let column = founded.finish();
/// let years = column.as_primitive::<Int64Type>();
/// assert_eq!((years.value(0), years.null_count()), (1999, 2));
/// # Ok::<(), parallel_arrow::Error>(())
/// ```
#[derive(Debug)]
pub struct ColumnBuilder {
    column_type: ColumnType,
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    /// Strings; with `true`, every value as JSON text.
    Text(StringBuilder, bool),
    Integer(Int64Builder),
    Number(Float64Builder),
    Boolean(BooleanBuilder),
    Date(Date32Builder),
    List(ListBuilder<StringBuilder>),
}

impl ColumnBuilder {
    /// An empty column of `column_type`.
    pub fn new(column_type: ColumnType) -> Self {
        Self::with_capacity(column_type, 0)
    }

    /// An empty column with room for `rows` values.
    pub fn with_capacity(column_type: ColumnType, rows: usize) -> Self {
        let inner = match column_type {
            ColumnType::Integer => Inner::Integer(Int64Builder::with_capacity(rows)),
            ColumnType::Number => Inner::Number(Float64Builder::with_capacity(rows)),
            ColumnType::Boolean => Inner::Boolean(BooleanBuilder::with_capacity(rows)),
            ColumnType::Date => Inner::Date(Date32Builder::with_capacity(rows)),
            ColumnType::List => Inner::List(ListBuilder::with_capacity(StringBuilder::new(), rows)),
            ColumnType::Null | ColumnType::String => {
                Inner::Text(StringBuilder::with_capacity(rows, rows * 16), false)
            }
            ColumnType::Json => Inner::Text(StringBuilder::with_capacity(rows, rows * 16), true),
        };
        Self { column_type, inner }
    }

    /// The type of the column.
    pub fn column_type(&self) -> ColumnType {
        self.column_type
    }

    /// Appends `value` (absent or JSON null: null). A value that does not fit the column's
    /// type is appended as null and returned as an error ([`Error::is_misfit`]).
    pub fn append(&mut self, value: Option<&Value>) -> Result<(), Error> {
        let value = value.filter(|v| !v.is_null());
        let Some(value) = value else {
            self.append_null();
            return Ok(());
        };
        if !self.column_type.fits(value) {
            self.append_null();
            return Err(Error::misfit(value, self.column_type));
        }
        match &mut self.inner {
            Inner::Text(builder, json) => match value {
                Value::String(s) if !*json => builder.append_value(s),
                other => builder.append_value(other.to_string()),
            },
            Inner::Integer(builder) => builder.append_option(integer(value)),
            Inner::Number(builder) => builder.append_option(value.as_f64()),
            Inner::Boolean(builder) => builder.append_option(value.as_bool()),
            Inner::Date(builder) => builder.append_option(value.as_str().and_then(date)),
            Inner::List(builder) => {
                for item in value.as_array().into_iter().flatten() {
                    builder.values().append_option(item.as_str());
                }
                builder.append(true);
            }
        }
        Ok(())
    }

    /// Appends a null.
    pub fn append_null(&mut self) {
        match &mut self.inner {
            Inner::Text(builder, _) => builder.append_null(),
            Inner::Integer(builder) => builder.append_null(),
            Inner::Number(builder) => builder.append_null(),
            Inner::Boolean(builder) => builder.append_null(),
            Inner::Date(builder) => builder.append_null(),
            Inner::List(builder) => builder.append_null(),
        }
    }

    /// The values appended since the last call, as an array of the column's
    /// [`data_type`](ColumnType::data_type); the builder starts again empty.
    pub fn finish(&mut self) -> ArrayRef {
        match &mut self.inner {
            Inner::Text(builder, _) => Arc::new(builder.finish()),
            Inner::Integer(builder) => Arc::new(builder.finish()),
            Inner::Number(builder) => Arc::new(builder.finish()),
            Inner::Boolean(builder) => Arc::new(builder.finish()),
            Inner::Date(builder) => Arc::new(builder.finish()),
            Inner::List(builder) => Arc::new(builder.finish()),
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use serde_json::json;

    use super::*;

    fn build(column_type: ColumnType, values: &[Value]) -> (ArrayRef, Vec<bool>) {
        let mut builder = ColumnBuilder::new(column_type);
        let fitted = values
            .iter()
            .map(|v| builder.append(Some(v)).is_ok())
            .collect();
        (builder.finish(), fitted)
    }

    #[test]
    fn text_columns_keep_strings_and_write_other_values_as_json() {
        let (array, fitted) = build(
            ColumnType::String,
            &[json!("a \"b\""), json!([1, 2]), json!(null)],
        );
        let strings = array.as_string::<i32>();
        assert_eq!(strings.value(0), "a \"b\"");
        assert_eq!(strings.value(1), "[1,2]");
        assert!(strings.is_null(2));
        assert_eq!(fitted, [true, true, true]);
        let (array, _) = build(ColumnType::Json, &[json!("x"), json!({"k": 1})]);
        let strings = array.as_string::<i32>();
        assert_eq!((strings.value(0), strings.value(1)), ("\"x\"", "{\"k\":1}"));
    }

    #[test]
    fn typed_columns_take_what_fits_and_report_the_rest_as_null() {
        let (array, fitted) = build(ColumnType::Integer, &[json!(7), json!(7.0), json!(7.5)]);
        let ints = array.as_primitive::<arrow_array::types::Int64Type>();
        assert_eq!((ints.value(0), ints.value(1)), (7, 7));
        assert!(ints.is_null(2));
        assert_eq!(fitted, [true, true, false]);
        let (array, fitted) = build(ColumnType::Date, &[json!("2024-05-01"), json!("May 1st")]);
        let dates = array.as_primitive::<arrow_array::types::Date32Type>();
        assert_eq!(dates.value(0), 19_844);
        assert!(dates.is_null(1));
        assert_eq!(fitted, [true, false]);
        let (array, fitted) = build(ColumnType::Boolean, &[json!(true), json!("yes")]);
        assert!(array.as_boolean().value(0) && array.is_null(1));
        assert_eq!(fitted, [true, false]);
        let (array, _) = build(ColumnType::Number, &[json!(1), json!(0.5)]);
        let floats = array.as_primitive::<arrow_array::types::Float64Type>();
        assert_eq!((floats.value(0), floats.value(1)), (1.0, 0.5));
    }

    #[test]
    fn list_columns_hold_strings_with_their_nulls() {
        let (array, fitted) = build(
            ColumnType::List,
            &[json!(["a", null, "c"]), json!([]), json!(null), json!([1])],
        );
        assert_eq!(fitted, [true, true, true, false]);
        let lists = array.as_list::<i32>();
        assert_eq!(lists.len(), 4);
        let first = lists.value(0);
        let first = first.as_string::<i32>();
        assert_eq!(
            (first.value(0), first.is_null(1), first.value(2)),
            ("a", true, "c")
        );
        assert_eq!(lists.value(1).len(), 0);
        assert!(lists.is_valid(1) && lists.is_null(2) && lists.is_null(3));
        assert_eq!(array.data_type(), &ColumnType::List.data_type());
    }
}
