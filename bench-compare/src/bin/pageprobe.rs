//! Probe: the cost of reading a page of 100 records straight from raw redb 4.6, at any store
//! size, outside the benchmark harness.
//!
//! ```text
//! cargo run --release -p bench-compare --bin pageprobe -- both 1000000 /path/to/probe.redb [CACHE_MB]
//! ```
//!
//! `load N FILE` writes N records (OrgStore's encoding, 1,000 per transaction); `read N FILE`
//! reads the first page of 100 records 2,000 times and prints the mean; `both` does both in one
//! process. `GETS=K` runs K random gets first; `BALLAST=1` (after opening) or `BALLAST_FIRST=1`
//! (before loading) fills the heap with a million small strings, as the harness's tenant list
//! does; `INDEXES=1` also fills two index tables at random positions; `REGIONS=1` splits the
//! records over two tables and alternates between them when reading.

#![allow(clippy::unwrap_used)]

#[path = "../workload.rs"]
#[allow(dead_code)]
mod workload;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::time::Instant;
const T: TableDefinition<&[u8], &[u8]> = TableDefinition::new("orgs");
const T2: TableDefinition<&[u8], &[u8]> = TableDefinition::new("orgs2");
const EXT: TableDefinition<&[u8], &[u8]> = TableDefinition::new("by_external_id");
const SLUG: TableDefinition<&[u8], &[u8]> = TableDefinition::new("by_slug");
fn key(i: u64) -> Vec<u8> {
    let mut k = vec![26u8];
    k.extend_from_slice(format!("{:026}", i).as_bytes());
    k
}
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = &args[1];
    let n: u64 = args[2].parse().unwrap();
    let path = &args[3];
    let cache: usize = args.get(4).map(|s| s.parse().unwrap()).unwrap_or(64) << 20;
    let _early: Vec<(String, Vec<(String, String)>)> =
        if std::env::var_os("BALLAST_FIRST").is_some() {
            (0..n)
                .map(|i| {
                    (
                        format!("Tenant {i}"),
                        (0..i % 11)
                            .map(|m| (format!("key{m}"), format!("value-{m}-{i}-abcdefgh")))
                            .collect(),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
    if mode == "load" || mode == "both" {
        let _ = std::fs::remove_file(path);
        let db = redb::Builder::new()
            .set_cache_size(cache)
            .create(path)
            .unwrap();
        let mut org =
            orgstore::internals::decode_record(&orgstore::internals::encode_record(&sample()))
                .unwrap();
        org.display_name = "Tenant Holdings 123456".into();
        let value = orgstore::internals::encode_record(&org);
        for c in 0..(n / 1000) {
            let w = db.begin_write().unwrap();
            if std::env::var_os("REOPEN").is_some() {
                // As the harness's raw-redb engine does: open each table for each operation.
                for i in c * 1000..(c + 1) * 1000 {
                    let tenant = workload::Tenant::generate(i);
                    let (o, e, s) = if tenant.eu {
                        (T2, EXT, SLUG)
                    } else {
                        (T, EXT, SLUG)
                    };
                    for def in [EXT, SLUG] {
                        let table = w.open_table(def).unwrap();
                        assert!(table.get(tenant.external_id.as_bytes()).unwrap().is_none());
                    }
                    let text = workload::ulid_text(tenant.id);
                    let mut k = vec![text.len() as u8];
                    k.extend_from_slice(text.as_bytes());
                    let v = orgstore::internals::encode_record(&tenant.to_org());
                    w.open_table(o)
                        .unwrap()
                        .insert(k.as_slice(), v.as_slice())
                        .unwrap();
                    w.open_table(e)
                        .unwrap()
                        .insert(tenant.external_id.as_bytes(), k.as_slice())
                        .unwrap();
                    if let Some(sl) = &tenant.slug {
                        w.open_table(s)
                            .unwrap()
                            .insert(sl.as_bytes(), k.as_slice())
                            .unwrap();
                    }
                }
            } else {
                let mut t = w.open_table(T).unwrap();
                let mut t2 = w.open_table(T2).unwrap();
                let two = std::env::var_os("REGIONS").is_some();
                let mut ext = w.open_table(EXT).unwrap();
                let mut slug = w.open_table(SLUG).unwrap();
                let indexes = std::env::var_os("INDEXES").is_some();
                for i in c * 1000..(c + 1) * 1000 {
                    if std::env::var_os("TENANTS").is_some() {
                        // The harness's own tenants, keys and bytes.
                        let tenant = workload::Tenant::generate(i);
                        if std::env::var_os("UNIQ").is_some() {
                            // The uniqueness probes the harness makes before each insert.
                            assert!(ext.get(tenant.external_id.as_bytes()).unwrap().is_none());
                            if let Some(sl) = &tenant.slug {
                                assert!(slug.get(sl.as_bytes()).unwrap().is_none());
                            }
                        }
                        let text = workload::ulid_text(tenant.id);
                        let mut k = vec![text.len() as u8];
                        k.extend_from_slice(text.as_bytes());
                        let v = orgstore::internals::encode_record(&tenant.to_org());
                        let table = if two && tenant.eu { &mut t2 } else { &mut t };
                        table.insert(k.as_slice(), v.as_slice()).unwrap();
                    } else if two && i % 2 == 1 {
                        t2.insert(key(i).as_slice(), value.as_slice()).unwrap();
                    } else {
                        t.insert(key(i).as_slice(), value.as_slice()).unwrap();
                    }
                    if indexes {
                        // Index keys at random positions, as external ids and slugs are.
                        let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
                        ext.insert(format!("cus_{h:016x}_{i}").as_bytes(), key(i).as_slice())
                            .unwrap();
                        slug.insert(format!("t-{:x}-{i}", h >> 7).as_bytes(), key(i).as_slice())
                            .unwrap();
                    }
                }
            }
            w.commit().unwrap();
        }
        if std::env::var_os("STATS").is_some() {
            let st = db.begin_write().unwrap().stats().unwrap();
            println!(
                "{n}: leaf pages {}, branch pages {}, stored bytes {}, fragmented bytes {}",
                st.leaf_pages(),
                st.branch_pages(),
                st.stored_bytes(),
                st.fragmented_bytes()
            );
        }
        if mode == "load" {
            return;
        }
        read_loop(&db, n);
    } else {
        let db = redb::Builder::new()
            .set_cache_size(cache)
            .open(path)
            .unwrap();
        read_loop(&db, n);
    }
}

/// A tenant-like heap: a name, an external id and metadata pairs per tenant.
type Ballast = Vec<(String, String, Vec<(String, String)>)>;

fn read_loop(db: &Database, n: u64) {
    {
        // Optionally fill the heap like the harness does (a million small tenants).
        let ballast: Ballast = if std::env::var_os("BALLAST").is_some() {
            (0..n)
                .map(|i| {
                    (
                        format!("Tenant {i}"),
                        format!("cus_{i:020}"),
                        (0..i % 11)
                            .map(|m| (format!("key{m}"), format!("v{m}{i}")))
                            .collect(),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        if let Some(g) = std::env::var("GETS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            let mut x = 12345u64;
            for _ in 0..g {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let r = db.begin_read().unwrap();
                let t = r.open_table(T).unwrap();
                let v = t.get(key((x >> 20) % n).as_slice()).unwrap().unwrap();
                let _ = orgstore::internals::decode_record(v.value()).unwrap();
            }
        }
        let reps = 2000;
        let start = Instant::now();
        let mut total = 0usize;
        let two = std::env::var_os("REGIONS").is_some();
        for rep in 0..reps {
            let r = db.begin_read().unwrap();
            let t = r
                .open_table(if two && rep % 2 == 1 { T2 } else { T })
                .unwrap();
            let collect = std::env::var_os("COLLECT").is_some();
            let mut kept = Vec::new();
            for item in t.range::<&[u8]>(..).unwrap().take(100) {
                let (k, v) = item.unwrap();
                let org = orgstore::internals::decode_record(v.value()).unwrap();
                total += k.value().len() + org.display_name.len();
                if collect {
                    kept.push(org);
                }
            }
            std::hint::black_box(&kept);
        }
        println!(
            "{n}: {:.1} us per page of 100 ({total}, ballast {})",
            start.elapsed().as_secs_f64() * 1e6 / reps as f64,
            ballast.len()
        );
    }
}

fn sample() -> orgstore::Organization {
    let t = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    orgstore::Organization {
        id: "org_1".parse().unwrap(),
        create_time: t,
        update_time: t,
        display_name: "x".into(),
        region_code: orgstore::Region::Us,
        external_id: Some("cus_abcdefghijklmnop_123456".into()),
        metadata: (0..5)
            .map(|m| (format!("key{m}"), format!("value-{m}-abcdefgh")))
            .collect(),
        settings: vec![],
        slug: Some("tenant-123456".into()),
        logo_url: None,
    }
}
