//! Criterion benchmarks of OrgStore's own operations on a populated store file.
//!
//! ```text
//! cargo bench --bench ops                              # 10k organizations
//! ORGSTORE_BENCH_SIZES=10000,100000 cargo bench --bench ops
//! ```
//!
//! Each size gets a fresh store in a temp directory, bulk-loaded in batches of 1,000 per
//! transaction (half US, half EU, 0–10 metadata pairs), then timed operation by operation.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use orgstore::{
    Durability, ListRequest, NewOrganization, Order, OrgId, OrgStore, OrganizationUpdate, Region,
};

fn sizes() -> Vec<usize> {
    std::env::var("ORGSTORE_BENCH_SIZES").ok().map_or_else(
        || vec![10_000],
        |s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect(),
    )
}

fn tenant(i: usize) -> NewOrganization {
    let region = if i.is_multiple_of(2) {
        Region::Us
    } else {
        Region::Eu
    };
    let mut new = NewOrganization::new(format!("Tenant {i} Holdings"))
        .external_id(format!("tenant-{i:08}"))
        .slug(format!("tenant-{i}"))
        .region(region);
    for m in 0..(i % 11) {
        new = new.metadata(format!("key{m}"), format!("value-{m}-{i}"));
    }
    new
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: OrgStore,
    ids: Vec<OrgId>,
    next: usize,
}

fn populate(n: usize, durability: Durability) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = OrgStore::builder()
        .durability(durability)
        .open(dir.path().join("bench.redb"))
        .expect("open");
    let mut ids = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(1_000) {
        store
            .transaction(|t| {
                for &i in chunk {
                    ids.push(t.create(tenant(i))?.id);
                }
                Ok::<_, orgstore::Error>(())
            })
            .expect("load");
    }
    Fixture {
        _dir: dir,
        store,
        ids,
        next: n,
    }
}

fn bench(c: &mut Criterion) {
    for n in sizes() {
        let mut f = populate(n, Durability::Immediate);
        let mut g = c.benchmark_group(format!("orgs_{n}"));
        g.measurement_time(Duration::from_secs(3));
        g.sample_size(30);

        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("get_by_id", n), |b| {
            b.iter(|| {
                i = (i + 7919) % n;
                black_box(f.store.get(&f.ids[i]).expect("get"))
            });
        });
        g.bench_function(BenchmarkId::new("get_by_external_id", n), |b| {
            b.iter(|| {
                i = (i + 7919) % n;
                black_box(
                    f.store
                        .get_by_external_id(&format!("tenant-{i:08}"))
                        .expect("get"),
                )
            });
        });
        g.bench_function(BenchmarkId::new("get_by_slug", n), |b| {
            b.iter(|| {
                i = (i + 7919) % n;
                black_box(f.store.get_by_slug(&format!("tenant-{i}")).expect("get"))
            });
        });
        let first = ListRequest::new()
            .region(Region::Us)
            .order(Order::OldestFirst)
            .page_size(100);
        g.bench_function(BenchmarkId::new("list_first_page", n), |b| {
            b.iter(|| black_box(f.store.list(&first).expect("list")));
        });
        // A token at depth n/2: walk there once.
        let mut deep = first.clone();
        for _ in 0..(n / 2 / 2 / 100) {
            let page = f.store.list(&deep).expect("list");
            deep = deep.page_token(page.next_page_token);
        }
        g.bench_function(BenchmarkId::new("list_deep_page", n), |b| {
            b.iter(|| black_box(f.store.list(&deep).expect("list")));
        });
        g.bench_function(BenchmarkId::new("durable_create", n), |b| {
            b.iter(|| {
                f.next += 1;
                black_box(f.store.create(tenant(f.next)).expect("create"))
            });
        });
        let mut flip = false;
        g.bench_function(BenchmarkId::new("durable_update_display_name", n), |b| {
            b.iter(|| {
                i = (i + 7919) % n;
                flip = !flip;
                let name = if flip { "Renamed" } else { "Renamed again" };
                black_box(
                    f.store
                        .update(&f.ids[i], OrganizationUpdate::new().display_name(name))
                        .expect("update"),
                )
            });
        });
        // Each deleted organization is created first, outside the timing, so the store keeps
        // its size however many iterations criterion runs.
        g.bench_function(BenchmarkId::new("durable_delete", n), |b| {
            b.iter_batched(
                || {
                    f.next += 1;
                    f.store.create(tenant(f.next)).expect("create").id
                },
                |id| black_box(f.store.delete(&id).expect("delete")),
                BatchSize::SmallInput,
            );
        });
        g.finish();
        drop(f);

        let mut f = populate(n, Durability::None);
        c.bench_function(&format!("orgs_{n}/nondurable_create"), |b| {
            b.iter(|| {
                f.next += 1;
                black_box(f.store.create(tenant(f.next)).expect("create"))
            });
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
