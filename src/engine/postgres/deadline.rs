//! The commit deadline. PostgreSQL's `statement_timeout` does not bound a commit's wait for a
//! synchronous standby, so a commit that outlives its deadline is cancelled from here (one
//! thread per store, sleeping until the nearest deadline). A cancelled commit may already be
//! committed on the primary: its outcome is unknown.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use postgres::CancelToken;

use super::tls::Tls;

pub(crate) struct Deadlines {
    state: Mutex<State>,
    changed: Condvar,
    next_id: AtomicU64,
    tls: Tls,
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
    at: Instant,
    token: CancelToken,
    fired: Arc<AtomicBool>,
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
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Cancels the statement `token`'s connection runs if it is still running after `within`;
    /// until the guard drops.
    pub(crate) fn watch(self: &Arc<Self>, token: CancelToken, within: Duration) -> Watch {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let fired = Arc::new(AtomicBool::new(false));
        let mut state = self.lock();
        state.waiting.push(Entry {
            id,
            at: Instant::now() + within,
            token,
            fired: Arc::clone(&fired),
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
            fired,
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
            state.waiting.retain(|e| {
                if e.at <= now {
                    e.fired.store(true, Ordering::SeqCst);
                    due.push(e.token.clone());
                    false
                } else {
                    true
                }
            });
            if !due.is_empty() {
                drop(state);
                for token in &due {
                    self.tls.cancel(token);
                }
                state = self.lock();
                continue;
            }
            let wait = state
                .waiting
                .iter()
                .map(|e| e.at - now)
                .min()
                .unwrap_or(Duration::from_secs(60));
            state = self
                .changed
                .wait_timeout(state, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Ends the thread (when the store closes).
    pub(crate) fn close(&self) {
        self.lock().closing = true;
        self.changed.notify_all();
    }
}

/// A watched statement; no longer watched once dropped.
pub(crate) struct Watch {
    deadlines: Arc<Deadlines>,
    id: u64,
    fired: Arc<AtomicBool>,
}

impl Watch {
    /// Whether the deadline passed and the statement was cancelled.
    pub(crate) fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.deadlines.lock().waiting.retain(|e| e.id != self.id);
    }
}
