//! One call of `parallel_enrich`: the rows of a record batch through the batch engine, and
//! their results back in row order.

use std::time::Duration;

use datafusion::arrow::array::ArrayRef;
use datafusion::common::{DataFusionError, Result};
use futures::StreamExt;
use parallel_client::Client;
use parallel_client::batch::{BatchItem, BatchOptions, BatchResult};
use parallel_types::FieldSources;
use serde_json::{Map, Value};

use crate::columns::Columns;
use crate::input::{batch_inputs, external};
use crate::options::CallOptions;
use crate::output::{REJECTED, RowOutcome, TIMED_OUT, result_array};
use crate::token::call_token;

/// What one call asks for, read from its arguments.
pub(crate) struct Call<'a> {
    pub(crate) columns: &'a Columns,
    pub(crate) options: &'a CallOptions,
    /// The rows' keys (the fourth argument), if given.
    pub(crate) key: Option<&'a ArrayRef>,
}

/// What every call of a registration uses.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) client: Client,
    pub(crate) processor: String,
    pub(crate) timeout: Option<Duration>,
    pub(crate) outage_tolerance: Duration,
}

/// Runs the rows of `input` as one batch and returns the result struct column.
///
/// Every row gets an outcome: its run's output or error, `rejected`, `skipped` (null input)
/// or `timed_out`. An error of the batch as a whole (no credit, a wrong key, an outage
/// longer than the tolerance) fails the call, since no row could get a result.
pub(crate) async fn enrich(
    settings: &Settings,
    call: &Call<'_>,
    input: &ArrayRef,
) -> Result<ArrayRef> {
    let columns = call.columns;
    let mut rows = vec![RowOutcome::skipped(); input.len()];
    let inputs = batch_inputs(input)?;
    if inputs.is_empty() {
        return result_array(columns, &rows);
    }
    for input in &inputs {
        row_mut(&mut rows, input.position())?.status = None;
    }
    let mut pending = inputs.len();
    let mut batch = BatchOptions::new(columns.spec.clone(), settings.processor.as_str())
        .outage_tolerance(settings.outage_tolerance);
    if let Some(group) = &call.options.group {
        // The same rows give the same token on every attempt: a call run again finds the
        // runs of the first attempt by their client tags and adds none.
        let token = call_token(&settings.processor, columns, &inputs, call.key);
        batch = batch.group(group.as_str()).token(token);
    }
    let mut items = settings.client.batch(batch).run_iter(inputs);
    let deadline = settings
        .timeout
        .map(|timeout| tokio::time::Instant::now() + timeout);
    let mut timed_out = false;
    while pending > 0 {
        let next = match deadline {
            Some(deadline) => {
                if let Ok(next) = tokio::time::timeout_at(deadline, items.next()).await {
                    next
                } else {
                    timed_out = true;
                    break;
                }
            }
            None => items.next().await,
        };
        let Some(item) = next else { break };
        match item.map_err(external)? {
            BatchItem::Submitted { runs, .. } => {
                for (position, run_id) in runs {
                    let row = row_mut(&mut rows, position)?;
                    row.run_id = Some(run_id);
                    row.status = None;
                }
            }
            BatchItem::Result(result) => {
                *row_mut(&mut rows, result.position)? = outcome(&result, columns);
                pending -= 1;
            }
            BatchItem::Rejected(rejection) => {
                let row = row_mut(&mut rows, rejection.position)?;
                row.status = Some(REJECTED.to_owned());
                row.error = Some(rejection.reason());
                pending -= 1;
            }
            _ => {}
        }
    }
    // Dropping the stream stops the batch (runs already made go on on the server).
    drop(items);
    if pending > 0 && !timed_out {
        // The engine delivers every input; a gap would be a bug, never a blank row.
        return Err(DataFusionError::Execution(format!(
            "the batch ended without a result for {pending} rows"
        )));
    }
    if timed_out {
        let why = format!(
            "no result within the call's time limit of {:?}; the run goes on: read it by its \
             run_id",
            settings.timeout.unwrap_or_default()
        );
        for row in rows.iter_mut().filter(|row| row.status.is_none()) {
            row.status = Some(TIMED_OUT.to_owned());
            row.error = Some(why.clone());
        }
    }
    result_array(columns, &rows)
}

fn row_mut(rows: &mut [RowOutcome], position: u64) -> Result<&mut RowOutcome> {
    let count = rows.len();
    usize::try_from(position)
        .ok()
        .and_then(|p| rows.get_mut(p))
        .ok_or_else(|| {
            DataFusionError::Internal(format!(
                "the batch reported position {position}, past the call's {count} rows"
            ))
        })
}

/// A finished run as a row: its output object (with its columns' sources when the call asks
/// for them), or its status and error.
fn outcome(result: &BatchResult, columns: &Columns) -> RowOutcome {
    let mut row = RowOutcome {
        run_id: Some(result.run.run_id.clone()),
        status: Some(result.run.status.as_str().to_owned()),
        ..RowOutcome::default()
    };
    match &result.outcome {
        Ok(output) => match output.content_as::<Map<String, Value>>() {
            Ok(object) => row.output = Some(object),
            Err(error) => row.error = Some(format!("the output is not a JSON object: {error}")),
        },
        Err(error) => row.error = Some(error.message.clone()),
    }
    if columns.basis
        && let Ok(output) = &result.outcome
    {
        let basis = output
            .view()
            .map_err(|e| e.to_string())
            .and_then(|view| view.basis().map_err(|e| e.to_string()));
        match basis {
            Ok(basis) => {
                let sources = columns
                    .outputs
                    .iter()
                    .map(|c| FieldSources::of(&basis, &c.name))
                    .collect();
                row.sources = Some(sources);
            }
            Err(error) => {
                let why = format!("the output's basis cannot be read: {error}");
                row.error = Some(match row.error.take() {
                    Some(first) => format!("{first}; {why}"),
                    None => why,
                });
            }
        }
    }
    row
}
