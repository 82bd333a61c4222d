//! Group commit: one-shot writes from several threads share one write transaction and one
//! durable commit.
//!
//! The embedded engine has one writer at a time, and a durable commit costs a sync of the disk.
//! So a thread that brings a one-shot write while another group commits queues it instead of
//! waiting for the write lock alone: when that commit is done, one queued thread (the leader)
//! takes every queued write, applies them in arrival order in one write transaction, and
//! commits once. Each caller gets its own result only then, once the commit is durable (so an
//! error that depends on an earlier write of the group, such as the second create of one
//! external id, is never given out before that write is durable).
//!
//! - A write that fails on its own (bad input, a taken key, not found) writes nothing
//!   (invariant 5) and fails alone; its neighbours commit.
//! - A storage failure (or a panic) in any write, or in the commit, fails every write of the
//!   group: nothing of it is visible, and each caller gets an error.
//! - A lone writer leads at once: no timer, no waiting for company.
//! - Writers that keep coming from several threads are gathered: the threads a commit releases
//!   take a moment to bring their next write, and without waiting for them the writers split
//!   into two cohorts taking turns, each commit carrying half of them. So a new leader waits,
//!   at most half as long as the last commit took (and never more than
//!   [`MAX_GATHER`]), until as many writes are queued as the last commit carried plus those
//!   that queued during it. When the last commit carried a single write and none queued
//!   meanwhile (a lone writer), that is one: it leads at once.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{Error, Result, StorageError};
use crate::store::OrgStore;
use crate::txn::WriteTransaction;

type Job = Box<dyn FnOnce(&mut WriteTransaction) -> Result<()> + Send>;

/// One queued write: the work, then its outcome.
struct Ticket {
    job: Mutex<Option<Job>>,
    /// `None` while pending.
    outcome: Mutex<Option<Result<()>>>,
}

impl Ticket {
    fn settle(&self, outcome: Result<()>) {
        *lock(&self.outcome) = Some(outcome);
    }
}

/// The longest a leader waits for the writers of the last commit to come back.
pub(crate) const MAX_GATHER: Duration = Duration::from_millis(2);

/// The commit queue of one store.
#[derive(Default)]
pub(crate) struct Group {
    state: Mutex<State>,
    /// Signalled when a group ends (outcomes are in, and leadership is free).
    ended: Condvar,
    /// Signalled when a write is queued while a leader gathers.
    arrived: Condvar,
    /// The most writes one group held (for the tests).
    #[cfg(test)]
    largest: std::sync::atomic::AtomicUsize,
    /// How many leaders waited to gather (for the tests).
    #[cfg(test)]
    gathered: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Arc<Ticket>>,
    leading: bool,
    /// Whether the leader waits for writes to gather (then queuing signals `arrived`).
    gathering: bool,
    /// How many writes the next group is expected to gather: the last group's size plus the
    /// writes queued while it committed. Zero or one: a leader does not wait.
    expected: usize,
    /// The longest the next leader waits for them.
    patience: Duration,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether an error leaves the transaction in doubt (then the whole group is rolled back).
fn fails_the_group(e: &Error) -> bool {
    matches!(e, Error::Storage(_) | Error::Corrupted { .. })
}

/// The error of a write whose group failed because of another write or the commit.
fn group_failed(cause: &Error) -> Error {
    Error::Storage(StorageError::new(
        format!("the write shared a commit that failed, and was not made: {cause}"),
        None,
    ))
}

impl Group {
    /// Runs `op` in the next group commit of `store` and returns its result once that commit
    /// is durable (or has failed).
    pub(crate) fn submit<T: Send + 'static>(
        &self,
        store: &OrgStore,
        op: impl FnOnce(&mut WriteTransaction) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let value = Arc::new(Mutex::new(None));
        let slot = Arc::clone(&value);
        let ticket = Arc::new(Ticket {
            job: Mutex::new(Some(Box::new(move |t: &mut WriteTransaction| {
                *lock(&slot) = Some(op(t)?);
                Ok(())
            }))),
            outcome: Mutex::new(None),
        });
        let mut state = lock(&self.state);
        state.queue.push_back(Arc::clone(&ticket));
        if state.gathering {
            self.arrived.notify_one();
        }
        loop {
            if let Some(outcome) = lock(&ticket.outcome).take() {
                drop(state);
                outcome?;
                return lock(&value)
                    .take()
                    .ok_or_else(|| group_failed(&Error::precondition("no result was recorded")));
            }
            if !state.leading {
                state.leading = true;
                state = self.gather(state);
                let batch: Vec<Arc<Ticket>> = state.queue.drain(..).collect();
                drop(state);
                #[cfg(test)]
                self.largest
                    .fetch_max(batch.len(), std::sync::atomic::Ordering::Relaxed);
                let started = Instant::now();
                lead(store, &batch);
                let took = started.elapsed();
                state = lock(&self.state);
                state.leading = false;
                state.expected = batch.len() + state.queue.len();
                state.patience = (took / 2).min(MAX_GATHER);
                self.ended.notify_all();
                continue;
            }
            state = self
                .ended
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl Group {
    /// Waits, as the new leader, until the expected number of writes is queued or patience
    /// runs out; returns at once when at most one is expected (a lone writer).
    fn gather<'a>(
        &self,
        mut state: std::sync::MutexGuard<'a, State>,
    ) -> std::sync::MutexGuard<'a, State> {
        if state.queue.len() >= state.expected || state.patience.is_zero() {
            return state;
        }
        #[cfg(test)]
        self.gathered
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let until = Instant::now() + state.patience;
        state.gathering = true;
        while state.queue.len() < state.expected {
            let now = Instant::now();
            if now >= until {
                break;
            }
            state = self
                .arrived
                .wait_timeout(state, until - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state.gathering = false;
        state
    }
}

/// Applies `batch` in one write transaction and commits it; settles every ticket.
fn lead(store: &OrgStore, batch: &[Arc<Ticket>]) {
    let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| apply(store, batch)));
    let outcomes = applied.unwrap_or_else(|_| {
        let cause = Error::precondition("a write of the group panicked");
        batch.iter().map(|_| Err(group_failed(&cause))).collect()
    });
    for (ticket, outcome) in batch.iter().zip(outcomes) {
        ticket.settle(outcome);
    }
}

/// The writes of `batch` in one transaction, committed once; one outcome per write.
fn apply(store: &OrgStore, batch: &[Arc<Ticket>]) -> Vec<Result<()>> {
    let mut txn = match store.group_transaction() {
        Ok(txn) => txn,
        Err(e) => return everyone(batch.len(), None, e),
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    for (i, ticket) in batch.iter().enumerate() {
        let Some(job) = lock(&ticket.job).take() else {
            outcomes.push(Err(Error::precondition("the write was already run")));
            continue;
        };
        match job(&mut txn) {
            Err(e) if fails_the_group(&e) => {
                drop(txn); // rolled back
                return everyone(batch.len(), Some(i), e);
            }
            outcome => outcomes.push(outcome),
        }
    }
    match txn.commit() {
        Ok(()) => outcomes,
        Err(e) => everyone(batch.len(), None, e),
    }
}

/// `n` failures: the write at `culprit` (if any) gets `cause` itself, every other the group's
/// failure.
fn everyone(n: usize, culprit: Option<usize>, cause: Error) -> Vec<Result<()>> {
    let others: Vec<Result<()>> = (0..n).map(|_| Err(group_failed(&cause))).collect();
    let mut out = others;
    match culprit {
        Some(i) if i < n => out[i] = Err(cause),
        _ => {
            if let Some(first) = out.first_mut() {
                *first = Err(cause);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::{ErrorCode, NewOrganization, OrganizationUpdate, Readable};

    /// One write of the test, on a small key space so that writes of one group clash.
    #[derive(Clone, Debug)]
    enum Op {
        Create { ext: u8, name: u32 },
        Rename { ext: u8, name: u32 },
        Move { from: u8, to: u8 },
        Delete { ext: u8 },
    }

    /// What a caller saw, without the ids and times the store assigns.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Seen {
        Written(String, String),
        Refused(ErrorCode),
    }

    fn ext(e: u8) -> String {
        format!("e{e}")
    }

    fn run(t: &mut WriteTransaction, op: &Op) -> Result<crate::Organization> {
        match op {
            Op::Create { ext: e, name } => {
                t.create(NewOrganization::new(format!("n{name}")).external_id(ext(*e)))
            }
            Op::Rename { ext: e, name } => t.update_by_external_id(
                &ext(*e),
                OrganizationUpdate::new().display_name(format!("n{name}")),
            ),
            Op::Move { from, to } => t.update_by_external_id(
                &ext(*from),
                OrganizationUpdate::new().external_id(ext(*to)),
            ),
            Op::Delete { ext: e } => t.delete_by_external_id(&ext(*e)),
        }
    }

    fn seen(r: &Result<crate::Organization>) -> Seen {
        match r {
            Ok(o) => Seen::Written(
                o.external_id.clone().unwrap_or_default(),
                o.display_name.clone(),
            ),
            Err(e) => Seen::Refused(e.code()),
        }
    }

    fn state(store: &OrgStore) -> BTreeMap<String, String> {
        let snap = store.begin_read().expect("read");
        let page = snap
            .list(&crate::ListRequest::new().page_size(100))
            .expect("list");
        page.organizations
            .into_iter()
            .map(|o| (o.external_id.unwrap_or_default(), o.display_name))
            .collect()
    }

    /// Many threads' one-shot writes, grouped: every caller's result is what running the writes
    /// one by one in the order the groups applied them gives, and so is the final state.
    #[test]
    fn grouped_writes_give_what_a_serial_run_in_commit_order_gives() {
        let dir = tempfile::tempdir().expect("dir");
        // Durable commits take long enough for groups to form.
        let store = OrgStore::open(dir.path().join("g.redb")).expect("open");
        let order = Arc::new(AtomicU64::new(0));
        let log = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..8u32)
            .map(|thread| {
                let (store, order, log) = (store.clone(), Arc::clone(&order), Arc::clone(&log));
                std::thread::spawn(move || {
                    let mut x = u64::from(thread) * 7919 + 1;
                    for i in 0..60u32 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let e = (x % 4) as u8;
                        let op = match x % 5 {
                            0 | 1 => Op::Create {
                                ext: e,
                                name: thread * 1000 + i,
                            },
                            2 => Op::Rename {
                                ext: e,
                                name: thread * 1000 + i,
                            },
                            3 => Op::Move {
                                from: e,
                                to: ((x >> 8) % 4) as u8,
                            },
                            _ => Op::Delete { ext: e },
                        };
                        let (order, job_op) = (Arc::clone(&order), op.clone());
                        let result = store.group().submit(&store, move |t| {
                            // Runs on the group's leader, in the order the group applies it.
                            let at = order.fetch_add(1, Ordering::SeqCst);
                            Ok((at, run(t, &job_op)))
                        });
                        let (at, outcome) = result.expect("no storage failure");
                        lock(&log).push((at, op, seen(&outcome)));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let mut log = std::mem::take(&mut *lock(&log));
        log.sort_by_key(|(at, _, _)| *at);
        assert_eq!(log.len(), 480);
        // Replay serially, one transaction per write, in the applied order.
        let serial = OrgStore::in_memory().expect("store");
        for (at, op, got) in &log {
            let expected = seen(&serial.transaction(|t| run(t, op)));
            assert_eq!(got, &expected, "write {at} ({op:?})");
        }
        assert_eq!(state(&store), state(&serial));
        assert_eq!(
            store.check_indexes().expect("indexes"),
            serial.count(None).expect("count")
        );
        let largest = store.group().largest.load(Ordering::Relaxed);
        eprintln!("group commit: 480 writes from 8 threads, largest group {largest}");
        assert!(largest > 1, "no two writes ever shared a commit");
    }

    /// A lone writer never waits for company: every write leads its own commit at once.
    #[test]
    fn a_lone_writer_never_gathers() {
        let dir = tempfile::tempdir().expect("dir");
        let store = OrgStore::open(dir.path().join("lone.redb")).expect("open");
        for i in 0..50 {
            store
                .create(NewOrganization::new(format!("lone {i}")))
                .expect("create");
        }
        assert_eq!(store.group().gathered.load(Ordering::Relaxed), 0);
        assert_eq!(store.group().largest.load(Ordering::Relaxed), 1);
    }

    /// A backend whose syncs can be slowed (so writers queue behind one) and made to fail.
    #[derive(Clone, Debug, Default)]
    struct Flaky {
        inner: crate::MemoryBackend,
        slow: Arc<std::sync::atomic::AtomicBool>,
        fail: Arc<std::sync::atomic::AtomicBool>,
    }

    impl crate::StorageBackend for Flaky {
        fn len(&self) -> std::io::Result<u64> {
            self.inner.len()
        }
        fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
            self.inner.read(offset, out)
        }
        fn set_len(&self, len: u64) -> std::io::Result<()> {
            self.inner.set_len(len)
        }
        fn sync_data(&self) -> std::io::Result<()> {
            let fail = self.fail.load(Ordering::SeqCst);
            if self.slow.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(40));
            }
            if fail {
                return Err(std::io::Error::other("injected sync failure"));
            }
            self.inner.sync_data()
        }
        fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
            self.inner.write(offset, data)
        }
    }

    /// A group whose commit fails: every caller of the group gets an error, the running store
    /// shows none of its writes, and the file holds all of them or none.
    #[test]
    fn a_failed_group_commit_fails_every_write_of_the_group_and_shows_none() {
        let disk = Flaky::default();
        let store = OrgStore::builder()
            .create_with_backend(disk.clone())
            .expect("store");
        store
            .create(NewOrganization::new("before").external_id("before"))
            .expect("create");
        disk.slow.store(true, Ordering::SeqCst);
        // The first writer leads a group whose sync is slow; the others queue behind it.
        let first = {
            let store = store.clone();
            std::thread::spawn(move || store.create(NewOrganization::new("a").external_id("a")))
        };
        std::thread::sleep(std::time::Duration::from_millis(10));
        let queued: Vec<_> = (0..6)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    store.create(NewOrganization::new("q").external_id(format!("q{i}")))
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(10));
        // The next group's sync fails.
        disk.fail.store(true, Ordering::SeqCst);
        first
            .join()
            .expect("join")
            .expect("the first group committed");
        for q in queued {
            let e = q
                .join()
                .expect("join")
                .expect_err("the write of the failed group");
            assert_eq!(e.code(), ErrorCode::Internal, "{e}");
        }
        assert!(
            store.group().largest.load(Ordering::Relaxed) > 1,
            "the queued writes shared a commit"
        );
        // Readers of the running store never see the failed group.
        assert_eq!(
            state(&store).len(),
            2,
            "before and a, none of the failed group"
        );
        drop(store);
        // The bytes that reached the backend hold all of the group or none of it (the sync
        // failed, not the writes): never a part.
        let reopened = OrgStore::builder()
            .create_with_backend(crate::MemoryBackend::from_bytes(disk.inner.to_bytes()))
            .expect("reopen");
        let after = state(&reopened);
        let queued = after.keys().filter(|k| k.starts_with('q')).count();
        assert!(
            queued == 0 || queued == 6,
            "part of a group is on disk: {after:?}"
        );
        assert!(after.contains_key("before") && after.contains_key("a"));
        assert_eq!(
            reopened.check_indexes().expect("indexes"),
            after.len() as u64
        );
    }
}
