//! The result struct of `parallel_enrich`: one row per input row, in input order.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringBuilder, StructArray};
use datafusion::common::Result;
use parallel_arrow::ColumnBuilder;
use serde_json::{Map, Value};

use parallel_arrow::ColumnType;
use parallel_types::FieldSources;

use crate::columns::Columns;

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
    /// Each output column's sources, in column order, when the call asks for them.
    pub(crate) sources: Option<Vec<FieldSources>>,
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
        .outputs
        .iter()
        .map(|c| ColumnBuilder::with_capacity(c.column_type, rows.len()))
        .collect();
    let mut sources: Vec<SourcesBuilder> = if columns.basis {
        columns
            .outputs
            .iter()
            .map(|_| SourcesBuilder::new(rows.len()))
            .collect()
    } else {
        Vec::new()
    };
    let mut run_ids = StringBuilder::with_capacity(rows.len(), rows.len() * 24);
    let mut statuses = StringBuilder::with_capacity(rows.len(), rows.len() * 9);
    let mut errors = StringBuilder::new();
    for row in rows {
        let mut misfits = Vec::new();
        for (column, builder) in columns.outputs.iter().zip(&mut builders) {
            let value = row.output.as_ref().and_then(|o| o.get(&column.name));
            if let Err(misfit) = builder.append(value) {
                misfits.push(format!("the output's `{}`: {misfit}", column.name));
            }
        }
        for (n, builder) in sources.iter_mut().enumerate() {
            builder.append(row.sources.as_ref().and_then(|s| s.get(n)));
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
    let mut arrays: Vec<ArrayRef> = builders.iter_mut().map(ColumnBuilder::finish).collect();
    for builder in &mut sources {
        arrays.extend(builder.finish());
    }
    arrays.push(Arc::new(run_ids.finish()));
    arrays.push(Arc::new(statuses.finish()));
    arrays.push(Arc::new(errors.finish()));
    Ok(Arc::new(StructArray::try_new(
        columns.fields(),
        arrays,
        None,
    )?))
}

/// The three source fields of one output column: `X_citations`, `X_confidence`,
/// `X_reasoning`.
struct SourcesBuilder {
    citations: ColumnBuilder,
    confidence: ColumnBuilder,
    reasoning: ColumnBuilder,
}

impl SourcesBuilder {
    fn new(rows: usize) -> Self {
        Self {
            citations: ColumnBuilder::with_capacity(ColumnType::List, rows),
            confidence: ColumnBuilder::with_capacity(ColumnType::String, rows),
            reasoning: ColumnBuilder::with_capacity(ColumnType::String, rows),
        }
    }

    /// A row's sources of the column; none (no run, or a run without output): nulls.
    fn append(&mut self, sources: Option<&FieldSources>) {
        let Some(sources) = sources else {
            self.citations.append_null();
            self.confidence.append_null();
            self.reasoning.append_null();
            return;
        };
        let urls = Value::from(sources.citations.clone());
        let confidence = sources.confidence.clone().map(Value::String);
        let reasoning = sources.reasoning.clone().map(Value::String);
        // A list of strings and two strings always fit their columns.
        let _ = self.citations.append(Some(&urls));
        let _ = self.confidence.append(confidence.as_ref());
        let _ = self.reasoning.append(reasoning.as_ref());
    }

    fn finish(&mut self) -> [ArrayRef; 3] {
        [
            self.citations.finish(),
            self.confidence.finish(),
            self.reasoning.finish(),
        ]
    }
}
