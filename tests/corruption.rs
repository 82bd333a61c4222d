//! Damaged files: bit flips, zeroed pages, truncation and swapped pages in copies of a
//! populated store. Opening and reading each copy (default settings: integrity verified on
//! open) must either fail with a corruption error or return exactly the original data — never
//! panic, never return silently different data.
//!
//! `cargo test --release --test corruption`; `ORGSTORE_CORRUPTION_FILES` sets the number of
//! damaged copies (default 1000), `ORGSTORE_SEED` replays them.

#![allow(clippy::pedantic, clippy::unwrap_used)] // test code: plain over pedantic

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{check_invariants, walk, Rng};
use orgstore::{
    Error, ErrorCode, ListRequest, MemoryBackend, NewOrganization, Order, OrgStore, Organization,
    Region,
};

const PAGE: usize = 4096;

fn populated() -> (Vec<u8>, Vec<Organization>) {
    let disk = MemoryBackend::new();
    let store = OrgStore::builder()
        .create_with_backend(disk.clone())
        .unwrap();
    for batch in 0..4 {
        store
            .transaction(|t| {
                for i in 0..75 {
                    let n = batch * 75 + i;
                    let region = if n % 3 == 0 { Region::Eu } else { Region::Us };
                    let mut new = NewOrganization::new(format!("Tenant {n} Ünïcødé"))
                        .external_id(format!("ext-{n}"))
                        .region(region);
                    if n % 2 == 0 {
                        new = new.slug(format!("tenant-{n}"));
                    }
                    for m in 0..(n % 5) {
                        new = new.metadata(format!("key{m}"), format!("value {m}"));
                    }
                    t.create(new)?;
                }
                Ok::<_, Error>(())
            })
            .unwrap();
    }
    // Some churn, so free pages and older versions exist in the file.
    for n in (0..300).step_by(7) {
        store.delete_by_external_id(&format!("ext-{n}")).unwrap();
    }
    let all = walk(
        &store.begin_read().unwrap(),
        ListRequest::new().order(Order::OldestFirst).page_size(100),
    )
    .unwrap();
    drop(store);
    (disk.to_bytes(), all)
}

#[derive(Clone, Copy, Debug)]
enum Damage {
    BitFlips,
    ZeroPage,
    Truncate,
    SwapPages,
}

fn damage(rng: &mut Rng, original: &[u8], kind: Damage) -> Vec<u8> {
    let mut bytes = original.to_vec();
    let pages = bytes.len() / PAGE;
    match kind {
        Damage::BitFlips => {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(bytes.len() as u64) as usize;
                bytes[at] ^= 1 << rng.below(8);
            }
        }
        Damage::ZeroPage => {
            let p = rng.below(pages as u64) as usize;
            bytes[p * PAGE..(p + 1) * PAGE].fill(0);
        }
        // Never to zero bytes: an empty file is, by definition, an empty store (as in SQLite).
        Damage::Truncate => {
            let len = if rng.chance(50) {
                (1 + rng.below(pages as u64 - 1) as usize) * PAGE
            } else {
                1 + rng.below(bytes.len() as u64 - 1) as usize
            };
            bytes.truncate(len);
        }
        Damage::SwapPages => {
            let a = rng.below(pages as u64) as usize;
            let b = (a + 1 + rng.below(pages as u64 - 1) as usize) % pages;
            let page_a = bytes[a * PAGE..(a + 1) * PAGE].to_vec();
            bytes.copy_within(b * PAGE..(b + 1) * PAGE, a * PAGE);
            bytes[b * PAGE..(b + 1) * PAGE].copy_from_slice(&page_a);
        }
    }
    bytes
}

/// Opens and reads everything: the full listing, every lookup, the invariants.
fn read_all(bytes: Vec<u8>) -> Result<Vec<Organization>, Error> {
    let store = OrgStore::builder().create_with_backend(MemoryBackend::from_bytes(bytes))?;
    let snap = store.begin_read()?;
    let all = walk(
        &snap,
        ListRequest::new().order(Order::OldestFirst).page_size(100),
    )?;
    for org in &all {
        use orgstore::Readable;
        snap.get(&org.id)?;
        if let Some(e) = &org.external_id {
            snap.get_by_external_id(e)?;
        }
    }
    check_invariants(&store).map_err(|why| Error::Corrupted { detail: why })?;
    Ok(all)
}

#[test]
fn damaged_files_fail_with_corruption_errors_or_read_back_exactly() {
    let seed = common::seed("corruption");
    let mut rng = Rng::new(seed);
    let files = common::size("ORGSTORE_CORRUPTION_FILES", 1000);
    let (original, expected) = populated();
    assert_eq!(
        read_all(original.clone()).unwrap(),
        expected,
        "the undamaged copy"
    );

    let kinds = [
        Damage::BitFlips,
        Damage::ZeroPage,
        Damage::Truncate,
        Damage::SwapPages,
    ];
    let (mut detected, mut unchanged) = ([0u64; 4], [0u64; 4]);
    let mut failures = Vec::new();
    for i in 0..files {
        let k = (i % 4) as usize;
        let damaged = damage(&mut rng, &original, kinds[k]);
        let damaged_len = damaged.len();
        match catch_unwind(AssertUnwindSafe(|| read_all(damaged))) {
            Err(_) => failures.push(format!("file {i} ({:?}): panicked", kinds[k])),
            Ok(Ok(read)) if read == expected => unchanged[k] += 1,
            Ok(Ok(read)) => {
                let missing = expected.iter().filter(|o| !read.contains(o)).count();
                let extra = read.iter().filter(|o| !expected.contains(o)).count();
                failures.push(format!(
                    "file {i} ({:?}, {damaged_len} bytes): silently different data ({} records, {missing} missing, {extra} extra or changed)",
                    kinds[k],
                    read.len(),
                ))
            }
            Ok(Err(e)) if e.code() == ErrorCode::DataLoss => detected[k] += 1,
            Ok(Err(e)) => failures.push(format!(
                "file {i} ({:?}): not a corruption error: {e} ({:?})",
                kinds[k],
                std::error::Error::source(&e)
            )),
        }
    }
    let summary: Vec<String> = kinds
        .iter()
        .enumerate()
        .map(|(k, kind)| {
            format!(
                "{kind:?} {} detected/{} unchanged",
                detected[k], unchanged[k]
            )
        })
        .collect();
    eprintln!(
        "corruption: {files} damaged files ({} bytes each), {}; {} panics or silent differences",
        original.len(),
        summary.join(", "),
        failures.len()
    );
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
    assert!(
        detected.iter().sum::<u64>() > files / 4,
        "too little damage was detected"
    );
}
