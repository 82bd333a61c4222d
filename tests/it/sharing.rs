//! Sharing a store: across threads, and across processes in multi-process mode.

use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use orgstore::{NewOrganization, OrgStore, Readable};

use crate::support::{create, store, temp_path};

#[test]
fn handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<OrgStore>();
    assert_send_sync::<orgstore::Error>();
    assert_send_sync::<orgstore::ReadTransaction>();
    assert_send_sync::<orgstore::Organization>();
    assert_send_sync::<orgstore::Page>();
}

/// Compiles only if `T` is not `Send` (two blanket impls make the call ambiguous otherwise).
trait AmbiguousIfSend<A> {
    fn check() {}
}
impl<T: ?Sized> AmbiguousIfSend<()> for T {}
struct IsSend;
impl<T: ?Sized + Send> AmbiguousIfSend<IsSend> for T {}

/// A write transaction moved to another thread made `begin_write` there hang (the guard
/// remembered the thread that began it) and refused the original thread, which no longer held
/// it. A transaction now stays on its thread: this test does not compile if it becomes `Send`.
#[test]
fn regression_a_write_transaction_cannot_move_to_another_thread() {
    <orgstore::WriteTransaction as AmbiguousIfSend<_>>::check();
}

/// Runs `f` on a new thread and fails if it takes longer than `secs` (a hang).
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .expect("finished in time (no hang)")
}

/// Two multi-process handles of one file used on one thread: the second `begin_write` waited
/// forever for the first, which the same thread held. It is refused now, and a thread holding
/// nothing is never refused.
#[test]
fn regression_a_second_handle_of_the_same_file_does_not_deadlock_its_thread() {
    if crate::support::redb_only(
        "regression_a_second_handle_of_the_same_file_does_not_deadlock_its_thread",
    ) {
        return;
    }
    let (_dir, path) = temp_path();
    within(60, move || {
        let a = OrgStore::builder()
            .multi_process(true)
            .open(&path)
            .expect("a");
        let b = OrgStore::builder()
            .multi_process(true)
            .open(&path)
            .expect("b");
        let mut txn = a.begin_write().expect("a begins");
        let e = b.begin_write().unwrap_err();
        assert_eq!(e.code(), orgstore::ErrorCode::FailedPrecondition, "{e}");
        assert!(b.create(NewOrganization::new("x")).is_err(), "one-shot too");
        // Another thread holds nothing: it waits for `a`'s transaction, then writes.
        let other = {
            let b = b.clone();
            std::thread::spawn(move || b.create(NewOrganization::new("from b")).map(|_| ()))
        };
        txn.create(NewOrganization::new("from a")).expect("create");
        txn.commit().expect("commit");
        other
            .join()
            .expect("join")
            .expect("the other thread was not refused");
        b.begin_write()
            .expect("b begins once a's transaction ended");
        assert_eq!(a.count(None).expect("count"), 2);
    });
}

#[test]
fn a_thread_that_holds_no_write_transaction_waits_and_is_never_refused() {
    let s = store();
    let mut txn = s.begin_write().expect("begin");
    let waiter = {
        let s = s.clone();
        std::thread::spawn(move || s.create(NewOrganization::new("waiting")).map(|o| o.id))
    };
    std::thread::sleep(Duration::from_millis(50));
    txn.create(NewOrganization::new("first")).expect("create");
    txn.commit().expect("commit");
    within(30, move || waiter.join().expect("join"))
        .expect("the waiting thread wrote after the commit");
    assert_eq!(s.count(None).expect("count"), 2);
}

#[test]
fn readers_on_other_threads_proceed_while_a_write_transaction_is_open() {
    let s = store();
    let a = create(&s, NewOrganization::new("a").external_id("a"));
    let mut txn = s.begin_write().expect("begin");
    txn.create(NewOrganization::new("pending")).expect("create");
    let (done_tx, done_rx) = mpsc::channel();
    let reader = {
        let s = s.clone();
        std::thread::spawn(move || {
            let seen = (
                s.get(&a.id).expect("get").is_some(),
                s.get_by_external_id("a").expect("get").is_some(),
                s.count(None).expect("count"),
                s.list(&orgstore::ListRequest::new())
                    .expect("list")
                    .organizations
                    .len(),
            );
            done_tx.send(seen).expect("send");
        })
    };
    // The writer is still open: the reader must finish anyway.
    let seen = done_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("reader finished while the write transaction was open");
    assert_eq!(seen, (true, true, 1, 1));
    reader.join().expect("join");
    txn.commit().expect("commit");
    assert_eq!(s.count(None).expect("count"), 2);
}

#[test]
fn writers_on_several_threads_are_serialized() {
    let s = store();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    s.create(NewOrganization::new("x").external_id(format!("{t}-{i}")))
                        .expect("create");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("join");
    }
    assert_eq!(s.count(None).expect("count"), 100);
    assert_eq!(s.check_indexes().expect("indexes"), 100);
}

const CHILD_ENV: &str = "ORGSTORE_CHILD_STORE";

/// Runs in a child process (started by the test below): adds an organization to the shared
/// file, then waits for the parent's, reporting on stdout.
#[test]
#[ignore = "helper run in a child process by multi_process_mode_shares_commits_between_processes"]
fn multi_process_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let s = OrgStore::builder()
        .multi_process(true)
        .open(&path)
        .expect("child open");
    s.create(NewOrganization::new("from child").external_id("child"))
        .expect("child create");
    for _ in 0..600 {
        if s.get_by_external_id("parent").expect("child get").is_some() {
            println!("CHILD-SAW-PARENT");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the child never saw the parent's commit");
}

#[test]
fn multi_process_mode_shares_commits_between_processes() {
    if crate::support::redb_only("multi_process_mode_shares_commits_between_processes") {
        return;
    }
    let (_dir, path) = temp_path();
    let parent = OrgStore::builder()
        .multi_process(true)
        .open(&path)
        .expect("open");
    let child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "sharing::multi_process_child",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn child");
    // Wait for the child's commit to become visible here.
    let mut saw_child = false;
    for _ in 0..600 {
        if parent.get_by_external_id("child").expect("get").is_some() {
            saw_child = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(saw_child, "the parent never saw the child's commit");
    create(
        &parent,
        NewOrganization::new("from parent").external_id("parent"),
    );
    let out = child.wait_with_output().expect("child output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}");
    assert!(
        stdout.contains("CHILD-SAW-PARENT"),
        "child output: {stdout}"
    );
    assert_eq!(
        parent
            .begin_read()
            .expect("read")
            .count(None)
            .expect("count"),
        2
    );
}

#[test]
fn without_multi_process_mode_a_second_process_is_refused() {
    if crate::support::redb_only("without_multi_process_mode_a_second_process_is_refused") {
        return;
    }
    let (_dir, path) = temp_path();
    let _s = OrgStore::open(&path).expect("open");
    // Same process, second handle: the file lock refuses it just as it would another process.
    let e = OrgStore::builder()
        .multi_process(true)
        .open(&path)
        .unwrap_err();
    assert_eq!(e.code(), orgstore::ErrorCode::FailedPrecondition, "{e}");
}
