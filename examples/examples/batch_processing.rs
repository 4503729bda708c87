//! Enrich 10,000 rows: submit them in chunks with back-pressure and handle each result as its
//! run completes, with progress along the way.
//!
//! ```text
//! cargo run -p parallel-examples --example batch_processing
//! ```
//!
//! With `PARALLEL_API_KEY` set it talks to the Parallel API (10,000 `lite-fast` runs cost about
//! USD 50); without, to a local emulator.

use std::error::Error;
use std::time::Instant;

use futures::StreamExt;
use parallel_client::Client;
use parallel_client::batch::{BatchInput, BatchItem, BatchOptions};
use parallel_emulator::{Emulator, EmulatorHandle};
use parallel_types::TaskSpec;
use schemars::JsonSchema;
use serde::Deserialize;

/// The emulator's speed: runs take 1/1000 of their real latency.
const TIME_SCALE: f64 = 0.001;

const ROWS: u64 = 10_000;

/// What each run finds out.
#[derive(Debug, Deserialize, JsonSchema)]
struct Enrichment {
    /// The company's industry.
    industry: String,
    /// Country of the headquarters, ISO 3166-1 alpha-2.
    country: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (client, emulator) = connect().await?;
    let started = Instant::now();

    // Inputs are produced lazily: the batch reads them only as fast as it can submit them.
    let inputs = (0..ROWS).map(|row| {
        BatchInput::new(
            row,
            serde_json::json!({ "company_name": format!("Company {row}") }),
        )
    });
    let options = BatchOptions::new(TaskSpec::from_output::<Enrichment>()?, "lite-fast")
        .chunk_size(1000)
        .max_in_flight(5000);
    // The group exists now and nothing is submitted yet: the moment to persist what a
    // resume needs (BatchOptions::group + ::token).
    let batch = client.batch(options).start().await?;
    println!(
        "group {}, client tag token {}",
        batch.group_id(),
        batch.token()
    );
    let mut items = batch.run_iter(inputs);

    let mut by_country = std::collections::BTreeMap::<String, u64>::new();
    let mut failures = 0u64;
    while let Some(item) = items.next().await {
        match item? {
            BatchItem::Rejected(rejected) => {
                failures += 1;
                eprintln!("row {} refused: {}", rejected.position, rejected.reason());
            }
            BatchItem::Result(result) => match result.content_as::<Enrichment>() {
                Ok(enrichment) => {
                    if result.position == 0 {
                        println!("row 0: {} in {}", enrichment.industry, enrichment.country);
                    }
                    *by_country.entry(enrichment.country).or_default() += 1;
                }
                Err(error) => {
                    failures += 1;
                    if failures <= 3 {
                        eprintln!("row {} failed: {error}", result.position);
                    }
                }
            },
            BatchItem::Progress(p) => println!(
                "{:>6}/{ROWS} finished ({} failed), {} in flight, {:.1}s",
                p.finished,
                p.failed,
                p.in_flight,
                started.elapsed().as_secs_f64()
            ),
            _ => {}
        }
    }
    print!(
        "done in {:.1}s; {failures} failed; {} countries",
        started.elapsed().as_secs_f64(),
        by_country.len()
    );
    match by_country.iter().max_by_key(|(_, n)| **n) {
        Some((country, n)) => println!(", the most frequent: {country} ({n} runs)"),
        None => println!(),
    }

    if let Some(emulator) = emulator {
        emulator.shutdown().await;
    }
    Ok(())
}

/// The Parallel API when `PARALLEL_API_KEY` is set; otherwise a local emulator, started here.
async fn connect() -> Result<(Client, Option<EmulatorHandle>), Box<dyn Error>> {
    if std::env::var_os("PARALLEL_API_KEY").is_some() {
        return Ok((Client::from_env()?, None));
    }
    let emulator = Emulator::builder().time_scale(TIME_SCALE).start().await?;
    println!(
        "PARALLEL_API_KEY is not set: using a local emulator at {}",
        emulator.base_url()
    );
    let client = Client::builder()
        .api_key("emulator")
        .base_url(emulator.base_url())
        .build()?;
    Ok((client, Some(emulator)))
}
