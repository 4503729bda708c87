//! Decoding one realistic `task_run.state` event (group runs stream with `include_input` and
//! `include_output`: run, input, and a ~4 KB JSON output with basis) three ways:
//!
//! - `borrowed`: `parallel_types::TaskRunEventRef` (ids borrowed, input/content raw);
//! - `owned`: `parallel_types::TaskRunEvent`;
//! - `value`: a `serde_json::Value` tree, the baseline a hand-rolled client would use.
//!
//! More lines show the paths a client takes in practice: the borrowed view plus decoding the
//! content into the user's own struct, the same in one pass (`TaskRunEventAs`), the owned
//! event through `parallel_types::from_json_slice` (UTF-8 checked once, then decoded as
//! text), the owned `GroupRunEvent` union (tag dispatch), the run, input and output content
//! read on demand (`RunResultRef`, what `parallel-batch results` reads), and skipping the
//! whole event (`IgnoredAny`: the floor of any reader that checks the JSON it reads past).
//!
//! Before timing, each way's heap allocations for one decode are counted and printed.
//! `TYPES_AB=1` first compares `serde_json::from_slice` with `parallel_types::from_json_slice`
//! in alternation (see `interleaved_from_json_slice`).
//!
//! Run with `cargo bench -p parallel-benches --bench types_decode`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use parallel_types::{GroupRunEvent, RunResultRef, TaskRunEvent, TaskRunEventAs, TaskRunEventRef};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

/// Counts heap allocations and bytes requested, to report what each way allocates. The
/// cost (two relaxed atomic adds per allocation) is the same for every way measured.
struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static ALLOCATED_BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`, per the caller's contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Runs `f` once and returns (allocations, bytes allocated) it made.
fn allocations<T>(f: impl FnOnce() -> T) -> (usize, usize) {
    let (count, bytes) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        ALLOCATED_BYTES.load(Ordering::Relaxed),
    );
    drop(black_box(f()));
    (
        ALLOCATIONS.load(Ordering::Relaxed) - count,
        ALLOCATED_BYTES.load(Ordering::Relaxed) - bytes,
    )
}

/// The user's output type for the event below (ten fields of research results).
#[derive(Deserialize)]
#[allow(dead_code)]
struct CompanyProfile<'a> {
    #[serde(borrow)]
    company_name: &'a str,
    founded_year: &'a str,
    ceo_name: &'a str,
    headquarters: &'a str,
    employee_count: &'a str,
    annual_revenue: &'a str,
    business_model: String,
    key_products: Vec<String>,
    competitors: Vec<String>,
    recent_news: String,
}

fn event() -> Vec<u8> {
    let sentence = "Acme Corp designs industrial anvils, rocket skates and portable holes, \
                    and sells them worldwide through distributors and its own web store. ";
    let content = json!({
        "company_name": "Acme Corp",
        "founded_year": "1998",
        "ceo_name": "Jane Q. Example",
        "headquarters": "Springfield, Oregon, United States",
        "employee_count": "1,200 (2025 annual report)",
        "annual_revenue": "$310M (FY2025)",
        "business_model": sentence.repeat(8),
        "key_products": ["Anvil Pro 3000", "Rocket Skates X", "Portable Hole (Mk II)", "Giant Magnet"],
        "competitors": ["Globex Corporation", "Initech", "Umbrella Industrial", "Soylent Tools"],
        "recent_news": sentence.repeat(7),
    });
    let basis: Vec<Value> = ["founded_year", "ceo_name", "annual_revenue", "business_model"]
        .iter()
        .map(|field| {
            json!({
                "field": field,
                "citations": [{
                    "url": format!("https://news.example.com/acme/{field}"),
                    "title": "Acme Corp reports record year",
                    "excerpts": ["Acme Corp, founded in 1998, reported revenue of $310M for fiscal 2025."],
                }],
                "reasoning": "The annual report and a news article agree on this value.",
                "confidence": "high",
            })
        })
        .collect();
    let event = json!({
        "type": "task_run.state",
        "event_id": "1732811462000017",
        "input": {
            "input": {"company_name": "Acme Corp", "company_website": "https://acme.example"},
            "processor": "core-fast",
            "metadata": {"row": 17, "client_tag": "b7f3c2:17"},
            "source_policy": null, "advanced_settings": null, "task_spec": null,
            "previous_interaction_id": null, "mcp_servers": null, "enable_events": null, "webhook": null
        },
        "run": {
            "run_id": "trun_0b6f2d1c9e8a4f37b2c5d4e3f1a0b9c8",
            "interaction_id": "trun_0b6f2d1c9e8a4f37b2c5d4e3f1a0b9c8",
            "status": "completed", "is_active": false, "warnings": null, "error": null,
            "processor": "core-fast", "metadata": {"row": 17, "client_tag": "b7f3c2:17"},
            "taskgroup_id": "tgrp_4c1f0a7e2b9d4e58a3f6c0d1e2b7a9c4",
            "created_at": "2026-03-02T14:04:59.871002Z", "modified_at": "2026-03-02T14:06:40.315560Z"
        },
        "output": {
            "type": "json", "content": content, "basis": basis,
            "mcp_tool_calls": null, "beta_fields": null, "output_schema": null
        }
    });
    // The server's layout: `type` first, compact. (`json!` sorts keys, so put it back first.)
    let body = serde_json::to_string(&event).expect("serialize");
    let without_type = body.replacen(r#""type":"task_run.state","#, "", 1);
    format!(r#"{{"type":"task_run.state",{}"#, &without_type[1..]).into_bytes()
}

fn decode(c: &mut Criterion) {
    let bytes = event();
    let output_len =
        serde_json::to_vec(&serde_json::from_slice::<Value>(&bytes).expect("valid")["output"])
            .expect("serialize")
            .len();
    assert!(
        (3_500..=5_000).contains(&output_len),
        "output is {output_len} bytes, want ~4 KB"
    );
    // Every way must decode the event, and the typed ones agree.
    let owned: TaskRunEvent = serde_json::from_slice(&bytes).expect("owned");
    let borrowed = TaskRunEventRef::from_slice(&bytes).expect("borrowed");
    let on_demand = RunResultRef::from_slice(&bytes).expect("on demand");
    assert_eq!(
        on_demand.content.map(serde_json::value::RawValue::get),
        borrowed.output.as_ref().map(|output| output.content.get())
    );
    assert_eq!(borrowed.into_owned().expect("into_owned"), owned);
    assert!(matches!(
        serde_json::from_slice::<GroupRunEvent>(&bytes),
        Ok(GroupRunEvent::TaskRunState(_))
    ));

    let counts = [
        (
            "borrowed",
            allocations(|| TaskRunEventRef::from_slice(&bytes)),
        ),
        (
            "owned",
            allocations(|| serde_json::from_slice::<TaskRunEvent>(&bytes)),
        ),
        (
            "value",
            allocations(|| serde_json::from_slice::<Value>(&bytes)),
        ),
        (
            "owned_union",
            allocations(|| serde_json::from_slice::<GroupRunEvent>(&bytes)),
        ),
    ];
    println!("event: {} bytes ({output_len}-byte output)", bytes.len());
    for (name, (count, allocated)) in counts {
        println!("{name}: {count} allocations, {allocated} bytes allocated per decode");
    }

    if std::env::var_os("TYPES_AB").is_some() {
        interleaved_from_json_slice(&bytes);
    }

    let mut group = c.benchmark_group("task_run_state_4kb");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("borrowed", |b| {
        b.iter(|| TaskRunEventRef::from_slice(black_box(&bytes)).expect("decode"));
    });
    group.bench_function("owned", |b| {
        b.iter(|| serde_json::from_slice::<TaskRunEvent>(black_box(&bytes)).expect("decode"));
    });
    group.bench_function("value", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(&bytes)).expect("decode"));
    });
    group.bench_function("borrowed_then_user_type", |b| {
        b.iter(|| {
            let event = TaskRunEventRef::from_slice(black_box(&bytes)).expect("decode");
            let profile: CompanyProfile<'_> = event.output_as().expect("content").expect("present");
            black_box(profile.key_products.len())
        });
    });
    group.bench_function("typed_one_pass", |b| {
        b.iter(|| {
            let event: TaskRunEventAs<'_, IgnoredAny, CompanyProfile<'_>> =
                TaskRunEventAs::from_slice(black_box(&bytes)).expect("decode");
            black_box(event.output.expect("present").content.key_products.len())
        });
    });
    group.bench_function("owned_from_json_slice", |b| {
        b.iter(|| {
            parallel_types::from_json_slice::<TaskRunEvent>(black_box(&bytes)).expect("decode")
        });
    });
    group.bench_function("owned_union", |b| {
        b.iter(|| serde_json::from_slice::<GroupRunEvent>(black_box(&bytes)).expect("decode"));
    });
    group.finish();
}

/// The on-demand reader against the borrowed view, in both member orders.
fn member_order(c: &mut Criterion) {
    let bytes = event();
    let owned: TaskRunEvent = serde_json::from_slice(&bytes).expect("owned");
    // `event()` is built through a `serde_json::Value`, whose members are sorted: the output's
    // basis comes before its content there, so an on-demand reader reads the whole event. The
    // API (and the emulator) send the output's content before its basis, as the owned type
    // writes it back: the layout `parallel-batch results` reads.
    let api_order = serde_json::to_vec(&owned).expect("serialize");
    let content_at = |bytes: &[u8], key: &[u8]| bytes.windows(key.len()).position(|w| w == key);
    assert!(content_at(&api_order, b"\"content\"") < content_at(&api_order, b"\"basis\""));
    for (name, bytes) in [
        ("task_run_state_4kb_sorted", &bytes),
        ("task_run_state_4kb_api_order", &api_order),
    ] {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("borrowed", |b| {
            b.iter(|| TaskRunEventRef::from_slice(black_box(bytes)).expect("decode"));
        });
        group.bench_function("run_result_on_demand", |b| {
            b.iter(|| {
                let result = RunResultRef::from_slice(black_box(bytes)).expect("decode");
                black_box(result.content.expect("present").get().len())
            });
        });
        group.bench_function("skip_whole_event", |b| {
            b.iter(|| {
                parallel_types::from_json_slice::<IgnoredAny>(black_box(bytes)).expect("decode")
            });
        });
        group.finish();
    }
}

/// `TYPES_AB=1`: `serde_json::from_slice` against `parallel_types::from_json_slice` for the
/// three ways, timed in alternation (21 rounds of 2,000 decodes each), so that a machine whose
/// speed drifts hits both alike; prints the median time of each and the median of the
/// per-round ratios.
fn interleaved_from_json_slice(bytes: &[u8]) {
    fn time(bytes: &[u8], decode: &dyn Fn(&[u8]) -> usize) -> f64 {
        let started = std::time::Instant::now();
        let mut sum = 0;
        for _ in 0..2_000 {
            sum += decode(black_box(bytes));
        }
        black_box(sum);
        started.elapsed().as_secs_f64() * 1e6 / 2_000.0
    }
    fn median(mut values: Vec<f64>) -> f64 {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    }
    type Decode = Box<dyn Fn(&[u8]) -> usize>;
    let ways: [(&str, Decode, Decode); 3] = [
        (
            "borrowed",
            Box::new(|b| {
                let e: TaskRunEventRef<'_> = serde_json::from_slice(b).expect("decode");
                e.run.run_id.len()
            }),
            Box::new(|b| {
                let e: TaskRunEventRef<'_> = parallel_types::from_json_slice(b).expect("decode");
                e.run.run_id.len()
            }),
        ),
        (
            "typed_one_pass",
            Box::new(|b| {
                let e: TaskRunEventAs<'_, IgnoredAny, CompanyProfile<'_>> =
                    serde_json::from_slice(b).expect("decode");
                e.output.map_or(0, |o| o.content.key_products.len())
            }),
            Box::new(|b| {
                let e: TaskRunEventAs<'_, IgnoredAny, CompanyProfile<'_>> =
                    parallel_types::from_json_slice(b).expect("decode");
                e.output.map_or(0, |o| o.content.key_products.len())
            }),
        ),
        (
            "owned",
            Box::new(|b| {
                let e: TaskRunEvent = serde_json::from_slice(b).expect("decode");
                e.run.run_id.len()
            }),
            Box::new(|b| {
                let e: TaskRunEvent = parallel_types::from_json_slice(b).expect("decode");
                e.run.run_id.len()
            }),
        ),
    ];
    for (name, from_slice, from_json_slice) in &ways {
        let (mut a, mut b, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..21 {
            let (x, y) = (time(bytes, from_slice), time(bytes, from_json_slice));
            a.push(x);
            b.push(y);
            ratios.push(x / y);
        }
        println!(
            "{name}: serde_json::from_slice {:.2} µs, from_json_slice {:.2} µs, \
             from_slice / from_json_slice median of rounds {:.2}",
            median(a),
            median(b),
            median(ratios)
        );
    }
}

criterion_group!(benches, decode, member_order);
criterion_main!(benches);
