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

/// Runs the ignored test `child` of this binary on the store at `path`, with `env` set, kills
/// it (SIGKILL) after `after`, and returns what it printed.
fn run_and_kill(
    exe: &std::path::Path,
    child: &str,
    path: &std::path::Path,
    env: (&str, String),
    after: Duration,
) -> String {
    let mut process = Command::new(exe)
        .args([
            "--exact",
            child,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PATH_ENV, path)
        .env(env.0, env.1)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    process.kill().unwrap(); // SIGKILL
    let _ = process.wait().unwrap();
    let mut out = String::new();
    process
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out
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
        let out = run_and_kill(
            &exe,
            "sigkill_child",
            &path,
            (START_ENV, (landed + 1).to_string()),
            Duration::from_millis(5 + rng.below(60)),
        );
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

const STARTS_ENV: &str = "ORGSTORE_SIGKILL_STARTS";
/// Writer threads of the grouped child.
const WRITERS: usize = 8;

fn grouped_ext(thread: usize, n: u64) -> String {
    format!("g{thread}-{n}")
}

/// The grouped child: `WRITERS` threads, each making one-shot creates (which share commits when
/// they meet) from its start on and printing `GACK thread n` once each returns.
#[test]
#[ignore = "run as a child process by every_acknowledged_grouped_write_survives_sigkill"]
fn sigkill_grouped_child() {
    let (Some(path), Some(starts)) = (std::env::var_os(PATH_ENV), std::env::var_os(STARTS_ENV))
    else {
        return;
    };
    let starts: Vec<u64> = starts
        .to_str()
        .unwrap()
        .split(',')
        .map(|s| s.parse().unwrap())
        .collect();
    let store = OrgStore::open(&path).expect("child open");
    let threads: Vec<_> = starts
        .into_iter()
        .enumerate()
        .map(|(thread, start)| {
            let store = store.clone();
            std::thread::spawn(move || {
                for n in start.. {
                    store
                        .create(
                            NewOrganization::new(format!("Org {thread} {n}"))
                                .external_id(grouped_ext(thread, n))
                                .slug(format!("g{thread}n{n}")),
                        )
                        .expect("child write");
                    println!("GACK {thread} {n}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// One-shot creates from several threads of a child, grouped into shared commits, killed at a
/// random moment: every acknowledged create survives, and of each thread's writes the file
/// holds a prefix that ends at its last acknowledged one or the one after (the one in flight).
#[test]
fn every_acknowledged_grouped_write_survives_sigkill() {
    let seed = common::seed("sigkill grouped");
    let mut rng = Rng::new(seed);
    let cycles = common::size("ORGSTORE_SIGKILL_CYCLES", 200) / 4;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grouped.redb");
    let exe = std::env::current_exe().unwrap();

    // Per thread, how many of its creates are in the file (its next create's number).
    let mut landed = [0u64; WRITERS];
    let (mut acknowledged, mut in_flight_landed) = (0u64, 0u64);
    for cycle in 0..cycles {
        let starts: Vec<String> = landed.iter().map(u64::to_string).collect();
        let out = run_and_kill(
            &exe,
            "sigkill_grouped_child",
            &path,
            (STARTS_ENV, starts.join(",")),
            Duration::from_millis(20 + rng.below(80)),
        );
        // The highest acknowledged create per thread, if any this cycle.
        let mut acked: [Option<u64>; WRITERS] = [None; WRITERS];
        for line in out.lines() {
            let Some(i) = line.rfind("GACK ") else {
                continue;
            };
            let mut parts = line[i + 5..].split(' ');
            let (Some(Ok(thread)), Some(Ok(n))) = (
                parts.next().map(str::parse::<usize>),
                parts.next().map(str::parse::<u64>),
            ) else {
                continue; // a line cut short by the kill
            };
            acked[thread] = acked[thread].max(Some(n));
            acknowledged += 1;
        }

        let store = OrgStore::open(&path)
            .unwrap_or_else(|e| panic!("cycle {cycle}: reopen after SIGKILL failed: {e}"));
        for (thread, landed) in landed.iter_mut().enumerate() {
            // Every create up to the last acknowledged one is there...
            let must = acked[thread].map_or(*landed, |n| n + 1);
            for n in 0..must {
                assert!(
                    store
                        .get_by_external_id(&grouped_ext(thread, n))
                        .unwrap()
                        .is_some(),
                    "cycle {cycle}: thread {thread}'s acknowledged create {n} is lost"
                );
            }
            // ...then at most the one in flight, and nothing after it.
            let in_flight = store
                .get_by_external_id(&grouped_ext(thread, must))
                .unwrap()
                .is_some();
            assert!(
                store
                    .get_by_external_id(&grouped_ext(thread, must + 1))
                    .unwrap()
                    .is_none(),
                "cycle {cycle}: thread {thread} has a create past its one in flight"
            );
            in_flight_landed += u64::from(in_flight);
            *landed = must + u64::from(in_flight);
        }
        let total: u64 = landed.iter().sum();
        assert_eq!(
            store.count(None).unwrap(),
            total,
            "cycle {cycle}: stray records"
        );
        check_invariants(&store).unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
        drop(store);
    }
    eprintln!(
        "sigkill grouped: {cycles} kill cycles of {WRITERS} writer threads, {acknowledged} \
         acknowledged creates, {} in the file, {in_flight_landed} unacknowledged in-flight \
         creates landed, 0 lost",
        landed.iter().sum::<u64>()
    );
    assert!(acknowledged > 0, "the child never acknowledged a create");
}
