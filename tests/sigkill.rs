//! SIGKILL: a child process writes and acknowledges each commit on stdout; the parent kills it
//! at a random moment, reopens the file, and checks that every acknowledged write is there, at
//! most the one in-flight transaction was added (whole or not at all), and the invariants hold.
//!
//! `cargo test --release --test sigkill`; `ORGSTORE_SIGKILL_CYCLES` sets the number of kill
//! cycles (default 200), `ORGSTORE_SEED` replays the kill timings.

#![allow(clippy::pedantic, clippy::unwrap_used)] // test code: plain over pedantic

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{check_invariants, logical, Logical, Rng, State};
use orgstore::{NewOrganization, OrgStore, OrganizationUpdate, Region};

const PATH_ENV: &str = "ORGSTORE_SIGKILL_PATH";
const START_ENV: &str = "ORGSTORE_SIGKILL_START";

/// Transaction `n` of the child: create `k{n}`; every third also deletes `k{n-2}`; every fifth
/// also renames `k{n-1}`. Several changes, so atomicity shows.
fn transaction(t: &mut orgstore::WriteTransaction, n: u64) -> orgstore::Result<()> {
    let region = if n.is_multiple_of(2) {
        Region::Us
    } else {
        Region::Eu
    };
    t.create(
        NewOrganization::new(format!("Org k{n}"))
            .external_id(format!("k{n}"))
            .slug(format!("s{n}"))
            .region(region),
    )?;
    if n.is_multiple_of(3) && n > 2 {
        t.delete_by_external_id(&format!("k{}", n - 2))?;
    }
    if n.is_multiple_of(5) && n > 1 {
        t.update_by_external_id(
            &format!("k{}", n - 1),
            OrganizationUpdate::new().display_name(format!("renamed by {n}")),
        )?;
    }
    Ok(())
}

/// The state after transactions `1..=n`.
fn expected(n: u64) -> State {
    let mut s = BTreeMap::new();
    for i in 1..=n {
        s.insert(
            format!("k{i}"),
            Logical {
                display_name: format!("Org k{i}"),
                slug: Some(format!("s{i}")),
                region: if i.is_multiple_of(2) {
                    Region::Us
                } else {
                    Region::Eu
                },
                metadata: BTreeMap::new(),
            },
        );
        if i.is_multiple_of(3) && i > 2 {
            s.remove(&format!("k{}", i - 2));
        }
        if i.is_multiple_of(5) && i > 1 {
            if let Some(o) = s.get_mut(&format!("k{}", i - 1)) {
                o.display_name = format!("renamed by {i}");
            }
        }
    }
    s
}

/// The child: runs transactions from `START` on, printing `ACK n` after each commit returns.
#[test]
#[ignore = "run as a child process by every_acknowledged_write_survives_sigkill"]
fn sigkill_child() {
    let (Some(path), Some(start)) = (std::env::var_os(PATH_ENV), std::env::var_os(START_ENV))
    else {
        return;
    };
    let start: u64 = start.to_str().unwrap().parse().unwrap();
    let store = OrgStore::open(&path).expect("child open");
    for n in start.. {
        store
            .transaction(|t| transaction(t, n))
            .expect("child write");
        println!("ACK {n}");
    }
}

#[test]
fn every_acknowledged_write_survives_sigkill() {
    let seed = common::seed("sigkill");
    let mut rng = Rng::new(seed);
    let cycles = common::size("ORGSTORE_SIGKILL_CYCLES", 200);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sigkill.redb");
    let exe = std::env::current_exe().unwrap();

    let mut landed = 0u64; // transactions known to be in the file
    let mut in_flight_landed = 0u64;
    for cycle in 0..cycles {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "sigkill_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(PATH_ENV, &path)
            .env(START_ENV, (landed + 1).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(5 + rng.below(60)));
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait().unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let acked = out
            .lines()
            // The test harness may print its own "test sigkill_child ... " on the same line as
            // the first acknowledgement, so look for the marker anywhere in the line.
            .filter_map(|l| l.rfind("ACK ").map(|i| &l[i + 4..]))
            .filter_map(|n| n.parse::<u64>().ok())
            .max()
            .unwrap_or(landed);
        assert!(
            acked >= landed,
            "cycle {cycle}: acknowledgements went backwards"
        );

        let store = OrgStore::open(&path)
            .unwrap_or_else(|e| panic!("cycle {cycle}: reopen after SIGKILL failed: {e}"));
        let state = logical(&store).unwrap();
        if state == expected(acked) {
            landed = acked;
        } else if state == expected(acked + 1) {
            landed = acked + 1;
            in_flight_landed += 1;
        } else {
            let diff = |n: u64| {
                let want = expected(n);
                let missing: Vec<&String> =
                    want.keys().filter(|k| !state.contains_key(*k)).collect();
                let extra: Vec<&String> = state.keys().filter(|k| !want.contains_key(*k)).collect();
                let changed: Vec<&String> = want
                    .iter()
                    .filter(|(k, v)| state.get(*k).is_some_and(|s| s != *v))
                    .map(|(k, _)| k)
                    .collect();
                format!("vs {n}: missing {missing:?}, extra {extra:?}, changed {changed:?}")
            };
            panic!(
                "cycle {cycle}: after {acked} acknowledged transactions the store holds {} records, \
                 matching neither {acked} nor {} transactions; {}; {}; child output: {:?}",
                state.len(),
                acked + 1,
                diff(acked),
                diff(acked + 1),
                out.lines().rev().take(3).collect::<Vec<_>>()
            );
        }
        check_invariants(&store).unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
        drop(store);
    }
    eprintln!(
        "sigkill: {cycles} kill cycles, {landed} transactions committed, \
         {in_flight_landed} cycles where the unacknowledged in-flight commit landed, 0 lost"
    );
    assert!(landed > 0, "the child never committed anything");
}
