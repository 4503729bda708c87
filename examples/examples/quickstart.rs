//! The complete quick start: define a task spec from Rust types, create a task group, add
//! three companies, wait for the group, and print what was found.
//!
//! ```text
//! cargo run -p parallel-examples --example quickstart
//! ```
//!
//! With `PARALLEL_API_KEY` set it talks to the Parallel API; without, to a local emulator.

use std::error::Error;

use futures::StreamExt;
use parallel_client::{AddRuns, Client, GroupRunsOptions};
use parallel_emulator::{Emulator, EmulatorHandle};
use parallel_types::{CreateTaskGroupRequest, RunInput, TaskSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A company to research.
#[derive(Serialize, JsonSchema)]
struct CompanyInput {
    /// Name of the company.
    company_name: String,
    /// Company website URL.
    company_website: String,
}

/// What to find out about it.
#[derive(Debug, Deserialize, JsonSchema)]
struct CompanyInsight {
    /// Year the company was founded, YYYY.
    founded_year: String,
    /// Full name of the current CEO.
    ceo_name: String,
    /// A one-sentence summary of what the company does.
    summary: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (client, emulator) = connect().await?;

    // The JSON schemas of input and output come from the Rust types (and their doc comments).
    let spec = TaskSpec::from_types::<CompanyInput, CompanyInsight>()?;
    let companies = [
        ("Acme Corp", "https://acme.example"),
        ("Globex", "https://globex.example"),
        ("Initech", "https://initech.example"),
    ];
    let inputs = companies.iter().map(|(name, website)| {
        let input = CompanyInput {
            company_name: (*name).to_owned(),
            company_website: (*website).to_owned(),
        };
        RunInput::new(
            serde_json::to_value(input).expect("plain strings serialize"),
            "core-fast",
        )
    });

    let group = client
        .create_group(CreateTaskGroupRequest::default())
        .await?;
    let group_id = &group.taskgroup_id;
    let run_ids = client
        .group(group_id)
        .add_runs(AddRuns::new(inputs).default_task_spec(spec))
        .await?
        .run_ids;
    println!("task group {group_id}: {} runs added", run_ids.len());

    let status = client.group(group_id).wait().await?;
    println!("finished: {:?}", status.task_run_status_counts);

    // Results come back in the order the runs were added.
    let mut runs = client
        .group(group_id)
        .runs(GroupRunsOptions::with_input_and_output());
    let mut names = companies.iter().map(|(name, _)| *name);
    while let Some(run) = runs.next().await {
        let run = run?;
        let name = names.next().unwrap_or("?");
        let view = run.view()?;
        if let Some(insight) = view.output_as::<CompanyInsight>()? {
            println!(
                "{name}: founded {}, CEO {}. {}",
                insight.founded_year, insight.ceo_name, insight.summary
            );
        } else {
            println!(
                "{name}: no result ({}), run {}",
                view.run.status, view.run.run_id
            );
        }
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
