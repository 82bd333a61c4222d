//! I/O fault injection at every point of a fixed workload.
//!
//! A backend fails the k-th mutating call (write, sync or resize), for **every** k the workload
//! makes, once in "fail once" mode and once in "fail from then on" mode. After each run:
//! the failing operation reported an error (never a panic); what the same handle still reads is
//! the last acknowledged state or that plus the in-flight transaction; and after reopening on
//! the surviving bytes, the state is again one of those two, the integrity check passes and the
//! invariants hold.
//!
//! `cargo test --release --test faults`; `ORGSTORE_FAULT_STEPS` sets the workload length
//! (default 100), `ORGSTORE_SEED` replays a workload.

#![allow(clippy::pedantic, clippy::unwrap_used)] // test code: plain over pedantic

mod common;

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use common::{check_invariants, logical, Rng, State, Step};
use orgstore::{MemoryBackend, OrgStore, StorageBackend};

#[derive(Debug, Default)]
struct Faults {
    calls: AtomicU64,
    fail_at: AtomicU64,
    sticky: AtomicBool,
    injected: AtomicU64,
}

/// Fails the `fail_at`-th mutating call (counting from 0), and every later one when sticky.
#[derive(Debug, Clone)]
struct FaultBackend {
    inner: MemoryBackend,
    faults: Arc<Faults>,
}

impl FaultBackend {
    fn new(inner: MemoryBackend, fail_at: u64, sticky: bool) -> Self {
        let faults = Faults {
            fail_at: AtomicU64::new(fail_at),
            sticky: AtomicBool::new(sticky),
            ..Faults::default()
        };
        FaultBackend {
            inner,
            faults: Arc::new(faults),
        }
    }

    fn tick(&self) -> io::Result<()> {
        let n = self.faults.calls.fetch_add(1, Ordering::SeqCst);
        let at = self.faults.fail_at.load(Ordering::SeqCst);
        if n == at || (self.faults.sticky.load(Ordering::SeqCst) && n > at) {
            self.faults.injected.fetch_add(1, Ordering::SeqCst);
            return Err(io::Error::other(format!("injected fault at call {n}")));
        }
        Ok(())
    }
}

impl StorageBackend for FaultBackend {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.tick()?;
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.tick()?;
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.tick()?;
        self.inner.write(offset, data)
    }
}

/// What a run with a fault produced.
struct Outcome {
    acked: State,
    in_flight: Option<State>,
    failed: bool,
}

/// Runs the workload on `backend` until the first error.
fn run(backend: FaultBackend, steps: &[Step]) -> Result<Outcome, String> {
    let mut acked = State::new();
    let store = match OrgStore::builder().create_with_backend(backend) {
        Ok(s) => s,
        Err(_) => {
            return Ok(Outcome {
                acked,
                in_flight: None,
                failed: true,
            })
        }
    };
    for step in steps {
        let next = step.apply_to(&acked);
        match step.run(&store) {
            Ok(()) => acked = next,
            Err(e) => {
                if e.code() == orgstore::ErrorCode::InvalidArgument
                    || e.code() == orgstore::ErrorCode::NotFound
                    || e.code() == orgstore::ErrorCode::AlreadyExists
                {
                    return Err(format!("a storage fault surfaced as a domain error: {e}"));
                }
                // Nothing half-done is visible through the same handle (if it can still read).
                if let Ok(seen) = logical(&store) {
                    if seen != acked && seen != next {
                        return Err(format!("after the failed step the handle reads {seen:?}"));
                    }
                }
                // Writes are refused from now on (fail-stop) — never silently accepted.
                return Ok(Outcome {
                    acked,
                    in_flight: Some(next),
                    failed: true,
                });
            }
        }
    }
    Ok(Outcome {
        acked,
        in_flight: None,
        failed: false,
    })
}

/// Reopens the surviving bytes without faults and checks state, integrity and invariants.
fn verify_reopen(disk: &MemoryBackend, outcome: &Outcome) -> Result<(), String> {
    let clean = FaultBackend::new(disk.clone(), u64::MAX, false);
    let mut store = OrgStore::builder()
        .create_with_backend(clean)
        .map_err(|e| {
            format!(
                "reopen failed: {e} ({:?}), {} bytes",
                std::error::Error::source(&e),
                disk.len().unwrap_or(0)
            )
        })?;
    let state = logical(&store).map_err(|e| format!("read after reopen: {e}"))?;
    if state != outcome.acked && Some(&state) != outcome.in_flight.as_ref() {
        return Err(format!(
            "reopened state matches neither the acknowledged nor the in-flight state ({} records, acked {})",
            state.len(),
            outcome.acked.len()
        ));
    }
    check_invariants(&store)?;
    store
        .check_integrity()
        .map_err(|e| format!("integrity check: {e}"))?;
    Ok(())
}

#[test]
fn every_injected_fault_is_reported_and_recovered() {
    let seed = common::seed("faults");
    let steps = common::workload(
        &mut Rng::new(seed),
        common::size("ORGSTORE_FAULT_STEPS", 100) as usize,
    );

    // A clean run counts the mutating calls and proves the workload itself is valid.
    let probe = FaultBackend::new(MemoryBackend::new(), u64::MAX, false);
    let outcome = run(probe.clone(), &steps).expect("clean run");
    assert!(!outcome.failed, "the workload fails without faults");
    let total = probe.faults.calls.load(Ordering::SeqCst);
    assert!(total > 0);

    let mut divergences = Vec::new();
    let mut injected = 0;
    let mut at_close = 0;
    for sticky in [false, true] {
        for k in 0..total {
            let disk = MemoryBackend::new();
            let backend = FaultBackend::new(disk.clone(), k, sticky);
            let faults = Arc::clone(&backend.faults);
            let result = catch_unwind(AssertUnwindSafe(|| run(backend, &steps)));
            let mode = if sticky { "from then on" } else { "once" };
            let outcome = match result {
                Err(_) => {
                    divergences.push(format!("k={k} {mode}: panicked"));
                    continue;
                }
                Ok(Err(why)) => {
                    divergences.push(format!("k={k} {mode}: {why}"));
                    continue;
                }
                Ok(Ok(o)) => o,
            };
            if faults.injected.load(Ordering::SeqCst) == 0 {
                divergences.push(format!("k={k} {mode}: no fault was injected"));
                continue;
            }
            injected += 1;
            if !outcome.failed {
                // The fault hit a call made after the last step, while the store closed; no
                // operation was left to report it, and the reopen below must find every step.
                at_close += 1;
            }
            if let Err(why) = verify_reopen(&disk, &outcome) {
                divergences.push(format!("k={k} {mode}: {why}"));
            }
        }
    }
    eprintln!(
        "faults: {total} injection points x 2 modes, {injected} faults injected ({at_close} while closing), {} divergences",
        divergences.len()
    );
    assert!(
        divergences.is_empty(),
        "divergences:\n{}",
        divergences.join("\n")
    );
    assert_eq!(
        injected,
        2 * total,
        "every injection point must inject a fault"
    );
}

/// The in-place upgrade of a format-1 file, with a fault at each of its mutating calls (once,
/// and from then on): opening reports the fault or succeeds, never panics; the surviving bytes
/// open again without faults (upgrading then if the first open did not), hold exactly the
/// fixture's records and pass the integrity check.
#[test]
fn the_upgrade_of_a_format_1_file_survives_a_fault_at_every_point() {
    let v1 = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/format-v1.redb"
    ))
    .expect("format-1 fixture");
    let probe = FaultBackend::new(MemoryBackend::from_bytes(v1.clone()), u64::MAX, false);
    let expected = {
        let store = OrgStore::builder()
            .create_with_backend(probe.clone())
            .expect("clean upgrade");
        every_record(&store).expect("read")
    };
    assert_eq!(expected.len(), 2, "the fixture holds two records");
    let total = probe.faults.calls.load(Ordering::SeqCst);
    assert!(total > 0, "the upgrade writes");

    let mut divergences = Vec::new();
    for sticky in [false, true] {
        for k in 0..total {
            let mode = if sticky { "from then on" } else { "once" };
            let disk = MemoryBackend::from_bytes(v1.clone());
            let backend = FaultBackend::new(disk.clone(), k, sticky);
            let faults = Arc::clone(&backend.faults);
            let opened = catch_unwind(AssertUnwindSafe(|| {
                OrgStore::builder().create_with_backend(backend).map(drop)
            }));
            if opened.is_err() {
                divergences.push(format!("k={k} {mode}: panicked"));
                continue;
            }
            if faults.injected.load(Ordering::SeqCst) == 0 {
                divergences.push(format!("k={k} {mode}: no fault was injected"));
                continue;
            }
            let clean = FaultBackend::new(disk, u64::MAX, false);
            let reopened = OrgStore::builder()
                .create_with_backend(clean)
                .map_err(|e| format!("reopen: {e}"))
                .and_then(|s| {
                    let state = every_record(&s).map_err(|e| format!("read: {e}"))?;
                    if state != expected {
                        return Err(format!("{} records, not the fixture's", state.len()));
                    }
                    let mut s = s;
                    s.check_integrity().map_err(|e| format!("integrity: {e}"))?;
                    check_invariants(&s)
                });
            if let Err(why) = reopened {
                divergences.push(format!("k={k} {mode}: {why}"));
            }
        }
    }
    eprintln!(
        "upgrade faults: {total} injection points x 2 modes, {} divergences",
        divergences.len()
    );
    assert!(
        divergences.is_empty(),
        "divergences:\n{}",
        divergences.join("\n")
    );
}

/// Every record of a store, in id order.
fn every_record(store: &OrgStore) -> Result<Vec<orgstore::Organization>, orgstore::Error> {
    let request = orgstore::ListRequest::new()
        .page_size(100)
        .order(orgstore::Order::OldestFirst);
    common::walk(&store.begin_read()?, request)
}
