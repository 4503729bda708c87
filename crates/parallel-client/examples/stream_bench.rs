//! Measures the group runs stream: how fast the client reads every run of a group with its
//! input and output, and its peak memory.
//!
//! ```text
//! parallel-emulator --listen 127.0.0.1:8080 --time-scale 0 &
//! cargo run --release -p parallel-client --example stream_bench -- create http://127.0.0.1:8080 20000
//! cargo run --release -p parallel-client --example stream_bench -- stream http://127.0.0.1:8080 tgrp_... view
//! ```
//!
//! `STREAM_BENCH_THREADS=1` runs on a current-thread runtime (default: multi-thread, as
//! `#[tokio::main]`); `STREAM_BENCH_READ_AHEAD=N` sets `GroupRunsOptions::read_ahead`.
//!
//! `create` makes a group of N completed runs and prints its id. `stream` reads all its runs
//! with `include_input` and `include_output` and prints runs/s, MB/s (of event JSON) and the
//! process's peak resident memory (`VmHWM`). Modes: `raw` decodes nothing beyond what the
//! stream itself reads; `typed` decodes each event with its input and output as the caller's
//! own structs in one pass (`GroupRun::view_as`, what a Rust user of typed results does);
//! `view` decodes the
//! borrowed view and the output content as a `serde_json::Value`; `owned` decodes each event
//! into the owned `TaskRunEvent`, as the Python SDK decodes into its models.

use std::time::Instant;

use serde::Deserialize;

use futures::StreamExt;
use parallel_client::{AddRuns, Client, GroupRunsOptions};
use parallel_types::{CreateTaskGroupRequest, RunInput, TaskSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `STREAM_BENCH_THREADS=1` measures on a current-thread runtime (one core for everything);
    // otherwise the default multi-thread runtime of `#[tokio::main]`.
    let runtime = if std::env::var("STREAM_BENCH_THREADS").as_deref() == Ok("1") {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    };
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["create", base_url, n] => runtime.block_on(create(base_url, n.parse()?)),
        ["stream", base_url, group_id, mode] => runtime.block_on(stream(base_url, group_id, mode)),
        _ => Err(
            "usage: stream_bench create BASE_URL N | stream BASE_URL GROUP_ID raw|typed|view|owned"
                .into(),
        ),
    }
}

fn client(base_url: &str) -> Result<Client, parallel_client::Error> {
    Client::builder()
        .api_key("bench")
        .base_url(base_url)
        .build()
}

async fn create(base_url: &str, n: u64) -> Result<(), Box<dyn std::error::Error>> {
    let client = client(base_url)?;
    let spec = TaskSpec::json(serde_json::json!({
        "type": "object",
        "properties": {
            "founded_year": {"type": "string", "description": "Year founded, YYYY"},
            "ceo_name": {"type": "string", "description": "Full name of the CEO"},
            "headquarters": {"type": "string", "description": "City and country of the headquarters"}
        },
        "required": ["founded_year", "ceo_name", "headquarters"],
        "additionalProperties": false
    }));
    let group = client
        .create_group(CreateTaskGroupRequest::default())
        .await?;
    let inputs = (0..n).map(|row| {
        let input = serde_json::json!({
            "company_name": format!("Company {row}"),
            "company_website": format!("https://company-{row}.example"),
        });
        RunInput::new(input, "core-fast")
    });
    client
        .group(&group.taskgroup_id)
        .add_runs(AddRuns::new(inputs).default_task_spec(spec))
        .await?;
    client.group(&group.taskgroup_id).wait().await?;
    println!("{}", group.taskgroup_id);
    Ok(())
}

async fn stream(
    base_url: &str,
    group_id: &str,
    mode: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let client = client(base_url)?;
    let started = Instant::now();
    let mut options = GroupRunsOptions::with_input_and_output();
    if let Ok(runs) = std::env::var("STREAM_BENCH_READ_AHEAD") {
        options = options.read_ahead(runs.parse()?);
    }
    let mut runs = client.group(group_id).runs(options);
    let (mut count, mut bytes, mut checksum) = (0u64, 0u64, 0usize);
    while let Some(run) = runs.next().await {
        let run = run?;
        bytes += run.json().len() as u64;
        count += 1;
        // Use the decoded data so that nothing is optimised away.
        if mode == "raw" {
            checksum += run.json().len();
        } else if mode == "typed" {
            let event = run.view_as::<Company<'_>, Insight<'_>>()?;
            checksum += event.run.run_id.len()
                + event
                    .input
                    .map_or(0, |i| i.company_name.len() + i.company_website.len())
                + event.output.map_or(0, |o| {
                    let o = o.content;
                    o.founded_year.len() + o.ceo_name.len() + o.headquarters.len()
                });
        } else if mode == "owned" {
            let event = run.view()?.into_owned()?;
            checksum += event.run.run_id.len() + usize::from(event.output.is_some());
        } else {
            let view = run.view()?;
            let output: Option<serde_json::Value> = view.output_as()?;
            checksum += view.run.run_id.len()
                + output.map_or(0, |o| o.as_object().map_or(0, serde_json::Map::len));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let (runs_per_sec, mb_per_sec) = (count as f64 / secs, bytes as f64 / 1e6 / secs);
    println!(
        "mode={mode} runs={count} bytes={bytes} secs={secs:.3} runs_per_sec={runs_per_sec:.0} \
         mb_per_sec={mb_per_sec:.1} vm_hwm_kb={} checksum={checksum}",
        peak_rss_kb().unwrap_or(0)
    );
    Ok(())
}

/// The input of each run, as the caller's own type.
#[derive(Deserialize)]
struct Company<'a> {
    #[serde(borrow)]
    company_name: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    company_website: std::borrow::Cow<'a, str>,
}

/// The output of each run, as the caller's own type.
#[derive(Deserialize)]
struct Insight<'a> {
    #[serde(borrow)]
    founded_year: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    ceo_name: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    headquarters: std::borrow::Cow<'a, str>,
}

/// Peak resident set size (`VmHWM`) in KiB, on Linux.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
