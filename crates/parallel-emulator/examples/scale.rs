//! Scale benchmark: one group with 100,000 runs served by the release emulator binary.
//!
//! ```text
//! cargo build --release -p parallel-emulator --bins --examples
//! target/release/examples/scale [--runs 100000] [--readers 10] [--server PATH]
//! ```
//!
//! Measures add-runs (1,000 inputs per request), one client streaming every run with input and
//! output, ten clients streaming the same group at once, and the server's peak memory (`VmHWM`
//! of the server process). Time scale 0: runs complete as they are added.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpStream;

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Options {
    runs: usize,
    readers: usize,
    server: std::path::PathBuf,
}

fn options() -> Result<Options, Error> {
    let mut runs = 100_000;
    let mut readers = 10;
    let mut server = std::env::current_exe()?
        .parent()
        .and_then(|examples| examples.parent())
        .map(|dir| dir.join("parallel-emulator"))
        .ok_or("cannot locate the emulator binary; pass --server PATH")?;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--runs" => runs = value.parse()?,
            "--readers" => readers = value.parse()?,
            "--server" => server = value.into(),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    Ok(Options {
        runs,
        readers,
        server,
    })
}

async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<hyper::body::Incoming, Error> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.unwrap_or_default())))?;
    let response = sender.send_request(request).await?;
    if !response.status().is_success() {
        return Err(format!("{method} {path}: {}", response.status()).into());
    }
    Ok(response.into_body())
}

/// Streams a body to its end; returns (bytes, frames).
async fn drain(mut body: hyper::body::Incoming) -> Result<(u64, u64), Error> {
    let mut bytes = 0u64;
    let mut frames = 0u64;
    let mut last = 0u8;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            bytes += data.len() as u64;
            for &b in &data {
                if b == b'\n' && last == b'\n' {
                    frames += 1;
                }
                last = b;
            }
        }
    }
    Ok((bytes, frames))
}

fn memory(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

/// CPU seconds (user + system) the server process has used so far: a measure of the server's
/// own cost that does not depend on how busy the machine is.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Linux reports these in clock ticks of 1/100 s.
    (ticks(11) + ticks(12)) / 100.0
}

fn rate(n: f64, d: Duration) -> f64 {
    n / d.as_secs_f64()
}

/// Adds `runs` runs to the group, 1,000 per request, and prints the timings.
#[allow(clippy::cast_precision_loss)]
async fn add_all(addr: SocketAddr, group: &str, runs: usize) -> Result<(), Error> {
    let spec = json!({"output_schema": {"type": "json", "json_schema": {
        "type": "object",
        "properties": {
            "ceo_name": {"type": "string", "description": "Full name of the current CEO"},
            "founded_year": {"type": "integer", "description": "Year the company was founded"}
        },
        "required": ["ceo_name", "founded_year"], "additionalProperties": false}}});

    let batches = runs.div_ceil(1000);
    let mut latencies = Vec::with_capacity(batches);
    let started = Instant::now();
    for b in 0..batches {
        let inputs: Vec<_> = (b * 1000..((b + 1) * 1000).min(runs))
            .map(|i| json!({
                "input": {"company_name": format!("Company {i}"), "company_website": format!("https://company{i}.example")},
                "processor": "lite-fast",
                "metadata": {"row": i}
            }))
            .collect();
        let body = serde_json::to_vec(&json!({"inputs": inputs, "default_task_spec": spec}))?;
        let t = Instant::now();
        request(
            addr,
            "POST",
            &format!("/v1/tasks/groups/{group}/runs?refresh_status=false"),
            Some(body),
        )
        .await?
        .collect()
        .await?;
        latencies.push(t.elapsed());
    }
    let add_time = started.elapsed();
    latencies.sort();
    println!(
        "add-runs: {} requests of 1000 in {:.2} s = {:.1} req/s, {:.0} runs/s; per request median {:.1} ms, p95 {:.1} ms",
        batches,
        add_time.as_secs_f64(),
        rate(batches as f64, add_time),
        rate(runs as f64, add_time),
        latencies[latencies.len() / 2].as_secs_f64() * 1e3,
        latencies[latencies.len() * 95 / 100].as_secs_f64() * 1e3,
    );
    Ok(())
}

// Counts become rates and megabytes; the precision lost above 2^52 does not matter here.
#[allow(clippy::cast_precision_loss)]
#[tokio::main]
async fn main() -> Result<(), Error> {
    let opts = options()?;
    let mut server = Command::new(&opts.server)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--time-scale",
            "0",
            "--seed",
            "1",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", opts.server.display()))?;
    let pid = server.id();
    let first = BufReader::new(server.stdout.take().ok_or("no stdout")?)
        .lines()
        .next()
        .ok_or("no address line")??;
    let addr: SocketAddr = first.trim_start_matches("listening on http://").parse()?;
    println!("server pid {pid} at {addr}; at start: {}", memory(pid));

    let group: serde_json::Value = {
        let body = request(addr, "POST", "/v1/tasks/groups", Some(b"{}".to_vec())).await?;
        serde_json::from_slice(&body.collect().await?.to_bytes())?
    };
    let group = group["taskgroup_id"]
        .as_str()
        .ok_or("no group id")?
        .to_owned();
    let cpu = cpu_secs(pid);
    add_all(addr, &group, opts.runs).await?;
    println!("server CPU for adding: {:.2} s", cpu_secs(pid) - cpu);
    println!("after adding: {}", memory(pid));

    let path = format!("/v1/tasks/groups/{group}/runs?include_input=true&include_output=true");
    for attempt in 1..=3 {
        let cpu = cpu_secs(pid);
        let t = Instant::now();
        let (bytes, frames) = drain(request(addr, "GET", &path, None).await?).await?;
        let d = t.elapsed();
        println!(
            "stream #{attempt}: {frames} runs, {:.1} MB in {:.2} s = {:.1} MB/s, {:.0} runs/s; server CPU {:.2} s",
            bytes as f64 / 1e6,
            d.as_secs_f64(),
            rate(bytes as f64 / 1e6, d),
            rate(frames as f64, d),
            cpu_secs(pid) - cpu
        );
    }
    println!("after one reader: {}", memory(pid));

    let cpu = cpu_secs(pid);
    let t = Instant::now();
    let readers: Vec<_> = (0..opts.readers)
        .map(|_| {
            let path = path.clone();
            tokio::spawn(async move { drain(request(addr, "GET", &path, None).await?).await })
        })
        .collect();
    let mut total_bytes = 0;
    let mut total_frames = 0;
    for r in readers {
        let (bytes, frames) = r.await??;
        total_bytes += bytes;
        total_frames += frames;
    }
    let d = t.elapsed();
    println!(
        "{} concurrent readers: {total_frames} runs, {:.1} MB in {:.2} s = {:.1} MB/s, {:.0} runs/s aggregate; server CPU {:.2} s",
        opts.readers,
        total_bytes as f64 / 1e6,
        d.as_secs_f64(),
        rate(total_bytes as f64 / 1e6, d),
        rate(total_frames as f64, d),
        cpu_secs(pid) - cpu
    );
    println!("at the end: {}", memory(pid));
    let _ = server.kill();
    let _ = server.wait();
    Ok(())
}
