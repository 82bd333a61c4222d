//! The commit deadline. PostgreSQL's `statement_timeout` does not bound a commit's wait for a
//! synchronous standby, and nothing bounds a wait for a server that stopped answering (a frozen
//! host, a partition that still acknowledges TCP). So a watched statement (a commit, or a
//! one-shot statement that commits) is ended from here, by one thread per store that sleeps
//! until the nearest due time, in two steps:
//!
//! 1. At the deadline, a cancel request is sent, on a thread of its own: a cancel opens a
//!    connection of its own (a TCP connect, and with TLS offered an SSL request whose answer a
//!    hung server never gives), and sent from the deadline thread it would hold up every other
//!    deadline of the store. At most [`CANCELS`] are in flight per store; past that a cancel is
//!    skipped, since those in flight wait on servers that do not answer, and step 2 still ends
//!    the statement.
//! 2. If the statement still runs a grace later (the deadline, at most [`GRACE`]), its
//!    connection's socket is shut down, when it is known ([`super::socket`]): the waiting read
//!    fails and the statement returns an error. A server that answers ends a cancelled commit
//!    within a round trip, so only one that does not answer outlasts the grace. Without a known
//!    socket (see there), the statement waits until the server answers or the connection dies.
//!
//! Either way the statement's outcome is unknown (a cancelled commit may be committed on the
//! primary), and the caller does not reuse the connection: a cancel still on its way could hit
//! its next statement. A watch is ended ([`Watch::end`]) under the lock this thread works
//! under, before the statement's result is judged: once ended, nothing more is sent or cut for
//! it, and what was done is in the answer.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use postgres::CancelToken;

use super::socket::Socket;
use super::tls::Tls;

/// The longest wait, after a cancel was sent, before the connection is cut.
pub(crate) const GRACE: Duration = Duration::from_secs(1);

/// Cancel requests in flight per store, at most.
pub(crate) const CANCELS: usize = 8;

pub(crate) struct Deadlines {
    state: Mutex<State>,
    changed: Condvar,
    next_id: AtomicU64,
    tls: Tls,
    /// Cancel requests being sent.
    cancels: Arc<AtomicUsize>,
}

struct State {
    waiting: Vec<Entry>,
    /// Whether the thread runs.
    running: bool,
    /// Set when the store closes: the thread ends.
    closing: bool,
}

struct Entry {
    id: u64,
    /// When the next step is due.
    at: Instant,
    step: Step,
    grace: Duration,
    token: CancelToken,
    socket: Option<Arc<Socket>>,
}

/// Where a watched statement is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Before its deadline.
    Armed,
    /// Past its deadline, cancel sent; the cut is due at `at`.
    Cancelled,
    /// Its socket was shut down.
    Cut,
    /// Past the grace, with no socket to cut.
    Spent,
}

/// What a watch did to its statement.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Ended {
    /// The deadline passed: a cancel was sent (or skipped), the connection must not be reused.
    pub(crate) fired: bool,
    /// The connection's socket was shut down: the server did not answer within the grace.
    pub(crate) cut: bool,
}

impl Deadlines {
    pub(crate) fn new(tls: Tls) -> Arc<Deadlines> {
        Arc::new(Deadlines {
            state: Mutex::new(State {
                waiting: Vec::new(),
                running: false,
                closing: false,
            }),
            changed: Condvar::new(),
            next_id: AtomicU64::new(0),
            tls,
            cancels: Arc::new(AtomicUsize::new(0)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends the statement `token`'s connection runs if it still runs after `within` (see the
    /// module docs); until [`Watch::end`], or the guard drops.
    pub(crate) fn watch(
        self: &Arc<Self>,
        token: CancelToken,
        socket: Option<Arc<Socket>>,
        within: Duration,
    ) -> Watch {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut state = self.lock();
        state.waiting.push(Entry {
            id,
            at: Instant::now() + within,
            step: Step::Armed,
            grace: within.min(GRACE),
            token,
            socket,
        });
        if !state.running {
            state.running = true;
            let me = Arc::clone(self);
            let spawned = std::thread::Builder::new()
                .name("orgstore-commit-deadline".into())
                .spawn(move || me.run());
            if spawned.is_err() {
                // No thread: commits are not cut short, which only loses the bound.
                state.running = false;
            }
        }
        drop(state);
        self.changed.notify_all();
        Watch {
            deadlines: Arc::clone(self),
            id,
            ended: false,
        }
    }

    fn run(&self) {
        let mut state = self.lock();
        loop {
            if state.closing {
                state.running = false;
                return;
            }
            let now = Instant::now();
            let mut due = Vec::new();
            for e in &mut state.waiting {
                if e.at > now {
                    continue;
                }
                match e.step {
                    Step::Armed => {
                        e.step = Step::Cancelled;
                        // From now, not from the deadline: a late wake-up still leaves the
                        // cancel its grace.
                        e.at = now + e.grace;
                        due.push(e.token.clone());
                    }
                    Step::Cancelled => {
                        // Under the lock, so never after the watch ended. `shutdown` does not
                        // block.
                        e.step = match &e.socket {
                            Some(socket) => {
                                socket.cut();
                                Step::Cut
                            }
                            None => Step::Spent,
                        };
                    }
                    Step::Cut | Step::Spent => {}
                }
            }
            if !due.is_empty() {
                drop(state);
                for token in due {
                    self.cancel(token);
                }
                state = self.lock();
                continue;
            }
            let wait = state
                .waiting
                .iter()
                .filter(|e| matches!(e.step, Step::Armed | Step::Cancelled))
                .map(|e| e.at.saturating_duration_since(now))
                .min()
                .unwrap_or(Duration::from_secs(60));
            state = self
                .changed
                .wait_timeout(state, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Sends a cancel request on a thread of its own, unless [`CANCELS`] are in flight.
    fn cancel(&self, token: CancelToken) {
        if self.cancels.fetch_add(1, Ordering::SeqCst) >= CANCELS {
            self.cancels.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        let in_flight = InFlight(Arc::clone(&self.cancels));
        let tls = self.tls.clone();
        // If no thread can be had, the cancel is skipped (and `in_flight` dropped with the
        // closure); the cut still ends the statement.
        let _ = std::thread::Builder::new()
            .name("orgstore-cancel".into())
            .spawn(move || {
                let _in_flight = in_flight;
                tls.cancel(&token);
            });
    }

    /// Ends a watch: what it did, and nothing more from now on.
    fn remove(&self, id: u64) -> Ended {
        let mut state = self.lock();
        let Some(i) = state.waiting.iter().position(|e| e.id == id) else {
            return Ended::default();
        };
        let entry = state.waiting.swap_remove(i);
        Ended {
            fired: entry.step != Step::Armed,
            cut: entry.step == Step::Cut,
        }
    }

    /// Ends the thread (when the store closes).
    pub(crate) fn close(&self) {
        self.lock().closing = true;
        self.changed.notify_all();
    }
}

/// Counts a cancel in flight until dropped (also if the cancel panics).
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A watched statement; no longer watched once ended or dropped.
pub(crate) struct Watch {
    deadlines: Arc<Deadlines>,
    id: u64,
    ended: bool,
}

impl Watch {
    /// Stops watching, and says what was done: call it as soon as the statement returns.
    pub(crate) fn end(mut self) -> Ended {
        self.ended = true;
        self.deadlines.remove(self.id)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if !self.ended {
            self.deadlines.remove(self.id);
        }
    }
}
