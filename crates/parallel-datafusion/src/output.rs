//! The result struct of `parallel_enrich`: one row per input row, in input order.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, PrimitiveBuilder, StringBuilder,
    StructArray,
};
use datafusion::arrow::datatypes::ArrowPrimitiveType;
use datafusion::common::Result;
use serde_json::{Map, Value};

use crate::columns::{Columns, Kind};

/// The `status` of a row whose input was null: no run was made.
pub(crate) const SKIPPED: &str = "skipped";
/// The `status` of a row the API refused (a `422` naming it): no run was made.
pub(crate) const REJECTED: &str = "rejected";
/// The `status` of a row without a result when the invocation's time ran out.
pub(crate) const TIMED_OUT: &str = "timed_out";

/// What became of one row.
#[derive(Debug, Clone, Default)]
pub(crate) struct RowOutcome {
    /// The output object of a completed run.
    pub(crate) output: Option<Map<String, Value>>,
    pub(crate) run_id: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) error: Option<String>,
}

impl RowOutcome {
    pub(crate) fn skipped() -> Self {
        RowOutcome {
            status: Some(SKIPPED.to_owned()),
            ..RowOutcome::default()
        }
    }
}

/// Builds the result struct column from the rows' outcomes, in row order.
pub(crate) fn result_array(columns: &Columns, rows: &[RowOutcome]) -> Result<ArrayRef> {
    let mut builders: Vec<ColumnBuilder> = columns
        .columns
        .iter()
        .map(|c| ColumnBuilder::new(c.kind, rows.len()))
        .collect();
    let mut run_ids = StringBuilder::with_capacity(rows.len(), rows.len() * 24);
    let mut statuses = StringBuilder::with_capacity(rows.len(), rows.len() * 9);
    let mut errors = StringBuilder::new();
    for row in rows {
        let mut misfits = Vec::new();
        for (column, builder) in columns.columns.iter().zip(&mut builders) {
            let value = row.output.as_ref().and_then(|o| o.get(&column.name));
            if let Err(value) = builder.push(value) {
                misfits.push(format!(
                    "the output's `{}` is {value}, not {}",
                    column.name,
                    column.kind.data_type()
                ));
            }
        }
        run_ids.append_option(row.run_id.as_deref());
        statuses.append_option(row.status.as_deref());
        if misfits.is_empty() {
            errors.append_option(row.error.as_deref());
        } else {
            // A typed column holds null where the value did not fit; the error says why.
            errors.append_value(misfits.join("; "));
        }
    }
    let mut arrays: Vec<ArrayRef> = builders.into_iter().map(ColumnBuilder::finish).collect();
    arrays.push(Arc::new(run_ids.finish()));
    arrays.push(Arc::new(statuses.finish()));
    arrays.push(Arc::new(errors.finish()));
    Ok(Arc::new(StructArray::try_new(
        columns.fields(),
        arrays,
        None,
    )?))
}

/// Appends `value` if there is one; whether there was.
fn append_some<T: ArrowPrimitiveType>(
    builder: &mut PrimitiveBuilder<T>,
    value: Option<T::Native>,
) -> bool {
    if let Some(value) = value {
        builder.append_value(value);
    }
    value.is_some()
}

/// One output column being built.
enum ColumnBuilder {
    Text(StringBuilder),
    Integer(Int64Builder),
    Number(Float64Builder),
    Boolean(BooleanBuilder),
}

impl ColumnBuilder {
    fn new(kind: Kind, rows: usize) -> Self {
        match kind {
            Kind::Text => ColumnBuilder::Text(StringBuilder::with_capacity(rows, rows * 16)),
            Kind::Integer => ColumnBuilder::Integer(Int64Builder::with_capacity(rows)),
            Kind::Number => ColumnBuilder::Number(Float64Builder::with_capacity(rows)),
            Kind::Boolean => ColumnBuilder::Boolean(BooleanBuilder::with_capacity(rows)),
        }
    }

    /// Appends a value: a string as is and any other JSON value as its JSON text in a text
    /// column; in a typed column, a value of another type is appended as null and handed
    /// back so the row's error can name it.
    fn push<'v>(&mut self, value: Option<&'v Value>) -> Result<(), &'v Value> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            self.push_null();
            return Ok(());
        };
        let fits = match self {
            ColumnBuilder::Text(b) => {
                match value {
                    Value::String(s) => b.append_value(s),
                    other => b.append_value(other.to_string()),
                }
                true
            }
            ColumnBuilder::Integer(b) => append_some(b, value.as_i64()),
            ColumnBuilder::Number(b) => append_some(b, value.as_f64()),
            ColumnBuilder::Boolean(b) => {
                if let Some(v) = value.as_bool() {
                    b.append_value(v);
                }
                value.is_boolean()
            }
        };
        if fits {
            Ok(())
        } else {
            self.push_null();
            Err(value)
        }
    }

    fn push_null(&mut self) {
        match self {
            ColumnBuilder::Text(b) => b.append_null(),
            ColumnBuilder::Integer(b) => b.append_null(),
            ColumnBuilder::Number(b) => b.append_null(),
            ColumnBuilder::Boolean(b) => b.append_null(),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            ColumnBuilder::Text(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Integer(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Number(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Boolean(mut b) => Arc::new(b.finish()),
        }
    }
}
