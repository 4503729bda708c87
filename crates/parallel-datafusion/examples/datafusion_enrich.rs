//! `parallel_enrich` in `DataFusion` SQL: registers a CSV (or, with the `parquet` feature, a
//! Parquet) file as the table `companies`, enriches every row with a task run, and prints
//! the result table.
//!
//! ```text
//! cargo run -p parallel-datafusion --example datafusion_enrich [companies.csv]
//! cargo run -p parallel-datafusion --features parquet --example datafusion_enrich companies.parquet
//! ```
//!
//! The table needs the columns `name`, `website` and `employees`. With `PARALLEL_API_KEY`
//! set it talks to the Parallel API; without, to a local emulator started here.

use std::error::Error;
use std::path::PathBuf;

use datafusion::prelude::{CsvReadOptions, SessionContext};
use parallel_client::Client;
use parallel_datafusion::ParallelEnrich;
use parallel_emulator::{Emulator, EmulatorHandle};

/// The issue's query: the input keeps its types (`employees` is sent as a number).
const QUERY: &str = "
SELECT name,
       parallel_enrich(
           named_struct('company', name, 'website', website, 'employees', employees),
           'ceo_name: CEO name, founded: year founded'
       ) AS found
FROM companies";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data/companies.csv"),
        PathBuf::from,
    );
    let (client, emulator) = connect().await?;

    let ctx = SessionContext::new();
    ParallelEnrich::new(client)
        .processor("lite-fast")
        .register(&ctx);
    register_table(&ctx, &path).await?;

    println!("{}", QUERY.trim());
    let df = ctx.sql(QUERY).await?;
    df.show().await?;

    if let Some(emulator) = emulator {
        println!("runs created on the emulator: {}", emulator.run_count());
        emulator.shutdown().await;
    }
    Ok(())
}

async fn register_table(
    ctx: &SessionContext,
    path: &std::path::Path,
) -> Result<(), Box<dyn Error>> {
    let name = path.to_str().ok_or("the table path is not UTF-8")?;
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
    {
        #[cfg(feature = "parquet")]
        {
            use datafusion::prelude::ParquetReadOptions;
            ctx.register_parquet("companies", name, ParquetReadOptions::default())
                .await?;
            return Ok(());
        }
        #[cfg(not(feature = "parquet"))]
        return Err(format!(
            "{name}: Parquet tables need the `parquet` feature: cargo run -p \
             parallel-datafusion --features parquet --example datafusion_enrich {name}"
        )
        .into());
    }
    ctx.register_csv("companies", name, CsvReadOptions::new())
        .await?;
    Ok(())
}

/// The Parallel API when `PARALLEL_API_KEY` is set; otherwise a local emulator, started here.
async fn connect() -> Result<(Client, Option<EmulatorHandle>), Box<dyn Error>> {
    if std::env::var_os("PARALLEL_API_KEY").is_some() {
        return Ok((Client::from_env()?, None));
    }
    let emulator = Emulator::builder().time_scale(0.01).start().await?;
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
