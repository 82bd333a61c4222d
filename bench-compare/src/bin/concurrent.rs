//! Concurrent durable writes: 1 to 16 writer threads, each doing one-shot durable creates (or
//! updates) for a fixed time, on OrgStore (whose one-shot writes share commits: group commit),
//! raw redb (one write transaction per operation) and SQLite (WAL, `synchronous=FULL`, one
//! connection per thread, `BEGIN IMMEDIATE`, a busy timeout).
//!
//! ```text
//! cargo run --release -p bench-compare --bin concurrent -- --json bench-compare/results/concurrent.json
//! cargo run --release -p bench-compare -- report --json … --concurrent-json bench-compare/results/concurrent.json --out BENCHMARKS.md
//! ```
//!
//! Every engine does exactly the work of its single-threaded rows in the main benchmark: the
//! calls are its `Engine::create` and `Engine::update_display_name`. For each operation, each
//! thread count and each engine (engines side by side at one thread count, their order
//! reversed at every other count), a fresh store in a fresh temp directory is loaded with
//! `--orgs` organizations (1,000 per transaction), then the writer threads run for `--warmup`
//! seconds unmeasured and `--seconds` measured. Each thread has one call in flight at a time
//! and times each call; an operation counts when it starts inside the measured window.
//!
//! - Creates: new tenants, numbered from one counter shared by the threads (so ids, where the
//!   engine takes the tenant's, arrive in time order as from concurrent clients).
//! - Updates: a new display name for a key drawn at random (from `--seed`) from the thread's
//!   own share of the loaded keys: the loaded keys are cut into one contiguous share per
//!   thread, so two threads never rename the same record. All three engines lock the whole
//!   store for a write, so this does not change who waits for whom; it keeps one record from
//!   being rewritten by every thread at once.
//!
//! Figures per point: operations per second (operations started in the window over the
//! window's wall time), p50, p99 and max latency over the calls of every thread, the fewest
//! and most calls one thread made (how evenly the engine served its writers), and bytes
//! written per operation (`wchar` of `/proc/self/io` over the window, divided by the
//! operations; the process runs one engine at a time).
//!
//! Flags: `--threads 1,2,4,8,16`, `--seconds 3`, `--warmup 0.5`, `--orgs 10000`, `--seed N`
//! (default: from the clock; printed), `--engines orgstore,redb,sqlite` (`native_db` too if
//! asked), `--ops create,update`, `--json PATH` (default: standard output), `--count-syncs`
//! (a diagnostic: OrgStore on a file backend of this binary that counts syncs, giving
//! `syncs_per_op`, to see how many writes shared each commit). `BENCH_DIR` chooses the temp
//! directory's disk; `BENCH_CACHE_MB` every engine's page cache (default 64).
//!
//! SQLite's busy timeout is raised from the main benchmark's 10 s to the length of the run
//! plus a minute: SQLite's busy handler sleeps and retries, so a writer can wait a long time
//! behind the others, and it should wait (and show in the latencies), not fail.

#[path = "../workload.rs"]
#[allow(dead_code)]
mod workload;

#[path = "../engines.rs"]
#[allow(dead_code)]
mod engines;

#[path = "../concurrent_rows.rs"]
mod concurrent_rows;

use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use concurrent_rows::ConcurrentRow;
use engines::Engine;
use workload::{io_written, mix, Samples, Tenant};

const ENGINES: [&str; 4] = ["orgstore", "redb", "sqlite", "native_db"];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Create,
    Update,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Create => "concurrent_durable_create",
            Op::Update => "concurrent_durable_update",
        }
    }
}

struct Args {
    threads: Vec<usize>,
    seconds: f64,
    warmup: f64,
    orgs: u64,
    seed: u64,
    engines: Vec<String>,
    ops: Vec<Op>,
    json: Option<PathBuf>,
    count_syncs: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: concurrent [--threads 1,2,4,8,16] [--seconds 3] [--warmup 0.5] [--orgs 10000] \
         [--seed N] [--engines orgstore,redb,sqlite] [--ops create,update] [--json PATH] \
         [--count-syncs]"
    );
    std::process::exit(2);
}

fn list<T>(text: &str, item: impl Fn(&str) -> Option<T>) -> Vec<T> {
    let items: Vec<T> = text
        .split(',')
        .map(|s| item(s.trim()).unwrap_or_else(|| usage()))
        .collect();
    if items.is_empty() {
        usage();
    }
    items
}

fn args() -> Args {
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut a = Args {
        threads: vec![1, 2, 4, 8, 16],
        seconds: 3.0,
        warmup: 0.5,
        orgs: 10_000,
        seed: mix(clock),
        engines: ["orgstore", "redb", "sqlite"].map(String::from).to_vec(),
        ops: vec![Op::Create, Op::Update],
        json: None,
        count_syncs: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        let seconds = |v: String| {
            v.parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .unwrap_or_else(|| usage())
        };
        match flag.as_str() {
            "--threads" => a.threads = list(&value(), |s| s.parse().ok().filter(|&t| t > 0)),
            "--seconds" => a.seconds = seconds(value()),
            "--warmup" => a.warmup = seconds(value()),
            "--orgs" => {
                a.orgs = value().replace('_', "").parse().unwrap_or_else(|_| usage());
            }
            "--seed" => a.seed = value().parse().unwrap_or_else(|_| usage()),
            "--engines" => {
                a.engines = list(&value(), |s| ENGINES.contains(&s).then(|| s.to_string()));
            }
            "--ops" => {
                a.ops = list(&value(), |s| match s {
                    "create" => Some(Op::Create),
                    "update" => Some(Op::Update),
                    _ => None,
                });
            }
            "--json" => a.json = Some(value().into()),
            "--count-syncs" => a.count_syncs = true,
            _ => usage(),
        }
    }
    let most = a.threads.iter().copied().max().unwrap_or(1) as u64;
    if a.ops.contains(&Op::Update) && a.orgs < most {
        eprintln!(
            "updates need at least one loaded organization per thread: --orgs {most} or more"
        );
        std::process::exit(2);
    }
    if a.seconds <= 0.0 {
        usage();
    }
    a
}

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// One writer thread: calls until told to stop; returns the latencies of the calls that
/// started in the measured window.
fn writer<E: Engine>(
    engine: &E,
    op: Op,
    thread: usize,
    keys: &[E::Key],
    next: &AtomicU64,
    phase: &AtomicU8,
    seed: u64,
) -> Vec<u64> {
    // SQLite: this thread's own connection (the pool holds one per thread).
    engines::set_write_slot(thread);
    engines::set_thread_slot(thread);
    let mut state = mix(seed ^ mix(thread as u64 + 1));
    let mut latencies = Vec::new();
    let mut n = 0u64;
    loop {
        let now = phase.load(Ordering::Acquire);
        if now == STOP {
            break;
        }
        let start = match op {
            Op::Create => {
                let tenant = Tenant::generate(next.fetch_add(1, Ordering::Relaxed));
                let start = Instant::now();
                std::hint::black_box(engine.create(&tenant));
                start
            }
            Op::Update => {
                state = mix(state);
                let key = &keys[(state % keys.len() as u64) as usize];
                let name = format!("Renamed {thread}-{n}");
                let start = Instant::now();
                engine.update_display_name(key, &name);
                start
            }
        };
        let took = start.elapsed().as_nanos() as u64;
        if now == MEASURE {
            latencies.push(took);
        }
        n += 1;
    }
    latencies
}

/// Loads the store, runs `threads` writers, and measures the window.
fn measure<E: Engine>(
    engine: &E,
    name: &str,
    op: Op,
    threads: usize,
    a: &Args,
    syncs: Option<&AtomicU64>,
) -> ConcurrentRow {
    let tenants: Vec<Tenant> = (0..a.orgs).map(Tenant::generate).collect();
    let keys = engine.bulk_load(&tenants);
    drop(tenants);
    let next = AtomicU64::new(a.orgs);
    let phase = AtomicU8::new(WARMUP);
    let synced = || syncs.map_or(0, |s| s.load(Ordering::SeqCst));
    let (per_thread, window, written, synced) = std::thread::scope(|s| {
        let (next, phase, keys) = (&next, &phase, &keys);
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let share = &keys[t * keys.len() / threads..(t + 1) * keys.len() / threads];
                s.spawn(move || writer(engine, op, t, share, next, phase, a.seed))
            })
            .collect();
        std::thread::sleep(Duration::from_secs_f64(a.warmup));
        let (written, synced_before) = (io_written(), synced());
        let start = Instant::now();
        phase.store(MEASURE, Ordering::Release);
        std::thread::sleep(Duration::from_secs_f64(a.seconds));
        phase.store(STOP, Ordering::Release);
        let window = start.elapsed();
        let per_thread: Vec<Vec<u64>> = handles
            .into_iter()
            .map(|h| h.join().expect("writer thread"))
            .collect();
        (
            per_thread,
            window,
            io_written() - written,
            synced() - synced_before,
        )
    });
    let fewest = per_thread.iter().map(Vec::len).min().unwrap_or(0) as u64;
    let most = per_thread.iter().map(Vec::len).max().unwrap_or(0) as u64;
    let mut all = Samples(per_thread.into_iter().flatten().collect());
    let ops = all.0.len() as u64;
    ConcurrentRow {
        op: op.name().into(),
        engine: name.into(),
        threads: Some(threads as u64),
        orgs: Some(a.orgs),
        seconds: Some(window.as_secs_f64()),
        ops: Some(ops),
        ops_per_s: Some((ops as f64 / window.as_secs_f64()).round() as u64),
        median_ns: Some(all.median()),
        p99_ns: Some(all.percentile(99.0)),
        max_ns: Some(all.percentile(100.0)),
        fewest_thread_ops: Some(fewest),
        most_thread_ops: Some(most),
        bytes_per_op: (ops > 0).then(|| written / ops),
        syncs_per_op: syncs
            .filter(|_| ops > 0)
            .map(|_| synced as f64 / ops as f64),
        note: None,
    }
}

/// A file backend for OrgStore that counts syncs (`--count-syncs`): positioned reads and
/// writes on one file, as redb's own file backend does on Unix.
#[derive(Debug)]
struct CountingFile {
    file: std::fs::File,
    syncs: Arc<AtomicU64>,
}

impl orgstore::StorageBackend for CountingFile {
    fn len(&self) -> std::io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.file.read_exact_at(out, offset)
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.file.set_len(len)
    }

    fn sync_data(&self) -> std::io::Result<()> {
        self.syncs.fetch_add(1, Ordering::SeqCst);
        self.file.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.file.write_all_at(data, offset)
    }
}

/// One point: a fresh store of `engine` in a fresh temp directory.
fn point(engine: &str, op: Op, threads: usize, a: &Args) -> ConcurrentRow {
    let dir = tempfile::Builder::new()
        .prefix("bench-concurrent-")
        .tempdir_in(workload::bench_dir())
        .expect("temp dir");
    let path = dir.path().join(format!("{engine}.db"));
    match engine {
        "orgstore" if a.count_syncs => {
            let syncs = Arc::new(AtomicU64::new(0));
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
                .expect("create the store's file");
            let store = orgstore::OrgStore::builder()
                .cache_size(*engines::CACHE_BYTES)
                .create_with_backend(CountingFile {
                    file,
                    syncs: Arc::clone(&syncs),
                })
                .expect("open orgstore");
            let engine = engines::orgstore_engine::OrgStoreEngine { store };
            measure(&engine, "orgstore", op, threads, a, Some(&syncs))
        }
        "orgstore" => {
            let engine = engines::orgstore_engine::OrgStoreEngine::open(&path);
            measure(&engine, "orgstore", op, threads, a, None)
        }
        "redb" => {
            let engine = engines::redb_engine::RedbEngine::open(&path);
            measure(&engine, "redb", op, threads, a, None)
        }
        "sqlite" => {
            let engine = engines::sqlite_engine::SqliteEngine::open(&path, threads);
            let wait = Duration::from_secs_f64(a.warmup + a.seconds + 60.0);
            for slot in 0..threads {
                engine.conn(slot).busy_timeout(wait).expect("busy timeout");
            }
            measure(&engine, "sqlite", op, threads, a, None)
        }
        "native_db" => {
            let engine = engines::native_engine::NativeEngine::open(&path);
            measure(&engine, "native_db", op, threads, a, None)
        }
        other => panic!("unknown engine {other}"),
    }
}

fn fmt_ns(ns: u64) -> String {
    let ns = ns as f64;
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.1} µs", ns / 1e3)
    }
}

/// What the figures were measured on, and how.
fn notes(a: &Args) -> Vec<ConcurrentRow> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let note = |op: &str, text: String| ConcurrentRow {
        op: op.into(),
        engine: "machine".into(),
        note: Some(text),
        ..ConcurrentRow::default()
    };
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown".into(), |s| s.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let mem_kb: u64 = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut rows = vec![
        note("cpu", format!("{cpu}, {cores} cores available")),
        note("memory", format!("{} GiB", mem_kb / 1024 / 1024)),
        note(
            "kernel",
            format!("Linux {}", read("/proc/sys/kernel/osrelease").trim()),
        ),
        note(
            "versions",
            format!(
                "redb 4.6.0, SQLite {} (rusqlite, bundled)",
                rusqlite::version()
            ),
        ),
        note(
            "cache",
            format!(
                "{} MiB page cache for every engine",
                *engines::CACHE_BYTES / 1024 / 1024
            ),
        ),
        note(
            "run",
            format!(
                "{} organizations loaded into a fresh store before every point; {} s warm-up, \
                 {} s measured per point; seed {}",
                a.orgs, a.warmup, a.seconds, a.seed
            ),
        ),
        note(
            "orgstore_backend",
            if a.count_syncs {
                "OrgStore on a sync-counting file backend of the benchmark (--count-syncs)".into()
            } else {
                "OrgStore opened on its file with its defaults (durable commits)".into()
            },
        ),
    ];
    if let Some(fsync) = workload::fsync_note(&workload::bench_dir()) {
        rows.push(note("fsync", fsync));
    }
    rows
}

fn main() {
    let a = args();
    eprintln!("seed {} (repeat with --seed {})", a.seed, a.seed);
    let total = a.ops.len() * a.threads.len() * a.engines.len();
    let mut rows = Vec::with_capacity(total);
    let mut done = 0;
    for &op in &a.ops {
        for (i, &threads) in a.threads.iter().enumerate() {
            // Side by side at one thread count; no engine always first.
            let mut order = a.engines.clone();
            if i % 2 == 1 {
                order.reverse();
            }
            for engine in &order {
                let row = point(engine, op, threads, &a);
                done += 1;
                eprintln!(
                    "[{done:>2}/{total}] {:<26} {engine:<9} {threads:>2} threads: {:>7} ops/s  \
                     p50 {:>9}  p99 {:>9}  max {:>9}  {:>6} B/op  calls per thread {}–{}{}",
                    op.name(),
                    row.ops_per_s.unwrap_or(0),
                    fmt_ns(row.median_ns.unwrap_or(0)),
                    fmt_ns(row.p99_ns.unwrap_or(0)),
                    fmt_ns(row.max_ns.unwrap_or(0)),
                    row.bytes_per_op.unwrap_or(0),
                    row.fewest_thread_ops.unwrap_or(0),
                    row.most_thread_ops.unwrap_or(0),
                    row.syncs_per_op
                        .map_or(String::new(), |s| format!("  {s:.3} syncs/op")),
                );
                rows.push(row);
            }
        }
    }
    rows.extend(notes(&a));
    workload::write_json(&rows, a.json.as_deref());
}
