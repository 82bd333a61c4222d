//! Turns result JSON files into BENCHMARKS.md: tables per size, ratios, targets.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::concurrent_rows::ConcurrentRow;
use crate::pg_rows::PgRow;
use crate::server_rows::ServerRow;
use crate::{Row, ENGINES};

const TIMED_OPS: [(&str, &str); 20] = [
    ("bulk_load", "bulk load, per org (1,000 per transaction)"),
    ("durable_create", "create, one durable transaction"),
    ("get_by_id", "get by id"),
    ("get_by_external_id", "get by external id"),
    ("list_first_page", "list first page (100)"),
    ("list_deep_page", "list page at depth n/2 (keyset)"),
    ("list_deep_page_keyset", "list page at depth n/2 (keyset)"),
    ("list_deep_page_offset", "list page at depth n/2 (OFFSET)"),
    ("update_display_name", "update display name, durable"),
    ("update_external_id", "update external id, durable"),
    ("delete", "delete, durable"),
    ("mixed_90_10", "mixed 90/10, 2 readers + 1 writer"),
    ("reopen", "reopen"),
    ("reopen_verified", "reopen with integrity check"),
    ("file_size", "file size, as closed"),
    ("file_size_compacted", "file size after compaction"),
    ("allocated_bytes", "redb: allocated pages"),
    ("stored_bytes", "redb: stored bytes"),
    ("fragmented_bytes", "redb: free space inside the file"),
    ("peak_rss", "peak RSS"),
];

fn find<'a>(rows: &'a [Row], engine: &str, op: &str, n: u64) -> Option<&'a Row> {
    let op = match (engine, op) {
        ("sqlite", "list_deep_page") => "list_deep_page_keyset",
        _ => op,
    };
    rows.iter()
        .find(|r| r.engine == engine && r.op == op && r.orgs == n)
}

fn value(r: &Row) -> Option<f64> {
    r.median_ns.or(r.bytes).map(|v| v as f64)
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn fmt_bytes(b: f64) -> String {
    format!("{:.1} MiB", b / (1024.0 * 1024.0))
}

fn fmt(r: &Row) -> String {
    match (r.median_ns, r.bytes) {
        (Some(ns), _) => {
            let mut s = fmt_ns(ns as f64);
            if let Some(t) = r.ops_per_sec {
                let _ = write!(s, " ({t} ops/s)");
            }
            s
        }
        (None, Some(b)) => fmt_bytes(b as f64),
        _ => "—".into(),
    }
}

fn ratio(rows: &[Row], op: &str, n: u64, over: &str) -> Option<f64> {
    let a = value(find(rows, "orgstore", op, n)?)?;
    let b = value(find(rows, over, op, n)?)?;
    (b > 0.0).then(|| a / b)
}

struct Target {
    what: String,
    measured: f64,
    limit: f64,
    // `true`: measured must be below the limit strictly.
    strict: bool,
}

/// The operations with targets against both raw redb and SQLite.
const READS_PAGES_BULK: [&str; 5] = [
    "get_by_id",
    "get_by_external_id",
    "list_first_page",
    "list_deep_page",
    "bulk_load",
];

/// The one-shot durable writes with targets against raw redb and SQLite.
const DURABLE_WRITES: [&str; 3] = ["durable_create", "update_display_name", "delete"];

fn targets(rows: &[Row], n: u64) -> Vec<Target> {
    let mut out = Vec::new();
    let mut vs = |op: &str, over: &str, limit: f64, strict: bool| {
        if let Some(m) = ratio(rows, op, n, over) {
            out.push(Target {
                what: format!("{op}: orgstore / {over}"),
                measured: m,
                limit,
                strict,
            });
        }
    };
    for op in READS_PAGES_BULK {
        // A page may cost at most 1.05 × the floor's; the other reads and the load 1.2 ×.
        let limit = if op.starts_with("list_") { 1.05 } else { 1.2 };
        vs(op, "redb", limit, false);
    }
    for op in DURABLE_WRITES {
        vs(op, "redb", 1.1, false);
    }
    vs("file_size", "redb", 1.2, false);
    vs("file_size_compacted", "redb", 1.2, false);
    vs("allocated_bytes", "redb", 1.2, false);
    for op in READS_PAGES_BULK {
        vs(op, "sqlite", 1.0, true);
    }
    for op in DURABLE_WRITES {
        vs(op, "sqlite", 1.25, false);
    }
    vs("list_first_page", "native_db", 1.0, true);
    // Targets on OrgStore's own figures.
    let own = |op: &str| find(rows, "orgstore", op, n).and_then(value);
    let own_ratio = |a: &str, b: &str| own(a).zip(own(b)).map(|(a, b)| a / b);
    let mut push = |what: &str, measured: Option<f64>, limit: f64| {
        if let Some(measured) = measured {
            out.push(Target {
                what: format!("orgstore: {what}"),
                measured,
                limit,
                strict: false,
            });
        }
    };
    push(
        "file size as closed / allocated pages",
        own_ratio("file_size", "allocated_bytes"),
        1.2,
    );
    push(
        "KB written per durable create",
        own("bytes_written_per_durable_create").map(|b| b / 1000.0),
        22.0,
    );
    push(
        "deep page / first page",
        own_ratio("list_deep_page", "list_first_page"),
        1.5,
    );
    out
}

/// What sets a result file apart from the default setup (OrgStore's default cache for every
/// engine, default allocator).
fn variant(rows: &[Row]) -> Option<String> {
    let note = |op: &str| {
        rows.iter()
            .find(|r| r.engine == "machine" && r.op == op)
            .and_then(|r| r.note.clone())
    };
    let parts: Vec<String> = [
        note("cache").filter(|n| {
            !n.starts_with(&format!(
                "{} MiB",
                orgstore::DEFAULT_CACHE_SIZE / 1024 / 1024
            ))
        }),
        note("allocator").filter(|n| n.contains("GLIBC_TUNABLES")),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

pub fn write(
    json: &[PathBuf],
    server_json: Option<&Path>,
    pg_json: Option<&Path>,
    concurrent_json: Option<&Path>,
    out: &Path,
) {
    // One section per file, in the order given.
    let mut files: Vec<(String, Vec<Row>)> = Vec::new();
    for path in json {
        let text = std::fs::read_to_string(path).expect("read json");
        let rows: Vec<Row> = serde_json::from_str(&text).expect("parse json");
        files.push((path.display().to_string(), rows));
    }
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ =
        writeln!(
        md,
        "OrgStore against the floor (raw redb doing the same work on the same tables and value \
         bytes) and against what users would pick instead (SQLite through rusqlite, native_db), \
         on one tenant-shaped workload, side by side in one run per size. Generated by \
         `cargo run --release -p bench-compare -- report` from {}; every figure below is in \
         those files.\n",
        files.iter().map(|(s, _)| format!("`{s}`")).collect::<Vec<_>>().join(", ")
    );
    md.push_str(include_str!("report_intro.md"));
    if let Some((_, rows)) = files.first() {
        let _ = writeln!(md, "\n## Machine\n");
        for r in rows.iter().filter(|r| r.engine == "machine") {
            let _ = writeln!(
                md,
                "- {}: {}",
                r.op,
                r.note.clone().unwrap_or_else(|| fmt(r))
            );
        }
    }
    for (source, rows) in &files {
        let sizes: BTreeSet<u64> = rows
            .iter()
            .filter(|r| r.engine != "machine")
            .map(|r| r.orgs)
            .collect();
        for &n in &sizes {
            section(&mut md, rows, n, source, variant(rows).as_deref());
        }
    }
    md.push_str(include_str!("report_notes.md"));
    if let Some(path) = server_json {
        let text = std::fs::read_to_string(path).expect("read the server json");
        let rows: Vec<ServerRow> = serde_json::from_str(&text).expect("parse the server json");
        server_section(&mut md, &rows, &path.display().to_string());
    }
    if let Some(path) = pg_json {
        let text = std::fs::read_to_string(path).expect("read the postgres json");
        let rows: Vec<PgRow> = serde_json::from_str(&text).expect("parse the postgres json");
        pg_section(&mut md, &rows, &path.display().to_string());
    }
    if let Some(path) = concurrent_json {
        let text = std::fs::read_to_string(path).expect("read the concurrent json");
        let rows: Vec<ConcurrentRow> =
            serde_json::from_str(&text).expect("parse the concurrent json");
        concurrent_section(&mut md, &rows, &path.display().to_string());
    }
    std::fs::write(out, md).expect("write report");
}

fn server_label(op: &str) -> &str {
    match op {
        "get_by_id" => "get by id",
        "list_page" => "list, first page of 10",
        "create" => "create, durable",
        other => other,
    }
}

fn surface_label(surface: &str) -> &str {
    match surface {
        "rest" => "REST",
        "grpc" => "gRPC",
        other => other,
    }
}

fn opt_ns(ns: Option<u64>) -> String {
    ns.map_or("—".into(), |v| fmt_ns(v as f64))
}

fn opt_rate(rate: Option<f64>) -> String {
    rate.map_or("—".into(), |r| format!("{r:.0}"))
}

/// The connection count the targets are set at.
const TARGET_CONNECTIONS: u32 = 64;

/// The server benchmark: a table of every point against its floor, and the targets.
fn server_section(md: &mut String, rows: &[ServerRow], source: &str) {
    let _ = writeln!(md, "\n## Server: `orgstore serve` under load\n");
    let _ = writeln!(
        md,
        "Generated by `cargo run --release -p bench-compare -- report --server-json {source}` \
         from the run of `serverbench` recorded in `{source}`.\n"
    );
    md.push_str(include_str!("report_server.md"));
    let _ = writeln!(md, "\n### Run\n");
    for r in rows.iter().filter(|r| r.surface == "machine") {
        let _ = writeln!(md, "- {}: {}", r.op, r.note.as_deref().unwrap_or("—"));
    }
    let points: Vec<&ServerRow> = rows.iter().filter(|r| r.surface != "machine").collect();
    let _ = writeln!(md, "\n### Figures\n");
    let _ = writeln!(
        md,
        "| operation | surface | connections | answer | requests/s | p50 | p99 | p99 / p50 \
         | floor requests/s | floor p50 | floor p99 | server / floor | failed |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &points {
        let spread = match (r.p50_ns, r.p99_ns) {
            (Some(p50), Some(p99)) if p50 > 0 => format!("{:.1}", p99 as f64 / p50 as f64),
            _ => "—".into(),
        };
        let vs_floor = match (r.requests_per_s, r.floor_requests_per_s) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
            _ => "—".into(),
        };
        let failed = format!(
            "{} / {}",
            r.errors.map_or("—".into(), |e| e.to_string()),
            r.floor_errors.map_or("—".into(), |e| e.to_string())
        );
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} B | {} | {} | {} | {spread} | {} | {} | {} | {vs_floor} | {failed} |",
            server_label(&r.op),
            surface_label(&r.surface),
            r.connections.map_or("—".into(), |c| c.to_string()),
            r.response_bytes.map_or("—".into(), |b| b.to_string()),
            opt_rate(r.requests_per_s),
            opt_ns(r.p50_ns),
            opt_ns(r.p99_ns),
            opt_rate(r.floor_requests_per_s),
            opt_ns(r.floor_p50_ns),
            opt_ns(r.floor_p99_ns),
        );
    }
    let _ = writeln!(
        md,
        "\n`answer`: the size of the answer's body (gRPC: the message without its 5-byte \
         frame), the same from the server and the floor. `failed`: requests that failed against \
         the server / the floor (socket errors, timeouts, an HTTP status that is not 2xx, a gRPC \
         answer without its message); a point with failures meets no target.\n"
    );
    let _ = writeln!(md, "### Targets at {TARGET_CONNECTIONS} connections\n");
    let _ = writeln!(md, "| target | measured | limit | met |");
    let _ = writeln!(md, "|---|---|---|---|");
    let at = |op: &str, surface: &str| {
        points.iter().find(|r| {
            r.op == op && r.surface == surface && r.connections == Some(TARGET_CONNECTIONS)
        })
    };
    let clean = |r: &ServerRow| r.errors == Some(0) && r.floor_errors.unwrap_or(0) == 0;
    let mut target =
        |what: String, measured: Option<(f64, bool)>, limit: &str, ok: &dyn Fn(f64) -> bool| {
            let (value, met) = match measured {
                Some((m, clean)) => (
                    format!("{m:.2}"),
                    if ok(m) && clean { "yes" } else { "**no**" },
                ),
                None => ("not measured".into(), "—"),
            };
            let _ = writeln!(md, "| {what} | {value} | {limit} | {met} |");
        };
    for surface in ["rest", "grpc"] {
        let measured = at("get_by_id", surface).and_then(|r| {
            let (a, b) = (r.requests_per_s?, r.floor_requests_per_s?);
            (b > 0.0).then(|| (a / b, clean(r)))
        });
        target(
            format!(
                "{} get by id: requests/s, server / floor",
                surface_label(surface)
            ),
            measured,
            "≥ 0.5",
            &|m| m >= 0.5,
        );
    }
    let mut ops: Vec<(&str, &str)> = Vec::new();
    for r in &points {
        if !ops.contains(&(r.op.as_str(), r.surface.as_str())) {
            ops.push((r.op.as_str(), r.surface.as_str()));
        }
    }
    for (op, surface) in ops {
        let measured = at(op, surface).and_then(|r| {
            let (p50, p99) = (r.p50_ns?, r.p99_ns?);
            (p50 > 0).then(|| (p99 as f64 / p50 as f64, clean(r)))
        });
        target(
            format!("{} {}: p99 / p50", surface_label(surface), server_label(op)),
            measured,
            "≤ 10",
            &|m| m <= 10.0,
        );
    }
}

/// The table and the targets of one size of one result file.
fn section(md: &mut String, rows: &[Row], n: u64, source: &str, variant: Option<&str>) {
    match variant {
        None => {
            let _ = writeln!(md, "\n## {n} organizations\n");
        }
        Some(v) => {
            let _ = writeln!(md, "\n## {n} organizations, {v}\n");
        }
    }
    let _ = writeln!(
        md,
        "Median per operation (sizes in MiB), from `{source}`.\n"
    );
    let _ = write!(md, "| operation |");
    for e in ENGINES {
        let _ = write!(md, " {e} |");
    }
    let _ = writeln!(md, " orgstore / redb | orgstore / sqlite |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for (op, label) in TIMED_OPS {
        if op == "list_deep_page_keyset" {
            continue;
        }
        let cells: Vec<String> = ENGINES
            .iter()
            .map(|e| find(rows, e, op, n).map_or("—".into(), fmt))
            .collect();
        if cells.iter().all(|c| c == "—") {
            continue;
        }
        let r = |over| ratio(rows, op, n, over).map_or("—".into(), |x| format!("{x:.2}"));
        let _ = writeln!(
            md,
            "| {label} | {} | {} | {} |",
            cells.join(" | "),
            r("redb"),
            r("sqlite")
        );
    }
    match variant {
        None => {
            let _ = writeln!(md, "\n### Targets at {n}\n");
        }
        Some(v) => {
            let _ = writeln!(md, "\n### Targets at {n}, {v}\n");
        }
    }
    let _ = writeln!(md, "| target | measured | limit | met |");
    let _ = writeln!(md, "|---|---|---|---|");
    for t in targets(rows, n) {
        let met = if t.strict {
            t.measured < t.limit
        } else {
            t.measured <= t.limit
        };
        let _ = writeln!(
            md,
            "| {} | {:.2} | {}{:.2} | {} |",
            t.what,
            t.measured,
            if t.strict { "< " } else { "≤ " },
            t.limit,
            if met { "yes" } else { "**no**" }
        );
    }
}

/// The PostgreSQL engine against the hand-written schema: a table of every operation, and the
/// targets.
fn pg_section(md: &mut String, rows: &[PgRow], source: &str) {
    const OURS: &str = "orgstore-postgres";
    const HAND: &str = "handwritten-postgres";
    let _ = writeln!(md, "\n## PostgreSQL engine\n");
    let _ = writeln!(
        md,
        "Generated by `cargo run --release -p bench-compare -- report --pg-json {source}` from the \
         run of `pgbench` recorded in `{source}`: OrgStore's PostgreSQL engine against what a user \
         would write by hand (one table, native `UNIQUE` constraints, an index on `(region, id)`, \
         `count(*)`, keyset or `OFFSET` pages, one autocommitted statement per call), on the same \
         server, tenants and operations, one connection at a time except the concurrent rows.\n"
    );
    if let Some(note) = rows.iter().find_map(|r| r.note.clone()) {
        let _ = writeln!(md, "Settings: {note}.\n");
    }
    let get = |engine: &str, op: &str, threads: Option<u64>| {
        rows.iter()
            .find(|r| r.engine == engine && r.op == op && r.threads == threads)
    };
    let us = |ns: u64| format!("{:.1} µs", ns as f64 / 1000.0);
    let _ = writeln!(
        md,
        "| operation | OrgStore median | p99 | hand-written median | p99 | OrgStore / hand-written |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|");
    let ops = [
        ("durable_create", "durable create"),
        ("get_by_id", "get by id"),
        ("get_by_external_id", "get by external id"),
        ("list_first_page", "first page of 100, with the total"),
        (
            "list_deep_page",
            "page of 100 at depth n/4, keyset, with the total",
        ),
        ("count", "count of a region"),
    ];
    for (op, label) in ops {
        let (Some(a), Some(b)) = (get(OURS, op, None), get(HAND, op, None)) else {
            continue;
        };
        let _ = writeln!(
            md,
            "| {label} | {} | {} | {} | {} | {:.2} |",
            us(a.median_ns),
            us(a.p99_ns),
            us(b.median_ns),
            us(b.p99_ns),
            a.median_ns as f64 / b.median_ns.max(1) as f64
        );
    }
    if let Some(b) = get(HAND, "list_deep_page_offset", None) {
        let _ = writeln!(
            md,
            "| hand-written page at depth n/4 with `OFFSET` | | | {} | {} | |",
            us(b.median_ns),
            us(b.p99_ns)
        );
    }
    let _ = writeln!(
        md,
        "\n| concurrent durable creates | writers | creates/s | p50 | p99 |\n|---|---|---|---|---|"
    );
    for engine in [OURS, HAND] {
        for t in [1, 8] {
            if let Some(r) = get(engine, "concurrent_create", Some(t)) {
                let _ = writeln!(
                    md,
                    "| {engine} | {t} | {} | {} | {} |",
                    r.ops_per_s.unwrap_or(0),
                    us(r.median_ns),
                    us(r.p99_ns)
                );
            }
        }
    }
    let _ = writeln!(
        md,
        "\n| target | measured | limit | met |\n|---|---|---|---|"
    );
    let mut target = |what: &str, measured: Option<f64>, limit: &str, ok: &dyn Fn(f64) -> bool| {
        let (value, met) = match measured {
            Some(m) => (format!("{m:.2}"), if ok(m) { "yes" } else { "**no**" }),
            None => ("not measured".into(), "—"),
        };
        let _ = writeln!(md, "| {what} | {value} | {limit} | {met} |");
    };
    let ratio = |op: &str, other: &str| {
        Some(
            get(OURS, op, None)?.median_ns as f64 / get(HAND, other, None)?.median_ns.max(1) as f64,
        )
    };
    for (op, label) in [
        ("get_by_id", "get by id, OrgStore / hand-written"),
        (
            "get_by_external_id",
            "get by external id, OrgStore / hand-written",
        ),
        ("durable_create", "durable create, OrgStore / hand-written"),
    ] {
        target(label, ratio(op, op), "≤ 1.2", &|m| m <= 1.2);
    }
    target(
        "deep page with total, OrgStore / hand-written OFFSET",
        ratio("list_deep_page", "list_deep_page_offset"),
        "< 1",
        &|m| m < 1.0,
    );
    target(
        "deep page with total, OrgStore / hand-written keyset",
        ratio("list_deep_page", "list_deep_page"),
        "< 1",
        &|m| m < 1.0,
    );
    target(
        "count, OrgStore / hand-written",
        ratio("count", "count"),
        "< 1",
        &|m| m < 1.0,
    );
    target(
        "OrgStore pages flat with depth: deep / first",
        get(OURS, "list_deep_page", None)
            .zip(get(OURS, "list_first_page", None))
            .map(|(d, f)| d.median_ns as f64 / f.median_ns.max(1) as f64),
        "≤ 1.2",
        &|m| m <= 1.2,
    );
    let tput = |engine: &str, t: u64| get(engine, "concurrent_create", Some(t))?.ops_per_s;
    target(
        "8 writers / 1 writer, OrgStore creates/s",
        tput(OURS, 8)
            .zip(tput(OURS, 1))
            .map(|(a, b)| a as f64 / b.max(1) as f64),
        "≥ 2",
        &|m| m >= 2.0,
    );
    target(
        "8 writers, OrgStore / hand-written creates/s",
        tput(OURS, 8)
            .zip(tput(HAND, 8))
            .map(|(a, b)| a as f64 / b.max(1) as f64),
        "≥ 0.8",
        &|m| m >= 0.8,
    );
}

/// The writer count the concurrent targets are set at.
const CONCURRENT_TARGET_THREADS: u64 = 8;

/// One ratio of the concurrent benchmark, with the limit of its target.
struct ConcurrentRatio {
    what: String,
    measured: Option<f64>,
    limit: &'static str,
    ok: fn(f64) -> bool,
}

/// The concurrent-writer benchmark: per operation a table of every point, then the targets.
fn concurrent_section(md: &mut String, rows: &[ConcurrentRow], source: &str) {
    let _ = writeln!(md, "\n## Concurrent durable writes\n");
    let _ = writeln!(
        md,
        "Generated by `cargo run --release -p bench-compare -- report --concurrent-json {source}` \
         from the run of `concurrent` recorded in `{source}`.\n"
    );
    md.push_str(include_str!("report_concurrent.md"));
    let _ = writeln!(md, "\n### Run\n");
    for r in rows.iter().filter(|r| r.engine == "machine") {
        let _ = writeln!(md, "- {}: {}", r.op, r.note.as_deref().unwrap_or("—"));
    }
    let points: Vec<&ConcurrentRow> = rows.iter().filter(|r| r.engine != "machine").collect();
    let at = |op: &str, engine: &str, threads: u64| {
        points
            .iter()
            .copied()
            .find(|r| r.op == op && r.engine == engine && r.threads == Some(threads))
    };
    let ops = [
        ("concurrent_durable_create", "Durable creates"),
        (
            "concurrent_durable_update",
            "Durable updates of the display name",
        ),
    ];
    for (op, title) in ops {
        let of_op: Vec<&ConcurrentRow> = points.iter().copied().filter(|r| r.op == op).collect();
        if of_op.is_empty() {
            continue;
        }
        let threads: BTreeSet<u64> = of_op.iter().filter_map(|r| r.threads).collect();
        let engines: Vec<&str> = ENGINES
            .iter()
            .copied()
            .filter(|e| of_op.iter().any(|r| r.engine == *e))
            .collect();
        let syncs = of_op.iter().any(|r| r.syncs_per_op.is_some());
        let _ = writeln!(md, "\n### {title} (`{op}`)\n");
        let _ = writeln!(
            md,
            "| writers | engine | ops/s | × its 1-writer ops/s | p50 | p99 | max | bytes written / op \
             | calls per thread |{}",
            if syncs { " syncs / op |" } else { "" }
        );
        let _ = writeln!(
            md,
            "|---|---|---|---|---|---|---|---|---|{}",
            if syncs { "---|" } else { "" }
        );
        for &t in &threads {
            for &e in &engines {
                let Some(r) = at(op, e, t) else { continue };
                let scale = match (r.ops_per_s, at(op, e, 1).and_then(|one| one.ops_per_s)) {
                    (Some(a), Some(b)) if b > 0 => format!("{:.2}", a as f64 / b as f64),
                    _ => "—".into(),
                };
                let spread = match (r.fewest_thread_ops, r.most_thread_ops) {
                    (Some(a), Some(b)) => format!("{a}–{b}"),
                    _ => "—".into(),
                };
                let _ = write!(
                    md,
                    "| {t} | {e} | {} | {scale} | {} | {} | {} | {} | {spread} |",
                    r.ops_per_s.map_or("—".into(), |v| v.to_string()),
                    opt_ns(r.median_ns),
                    opt_ns(r.p99_ns),
                    opt_ns(r.max_ns),
                    r.bytes_per_op.map_or("—".into(), |b| format!("{b} B")),
                );
                if syncs {
                    let _ = write!(
                        md,
                        " {} |",
                        r.syncs_per_op.map_or("—".into(), |s| format!("{s:.3}"))
                    );
                }
                let _ = writeln!(md);
            }
        }
    }
    // The three ratios, from the rows of one operation.
    let t = CONCURRENT_TARGET_THREADS;
    let ratios = |op: &str| -> [ConcurrentRatio; 3] {
        let rate = |e: &str, n: u64| at(op, e, n).and_then(|r| r.ops_per_s).map(|v| v as f64);
        let p99 = |e: &str, n: u64| at(op, e, n).and_then(|r| r.p99_ns).map(|v| v as f64);
        let over =
            |a: Option<f64>, b: Option<f64>| a.zip(b).and_then(|(a, b)| (b > 0.0).then(|| a / b));
        [
            ConcurrentRatio {
                what: format!("orgstore ops/s, {t} writers / 1 writer"),
                measured: over(rate("orgstore", t), rate("orgstore", 1)),
                limit: "≥ 4",
                ok: |m| m >= 4.0,
            },
            ConcurrentRatio {
                what: format!("ops/s at {t} writers, orgstore / sqlite"),
                measured: over(rate("orgstore", t), rate("sqlite", t)),
                limit: "≥ 3",
                ok: |m| m >= 3.0,
            },
            ConcurrentRatio {
                what: format!("orgstore p99, {t} writers / 1 writer"),
                measured: over(p99("orgstore", t), p99("orgstore", 1)),
                limit: "≤ 3",
                ok: |m| m <= 3.0,
            },
        ]
    };
    let _ = writeln!(md, "\n### Targets: durable creates at {t} writers\n");
    let _ = writeln!(md, "| target | measured | limit | met |\n|---|---|---|---|");
    for r in ratios("concurrent_durable_create") {
        let (value, met) = match r.measured {
            Some(m) => (format!("{m:.2}"), if (r.ok)(m) { "yes" } else { "**no**" }),
            None => ("not measured".into(), "—"),
        };
        let _ = writeln!(md, "| {} | {value} | {} | {met} |", r.what, r.limit);
    }
    let _ = writeln!(
        md,
        "\nThe same ratios for updates (no target is set on them):\n\n\
         | ratio | measured |\n|---|---|"
    );
    for r in ratios("concurrent_durable_update") {
        let value = r
            .measured
            .map_or("not measured".into(), |m| format!("{m:.2}"));
        let _ = writeln!(md, "| {} | {value} |", r.what);
    }
}
