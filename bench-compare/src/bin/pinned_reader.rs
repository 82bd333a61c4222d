//! Probe: how much a long-lived read transaction makes a store file grow.
//!
//! ```text
//! cargo run --release -p bench-compare --bin pinned_reader -- [WRITES]
//! ```
//!
//! Two runs of WRITES durable one-shot updates (default 20,000) over 1,000 organizations, each
//! in a new store: one with no reader, one with a single `ReadTransaction` held from the first
//! write to the last. Prints the file size after each, and after `compact()` once the reader is
//! gone. A reader pins the pages of its snapshot, so the writer cannot reuse them.

#![allow(clippy::unwrap_used)]

use orgstore::{NewOrganization, OrgStore, OrganizationUpdate};

fn mib(path: &std::path::Path) -> f64 {
    std::fs::metadata(path).unwrap().len() as f64 / (1024.0 * 1024.0)
}

fn run(writes: u64, pin: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orgs.redb");
    let mut store = OrgStore::open(&path).unwrap();
    let ids: Vec<_> = store
        .transaction(|t| {
            (0..1_000)
                .map(|i| {
                    t.create(NewOrganization::new(format!("Org {i}")))
                        .map(|o| o.id)
                })
                .collect::<orgstore::Result<Vec<_>>>()
        })
        .unwrap();
    let before = mib(&path);
    let reader = pin.then(|| store.begin_read().unwrap());
    let started = std::time::Instant::now();
    for i in 0..writes {
        let id = &ids[(i % 1_000) as usize];
        store
            .update(
                id,
                OrganizationUpdate::new().display_name(format!("Org {i}")),
            )
            .unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let after = mib(&path);
    drop(reader);
    while store.compact().unwrap() {}
    let compacted = mib(&path);
    println!(
        "{}: {writes} durable updates in {secs:.1} s: file {before:.2} MiB -> {after:.2} MiB; after compact() {compacted:.2} MiB",
        if pin { "one reader held throughout" } else { "no reader" }
    );
}

fn main() {
    let writes = std::env::args()
        .nth(1)
        .map_or(20_000, |w| w.parse().expect("WRITES is a number"));
    run(writes, false);
    run(writes, true);
}
