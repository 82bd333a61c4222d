//! The readers: a few threads of their own for the store's reads.
//!
//! A read of a cached record takes microseconds; handing it to tokio's blocking pool, which
//! grows a thread per concurrent call, costs more than the read itself once dozens of clients
//! are served on a few cores (measured with `serverbench`: REST get by id at 64 connections ran
//! about twice as fast on two threads as on the pool's many). So reads run on one thread per
//! core, which under load never sleep between calls; writes, which wait for the disk and for
//! each other, stay on the blocking pool, so a slow commit never holds up a read. Both stay off
//! the async workers.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

type Job = Box<dyn FnOnce() + Send>;

/// How many times an idle reader looks for a job before it sleeps.
const SPINS: usize = 16;

/// A fixed set of threads running jobs in arrival order.
#[derive(Debug)]
pub struct Readers {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    ready: Condvar,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    /// Threads waiting for a job (only then does a new job need a wake-up).
    idle: usize,
    closed: bool,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("jobs", &self.jobs.len())
            .field("idle", &self.idle)
            .field("closed", &self.closed)
            .finish()
    }
}

impl Readers {
    /// `threads` readers (at least one); fewer if threads cannot be started.
    pub fn new(threads: usize) -> Readers {
        let shared = Arc::new(Shared::default());
        for i in 0..threads.max(1) {
            let shared = Arc::clone(&shared);
            let started = std::thread::Builder::new()
                .name(format!("orgstore-reader-{i}"))
                .spawn(move || shared.work());
            if started.is_err() && i > 0 {
                break;
            }
        }
        Readers { shared }
    }

    /// One reader per core.
    pub fn per_core() -> Readers {
        Readers::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
    }

    /// Runs `job` on a reader; the future resolves to its result, or to `None` if it panicked.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // A panicking job drops `tx`: its caller learns of it, and the reader goes on.
            if let Ok(out) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)) {
                let _ = tx.send(out);
            }
        });
        {
            let mut state = self.shared.lock();
            if state.closed {
                return None;
            }
            state.jobs.push_back(job);
            if state.idle > 0 {
                self.shared.ready.notify_one();
            }
        }
        rx.await.ok()
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn work(&self) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                drop(state);
                job();
                state = self.lock();
                continue;
            }
            if state.closed {
                return;
            }
            // Under load the next job is microseconds away: look again a few times, giving the
            // core to others meanwhile, before sleeping (a sleep costs two context switches).
            drop(state);
            let mut found = false;
            for _ in 0..SPINS {
                std::thread::yield_now();
                if !self.lock().jobs.is_empty() {
                    found = true;
                    break;
                }
            }
            state = self.lock();
            if found || !state.jobs.is_empty() {
                continue;
            }
            state.idle += 1;
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.idle -= 1;
        }
    }
}

impl Drop for Readers {
    fn drop(&mut self) {
        // The threads finish the queued jobs, then end.
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_and_a_panic_is_reported_not_fatal() {
        let readers = Readers::new(2);
        assert_eq!(readers.run(|| 6 * 7).await, Some(42));
        let panicked: Option<()> = readers.run(|| panic!("a bug in a read")).await;
        assert_eq!(panicked, None);
        let many: Vec<_> = (0..50u32).map(|i| readers.run(move || i * 2)).collect();
        for (i, f) in many.into_iter().enumerate() {
            assert_eq!(f.await, Some(i as u32 * 2), "the readers keep working");
        }
    }
}
