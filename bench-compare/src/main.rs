//! Side-by-side benchmark of OrgStore, raw redb, SQLite and native_db on one tenant workload.
//!
//! ```text
//! cargo run --release -p bench-compare -- --orgs 100000 --json results-100k.json
//! cargo run --release -p bench-compare -- report --json results-100k.json --json results-1m.json --out BENCHMARKS.md
//! ```
//!
//! The server benchmark is the `serverbench` binary of this package (see its documentation);
//! `report --server-json FILE` adds its section to the report. Likewise the concurrent-writer
//! benchmark, the `concurrent` binary, and `report --concurrent-json FILE`.
//!
//! Each engine runs in a child process of its own (so its peak RSS is its own), on a fresh
//! file in a temp directory on the same disk. Output: a JSON array of
//! `{engine, op, orgs, median_ns, p99_ns, ops, bytes, ops_per_sec}`.
//!
//! Settings (environment): `BENCH_DIR` (where the files go), `BENCH_CACHE_MB` (every engine's
//! page cache, default 64). Diagnostics, for finding where time or bytes go (see
//! BENCHMARKS.md): `BENCH_ONLY_BULK` (stop after the load, print the bytes written),
//! `BENCH_PAGES_AFTER_LOAD` (time pages right after the load, print page faults),
//! `BENCH_GATE=FILE` (with the former: wait for FILE before the pages, stop after them, for
//! `callgrind_control -i on`), `BENCH_DROP_TENANTS`, `BENCH_STOP_AFTER=op` (close after a phase
//! and report the file size), `BENCH_KEEP` (keep the engine's file), `BENCH_TRACE_SIZE` (file
//! size after every phase).

mod concurrent_rows;
mod engines;
mod pg_rows;
mod report;
mod server_rows;
mod workload;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engines::{dir_size, Engine};
use serde::{Deserialize, Serialize};
use workload::{io_written, mix, Samples, Tenant};

pub const ENGINES: [&str; 4] = ["orgstore", "redb", "sqlite", "native_db"];

/// One measured figure.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    pub engine: String,
    pub op: String,
    pub orgs: u64,
    /// Median time per operation, in nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ns: Option<u64>,
    /// Operations timed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops: Option<u64>,
    /// For sizes: bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops_per_sec: Option<u64>,
    /// For machine rows: a description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// How many rounds the figure is the median of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<u64>,
}

struct Out {
    engine: &'static str,
    orgs: u64,
    rows: Vec<Row>,
}

impl Out {
    fn timed(&mut self, op: &str, samples: &mut Samples) {
        if let Some(p) = std::env::var_os("BENCH_TRACE_SIZE") {
            eprintln!(
                "  {:<10} size after {op}: {}",
                self.engine,
                dir_size(Path::new(&p))
            );
        }
        let row = Row {
            engine: self.engine.into(),
            op: op.into(),
            orgs: self.orgs,
            median_ns: Some(samples.median()),
            p99_ns: Some(samples.percentile(99.0)),
            ops: Some(samples.0.len() as u64),
            bytes: None,
            ops_per_sec: None,
            note: None,
            rounds: None,
        };
        eprintln!(
            "  {:<10} {:<24} median {:>10} ns  p99 {:>10} ns  ({} ops)",
            self.engine,
            op,
            row.median_ns.unwrap_or(0),
            row.p99_ns.unwrap_or(0),
            samples.0.len()
        );
        self.rows.push(row);
    }

    fn bytes(&mut self, op: &str, bytes: u64) {
        eprintln!("  {:<10} {:<24} {bytes} bytes", self.engine, op);
        self.rows.push(Row {
            engine: self.engine.into(),
            op: op.into(),
            orgs: self.orgs,
            median_ns: None,
            p99_ns: None,
            ops: None,
            bytes: Some(bytes),
            ops_per_sec: None,
            note: None,
            rounds: None,
        });
    }
}

/// Operations per timed phase (scaled down for tiny smoke runs).
struct Sizes {
    reads: usize,
    writes: usize,
    pages: usize,
    mixed: Duration,
}

fn sizes(n: u64) -> Sizes {
    let small = n < 10_000;
    Sizes {
        reads: if small { 2_000 } else { 50_000 },
        writes: if small { 100 } else { 1_000 },
        pages: if small { 100 } else { 1_000 },
        mixed: Duration::from_millis(if small { 300 } else { 3_000 }),
    }
}

/// Diagnostic (`BENCH_STOP_AFTER=op`): close the engine after phase `op` and report the size of
/// the file it leaves, to find which phase decides where a redb file's last page lands.
macro_rules! stop_after {
    ($op:literal, $engine:ident, $out:ident, $path:ident) => {
        if std::env::var("BENCH_STOP_AFTER").is_ok_and(|v| v == $op) {
            engines::before_size(&$engine as &dyn std::any::Any);
            drop($engine);
            $out.bytes("file_size", dir_size($path));
            return $out.rows;
        }
    };
}

/// The workload on one engine.
fn run<E: Engine + 'static>(engine: E, name: &'static str, path: &Path, n: u64) -> Vec<Row> {
    let s = sizes(n);
    let mut out = Out {
        engine: name,
        orgs: n,
        rows: Vec::new(),
    };
    let tenants: Vec<Tenant> = (0..n).map(Tenant::generate).collect();

    // Bulk load: per-tenant time of each 1,000-tenant transaction.
    let mut bulk = Samples::default();
    let mut keys = Vec::with_capacity(tenants.len());
    for batch in tenants.chunks(1000) {
        let start = Instant::now();
        keys.extend(engine.bulk_load(batch));
        bulk.0
            .push((start.elapsed().as_nanos() / batch.len() as u128) as u64);
    }
    out.timed("bulk_load", &mut bulk);
    stop_after!("bulk_load", engine, out, path);
    if std::env::var_os("BENCH_ONLY_BULK").is_some() {
        // For profiling the load alone (e.g. under callgrind); reports the bytes written.
        let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
        if let Some(w) = io.lines().find(|l| l.starts_with("write_bytes:")) {
            eprintln!("  {name:<10} bulk load {w}");
        }
        return out.rows;
    }
    let mut next = n;
    if std::env::var_os("BENCH_PAGES_AFTER_LOAD").is_some() {
        // Diagnostic: the page cost right after the load, before any other phase (and, with
        // BENCH_DROP_TENANTS, without the generated tenants in memory).
        if std::env::var_os("BENCH_DROP_TENANTS").is_some() {
            drop(tenants);
            let mut samples = Samples::default();
            for i in 0..s.pages {
                samples.time(|| engine.first_page(i % 2 == 1, 100));
            }
            out.timed("list_first_page_after_load_without_tenants", &mut samples);
            return out.rows;
        }
        if let Some(gate) = std::env::var_os("BENCH_GATE") {
            // For profiling the pages alone: wait here until the file `gate` exists (e.g. after
            // `callgrind_control -i on`), then stop after the pages.
            eprintln!("loaded; waiting for {}", PathBuf::from(&gate).display());
            while !Path::new(&gate).exists() {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
        let mut samples = Samples::default();
        let before = faults();
        for i in 0..s.pages {
            samples.time(|| engine.first_page(i % 2 == 1, 100));
        }
        let after = faults();
        eprintln!(
            "pages after load: minor faults {} major {} over {} pages",
            after.0 - before.0,
            after.1 - before.1,
            s.pages
        );
        out.timed("list_first_page_after_load", &mut samples);
        if std::env::var_os("BENCH_GATE").is_some() {
            return out.rows;
        }
    }

    let mut pick = {
        let mut state = 0x5EED_u64;
        move |len: usize| {
            state = mix(state);
            (state % len as u64) as usize
        }
    };

    let mut samples = Samples::default();
    let written = io_written();
    for _ in 0..s.writes {
        let t = Tenant::generate(next);
        next += 1;
        keys.push(samples.time(|| engine.create(&t)));
    }
    let per_create = (io_written() - written) / s.writes as u64;
    out.timed("durable_create", &mut samples);
    out.bytes("bytes_written_per_durable_create", per_create);
    stop_after!("durable_create", engine, out, path);

    let mut samples = Samples::default();
    for _ in 0..s.reads {
        let k = &keys[pick(keys.len())];
        assert!(samples.time(|| engine.get_by_id(k)));
    }
    out.timed("get_by_id", &mut samples);

    let mut samples = Samples::default();
    for _ in 0..s.reads {
        let ext = &tenants[pick(tenants.len())].external_id;
        assert!(samples.time(|| engine.get_by_external_id(ext)));
    }
    out.timed("get_by_external_id", &mut samples);

    let mut samples = Samples::default();
    for i in 0..s.pages {
        let (got, _) = samples.time(|| engine.first_page(i % 2 == 1, 100));
        assert_eq!(got, 100.min(n as usize / 2));
    }
    out.timed("list_first_page", &mut samples);

    // A cursor at depth n/2 of the whole store: the middle of each region's listing.
    let depth = (n / 4) as usize;
    let mut cursors = Vec::new();
    for eu in [false, true] {
        let (_, mut cursor) = engine.first_page(eu, 100);
        let mut walked = 100;
        while walked < depth {
            let (_, c) = engine.page_from(eu, cursor.as_ref().expect("more pages"), 100);
            cursor = c;
            walked += 100;
        }
        cursors.push(cursor.expect("cursor at depth"));
    }
    let mut samples = Samples::default();
    for i in 0..s.pages {
        let eu = i % 2 == 1;
        let (got, _) = samples.time(|| engine.page_from(eu, &cursors[usize::from(eu)], 100));
        assert_eq!(got, 100);
    }
    let deep_name = if name == "sqlite" {
        "list_deep_page_keyset"
    } else {
        "list_deep_page"
    };
    out.timed(deep_name, &mut samples);
    if let Some(sqlite) =
        (&engine as &dyn std::any::Any).downcast_ref::<engines::sqlite_engine::SqliteEngine>()
    {
        let mut samples = Samples::default();
        for i in 0..s.pages.min(200) {
            let (got, _) = samples.time(|| sqlite.page_at_offset(i % 2 == 1, depth, 100));
            assert_eq!(got, 100);
        }
        out.timed("list_deep_page_offset", &mut samples);
    }

    let mut samples = Samples::default();
    for i in 0..s.writes {
        let k = &keys[pick(keys.len())];
        let name = format!("Renamed {i}");
        samples.time(|| engine.update_display_name(k, &name));
    }
    out.timed("update_display_name", &mut samples);
    stop_after!("update_display_name", engine, out, path);

    // Change external ids of tenants that still have their original one.
    let mut samples = Samples::default();
    for i in 0..s.writes {
        let k = &keys[i * 7 % (n as usize)];
        let ext = format!("moved_{i}_{}", mix(i as u64) % 1_000_000);
        samples.time(|| engine.update_external_id(k, &ext));
    }
    out.timed("update_external_id", &mut samples);
    stop_after!("update_external_id", engine, out, path);

    let mut samples = Samples::default();
    for _ in 0..s.writes {
        let k = keys.swap_remove(pick(keys.len()));
        samples.time(|| engine.delete(&k));
    }
    out.timed("delete", &mut samples);
    stop_after!("delete", engine, out, path);

    // Mixed: 2 reader threads doing gets, 1 writer doing durable updates, writes held to a
    // tenth of all operations.
    let engine = Arc::new(engine);
    let keys = Arc::new(keys);
    let reads = Arc::new(AtomicU64::new(0));
    let writes = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for thread in 0..3usize {
        let (engine, keys, reads, writes, stop) = (
            engine.clone(),
            keys.clone(),
            reads.clone(),
            writes.clone(),
            stop.clone(),
        );
        handles.push(std::thread::spawn(move || {
            engines::set_thread_slot(thread);
            let mut samples = Samples::default();
            let mut state = mix(thread as u64 + 99);
            while !stop.load(Ordering::Relaxed) {
                state = mix(state);
                let k = &keys[(state % keys.len() as u64) as usize];
                if thread == 0 {
                    let (r, w) = (
                        reads.load(Ordering::Relaxed),
                        writes.load(Ordering::Relaxed),
                    );
                    if w * 9 > r {
                        std::thread::sleep(Duration::from_micros(50));
                        continue;
                    }
                    samples.time(|| engine.update_display_name(k, "mixed"));
                    writes.fetch_add(1, Ordering::Relaxed);
                } else {
                    samples.time(|| engine.get_by_id(k));
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            }
            samples
        }));
    }
    std::thread::sleep(s.mixed);
    stop.store(true, Ordering::Relaxed);
    let mut all = Samples::default();
    for h in handles {
        all.0.extend(h.join().expect("mixed thread").0);
    }
    let total = all.0.len() as u64;
    out.timed("mixed_90_10", &mut all);
    if let Some(last) = out.rows.last_mut() {
        last.ops_per_sec = Some((total as f64 / s.mixed.as_secs_f64()) as u64);
    }
    drop(keys);
    let engine = Arc::try_unwrap(engine).ok().expect("engine still shared");
    engines::before_size(&engine as &dyn std::any::Any);
    drop(engine);
    out.bytes("file_size", dir_size(path));
    if name == "orgstore" || name == "redb" {
        // Where the bytes of a redb file go (both use redb 4.6 and the same tables).
        let db = redb::Database::open(path).expect("open for stats");
        let stats = db.begin_write().expect("write").stats().expect("stats");
        out.bytes(
            "allocated_bytes",
            stats.allocated_pages() * stats.page_size() as u64,
        );
        out.bytes("stored_bytes", stats.stored_bytes());
        out.bytes("fragmented_bytes", stats.fragmented_bytes());
    }

    let mut samples = Samples::default();
    for _ in 0..5 {
        samples
            .0
            .push(E::reopen_time(path, false).as_nanos() as u64);
    }
    out.timed("reopen", &mut samples);
    let mut samples = Samples::default();
    for _ in 0..3 {
        samples.0.push(E::reopen_time(path, true).as_nanos() as u64);
    }
    out.timed("reopen_verified", &mut samples);
    let start = Instant::now();
    E::compact(path);
    eprintln!("  {name:<10} compaction took {:?}", start.elapsed());
    out.bytes("file_size_compacted", dir_size(path));
    out.bytes("peak_rss", peak_rss());
    out.rows
}

/// Minor and major page faults of this process so far (Linux `/proc/self/stat`).
fn faults() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3, minflt 10, majflt 12.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    (
        f.get(7).copied().unwrap_or(0),
        f.get(9).copied().unwrap_or(0),
    )
}

/// Peak resident set size of this process (Linux `VmHWM`), in bytes.
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn child(engine: &str, n: u64) -> Vec<Row> {
    let dir = tempfile::Builder::new()
        .prefix("bench-compare-")
        .tempdir_in(workload::bench_dir())
        .expect("temp dir");
    let path = dir.path().join(format!("{engine}.db"));
    // Diagnostic: keep the engine's file (with BENCH_STOP_AFTER, as it stood after that phase).
    let _dir = if std::env::var_os("BENCH_KEEP").is_some() {
        eprintln!("  keeping {}", path.display());
        let _ = dir.keep();
        None
    } else {
        Some(dir)
    };
    if std::env::var_os("BENCH_TRACE_SIZE").is_some() {
        std::env::set_var("BENCH_TRACE_SIZE", &path);
    }
    match engine {
        "orgstore" => run(
            engines::orgstore_engine::OrgStoreEngine::open(&path),
            "orgstore",
            &path,
            n,
        ),
        "redb" => run(
            engines::redb_engine::RedbEngine::open(&path),
            "redb",
            &path,
            n,
        ),
        "sqlite" => run(
            engines::sqlite_engine::SqliteEngine::open(&path, 3),
            "sqlite",
            &path,
            n,
        ),
        "native_db" => run(
            engines::native_engine::NativeEngine::open(&path),
            "native_db",
            &path,
            n,
        ),
        other => panic!("unknown engine {other}"),
    }
}

/// The median over rounds of every figure of each (engine, op).
fn aggregate(raw: Vec<Row>, rounds: u64) -> Vec<Row> {
    let mut out: Vec<Row> = Vec::new();
    for r in &raw {
        if out.iter().any(|o| o.engine == r.engine && o.op == r.op) {
            continue;
        }
        let same: Vec<&Row> = raw
            .iter()
            .filter(|o| o.engine == r.engine && o.op == r.op)
            .collect();
        let med = |f: &dyn Fn(&Row) -> Option<u64>| -> Option<u64> {
            let mut v: Vec<u64> = same.iter().filter_map(|r| f(r)).collect();
            v.sort_unstable();
            (!v.is_empty()).then(|| v[v.len() / 2])
        };
        out.push(Row {
            median_ns: med(&|r| r.median_ns),
            p99_ns: med(&|r| r.p99_ns),
            ops: med(&|r| r.ops),
            bytes: med(&|r| r.bytes),
            ops_per_sec: med(&|r| r.ops_per_sec),
            rounds: Some(rounds),
            ..r.clone()
        });
    }
    out
}

/// What the figures were measured on.
fn machine_rows(n: u64) -> Vec<Row> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown".into(), |s| s.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    let mem_kb: u64 = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
    let note = |op: &str, text: String| Row {
        engine: "machine".into(),
        op: op.into(),
        orgs: n,
        median_ns: None,
        p99_ns: None,
        ops: None,
        bytes: None,
        ops_per_sec: None,
        note: Some(text),
        rounds: None,
    };
    let mut rows = vec![
        note("cpu", format!("{cpu}, {cores} cores available")),
        note("memory", format!("{} GiB", mem_kb / 1024 / 1024)),
        note("kernel", format!("Linux {kernel}")),
        note(
            "cache",
            format!(
                "{} MiB page cache for every engine",
                *engines::CACHE_BYTES / 1024 / 1024
            ),
        ),
        note(
            "allocator",
            match std::env::var("GLIBC_TUNABLES") {
                Ok(t) if !t.is_empty() => format!("glibc malloc, GLIBC_TUNABLES={t}"),
                _ => "glibc malloc, default settings".into(),
            },
        ),
        note(
            "versions",
            format!(
                "redb 4.6.0, SQLite {} (rusqlite, bundled), native_db 0.8.2 (redb 2.x inside)",
                rusqlite::version()
            ),
        ),
    ];
    // fsync cost of the disk the engines used.
    if let Some(fsync) = workload::fsync_note(&workload::bench_dir()) {
        rows.push(note("fsync", fsync));
    }
    rows
}

fn usage() -> ! {
    eprintln!(
        "usage: bench-compare [--orgs N] [--json PATH] [--engines a,b]\n       \
         bench-compare report --json PATH [--json PATH ...] [--server-json PATH] [--pg-json PATH]\n                            \
         [--concurrent-json PATH] [--out BENCHMARKS.md]"
    );
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut orgs = 100_000u64;
    let mut json: Vec<PathBuf> = Vec::new();
    let mut engines: Vec<String> = ENGINES.iter().map(|s| s.to_string()).collect();
    let mut child_engine = None;
    let mut out_md = None;
    let mut server_json = None;
    let mut pg_json = None;
    let mut concurrent_json = None;
    let mut rounds = 1usize;
    let report_mode = args.first().is_some_and(|a| a == "report");
    let mut it = args.iter().skip(usize::from(report_mode));
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_else(|| usage());
        match a.as_str() {
            "--orgs" => orgs = value().replace('_', "").parse().unwrap_or_else(|_| usage()),
            "--json" => json.push(value().into()),
            "--engines" => engines = value().split(',').map(String::from).collect(),
            "--child" => child_engine = Some(value()),
            "--rounds" => rounds = value().parse().unwrap_or_else(|_| usage()),
            "--out" => out_md = Some(PathBuf::from(value())),
            "--server-json" => server_json = Some(PathBuf::from(value())),
            "--pg-json" => pg_json = Some(PathBuf::from(value())),
            "--concurrent-json" => concurrent_json = Some(PathBuf::from(value())),
            _ => usage(),
        }
    }
    if report_mode {
        let out = out_md.unwrap_or_else(|| "BENCHMARKS.md".into());
        report::write(
            &json,
            server_json.as_deref(),
            pg_json.as_deref(),
            concurrent_json.as_deref(),
            &out,
        );
        eprintln!("wrote {}", out.display());
        return;
    }
    if let Some(engine) = child_engine {
        let rows = child(&engine, orgs);
        println!("{}", serde_json::to_string(&rows).expect("json"));
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    let mut raw: Vec<Row> = Vec::new();
    for round in 0..rounds {
        // Alternate the engine order between rounds, so no engine always runs first.
        let mut order = engines.clone();
        if round % 2 == 1 {
            order.reverse();
        }
        for engine in &order {
            eprintln!(
                "round {}/{rounds}, {engine}: {orgs} organizations",
                round + 1
            );
            let output = std::process::Command::new(&exe)
                .args(["--child", engine, "--orgs", &orgs.to_string()])
                .stderr(std::process::Stdio::inherit())
                .output()
                .expect("run engine");
            assert!(output.status.success(), "{engine} failed");
            let mut part: Vec<Row> = serde_json::from_slice(&output.stdout).expect("engine output");
            raw.append(&mut part);
        }
    }
    let mut rows = aggregate(raw, rounds as u64);
    rows.extend(machine_rows(orgs));
    workload::write_json(&rows, json.first().map(PathBuf::as_path));
}
