//! The write permit: which thread holds the write transaction of which store, process-wide.
//!
//! redb lets one write transaction exist per database file at a time; `begin_write` waits for
//! the current one to end. A thread that already holds it and asks again would wait for itself
//! forever, so that request is refused instead. The record is kept per store *file* (device and
//! inode), not per handle: two multi-process handles of one file in one process share redb's
//! file lock, and a thread holding one handle's transaction would wait forever for the other's.
//!
//! A [`Permit`] belongs to the [`WriteTransaction`](crate::WriteTransaction) and is released
//! when it ends. It cannot move to another thread (it is neither `Send` nor `Sync`), which is
//! what keeps the record true: the thread that began a transaction is the one that holds it
//! until it ends.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread::ThreadId;

use crate::error::{Error, Result};

/// What identifies a store for the permit: its file, or a handle of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StoreKey {
    /// A file, by device and inode: every handle of it in this process.
    File { device: u64, inode: u64 },
    /// A store with no file (in memory, or on a caller's backend), or a platform without inodes.
    Instance(u64),
}

impl StoreKey {
    /// A key no other store has.
    pub(crate) fn fresh() -> StoreKey {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        StoreKey::Instance(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The key of an open store file.
    pub(crate) fn of_file(file: &std::fs::File) -> StoreKey {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if let Ok(m) = file.metadata() {
                return StoreKey::File {
                    device: m.dev(),
                    inode: m.ino(),
                };
            }
        }
        let _ = file;
        StoreKey::fresh()
    }
}

/// The stores whose write transaction some thread holds, with that thread. One entry per held
/// transaction; a handful at most, so a list.
static HOLDERS: Mutex<Vec<(StoreKey, ThreadId)>> = Mutex::new(Vec::new());

fn holders() -> std::sync::MutexGuard<'static, Vec<(StoreKey, ThreadId)>> {
    HOLDERS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Refuses a write transaction that the calling thread would wait for forever: one it already
/// holds for the same store (through this handle or another of the same file). Call before
/// waiting for the engine's write lock.
pub(crate) fn check(key: StoreKey) -> Result<()> {
    let me = std::thread::current().id();
    if holders().iter().any(|&(k, t)| k == key && t == me) {
        return Err(Error::precondition(
            "this thread already holds a write transaction of this store file",
        ));
    }
    Ok(())
}

/// The record that the calling thread holds the write transaction of `key`; released on drop.
#[derive(Debug)]
pub(crate) struct Permit {
    key: StoreKey,
    thread: ThreadId,
    /// Keeps the permit on the thread that took it.
    _here: PhantomData<*const ()>,
}

impl Permit {
    /// Records that the calling thread now holds the write transaction of `key`.
    pub(crate) fn take(key: StoreKey) -> Permit {
        let thread = std::thread::current().id();
        holders().push((key, thread));
        Permit {
            key,
            thread,
            _here: PhantomData,
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut list = holders();
        if let Some(i) = list
            .iter()
            .position(|&(k, t)| k == self.key && t == self.thread)
        {
            list.swap_remove(i);
        }
    }
}
