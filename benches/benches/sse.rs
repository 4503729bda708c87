//! SSE parsing throughput: `parallel-sse` against the other Rust SSE parsers and a `memchr2`
//! line-scan floor, on the workloads of a Task Group run stream.
//!
//! Every parser gets the same pre-cut `Vec<Bytes>`. Async adapters are driven by
//! `futures::executor::block_on` over `futures::stream::iter`, so only parsing is measured.
//! Before measuring, each parser's event count is checked against the generated count.
//!
//! - (a) 20,000 `task_run.state` events with input and a 2–8 KB JSON output, in 16 KiB and in
//!   1,460-byte chunks;
//! - (b) 20,000 small (~230-byte) `task_group_status` events, 16 KiB chunks;
//! - (c) 8 single-line 1 MiB events, 1,460-byte chunks;
//! - (d) 2,000 events of 20 `data:` lines each, 16 KiB chunks;
//! - (e) (a) in 16 KiB chunks framed and decoded into `parallel_types::TaskRunEventRef`, against
//!   decoding the same payloads alone.
//!
//! Run with `cargo bench -p parallel-benches --bench sse`.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::hint::black_box;
use std::num::NonZeroUsize;

use bytes::Bytes;
use criterion::{
    BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main, measurement::WallTime,
};
use futures::executor::block_on;
use futures::{StreamExt, stream};

/// A tiny deterministic generator (64-bit LCG), so the inputs are the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: &[&str] = &[
    "the",
    "company",
    "reported",
    "revenue",
    "growth",
    "in",
    "fiscal",
    "year",
    "according",
    "to",
    "its",
    "annual",
    "filing",
    "and",
    "press",
    "coverage",
    "café",
    "naïve",
    "\\\"quoted\\\"",
    "München",
    "€",
    "subsidiary",
];

fn words(rng: &mut Lcg, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 16);
    while out.len() < bytes {
        if !out.is_empty() {
            out.push(' ');
        }
        // `below(len)` < 22, so the cast is lossless.
        #[allow(clippy::cast_possible_truncation)]
        out.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    out
}

/// A workload: the whole stream, the number of events in it, and the JSON payloads.
struct Workload {
    stream: Bytes,
    events: usize,
}

/// (a) `task_run.state` events shaped like the emulator's, outputs of 2–8 KB.
fn run_stream() -> Workload {
    let mut rng = Lcg(7);
    let mut out = String::new();
    let events = 20_000;
    for i in 0..events {
        let id = format!("{:016x}{:016x}", rng.next(), rng.next());
        // `below` < 6000, lossless.
        #[allow(clippy::cast_possible_truncation)]
        let size = 2_000 + rng.below(6_000) as usize;
        let summary = words(&mut rng, size.saturating_sub(600));
        let excerpt = words(&mut rng, 200);
        let _ = write!(
            out,
            "event: task_run.state\ndata: {{\"type\":\"task_run.state\",\"event_id\":\"{i}\",\
             \"input\":{{\"input\":{{\"company_name\":\"Company {i}\",\"company_website\":\"https://c{i}.example\"}},\
             \"processor\":\"core-fast\",\"metadata\":{{\"row\":{i}}}}},\
             \"run\":{{\"run_id\":\"trun_{id}\",\"interaction_id\":\"trun_{id}\",\"status\":\"completed\",\
             \"is_active\":false,\"warnings\":null,\"error\":null,\"processor\":\"core-fast\",\"metadata\":{{\"row\":{i}}},\
             \"taskgroup_id\":\"tgrp_4c1f0a7e2b9d4e58a3f6c0d1e2b7a9c4\",\"created_at\":\"2026-03-02T14:04:59.871002Z\",\
             \"modified_at\":\"2026-03-02T14:06:40.315560Z\"}},\
             \"output\":{{\"type\":\"json\",\"content\":{{\"summary\":\"{summary}\",\"founded_year\":\"19{}\"}},\
             \"basis\":[{{\"field\":\"summary\",\"citations\":[{{\"url\":\"https://news.example/{i}\",\"title\":\"Report {i}\",\
             \"excerpts\":[\"{excerpt}\"]}}],\"reasoning\":\"From the filing.\",\"confidence\":\"high\"}}]}}}}\n\n",
            10 + rng.below(90),
        );
    }
    Workload {
        stream: Bytes::from(out),
        events,
    }
}

/// (b) Small status events, about 230 bytes each.
fn small_events() -> Workload {
    let mut rng = Lcg(11);
    let mut out = String::new();
    let events = 20_000;
    for i in 0..events {
        let done = rng.below(1000);
        let _ = write!(
            out,
            "event: task_group_status\ndata: {{\"type\":\"task_group_status\",\"event_id\":\"{i}\",\"status\":\
             {{\"num_task_runs\":1000,\"task_run_status_counts\":{{\"completed\":{done},\"running\":{}}},\
             \"is_active\":true,\"modified_at\":\"2026-03-02T14:06:40.401932Z\"}}}}\n\n",
            1000 - done
        );
    }
    Workload {
        stream: Bytes::from(out),
        events,
    }
}

/// (c) Eight events, each one 1 MiB `data:` line.
fn huge_lines() -> Workload {
    let mut rng = Lcg(13);
    let mut out = String::new();
    let events = 8;
    for _ in 0..events {
        out.push_str("data: {\"content\":\"");
        out.push_str(&words(&mut rng, 1 << 20));
        out.push_str("\"}\n\n");
    }
    Workload {
        stream: Bytes::from(out),
        events,
    }
}

/// (d) Events of 20 `data:` lines each.
fn multi_line_events() -> Workload {
    let mut rng = Lcg(17);
    let mut out = String::new();
    let events = 2_000;
    for i in 0..events {
        out.push_str("event: log\n");
        for line in 0..20 {
            let _ = writeln!(out, "data: event {i} line {line}: {}", words(&mut rng, 60));
        }
        out.push('\n');
    }
    Workload {
        stream: Bytes::from(out),
        events,
    }
}

fn cut(stream: &Bytes, size: usize) -> Vec<Bytes> {
    (0..stream.len())
        .step_by(size)
        .map(|start| stream.slice(start..(start + size).min(stream.len())))
        .collect()
}

fn source(chunks: &[Bytes]) -> impl futures::Stream<Item = Result<Bytes, Infallible>> + '_ {
    stream::iter(chunks.iter().cloned().map(Ok))
}

// Each driver returns (events, data bytes) so that nothing can be optimised away and the
// counts can be compared.

fn parallel_sse(chunks: &[Bytes]) -> (usize, usize) {
    let mut parser = parallel_sse::Parser::new();
    let (mut events, mut bytes) = (0, 0);
    for chunk in chunks {
        parser.push(chunk.clone());
        while let Some(event) = parser.next_event() {
            if let Ok(event) = event {
                bytes += black_box(event.data()).len();
                events += 1;
            }
        }
    }
    parser.finish();
    while let Some(event) = parser.next_event() {
        if let Ok(event) = event {
            bytes += black_box(event.data()).len();
            events += 1;
        }
    }
    (events, bytes)
}

fn sse_parse(chunks: &[Bytes]) -> (usize, usize) {
    let mut parser = sse_parse::SseParser::new();
    let (mut events, mut bytes) = (0, 0);
    for chunk in chunks {
        parser.feed(chunk);
        while let Some(event) = parser.next_event() {
            bytes += black_box(&event.data).len();
            events += 1;
        }
    }
    parser.finish();
    while let Some(event) = parser.next_event() {
        bytes += black_box(&event.data).len();
        events += 1;
    }
    (events, bytes)
}

fn sse_core(chunks: &[Bytes]) -> (usize, usize) {
    // The default 512 KiB payload limit would reject workload (c); run outputs need more.
    let limit = NonZeroUsize::new(64 << 20).unwrap_or(NonZeroUsize::MIN);
    let mut decoder = sse_core::SseDecoder::with_limit(limit);
    let (mut events, mut bytes) = (0, 0);
    for chunk in chunks {
        let mut buf = chunk.clone();
        while let Some(event) = decoder.next(&mut buf) {
            if let Ok(sse_core::SseEvent::Message(message)) = event {
                bytes += black_box(&message.data).len();
                events += 1;
            }
        }
    }
    (events, bytes)
}

/// Drives an async peer's event stream to its end: the number of items for which `data`
/// gives a length (the events), and the sum of those lengths.
fn count_stream<S, T, E>(stream: S, data: impl Fn(&T) -> Option<usize>) -> (usize, usize)
where
    S: futures::Stream<Item = Result<T, E>>,
{
    block_on(async {
        let mut stream = std::pin::pin!(stream);
        let (mut events, mut bytes) = (0, 0);
        while let Some(item) = stream.next().await {
            if let Some(len) = item.ok().as_ref().and_then(&data) {
                bytes += len;
                events += 1;
            }
        }
        (events, bytes)
    })
}

fn sseer(chunks: &[Bytes]) -> (usize, usize) {
    count_stream(sseer::EventStream::new(source(chunks)), |event| {
        Some(black_box(&event.data).len())
    })
}

fn sse_stream(chunks: &[Bytes]) -> (usize, usize) {
    // This crate also yields blocks without data; those are not events.
    count_stream(
        sse_stream::SseByteStream::new(source(chunks)),
        |block: &sse_stream::Sse| block.data.as_ref().map(|data| black_box(data).len()),
    )
}

fn eventsource_stream(chunks: &[Bytes]) -> (usize, usize) {
    count_stream(
        eventsource_stream::EventStream::new(source(chunks)),
        |event| Some(black_box(&event.data).len()),
    )
}

/// The floor: find every CR and LF once, doing nothing else.
fn memchr2_floor(chunks: &[Bytes]) -> (usize, usize) {
    let line_ends = chunks
        .iter()
        .map(|chunk| memchr::memchr2_iter(b'\n', b'\r', chunk).count())
        .sum();
    (0, line_ends)
}

type Driver = fn(&[Bytes]) -> (usize, usize);

const PARSERS: &[(&str, Driver)] = &[
    ("parallel-sse", parallel_sse),
    ("sse-stream", sse_stream),
    ("sse-core", sse_core),
    ("sse-parse", sse_parse),
    ("sseer", sseer),
    ("eventsource-stream", eventsource_stream),
];

fn compare(
    group: &mut BenchmarkGroup<'_, WallTime>,
    workload: &Workload,
    chunks: &[Bytes],
    skip: &[&str],
) {
    group.throughput(Throughput::Bytes(workload.stream.len() as u64));
    let (_, reference_bytes) = parallel_sse(chunks);
    for &(name, driver) in PARSERS {
        if skip.contains(&name) {
            eprintln!("skipping {name} in this group; set SSE_BENCH_ALL=1 to include it");
            continue;
        }
        let (events, bytes) = driver(chunks);
        assert_eq!(
            events, workload.events,
            "{name} counted {events} events, expected {}",
            workload.events
        );
        assert_eq!(
            bytes, reference_bytes,
            "{name} returned {bytes} data bytes, parallel-sse {reference_bytes}"
        );
        group.bench_function(name, |b| b.iter(|| driver(black_box(chunks))));
    }
    group.bench_function("memchr2-floor", |b| {
        b.iter(|| memchr2_floor(black_box(chunks)));
    });
}

/// `SSE_AB=1`: instead of criterion's one-parser-after-another sampling, time the parsers in
/// turn, round after round (11 rounds for workload a, 51 for the small ones), and print each
/// one's median. On a machine shared with other work
/// the load then falls on every parser alike, so the ratios are trustworthy.
fn interleaved(workloads: &[(&str, &Workload, usize)]) {
    let all = std::env::var_os("SSE_BENCH_ALL").is_some();
    for &(label, workload, size) in workloads {
        // Millisecond-long runs need more rounds for a stable median.
        let rounds = if workload.stream.len() < (32 << 20) {
            51
        } else {
            11
        };
        let chunks = cut(&workload.stream, size);
        let mut times: Vec<(&str, Vec<f64>)> = Vec::new();
        for &(name, driver) in PARSERS
            .iter()
            .chain([("memchr2-floor", memchr2_floor as Driver)].iter())
        {
            if name == "eventsource-stream" && label.starts_with('c') && !all {
                continue;
            }
            times.push((name, Vec::with_capacity(rounds)));
            let _ = driver(&chunks); // warm-up
        }
        for _ in 0..rounds {
            for (name, samples) in &mut times {
                let driver = PARSERS
                    .iter()
                    .find(|p| p.0 == *name)
                    .map_or(memchr2_floor as Driver, |p| p.1);
                let start = std::time::Instant::now();
                black_box(driver(black_box(&chunks)));
                samples.push(start.elapsed().as_secs_f64());
            }
        }
        let median = |samples: &mut Vec<f64>| {
            samples.sort_by(f64::total_cmp);
            samples[samples.len() / 2]
        };
        let medians: Vec<(&str, f64)> = times
            .iter_mut()
            .map(|(name, samples)| (*name, median(samples)))
            .collect();
        let ours = medians[0].1;
        let best_peer = medians[1..]
            .iter()
            .filter(|(name, _)| *name != "memchr2-floor")
            .map(|m| m.1)
            .fold(f64::MAX, f64::min);
        // Sizes are far below 2^52, so the conversion is exact.
        #[allow(clippy::cast_precision_loss)]
        let bytes = workload.stream.len() as f64;
        println!(
            "{label}: {} bytes, {} events, median of {rounds} interleaved rounds",
            workload.stream.len(),
            workload.events
        );
        for (name, seconds) in &medians {
            println!(
                "  {name:20} {:10.3} ms {:8.3} GB/s",
                seconds * 1e3,
                bytes / seconds / 1e9
            );
        }
        println!("  parallel-sse vs fastest peer: {:.2}x", best_peer / ours);
    }
}

fn workloads(c: &mut Criterion) {
    if std::env::var_os("SSE_AB").is_some() {
        let (run, small, huge, multi) = (
            run_stream(),
            small_events(),
            huge_lines(),
            multi_line_events(),
        );
        interleaved(&[
            ("a_run_stream_16KiB", &run, 16 * 1024),
            ("a_run_stream_1460B", &run, 1460),
            ("b_small_events_16KiB", &small, 16 * 1024),
            ("c_1MiB_lines_1460B", &huge, 1460),
            ("d_20_data_lines_16KiB", &multi, 16 * 1024),
        ]);
        frame_and_decode_interleaved(&run);
        return;
    }
    let run = run_stream();
    for (label, size) in [
        ("a_run_stream_16KiB", 16 * 1024),
        ("a_run_stream_1460B", 1460),
    ] {
        let mut group = c.benchmark_group(label);
        group.sample_size(10);
        compare(&mut group, &run, &cut(&run.stream, size), &[]);
        group.finish();
    }

    let small = small_events();
    let mut group = c.benchmark_group("b_small_events_16KiB");
    group.sample_size(10);
    compare(&mut group, &small, &cut(&small.stream, 16 * 1024), &[]);
    group.finish();

    let huge = huge_lines();
    let mut group = c.benchmark_group("c_1MiB_lines_1460B");
    group.sample_size(10);
    // eventsource-stream rescans a growing line on every chunk (quadratic): about 25 s per
    // iteration here, so it runs only on request.
    let all = std::env::var_os("SSE_BENCH_ALL").is_some();
    compare(
        &mut group,
        &huge,
        &cut(&huge.stream, 1460),
        if all { &[] } else { &["eventsource-stream"] },
    );
    group.finish();

    let multi = multi_line_events();
    let mut group = c.benchmark_group("d_20_data_lines_16KiB");
    group.sample_size(10);
    compare(&mut group, &multi, &cut(&multi.stream, 16 * 1024), &[]);
    group.finish();

    decode(c, &run);
}

/// Every payload of `run`, cut out by the parser.
fn payloads(run: &Workload, chunks: &[Bytes]) -> Vec<Bytes> {
    let mut payloads = Vec::with_capacity(run.events);
    let mut parser = parallel_sse::Parser::new();
    for chunk in chunks {
        parser.push(chunk.clone());
        while let Some(Ok(event)) = parser.next_event() {
            payloads.push(event.into_data());
        }
    }
    assert_eq!(payloads.len(), run.events);
    payloads
}

fn decode_one(json: &[u8]) -> usize {
    match parallel_types::TaskRunEventRef::from_slice(json) {
        Ok(event) => black_box(&event).run.run_id.len(),
        Err(error) => panic!("generated event does not decode: {error}"),
    }
}

fn frame_and_decode(chunks: &[Bytes]) -> usize {
    let mut parser = parallel_sse::Parser::new();
    let mut total = 0;
    for chunk in chunks {
        parser.push(chunk.clone());
        while let Some(Ok(event)) = parser.next_event() {
            total += decode_one(event.data());
        }
    }
    total
}

fn decode_only(payloads: &[Bytes]) -> usize {
    payloads.iter().map(|json| decode_one(json)).sum()
}

/// (e) with `SSE_AB=1`: framing + decoding and decoding alone, timed in alternation.
fn frame_and_decode_interleaved(run: &Workload) {
    let chunks = cut(&run.stream, 16 * 1024);
    let payloads = payloads(run, &chunks);
    let (mut framed, mut alone) = (Vec::new(), Vec::new());
    for _ in 0..11 {
        let start = std::time::Instant::now();
        black_box(frame_and_decode(black_box(&chunks)));
        framed.push(start.elapsed().as_secs_f64());
        let start = std::time::Instant::now();
        black_box(decode_only(black_box(&payloads)));
        alone.push(start.elapsed().as_secs_f64());
    }
    framed.sort_by(f64::total_cmp);
    alone.sort_by(f64::total_cmp);
    let (framed, alone) = (framed[5], alone[5]);
    println!("e_frame_and_decode_16KiB: median of 11 interleaved rounds");
    println!("  parallel-sse+decode  {:10.3} ms", framed * 1e3);
    println!("  decode-only          {:10.3} ms", alone * 1e3);
    println!("  framing adds {:.1}%", (framed / alone - 1.0) * 100.0);
}

/// (e) What framing adds to decoding: parse and decode every event of (a), against decoding
/// the same payloads, already cut out, alone.
fn decode(c: &mut Criterion, run: &Workload) {
    let chunks = cut(&run.stream, 16 * 1024);
    let payloads = payloads(run, &chunks);
    let mut group = c.benchmark_group("e_frame_and_decode_16KiB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(run.stream.len() as u64));
    group.bench_function("parallel-sse+decode", |b| {
        b.iter(|| frame_and_decode(black_box(&chunks)));
    });
    group.bench_function("decode-only", |b| {
        b.iter(|| decode_only(black_box(&payloads)));
    });
    group.finish();
}

criterion_group!(benches, workloads);
criterion_main!(benches);
