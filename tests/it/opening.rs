//! Opening store files: racing openers of a new path, files that are not stores, and what may
//! be repaired. Threads and real child processes.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use orgstore::{Error, ErrorCode, NewOrganization, OrgStore};

use crate::common::size;
use crate::support::{create, expect_code, temp_path};

/// Opens `path` until this thread has created one organization in it; every refusal must be
/// the clean "already open" error. Returns how many opens were refused.
fn open_and_create(path: &std::path::Path, multi_process: bool, name: &str) -> u64 {
    let mut refused = 0;
    loop {
        match OrgStore::builder().multi_process(multi_process).open(path) {
            Ok(s) => {
                s.create(NewOrganization::new(name).external_id(name))
                    .expect("create in the opened store");
                return refused;
            }
            Err(e) => {
                assert!(
                    !multi_process,
                    "a multi-process open of a shared file failed: {e}"
                );
                assert_eq!(e.code(), ErrorCode::FailedPrecondition, "{e}");
                refused += 1;
            }
        }
    }
}

/// Two openers of a new path raced: the second ran the unfinished-creation repair (a
/// truncation) before redb held the file lock, cutting the file the first was creating, and the
/// store could never be opened again. Now nothing is repaired without the file's exclusive lock,
/// and the loser gets a clean error.
#[test]
fn regression_two_threads_opening_a_new_path_never_break_the_store() {
    if crate::support::redb_only("regression_two_threads_opening_a_new_path_never_break_the_store")
    {
        return;
    }
    let rounds = size("ORGSTORE_OPEN_RACE_ROUNDS", 200);
    let mut refused = 0;
    for round in 0..rounds {
        let (_dir, path) = temp_path();
        let done = Arc::new(AtomicBool::new(false));
        let polls = Arc::new(AtomicU64::new(0));
        // One thread keeps opening (and closing) the path while the other creates.
        let poller = {
            let (path, done, polls) = (path.clone(), done.clone(), polls.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Acquire) {
                    match OrgStore::open(&path) {
                        Ok(s) => drop(s),
                        Err(e) => assert_eq!(e.code(), ErrorCode::FailedPrecondition, "{e}"),
                    }
                    polls.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        refused += open_and_create(&path, false, "creator");
        done.store(true, Ordering::Release);
        poller.join().expect("the poller saw only clean refusals");
        let s = OrgStore::open(&path)
            .unwrap_or_else(|e| panic!("round {round}: the store no longer opens: {e}"));
        assert_eq!(s.count(None).expect("count"), 1, "round {round}");
        assert_eq!(s.check_indexes().expect("indexes"), 1);
    }
    eprintln!("open race (threads): {rounds} rounds, {refused} clean refusals of the creator");
}

/// The same race in multi-process mode: both openers get the same working store.
#[test]
fn two_threads_opening_a_new_path_in_multi_process_mode_share_it() {
    if crate::support::redb_only("two_threads_opening_a_new_path_in_multi_process_mode_share_it") {
        return;
    }
    let rounds = size("ORGSTORE_OPEN_RACE_ROUNDS", 200) / 2;
    for round in 0..rounds {
        let (_dir, path) = temp_path();
        let other = {
            let path = path.clone();
            std::thread::spawn(move || open_and_create(&path, true, "second"))
        };
        open_and_create(&path, true, "first");
        other.join().expect("the other opener succeeded");
        let s = OrgStore::builder()
            .multi_process(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(s.count(None).expect("count"), 2, "round {round}");
        assert_eq!(s.check_indexes().expect("indexes"), 2);
    }
}

const CHILD_PATH: &str = "ORGSTORE_OPEN_RACE_PATH";
const CHILD_MULTI: &str = "ORGSTORE_OPEN_RACE_MULTI";

/// Run in a child process by the tests below: opens the store once and, if it opened, creates
/// one organization named after the process. Reports on stdout.
#[test]
#[ignore = "helper run in child processes by the open-race tests"]
fn open_race_child() {
    let Some(path) = std::env::var_os(CHILD_PATH) else {
        return;
    };
    let multi = std::env::var_os(CHILD_MULTI).is_some();
    match OrgStore::builder().multi_process(multi).open(&path) {
        Ok(s) => {
            let name = format!("p{}", std::process::id());
            match s.create(NewOrganization::new(&name).external_id(&name)) {
                Ok(_) => println!("OPEN-RACE:CREATED"),
                Err(e) => println!("OPEN-RACE:ERROR create: {e}"),
            }
        }
        Err(e) if e.code() == ErrorCode::FailedPrecondition => println!("OPEN-RACE:REFUSED"),
        Err(e) => println!(
            "OPEN-RACE:ERROR open: {e} ({:?})",
            std::error::Error::source(&e)
        ),
    }
}

/// Starts `n` child processes opening `path` at once; the outcome of each.
fn race_children(path: &std::path::Path, n: usize, multi: bool) -> Vec<String> {
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = (0..n)
        .map(|_| {
            let mut c = Command::new(&exe);
            c.args([
                "--exact",
                "opening::open_race_child",
                "--ignored",
                "--nocapture",
            ])
            .env(CHILD_PATH, path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
            if multi {
                c.env(CHILD_MULTI, "1");
            }
            c.spawn().expect("spawn child")
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("child output");
            let text = String::from_utf8_lossy(&out.stdout);
            let outcome = text
                .lines()
                .find_map(|l| l.find("OPEN-RACE:").map(|i| l[i + 10..].to_string()))
                .unwrap_or_else(|| format!("ERROR no report: {text}"));
            assert!(out.status.success(), "child failed: {text}");
            outcome
        })
        .collect()
}

#[test]
fn regression_two_processes_opening_a_new_path_never_break_the_store() {
    if crate::support::redb_only(
        "regression_two_processes_opening_a_new_path_never_break_the_store",
    ) {
        return;
    }
    let rounds = size("ORGSTORE_OPEN_RACE_PROCESS_ROUNDS", 200);
    let (mut created_total, mut refused_total) = (0, 0);
    for round in 0..rounds {
        let (_dir, path) = temp_path();
        let outcomes = race_children(&path, 2, false);
        let created = outcomes.iter().filter(|o| *o == "CREATED").count();
        let refused = outcomes.iter().filter(|o| *o == "REFUSED").count();
        assert_eq!(created + refused, 2, "round {round}: outcomes {outcomes:?}");
        assert!(created >= 1, "round {round}: nobody opened: {outcomes:?}");
        let s = OrgStore::open(&path)
            .unwrap_or_else(|e| panic!("round {round}: the store no longer opens: {e}"));
        assert_eq!(s.count(None).expect("count"), created as u64);
        assert_eq!(s.check_indexes().expect("indexes"), created as u64);
        created_total += created;
        refused_total += refused;
    }
    eprintln!(
        "open race (processes): {rounds} rounds, {created_total} creates, {refused_total} clean refusals"
    );
}

#[test]
fn two_processes_opening_a_new_path_in_multi_process_mode_share_it() {
    if crate::support::redb_only("two_processes_opening_a_new_path_in_multi_process_mode_share_it")
    {
        return;
    }
    let rounds = size("ORGSTORE_OPEN_RACE_PROCESS_ROUNDS", 200) / 2;
    for round in 0..rounds {
        let (_dir, path) = temp_path();
        let outcomes = race_children(&path, 2, true);
        assert_eq!(outcomes, ["CREATED", "CREATED"], "round {round}");
        let s = OrgStore::builder()
            .multi_process(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(s.count(None).expect("count"), 2, "round {round}");
    }
}

/// A populated store whose bytes were zeroed in place opened as an empty store and was cut to
/// 73,728 bytes: the repair took any file without redb's magic number and only zeros after the
/// header for a creation that never finished. Now it is a corruption error and the file is left
/// byte for byte as it was, in both modes.
#[test]
fn regression_a_zero_filled_store_is_corrupted_and_left_untouched() {
    if crate::support::redb_only("regression_a_zero_filled_store_is_corrupted_and_left_untouched") {
        return;
    }
    let (_dir, path) = temp_path();
    {
        let s = OrgStore::open(&path).expect("open");
        s.transaction(|t| {
            for i in 0..300 {
                t.create(
                    NewOrganization::new(format!("Org {i}"))
                        .external_id(format!("ext-{i}"))
                        .metadata("plan", "enterprise"),
                )?;
            }
            Ok::<_, Error>(())
        })
        .expect("populate");
    }
    let len = std::fs::metadata(&path).expect("meta").len();
    assert!(
        len > 73_728,
        "the populated store is larger than a new one ({len})"
    );
    let zeros = vec![0u8; len as usize];
    std::fs::write(&path, &zeros).expect("zero the file in place");
    for multi_process in [false, true] {
        let e = expect_code(
            OrgStore::builder().multi_process(multi_process).open(&path),
            ErrorCode::DataLoss,
        );
        assert!(matches!(e, Error::Corrupted { .. }), "{e:?}");
        assert!(
            std::fs::read(&path).expect("read") == zeros,
            "multi_process={multi_process}: the file was changed"
        );
    }
}

/// A creation that hit a full disk left 73,728 bytes without the magic number; a
/// single-process open restarted it, but every multi-process open refused it forever. Now both
/// modes restart it (under the file lock).
#[test]
fn regression_multi_process_mode_restarts_an_interrupted_creation() {
    if crate::support::redb_only("regression_multi_process_mode_restarts_an_interrupted_creation") {
        return;
    }
    let (_dir, path) = temp_path();
    let mut half = vec![0u8; 73_728];
    half[9..320].iter_mut().for_each(|b| *b = 0xA5);
    std::fs::write(&path, &half).expect("write");
    let s = OrgStore::builder()
        .multi_process(true)
        .open(&path)
        .expect("an interrupted creation starts afresh in multi-process mode");
    create(&s, NewOrganization::new("after"));
    assert_eq!(s.count(None).expect("count"), 1);
    // The same bytes, one past the creation's length: not what a creation leaves.
    let (_dir2, path2) = temp_path();
    let mut longer = half;
    longer.extend_from_slice(&[0; 4096]);
    std::fs::write(&path2, &longer).expect("write");
    for multi_process in [false, true] {
        expect_code(
            OrgStore::builder()
                .multi_process(multi_process)
                .open(&path2),
            ErrorCode::DataLoss,
        );
        assert!(std::fs::read(&path2).expect("read") == longer);
    }
}

#[test]
fn a_multi_process_open_of_a_file_held_exclusively_is_refused_without_changing_it() {
    if crate::support::redb_only(
        "a_multi_process_open_of_a_file_held_exclusively_is_refused_without_changing_it",
    ) {
        return;
    }
    let (_dir, path) = temp_path();
    let s = OrgStore::open(&path).expect("open");
    create(&s, NewOrganization::new("a"));
    let before = std::fs::read(&path).expect("read");
    let e = expect_code(
        OrgStore::builder().multi_process(true).open(&path),
        ErrorCode::FailedPrecondition,
    );
    assert!(e.to_string().contains("without multi-process mode"), "{e}");
    assert!(std::fs::read(&path).expect("read") == before);
}
