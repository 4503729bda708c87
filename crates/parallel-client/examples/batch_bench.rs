//! The batch engine against a running server: `N` inputs through `Client::batch`, every
//! result delivered, then one line of numbers.
//!
//! ```sh
//! cargo build --release -p parallel-client --example batch_bench
//! target/release/examples/batch_bench http://127.0.0.1:8080 100000 [PROCESSOR [REREAD]]
//! ```
//!
//! Prints `rows`, `secs`, `rows_per_sec`, the process's CPU seconds and peak resident memory
//! (`vm_hwm_kb`), and the lag from a run finishing on the server (its `modified_at`) to its
//! result being handed over (`lag_p50`, `lag_p95`, seconds). `PROCESSOR` is one name, or
//! `mix` for `lite-fast`, `core-fast` and `base` in turn; `REREAD` sets
//! `BatchOptions::reread`. Used beside `parallel-batch run` on
//! the same emulator, and by `benches/batch/realtime.sh` (benches/README.md).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use parallel_client::Client;
use parallel_client::batch::{BatchInput, BatchItem, BatchOptions};
use parallel_types::TaskSpec;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (base_url, rows, processor, reread) = match args.as_slice() {
        [url, rows] => (url, rows, "lite-fast", None),
        [url, rows, processor] => (url, rows, processor.as_str(), None),
        [url, rows, processor, reread] => (url, rows, processor.as_str(), Some(reread.parse()?)),
        _ => return Err("usage: batch_bench BASE_URL ROWS [PROCESSOR|mix [REREAD]]".into()),
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
    let mix = processor == "mix";
    let mut options = BatchOptions::new(spec, if mix { "lite-fast" } else { processor })
        .chunk_size(1000)
        .max_in_flight(20_000);
    if let Some(share) = reread {
        options = options.reread(share);
    }
    let inputs = (0..rows).map(move |row| {
        let input = BatchInput::new(
            row,
            serde_json::json!({"name": format!("Company {row}"), "website": format!("https://c{row}.example")}),
        );
        if mix {
            let processor = ["lite-fast", "core-fast", "base"][(row % 3) as usize];
            input.with_processor(processor)
        } else {
            input
        }
    });
    let started = Instant::now();
    let mut items = client.batch(options).run_iter(inputs);
    let (mut results, mut bytes) = (0u64, 0usize);
    let mut lags = Vec::with_capacity(usize::try_from(rows).unwrap_or(0));
    let mut group = String::new();
    while let Some(item) = items.next().await {
        let item = item?;
        if let BatchItem::Started { group_id, .. } = &item {
            group.clone_from(group_id);
        }
        if let BatchItem::Result(result) = item {
            results += 1;
            if let Some(finished) = result.run.modified_at.as_deref().and_then(epoch_secs) {
                lags.push((now_secs() - finished).max(0.0));
            }
            // Touch the output as a writer would.
            if let Ok(output) = &result.outcome {
                bytes += output.content()?.get().len();
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let per_sec = results as f64 / secs;
    lags.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let at = ((lags.len() as f64 - 1.0) * p).round() as usize;
        lags.get(at).copied().unwrap_or(0.0)
    };
    println!(
        "group={group} rows={results} secs={secs:.3} rows_per_sec={per_sec:.0} output_bytes={bytes} cpu_secs={:.3} vm_hwm_kb={} lag_p50={:.2} lag_p95={:.2}",
        cpu_secs().unwrap_or(0.0),
        peak_rss_kb().unwrap_or(0),
        pct(0.5),
        pct(0.95),
    );
    Ok(())
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Seconds since the epoch of an RFC 3339 UTC timestamp as the API writes them
/// (`2026-03-02T14:04:59.871002Z`).
fn epoch_secs(ts: &str) -> Option<f64> {
    let (date, time) = ts.trim_end_matches('Z').split_once('T')?;
    let mut parts = date.split('-').map(str::parse::<i64>);
    let (year, month, day) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    let mut clock = time.split(':');
    let hours = clock.next()?.parse::<i64>().ok()?;
    let minutes = clock.next()?.parse::<i64>().ok()?;
    let seconds: f64 = clock.next()?.parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    #[allow(clippy::cast_precision_loss)]
    Some((days * 86_400 + hours * 3600 + minutes * 60) as f64 + seconds)
}

/// User plus system CPU seconds of this process, on Linux.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Peak resident set size (`VmHWM`) in KiB, on Linux.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
