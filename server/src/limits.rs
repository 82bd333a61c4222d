//! Bounds on store work: how many store calls run at once, how many may wait, and for how
//! long.
//!
//! Every store call goes through [`Limiter::run`]: it takes a permit (or waits for one in a
//! bounded queue, for a bounded time), then runs the call on tokio's blocking pool, never on an
//! async worker thread. The permit travels with the call, so a call that has started holds it
//! until it finishes, even when the client has gone away: the call is never abandoned half-way,
//! and [`Limiter::drain`] waits for every started call at shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, TryAcquireError};

use crate::error::{ApiError, Code};

/// How much store work the server takes on.
///
/// # Examples
///
/// ```
/// let limits = orgstore_server::limits::Limits::default();
/// assert_eq!(limits.max_body_bytes, 64 * 1024);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body accepted (413 / RESOURCE_EXHAUSTED beyond it).
    pub max_body_bytes: usize,
    /// How long a request body may take to arrive (408 / DEADLINE_EXCEEDED beyond it).
    pub body_timeout: Duration,
    /// Store calls running at once.
    pub max_concurrent: usize,
    /// Requests waiting for a running slot; more get 429 / RESOURCE_EXHAUSTED at once.
    pub max_queued: usize,
    /// Longest wait in that queue; then 429 / RESOURCE_EXHAUSTED.
    pub queue_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            body_timeout: Duration::from_secs(30),
            max_concurrent: 32,
            max_queued: 1024,
            queue_timeout: Duration::from_secs(5),
        }
    }
}

/// Runs store calls on the blocking pool, within [`Limits`].
#[derive(Debug)]
pub struct Limiter {
    permits: Arc<Semaphore>,
    readers: crate::readers::Readers,
    max_concurrent: u32,
    max_queued: usize,
    queue_timeout: Duration,
    waiting: AtomicUsize,
}

/// Counts a waiter out of the queue however its wait ends (permit, timeout or cancellation).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Limiter {
    /// A limiter for `limits` (at least one running slot).
    pub fn new(limits: &Limits) -> Self {
        let max_concurrent = u32::try_from(limits.max_concurrent.clamp(1, 1 << 20)).unwrap_or(1);
        Limiter {
            permits: Arc::new(Semaphore::new(max_concurrent as usize)),
            readers: crate::readers::Readers::per_core(),
            max_concurrent,
            max_queued: limits.max_queued,
            queue_timeout: limits.queue_timeout,
            waiting: AtomicUsize::new(0),
        }
    }

    /// Runs `call` on the blocking pool once a slot is free; its outcome is the result.
    ///
    /// # Errors
    ///
    /// [`Code::Overloaded`] when the queue is full or the wait outlasts the queue timeout (the
    /// call has not started then); an internal error if the call panicked; else what `call`
    /// returns.
    pub async fn run<T, F>(&self, call: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    {
        let permit = self.admit().await?;
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            call()
        });
        match task.await {
            Ok(outcome) => outcome,
            Err(err) => {
                tracing::error!(error = %err, "a store call panicked");
                Err(panicked())
            }
        }
    }

    /// Like [`run`](Self::run) for a read: on the readers (`crate::readers`), a thread per
    /// core, instead of the blocking pool.
    ///
    /// # Errors
    ///
    /// As for [`run`](Self::run).
    pub async fn run_read<T, F>(&self, call: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    {
        let permit = self.admit().await?;
        let outcome = self
            .readers
            .run(move || {
                let _permit = permit;
                call()
            })
            .await;
        outcome.unwrap_or_else(|| {
            tracing::error!("a store read panicked");
            Err(panicked())
        })
    }

    /// A running slot, taken at once or after a bounded wait in the bounded queue.
    async fn admit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        Ok(match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::Closed) => return Err(closed()),
            Err(TryAcquireError::NoPermits) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_queued {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(ApiError::new(
                        Code::Overloaded,
                        "server busy: too many requests are waiting for the store",
                    ));
                }
                let _waiting = Waiting(&self.waiting);
                let wait = Arc::clone(&self.permits).acquire_owned();
                match tokio::time::timeout(self.queue_timeout, wait).await {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) => return Err(closed()),
                    Err(_) => {
                        return Err(ApiError::new(
                            Code::Overloaded,
                            format!(
                                "server busy: no store slot within {} ms",
                                self.queue_timeout.as_millis()
                            ),
                        ))
                    }
                }
            }
        })
    }

    /// Waits until no store call is running, then refuses new ones.
    pub async fn drain(&self) {
        if let Ok(all) = self.permits.acquire_many(self.max_concurrent).await {
            all.forget();
        }
        self.permits.close();
    }

    /// Store calls running now.
    pub fn running(&self) -> usize {
        self.max_concurrent as usize - self.permits.available_permits()
    }
}

fn panicked() -> ApiError {
    ApiError::internal("internal error: the store call failed")
}

fn closed() -> ApiError {
    ApiError::new(Code::Overloaded, "server shutting down")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_concurrent: usize, max_queued: usize, queue_ms: u64) -> Limits {
        Limits {
            max_concurrent,
            max_queued,
            queue_timeout: Duration::from_millis(queue_ms),
            ..Limits::default()
        }
    }

    #[tokio::test]
    async fn runs_calls_and_returns_their_outcome() {
        let limiter = Limiter::new(&limits(2, 2, 1000));
        assert_eq!(limiter.run(|| Ok(7)).await, Ok(7));
        let err = limiter
            .run(|| Err::<(), _>(ApiError::bad_request("no")))
            .await
            .expect_err("must fail");
        assert_eq!(err.message, "no");
        assert_eq!(limiter.running(), 0);
    }

    #[tokio::test]
    async fn a_full_queue_and_a_long_wait_are_overloaded() {
        let limiter = Arc::new(Limiter::new(&limits(1, 1, 100)));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let busy = {
            let limiter = Arc::clone(&limiter);
            tokio::spawn(async move {
                limiter
                    .run(move || {
                        let _ = hold.recv();
                        Ok(())
                    })
                    .await
            })
        };
        while limiter.running() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // One may wait; it times out after 100 ms.
        let waiter = {
            let limiter = Arc::clone(&limiter);
            tokio::spawn(async move { limiter.run(|| Ok(())).await })
        };
        while limiter.waiting.load(Ordering::Acquire) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // A second waiter finds the queue full.
        let full = limiter.run(|| Ok(())).await.expect_err("must fail");
        assert_eq!(full.code, Code::Overloaded);
        assert!(full.message.contains("waiting"), "{}", full.message);
        let timed_out = waiter.await.expect("join").expect_err("must fail");
        assert_eq!(timed_out.code, Code::Overloaded);
        assert!(timed_out.message.contains("within 100 ms"));
        release.send(()).expect("send");
        assert_eq!(busy.await.expect("join"), Ok(()));
        assert_eq!(limiter.waiting.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn a_panicking_call_is_an_internal_error_and_frees_its_slot() {
        let limiter = Limiter::new(&limits(1, 0, 10));
        let err = limiter
            .run(|| -> Result<(), ApiError> { panic!("boom") })
            .await
            .expect_err("must fail");
        assert_eq!(err.code, Code::Store(orgstore::ErrorCode::Internal));
        assert_eq!(limiter.run(|| Ok(1)).await, Ok(1));
    }

    #[tokio::test]
    async fn drain_waits_for_a_started_call_even_if_its_caller_left() {
        let limiter = Arc::new(Limiter::new(&limits(4, 4, 1000)));
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let caller = {
            let (limiter, done) = (Arc::clone(&limiter), Arc::clone(&done));
            tokio::spawn(async move {
                limiter
                    .run(move || {
                        std::thread::sleep(Duration::from_millis(200));
                        done.store(true, Ordering::Release);
                        Ok(())
                    })
                    .await
            })
        };
        while limiter.running() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        caller.abort(); // the client went away
        limiter.drain().await;
        assert!(done.load(Ordering::Acquire));
        assert_eq!(
            limiter.run(|| Ok(())).await.expect_err("must fail").message,
            "server shutting down"
        );
    }
}
