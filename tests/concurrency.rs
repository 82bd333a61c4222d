//! Concurrency: readers verify snapshot invariants while writers create, update and delete;
//! racing creates of one external id or slug have exactly one winner.
//!
//! `cargo test --release --test concurrency`; `ORGSTORE_SNAPSHOTS` sets how many snapshots the
//! readers verify (default 5000), `ORGSTORE_RACES` the number of races (default 200).

#![allow(clippy::pedantic, clippy::unwrap_used)] // test code: plain over pedantic

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};

use common::{walk, Rng};
use orgstore::{
    Error, ErrorCode, ListRequest, NewOrganization, Order, OrgStore, OrganizationUpdate,
    ReadTransaction, Readable, Region,
};

/// Everything a reader checks on one snapshot.
fn verify_snapshot(snap: &ReadTransaction) -> Result<(), String> {
    let e = |e: Error| e.to_string();
    let total = snap.count(None).map_err(e)?;
    let us = snap.count(Some(Region::Us)).map_err(e)?;
    let eu = snap.count(Some(Region::Eu)).map_err(e)?;
    if total != us + eu {
        return Err(format!("count {total} != US {us} + EU {eu}"));
    }
    let all = walk(
        snap,
        ListRequest::new().order(Order::OldestFirst).page_size(100),
    )
    .map_err(e)?;
    if all.len() as u64 != total {
        return Err(format!("listed {} records, count says {total}", all.len()));
    }
    // Small pages the other way round tile the same snapshot exactly.
    let mut small = walk(
        snap,
        ListRequest::new().order(Order::NewestFirst).page_size(7),
    )
    .map_err(e)?;
    small.reverse();
    if small != all {
        return Err("paging with another size and order saw a different snapshot".into());
    }
    for (region, n) in [(Region::Us, us), (Region::Eu, eu)] {
        let listed = walk(snap, ListRequest::new().region(region).page_size(50)).map_err(e)?;
        if listed.len() as u64 != n || listed.iter().any(|o| o.region_code != region) {
            return Err(format!("region {region} listing disagrees with its count"));
        }
    }
    for org in &all {
        if snap.get(&org.id).map_err(e)?.as_ref() != Some(org) {
            return Err(format!("{} not found by id", org.id));
        }
        if let Some(x) = &org.external_id {
            if snap.get_by_external_id(x).map_err(e)?.as_ref() != Some(org) {
                return Err(format!("external id {x} does not resolve to {}", org.id));
            }
        }
        if let Some(s) = &org.slug {
            if snap.get_by_slug(s).map_err(e)?.as_ref() != Some(org) {
                return Err(format!("slug {s} does not resolve to {}", org.id));
            }
        }
    }
    Ok(())
}

fn writer(store: OrgStore, seed: u64, stop: Arc<AtomicBool>, writes: Arc<AtomicU64>) {
    let mut rng = Rng::new(seed);
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let ext = format!("w{seed}-{}", rng.below(100));
        let result = match rng.below(4) {
            0 | 1 => store
                .create(
                    NewOrganization::new(format!("org {n}"))
                        .external_id(&ext)
                        .slug(format!("s{seed}-{}", rng.below(100)))
                        .region(if rng.chance(50) {
                            Region::Us
                        } else {
                            Region::Eu
                        }),
                )
                .map(drop),
            2 => store
                .update_by_external_id(
                    &ext,
                    OrganizationUpdate::new()
                        .display_name(format!("renamed {n}"))
                        .slug(format!("s{seed}-{}", rng.below(100))),
                )
                .map(drop),
            _ => {
                // A multi-operation transaction: delete one, create another.
                store.transaction(|t| {
                    t.delete_by_external_id(&ext)?;
                    let other = format!("w{seed}-{}", rng.below(100));
                    t.create(NewOrganization::new("pair").external_id(other))?;
                    Ok::<_, Error>(())
                })
            }
        };
        match result {
            Ok(()) => {
                writes.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) if matches!(e.code(), ErrorCode::NotFound | ErrorCode::AlreadyExists) => {}
            Err(e) => panic!("writer failed: {e}"),
        }
    }
}

#[test]
fn readers_see_consistent_snapshots_while_writers_write() {
    let seed = common::seed("concurrency");
    let target = common::size("ORGSTORE_SNAPSHOTS", 5000);
    let store = OrgStore::in_memory().unwrap();
    for i in 0..50 {
        store
            .create(NewOrganization::new(format!("seed {i}")).external_id(format!("seed-{i}")))
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let verified = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (s, stop, writes) = (store.clone(), stop.clone(), writes.clone());
            std::thread::spawn(move || writer(s, seed.wrapping_add(w), stop, writes))
        })
        .collect();
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (s, verified) = (store.clone(), verified.clone());
            std::thread::spawn(move || -> Result<(), String> {
                while verified.load(Ordering::Relaxed) < target {
                    let snap = s.begin_read().map_err(|e| e.to_string())?;
                    verify_snapshot(&snap)?;
                    verified.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    let reader_results: Vec<_> = readers.into_iter().map(|r| r.join()).collect();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer panicked");
    }
    for r in reader_results {
        r.expect("reader panicked").expect("snapshot invariant");
    }
    store.check_indexes().unwrap();
    eprintln!(
        "concurrency: {} snapshots verified by 3 readers during {} committed writes by 2 writers, 0 violations",
        verified.load(Ordering::Relaxed),
        writes.load(Ordering::Relaxed)
    );
    assert!(
        writes.load(Ordering::Relaxed) > 0,
        "the writers never wrote"
    );
}

#[test]
fn racing_creates_of_one_value_have_exactly_one_winner() {
    let races = common::size("ORGSTORE_RACES", 200);
    let threads = 4;
    let store = OrgStore::in_memory().unwrap();
    let (mut wins, mut clashes) = (0u64, 0u64);
    for race in 0..races {
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (s, b) = (store.clone(), barrier.clone());
                std::thread::spawn(move || {
                    // Half the races fight over an external id, half over a slug.
                    let new = if race % 2 == 0 {
                        NewOrganization::new(format!("racer {t}"))
                            .external_id(format!("race-{race}"))
                    } else {
                        NewOrganization::new(format!("racer {t}")).slug(format!("race-{race}"))
                    };
                    b.wait();
                    s.create(new)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "race {race}: {ok} winners");
        for r in &results {
            if let Err(e) = r {
                assert_eq!(e.code(), ErrorCode::AlreadyExists, "race {race}: {e}");
            }
        }
        wins += 1;
        clashes += (threads - 1) as u64;
    }
    assert_eq!(store.count(None).unwrap(), races);
    store.check_indexes().unwrap();
    eprintln!("concurrency: {races} races of {threads} creators: {wins} winners, {clashes} already-exists, 0 double wins");
}
