//! OrgStore's PostgreSQL engine against what a user would write by hand on PostgreSQL, on the
//! same server, the same tenants and the same operations.
//!
//! ```text
//! .ci/postgres start /tmp/bench-pg 55432          # prints the URL
//! cargo run --release -p bench-compare --bin pgbench -- \
//!     --postgres 'postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable' \
//!     --orgs 100000 --json bench-compare/results/postgres.json
//! cargo run --release -p bench-compare -- report --json … --pg-json bench-compare/results/postgres.json --out BENCHMARKS.md
//! ```
//!
//! The hand-written schema is one table with native `UNIQUE` constraints on `external_id` and
//! `slug`, an index on `(region, id)`, `count(*)` for totals and counts, and keyset or `OFFSET`
//! pages; each call one autocommitted statement. OrgStore runs with its defaults (durable
//! commits, a pool of 8). Both on the server's defaults: `fsync`, `synchronous_commit = on`,
//! no standby. `--smoke` runs a tiny size to prove the harness works.

#![allow(clippy::unwrap_used, clippy::pedantic)]

#[path = "../workload.rs"]
#[allow(dead_code)]
mod workload;

#[path = "../pg_rows.rs"]
mod pg_rows;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use orgstore::{ListRequest, Order, OrgStore, Readable, Region};
use pg_rows::PgRow;
use postgres::{Client, NoTls};
use workload::{mix, Samples, Tenant};

struct Args {
    url: String,
    orgs: u64,
    reads: usize,
    writes: usize,
    seconds: u64,
    json: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        url: std::env::var("BENCH_POSTGRES").unwrap_or_default(),
        orgs: 20_000,
        reads: 5_000,
        writes: 500,
        seconds: 3,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().expect("a value after the flag");
        match flag.as_str() {
            "--postgres" => a.url = value(),
            "--orgs" => a.orgs = value().parse().expect("--orgs N"),
            "--reads" => a.reads = value().parse().expect("--reads N"),
            "--writes" => a.writes = value().parse().expect("--writes N"),
            "--seconds" => a.seconds = value().parse().expect("--seconds N"),
            "--json" => a.json = Some(value()),
            "--smoke" => {
                a.orgs = 1_000;
                a.reads = 200;
                a.writes = 50;
                a.seconds = 1;
            }
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(
        !a.url.is_empty(),
        "give the server: --postgres URL (or BENCH_POSTGRES); .ci/postgres start DIR PORT starts one"
    );
    a
}

fn row(engine: &str, op: &str, orgs: u64, samples: &mut Samples) -> PgRow {
    let r = PgRow {
        engine: engine.into(),
        op: op.into(),
        orgs,
        threads: None,
        median_ns: samples.median(),
        p99_ns: samples.percentile(99.0),
        ops: samples.0.len() as u64,
        ops_per_s: None,
        note: None,
    };
    eprintln!(
        "  {engine:<22} {op:<28} median {:>9} ns  p99 {:>9} ns  ({} ops)",
        r.median_ns, r.p99_ns, r.ops
    );
    r
}

// ---------------------------------------------------------------------------------------------
// The schema a user would write by hand.

const HAND_SCHEMA: &str = "
    DROP SCHEMA IF EXISTS bench_hand CASCADE;
    CREATE SCHEMA bench_hand;
    CREATE TABLE bench_hand.orgs (
        id text PRIMARY KEY,
        region text NOT NULL,
        display_name text NOT NULL,
        external_id text UNIQUE,
        slug text UNIQUE,
        logo_url text,
        metadata text NOT NULL,
        create_time timestamptz NOT NULL,
        update_time timestamptz NOT NULL
    );
    CREATE INDEX orgs_region_id ON bench_hand.orgs (region, id);";

const HAND_INSERT: &str = "INSERT INTO bench_hand.orgs
    (id, region, display_name, external_id, slug, logo_url, metadata, create_time, update_time)
    VALUES ($1, $2, $3, $4, $5, NULL, $6, now(), now())";

fn region_text(eu: bool) -> &'static str {
    if eu {
        "EU"
    } else {
        "US"
    }
}

fn hand_insert(c: &mut Client, id: &str, t: &Tenant) {
    let meta = serde_json::to_string(&t.metadata).unwrap();
    c.execute(
        HAND_INSERT,
        &[
            &id,
            &region_text(t.eu),
            &t.display_name,
            &t.external_id,
            &t.slug,
            &meta,
        ],
    )
    .unwrap();
}

fn hand_id() -> String {
    format!("org_{}", ulid::Ulid::new())
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let a = args();
    let mut rows = Vec::new();
    let n = a.orgs;
    let tenants: Vec<Tenant> = (0..n).map(Tenant::generate).collect();
    let mut pick = {
        let mut state = 0x5EED_u64;
        move |len: usize| {
            state = mix(state);
            (state % len as u64) as usize
        }
    };

    // --- OrgStore on PostgreSQL.
    let schema = format!("bench_orgstore_{}", std::process::id());
    let store = OrgStore::builder()
        .postgres_schema(&schema)
        .postgres(&a.url)
        .expect("connect");
    eprintln!("orgstore-postgres: loading {n} organizations");
    let mut ids = Vec::with_capacity(tenants.len());
    for batch in tenants.chunks(1000) {
        store
            .transaction(|t| {
                for tenant in batch {
                    ids.push(t.create(tenant.to_new())?.id);
                }
                Ok::<_, orgstore::Error>(())
            })
            .expect("load");
    }
    let e = "orgstore-postgres";
    let mut next = n;
    let mut s = Samples::default();
    for _ in 0..a.writes {
        let t = Tenant::generate(next);
        next += 1;
        ids.push(s.time(|| store.create(t.to_new()).expect("create").id));
    }
    rows.push(row(e, "durable_create", n, &mut s));
    let mut s = Samples::default();
    for _ in 0..a.reads {
        let id = &ids[pick(ids.len())];
        assert!(s.time(|| store.get(id).unwrap()).is_some());
    }
    rows.push(row(e, "get_by_id", n, &mut s));
    let mut s = Samples::default();
    for _ in 0..a.reads {
        let ext = &tenants[pick(tenants.len())].external_id;
        assert!(s.time(|| store.get_by_external_id(ext).unwrap()).is_some());
    }
    rows.push(row(e, "get_by_external_id", n, &mut s));
    let first = ListRequest::new()
        .region(Region::Us)
        .order(Order::OldestFirst)
        .page_size(100);
    let mut s = Samples::default();
    for _ in 0..a.reads / 5 {
        let page = s.time(|| store.list(&first).unwrap());
        assert_eq!(page.organizations.len(), 100);
    }
    rows.push(row(e, "list_first_page", n, &mut s));
    // A token at a quarter of the US listing (half of the store's depth in one region).
    let depth = (n / 4) as usize;
    let mut request = first.clone();
    for _ in 0..depth / 100 {
        let page = store.list(&request).unwrap();
        request = first.clone().page_token(page.next_page_token);
    }
    let mut s = Samples::default();
    for _ in 0..a.reads / 5 {
        let page = s.time(|| store.list(&request).unwrap());
        assert_eq!(page.organizations.len(), 100);
    }
    rows.push(row(e, "list_deep_page", n, &mut s));
    let mut s = Samples::default();
    for _ in 0..a.reads {
        s.time(|| store.count(Some(Region::Us)).unwrap());
    }
    rows.push(row(e, "count", n, &mut s));
    for threads in [1u64, 8] {
        let store = &store;
        rows.push(concurrent_with(e, n, threads, a.seconds, || {
            move |t: u64| {
                store.create(Tenant::generate(t).to_new()).expect("create");
            }
        }));
    }
    // Agreement: the store is whole.
    let total = store.begin_read().unwrap().count(None).unwrap();
    eprintln!("orgstore-postgres: {total} organizations, checking indexes");
    assert_eq!(store.check_indexes().unwrap(), total);
    drop(store);

    // --- The hand-written schema.
    let e = "handwritten-postgres";
    let mut c = Client::connect(&a.url, NoTls).expect("connect");
    c.batch_execute(HAND_SCHEMA).unwrap();
    eprintln!("{e}: loading {n} organizations");
    let mut hand_ids = Vec::with_capacity(tenants.len());
    for batch in tenants.chunks(1000) {
        let mut t = c.transaction().unwrap();
        let meta_stmt = t.prepare(HAND_INSERT).unwrap();
        for tenant in batch {
            let id = format!("org_{}", workload::ulid_text(tenant.id));
            let meta = serde_json::to_string(&tenant.metadata).unwrap();
            t.execute(
                &meta_stmt,
                &[
                    &id,
                    &region_text(tenant.eu),
                    &tenant.display_name,
                    &tenant.external_id,
                    &tenant.slug,
                    &meta,
                ],
            )
            .unwrap();
            hand_ids.push(id);
        }
        t.commit().unwrap();
    }
    c.batch_execute("ANALYZE bench_hand.orgs").unwrap();
    let mut s = Samples::default();
    for _ in 0..a.writes {
        let t = Tenant::generate(next);
        next += 1;
        let id = hand_id();
        s.time(|| hand_insert(&mut c, &id, &t));
        hand_ids.push(id);
    }
    rows.push(row(e, "durable_create", n, &mut s));
    let by_id = c
        .prepare("SELECT * FROM bench_hand.orgs WHERE id = $1")
        .unwrap();
    let mut s = Samples::default();
    for _ in 0..a.reads {
        let id = &hand_ids[pick(hand_ids.len())];
        assert!(s.time(|| c.query_opt(&by_id, &[id]).unwrap()).is_some());
    }
    rows.push(row(e, "get_by_id", n, &mut s));
    let by_ext = c
        .prepare("SELECT * FROM bench_hand.orgs WHERE external_id = $1")
        .unwrap();
    let mut s = Samples::default();
    for _ in 0..a.reads {
        let ext = &tenants[pick(tenants.len())].external_id;
        assert!(s.time(|| c.query_opt(&by_ext, &[ext]).unwrap()).is_some());
    }
    rows.push(row(e, "get_by_external_id", n, &mut s));
    let count = c
        .prepare("SELECT count(*) FROM bench_hand.orgs WHERE region = $1")
        .unwrap();
    let keyset = c
        .prepare(
            "SELECT * FROM bench_hand.orgs WHERE region = $1 AND id > $2 ORDER BY id LIMIT 100",
        )
        .unwrap();
    let offset = c
        .prepare("SELECT * FROM bench_hand.orgs WHERE region = $1 ORDER BY id LIMIT 100 OFFSET $2")
        .unwrap();
    // A page as a list endpoint serves it: the rows and the total.
    let page = |c: &mut Client, after: &str| {
        let rows = c.query(&keyset, &[&"US", &after]).unwrap();
        let total: i64 = c.query_one(&count, &[&"US"]).unwrap().get(0);
        (rows, total)
    };
    let mut s = Samples::default();
    for _ in 0..a.reads / 5 {
        let (r, _) = s.time(|| page(&mut c, ""));
        assert_eq!(r.len(), 100);
    }
    rows.push(row(e, "list_first_page", n, &mut s));
    let mut after = String::new();
    for _ in 0..depth / 100 {
        let (r, _) = page(&mut c, &after);
        after = r.last().unwrap().get::<_, String>(0);
    }
    let mut s = Samples::default();
    for _ in 0..a.reads / 5 {
        let (r, _) = s.time(|| page(&mut c, &after));
        assert_eq!(r.len(), 100);
    }
    rows.push(row(e, "list_deep_page", n, &mut s));
    let mut s = Samples::default();
    let skip = depth as i64;
    for _ in 0..a.reads / 5 {
        let (r, _) = s.time(|| {
            let r = c.query(&offset, &[&"US", &skip]).unwrap();
            let total: i64 = c.query_one(&count, &[&"US"]).unwrap().get(0);
            (r, total)
        });
        assert_eq!(r.len(), 100);
    }
    rows.push(row(e, "list_deep_page_offset", n, &mut s));
    let mut s = Samples::default();
    for _ in 0..a.reads / 5 {
        s.time(|| c.query_one(&count, &[&"US"]).unwrap());
    }
    rows.push(row(e, "count", n, &mut s));
    for threads in [1u64, 8] {
        let url = a.url.clone();
        rows.push(concurrent_with(e, n, threads, a.seconds, move || {
            let mut c = Client::connect(&url, NoTls).unwrap();
            move |t: u64| {
                let tenant = Tenant::generate(t);
                hand_insert(&mut c, &hand_id(), &tenant);
            }
        }));
    }
    c.batch_execute("DROP SCHEMA bench_hand CASCADE").unwrap();
    let mut cleanup = Client::connect(&a.url, NoTls).unwrap();
    cleanup
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();

    if let Some(first) = rows.first_mut() {
        first.note = Some(format!(
            "{} cores; one PostgreSQL server on loopback (fsync on, synchronous_commit on, no standby); {n} organizations",
            std::thread::available_parallelism().map_or(0, |p| p.get())
        ));
    }
    workload::write_json(&rows, a.json.as_deref().map(std::path::Path::new));
}

/// `threads` writers, each made by `make`, calling it with fresh tenant numbers for `seconds`:
/// throughput and latency.
fn concurrent_with<M, F>(engine: &str, n: u64, threads: u64, seconds: u64, make: M) -> PgRow
where
    M: Fn() -> F + Sync,
    F: FnMut(u64),
{
    static NEXT: AtomicU64 = AtomicU64::new(10_000_000_000);
    let stop = AtomicBool::new(false);
    let all = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (stop, make) = (&stop, &make);
                scope.spawn(move || {
                    let mut op = make();
                    let mut s = Samples::default();
                    while !stop.load(Ordering::Relaxed) {
                        let t = NEXT.fetch_add(1, Ordering::Relaxed);
                        s.time(|| op(t));
                    }
                    s
                })
            })
            .collect();
        let started = Instant::now();
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
        let mut all = Samples::default();
        for h in handles {
            all.0.extend(h.join().unwrap().0);
        }
        (all, started.elapsed())
    });
    let (mut samples, elapsed) = all;
    let mut r = row(engine, "concurrent_create", n, &mut samples);
    r.threads = Some(threads);
    r.ops_per_s = Some((r.ops as f64 / elapsed.as_secs_f64()) as u64);
    eprintln!(
        "  {engine:<22} {threads} writers: {} creates/s",
        r.ops_per_s.unwrap_or(0)
    );
    r
}
