//! The emulator, a session with `parallel_enrich`, and the rows of a query.

use std::collections::HashMap;

use datafusion::arrow::array::{Array, AsArray, Int64Array, RecordBatch, StructArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use parallel_client::Client;
use parallel_datafusion::ParallelEnrich;
use parallel_emulator::{Emulator, EmulatorHandle};

/// An emulator on loopback, served by the test's runtime.
pub(crate) struct Emu {
    pub(crate) handle: EmulatorHandle,
}

impl Emu {
    /// Runs take about a hundredth of a second; `fail_rate` of them fail.
    pub(crate) async fn start(fail_rate: f64) -> Self {
        Self::start_scaled(fail_rate, 0.001).await
    }

    pub(crate) async fn start_scaled(fail_rate: f64, time_scale: f64) -> Self {
        let handle = Emulator::builder()
            .listen("127.0.0.1:0".parse().unwrap())
            .time_scale(time_scale)
            .fail_rate(fail_rate)
            .seed(16)
            .start()
            .await
            .unwrap();
        Self { handle }
    }

    pub(crate) fn client(&self) -> Client {
        Client::builder()
            .api_key("emulator")
            .base_url(self.handle.base_url())
            .build()
            .unwrap()
    }
}

/// A session with `enrich` registered.
pub(crate) fn context(enrich: ParallelEnrich) -> SessionContext {
    let ctx = SessionContext::new();
    enrich.register(&ctx);
    ctx
}

/// One result row: its `id` and the text fields of its `found` struct.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) id: i64,
    fields: HashMap<String, Option<String>>,
}

impl Row {
    /// A text field of the result struct (`None` when null).
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        match self.fields.get(name) {
            Some(value) => value.as_deref(),
            None => panic!("the result has no text field `{name}`: {self:?}"),
        }
    }
}

/// The rows of `sql`, which selects `id` and `found`.
pub(crate) async fn rows(ctx: &SessionContext, sql: &str) -> Vec<Row> {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let mut rows = Vec::new();
    for batch in &batches {
        let ids = batch
            .column_by_name("id")
            .unwrap()
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        let found = struct_column(batch, "found");
        for row in 0..batch.num_rows() {
            let mut fields = HashMap::new();
            for (field, column) in found.fields().iter().zip(found.columns()) {
                if field.data_type() == &DataType::Utf8 {
                    let strings = column.as_string::<i32>();
                    let value = strings.is_valid(row).then(|| strings.value(row).to_owned());
                    fields.insert(field.name().clone(), value);
                }
            }
            rows.push(Row {
                id: ids.value(row),
                fields,
            });
        }
    }
    rows
}

pub(crate) fn struct_column<'a>(batch: &'a RecordBatch, name: &str) -> &'a StructArray {
    batch.column_by_name(name).unwrap().as_struct()
}
