//! The first argument of `parallel_enrich`, row by row, as run inputs.
//!
//! A string becomes a text input. A struct (`named_struct('company', name, ...)`) becomes a
//! JSON object with its types kept: numbers stay numbers, booleans booleans, nested structs
//! objects, lists arrays, a null field `null`; dates and timestamps are ISO 8601 strings.
//! A row is not sent (it is *skipped*) when its input is null: a null string, a null struct,
//! or a struct whose fields are all null (there is nothing to research).

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StructArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result};
use parallel_client::batch::BatchInput;

/// Whether `parallel_enrich` takes this type as its input; the error says what it takes.
pub(crate) fn check_input_type(data_type: &DataType) -> Result<(), String> {
    match data_type {
        // A NULL literal is accepted (every row is skipped); Parquet files often hold
        // strings dictionary-encoded.
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => Ok(()),
        // Every field must have a JSON form (`parallel_arrow` writes the row's object).
        DataType::Struct(_) => parallel_arrow::check_json_type(data_type).map_err(|why| {
            format!(
                "the first argument of parallel_enrich cannot be sent as a run input: {why}; \
                 leave that field out of the struct or cast it"
            )
        }),
        DataType::Dictionary(_, values) if is_string(values) => Ok(()),
        other => Err(format!(
            "the first argument of parallel_enrich is the run input: a string, or a struct \
             such as named_struct('company', name, 'website', url); got {other}"
        )),
    }
}

/// The run inputs of the rows of `array`, at their row positions; null rows are left out.
pub(crate) fn batch_inputs(array: &ArrayRef) -> Result<Vec<BatchInput>> {
    if let DataType::Dictionary(_, values) = array.data_type()
        && is_string(values)
    {
        let strings = datafusion::arrow::compute::cast(array, &DataType::Utf8)?;
        return batch_inputs(&strings);
    }
    let mut inputs = Vec::with_capacity(array.len());
    match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            for row in 0..array.len() {
                if let Some(text) = string_at(array, row) {
                    inputs.push(BatchInput::new(row as u64, text));
                }
            }
        }
        DataType::Struct(_) => {
            let structs = array.as_struct();
            for row in 0..structs.len() {
                if !has_value(structs, row) {
                    continue;
                }
                let mut json = Vec::with_capacity(64 * structs.num_columns());
                parallel_arrow::write_json(&mut json, structs, row);
                let json = String::from_utf8(json).map_err(|e| {
                    DataFusionError::Internal(format!("the JSON of row {row} is not UTF-8: {e}"))
                })?;
                inputs.push(BatchInput::from_json(row as u64, json).map_err(external)?);
            }
        }
        DataType::Null => {}
        other => {
            return Err(DataFusionError::Plan(
                check_input_type(other).err().unwrap_or_default(),
            ));
        }
    }
    Ok(inputs)
}

fn is_string(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

fn string_at(array: &ArrayRef, row: usize) -> Option<&str> {
    if array.is_null(row) {
        return None;
    }
    match array.data_type() {
        DataType::Utf8 => Some(array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Some(array.as_string::<i64>().value(row)),
        DataType::Utf8View => Some(array.as_string_view().value(row)),
        _ => None,
    }
}

/// A struct row is worth a run when it is not null and one of its fields is not.
fn has_value(structs: &StructArray, row: usize) -> bool {
    structs.is_valid(row) && structs.columns().iter().any(|c| c.is_valid(row))
}

pub(crate) fn external(error: parallel_client::Error) -> DataFusionError {
    DataFusionError::External(Box::new(error))
}
