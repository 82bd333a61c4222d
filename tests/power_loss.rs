//! Power loss: crash images built from what was synced, with unsynced writes dropped or torn.
//!
//! A backend logs every write, resize and sync of a fixed workload (durable commits). For every
//! point of that log, crash images are built: the bytes as of the last sync, plus a random
//! subset of the later, unsynced writes, the last of them torn into 512-byte sectors of which
//! only some land. Every image must reopen (repair allowed) to an acknowledged state — the
//! state after the last commit that returned, or that plus the commit in flight — with the
//! integrity check passing and the invariants intact.
//!
//! `cargo test --release --test power_loss`; `ORGSTORE_CRASH_IMAGES` sets images per crash
//! point (default 4), `ORGSTORE_POWER_STEPS` the workload length (default 100).

#![allow(clippy::pedantic, clippy::unwrap_used)] // test code: plain over pedantic

mod common;

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use common::{check_invariants, logical, Rng, State};
use orgstore::{MemoryBackend, OrgStore, StorageBackend};

const SECTOR: usize = 512;

#[derive(Debug, Clone)]
enum Op {
    Write(u64, Vec<u8>),
    SetLen(u64),
    Sync,
}

/// Applies every call to memory and logs it.
#[derive(Debug, Clone, Default)]
struct Recorder {
    live: MemoryBackend,
    log: Arc<Mutex<Vec<Op>>>,
}

impl Recorder {
    fn position(&self) -> usize {
        self.log.lock().unwrap().len()
    }
}

impl StorageBackend for Recorder {
    fn len(&self) -> io::Result<u64> {
        self.live.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.live.read(offset, out)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.log.lock().unwrap().push(Op::SetLen(len));
        self.live.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.log.lock().unwrap().push(Op::Sync);
        self.live.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.log
            .lock()
            .unwrap()
            .push(Op::Write(offset, data.to_vec()));
        self.live.write(offset, data)
    }
}

fn apply(image: &mut Vec<u8>, op: &Op) {
    match op {
        Op::Write(offset, data) => write_at(image, *offset as usize, data),
        Op::SetLen(len) => image.resize(*len as usize, 0),
        Op::Sync => {}
    }
}

/// A write extends the file if it lands past the end (as on a real file system).
fn write_at(image: &mut Vec<u8>, offset: usize, data: &[u8]) {
    if image.len() < offset + data.len() {
        image.resize(offset + data.len(), 0);
    }
    image[offset..offset + data.len()].copy_from_slice(data);
}

/// The last unsynced write, torn: each of its sectors lands or not.
fn torn(rng: &mut Rng, image: &mut Vec<u8>, offset: u64, data: &[u8]) {
    for (i, sector) in data.chunks(SECTOR).enumerate() {
        if rng.chance(50) {
            write_at(image, offset as usize + i * SECTOR, sector);
        }
    }
}

/// Builds crash image `variant` for a crash before log entry `c`.
fn crash_image(rng: &mut Rng, log: &[Op], c: usize, variant: u64) -> Vec<u8> {
    let last_sync = log[..c].iter().rposition(|op| matches!(op, Op::Sync));
    let synced_end = last_sync.map_or(0, |s| s + 1);
    let mut image = Vec::new();
    for op in &log[..synced_end] {
        apply(&mut image, op);
    }
    let unsynced = &log[synced_end..c];
    let last_write = unsynced.iter().rposition(|op| matches!(op, Op::Write(..)));
    for (i, op) in unsynced.iter().enumerate() {
        let keep = match variant {
            0 => false,          // every unsynced write lost
            1 => true,           // every one landed, the last torn
            _ => rng.chance(50), // some landed, in any order
        };
        if !keep {
            continue;
        }
        match op {
            Op::Write(offset, data) if Some(i) == last_write => {
                torn(rng, &mut image, *offset, data)
            }
            op => apply(&mut image, op),
        }
    }
    image
}

#[test]
fn every_crash_image_reopens_to_an_acknowledged_state() {
    let seed = common::seed("power loss");
    let mut rng = Rng::new(seed);
    let steps = common::workload(&mut rng, common::size("ORGSTORE_POWER_STEPS", 100) as usize);
    let per_point = common::size("ORGSTORE_CRASH_IMAGES", 4);

    // Record the workload: the log position at which each commit was acknowledged.
    let recorder = Recorder::default();
    let store = OrgStore::builder()
        .create_with_backend(recorder.clone())
        .expect("create");
    let mut acks: Vec<(usize, State)> = vec![(recorder.position(), State::new())];
    for step in &steps {
        let next = step.apply_to(&acks.last().unwrap().1);
        step.run(&store).expect("workload step");
        acks.push((recorder.position(), next));
    }
    drop(store);
    let log = recorder.log.lock().unwrap().clone();

    let first = acks[0].0;
    let (mut images, mut failures) = (0u64, Vec::new());
    for c in first..=log.len() {
        // Acknowledged: the last commit that returned before the crash; in flight: the next.
        let i = acks.iter().rposition(|(p, _)| *p <= c).unwrap();
        let acked = &acks[i].1;
        let in_flight = acks.get(i + 1).map(|(_, s)| s);
        for variant in 0..per_point {
            let image = crash_image(&mut rng, &log, c, variant);
            images += 1;
            let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
                let mut store = OrgStore::builder()
                    .create_with_backend(MemoryBackend::from_bytes(image))
                    .map_err(|e| format!("reopen failed: {e}"))?;
                let state = logical(&store).map_err(|e| format!("read: {e}"))?;
                if &state != acked && Some(&state) != in_flight {
                    return Err(format!(
                        "state after crash ({} records) is not acknowledged ({} records)",
                        state.len(),
                        acked.len()
                    ));
                }
                check_invariants(&store)?;
                store
                    .check_integrity()
                    .map_err(|e| format!("integrity: {e}"))?;
                Ok(())
            }));
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(why)) => failures.push(format!(
                    "crash before log entry {c}, image {variant}: {why}"
                )),
                Err(_) => failures.push(format!(
                    "crash before log entry {c}, image {variant}: panicked"
                )),
            }
        }
    }
    eprintln!(
        "power loss: {} crash points x {per_point} images = {images} images, {} commits, {} failures",
        log.len() + 1 - first,
        steps.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}
