//! The batch engine against a running server: `N` inputs through `Client::batch`, every
//! result delivered, then one line of numbers.
//!
//! ```sh
//! cargo build --release -p parallel-client --example batch_bench
//! target/release/examples/batch_bench http://127.0.0.1:8080 100000
//! ```
//!
//! Prints `rows`, `secs`, `rows_per_sec` and the process's peak resident memory
//! (`vm_hwm_kb`); used beside `parallel-batch run` on the same emulator (benches/README.md).

use std::time::Instant;

use futures::StreamExt;
use parallel_client::Client;
use parallel_client::batch::{BatchInput, BatchItem, BatchOptions};
use parallel_types::TaskSpec;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base_url, rows] = args.as_slice() else {
        return Err("usage: batch_bench BASE_URL ROWS".into());
    };
    let rows: u64 = rows.parse()?;
    let client = Client::builder()
        .api_key("bench")
        .base_url(base_url)
        .build()?;
    // The task parallel-batch's README runs: two string columns.
    let spec: TaskSpec = serde_json::from_value(serde_json::json!({
        "output_schema": {"type": "json", "json_schema": {
            "type": "object",
            "properties": {
                "ceo_name": {"type": "string", "description": "Full name of the current CEO"},
                "founded_year": {"type": "string", "description": "Year founded"}
            },
            "required": ["ceo_name", "founded_year"],
            "additionalProperties": false
        }}
    }))?;
    let options = BatchOptions::new(spec, "lite-fast")
        .chunk_size(1000)
        .max_in_flight(20_000);
    let inputs = (0..rows).map(|row| {
        BatchInput::new(
            row,
            serde_json::json!({"name": format!("Company {row}"), "website": format!("https://c{row}.example")}),
        )
    });
    let started = Instant::now();
    let mut items = client.batch(options).run_iter(inputs);
    let (mut results, mut bytes) = (0u64, 0usize);
    while let Some(item) = items.next().await {
        if let BatchItem::Result(result) = item? {
            results += 1;
            // Touch the output as a writer would.
            if let Ok(output) = &result.outcome {
                bytes += output.content()?.get().len();
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let per_sec = results as f64 / secs;
    println!(
        "rows={results} secs={secs:.3} rows_per_sec={per_sec:.0} output_bytes={bytes} vm_hwm_kb={}",
        peak_rss_kb().unwrap_or(0)
    );
    Ok(())
}

/// Peak resident set size (`VmHWM`) in KiB, on Linux.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
