//! Opening a store file: the file lock taken before anything reads or alters it, the rule for
//! restarting a creation that never finished, and making a new file's name durable.
//!
//! # The lock
//!
//! Every open takes an advisory lock (`flock`) on the very file handle it then gives to redb:
//! exclusive to look at the file and, only while holding it, to restart an unfinished creation;
//! then, in multi-process mode, shared, so that other multi-process openers may join. redb takes
//! the same lock on the same handle (as its own file lock) before it reads anything, so while
//! any process has the store open, nobody else can hold the lock exclusively, and nobody ever
//! truncates a file another process is creating or using.
//!
//! # Restarting an unfinished creation
//!
//! redb creates a file by sizing it to [`CREATION_LEN`] bytes of zeros, writing its header page
//! *without* the magic number, syncing, and only then writing the magic number. A crash or a
//! full disk in between leaves a file redb refuses forever. Exactly such a file — no magic
//! number, at most [`CREATION_LEN`] bytes, nothing but zeros after the header — never held data
//! and is emptied (so redb creates it afresh). Anything else without the magic number, such as a
//! populated store whose bytes were zeroed, is left byte for byte as it is and reported as
//! [`Error::Corrupted`](crate::Error::Corrupted) by redb.

use std::fs::File;
use std::io;
use std::path::Path;

use crate::error::{Error, Result};

/// How long a file redb sizes a new database to before it writes the magic number.
pub(crate) const CREATION_LEN: u64 = 73_728;
/// redb's magic number is the first 9 bytes of the file.
const MAGIC_LEN: usize = 9;
/// The bytes of the header redb writes at creation (the rest of the file stays zero).
const HEADER_LEN: usize = 320;

/// Random access to the bytes of a file or backend, for the check below.
pub(crate) trait Bytes {
    fn size(&self) -> io::Result<u64>;
    fn read_at(&self, offset: u64, out: &mut [u8]) -> io::Result<()>;
}

impl Bytes for File {
    fn size(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
    fn read_at(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = self;
        f.seek(SeekFrom::Start(offset))?;
        f.read_exact(out)
    }
}

impl<B: crate::backend::StorageBackend> Bytes for B {
    fn size(&self) -> io::Result<u64> {
        self.len()
    }
    fn read_at(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.read(offset, out)
    }
}

/// Whether `bytes` is exactly what an interrupted creation leaves (see the module docs).
pub(crate) fn unfinished_creation(bytes: &impl Bytes) -> io::Result<bool> {
    let len = bytes.size()?;
    if len == 0 || len > CREATION_LEN {
        return Ok(false);
    }
    // At most 72 KiB: read it whole. A file that shrinks meanwhile is in use by another
    // handle (multi-process mode checks under a shared lock, and redb trims a file it closes):
    // not an unfinished creation.
    let mut all = vec![0u8; usize::try_from(len).unwrap_or(0)];
    match bytes.read_at(0, &mut all) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
        Err(e) => return Err(e),
    }
    let magic = &all[..MAGIC_LEN.min(all.len())];
    let after_header = all.get(HEADER_LEN..).unwrap_or(&[]);
    Ok(magic.iter().all(|b| *b == 0) && after_header.iter().all(|b| *b == 0))
}

/// A store file, locked and checked, ready to be handed to redb.
pub(crate) struct Opened {
    pub file: File,
    /// Whether this open created the file (its name is then made durable after set-up).
    pub created: bool,
}

/// Opens (creating if missing) and locks the store file at `path`, restarting an unfinished
/// creation under the exclusive lock.
///
/// Without multi-process mode, a file another handle holds is refused at once with
/// [`Error::FailedPrecondition`]. In multi-process mode, the open shares the lock, waiting (up
/// to `SHARED_WAIT`) while another handle holds it exclusively.
pub(crate) fn open(path: &Path, multi_process: bool) -> Result<Opened> {
    let (file, created) = open_or_create(path).map_err(io_error)?;
    lock(&file, multi_process)?;
    Ok(Opened { file, created })
}

fn open_or_create(path: &Path) -> io::Result<(File, bool)> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true);
    match options.clone().create_new(true).open(path) {
        Ok(file) => Ok((file, true)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok((options.open(path)?, false)),
        Err(e) => Err(e),
    }
}

/// How long a multi-process open waits while another handle holds the lock exclusively: an
/// opener checking or restarting the file holds it for milliseconds; a handle opened without
/// multi-process mode holds it until it closes.
#[cfg(unix)]
pub(crate) const SHARED_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

#[cfg(unix)]
fn lock(file: &File, multi_process: bool) -> Result<()> {
    if multi_process {
        return lock_shared(file);
    }
    match try_lock(file, Kind::Exclusive)? {
        Some(true) => {}
        Some(false) => return Err(already_open()),
        // A file system without locks: nothing may be repaired, and redb decides the rest.
        None => return Ok(()),
    }
    restart_if_unfinished(file)
    // The lock stays: redb takes the same exclusive lock on this handle and keeps it until the
    // store closes.
}

/// Multi-process mode: the lock is shared by every handle, and redb takes it shared on this
/// handle too. Only an unfinished creation needs it exclusively, to restart it; another opener
/// may be doing the same, or creating the file right now (holding it shared), so the file is
/// checked again under every lock taken.
#[cfg(unix)]
fn lock_shared(file: &File) -> Result<()> {
    let deadline = std::time::Instant::now() + SHARED_WAIT;
    let mut pause = std::time::Duration::from_millis(1);
    let mut wait = |what: &str| -> Result<()> {
        if std::time::Instant::now() >= deadline {
            return Err(Error::precondition(what.to_owned()));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_millis(50));
        Ok(())
    };
    let held_elsewhere =
        "the store file is held by a handle opened without multi-process mode (in this or another process)";
    loop {
        match try_lock(file, Kind::Shared)? {
            Some(true) => {}
            Some(false) => {
                wait(held_elsewhere)?;
                continue;
            }
            None => return Ok(()),
        }
        if !unfinished_creation(file).map_err(io_error)? {
            return Ok(());
        }
        // Unfinished: take it exclusively to restart it, or see it finished by whoever holds it.
        file.unlock().map_err(io_error)?;
        if try_lock(file, Kind::Exclusive)? == Some(true) {
            restart_if_unfinished(file)?;
            file.unlock().map_err(io_error)?;
        } else if wait(held_elsewhere).is_err() {
            // Still unfinished and still held by another opener: redb, under its own header
            // lock, waits for that opener's creation or reports the file.
            return match try_lock(file, Kind::Shared)? {
                Some(false) => Err(Error::precondition(held_elsewhere)),
                _ => Ok(()),
            };
        }
    }
}

#[cfg(unix)]
#[derive(Clone, Copy)]
enum Kind {
    Shared,
    Exclusive,
}

/// `Some(true)`: taken; `Some(false)`: held elsewhere; `None`: the file system has no locks.
#[cfg(unix)]
fn try_lock(file: &File, kind: Kind) -> Result<Option<bool>> {
    use std::fs::TryLockError;
    let result = match kind {
        Kind::Shared => file.try_lock_shared(),
        Kind::Exclusive => file.try_lock(),
    };
    match result {
        Ok(()) => Ok(Some(true)),
        Err(TryLockError::WouldBlock) => Ok(Some(false)),
        Err(TryLockError::Error(e)) if e.kind() == io::ErrorKind::Unsupported => Ok(None),
        Err(TryLockError::Error(e)) => Err(io_error(e)),
    }
}

/// Under the exclusive lock: empties an unfinished creation so redb creates the file afresh.
#[cfg(unix)]
fn restart_if_unfinished(file: &File) -> Result<()> {
    if unfinished_creation(file).map_err(io_error)? {
        file.set_len(0).map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
    }
    Ok(())
}

/// Elsewhere the lock is redb's alone; an unfinished creation is then never restarted (it is
/// reported as corrupted), since nothing may be truncated without holding the lock.
#[cfg(not(unix))]
fn lock(_file: &File, _multi_process: bool) -> Result<()> {
    Ok(())
}

fn already_open() -> Error {
    Error::precondition("the store file is in use: already open in this or another process")
}

/// A file-level I/O failure (opening, locking, naming), kept as the source.
pub(crate) fn io_error(e: io::Error) -> Error {
    Error::Storage(crate::error::StorageError::new(
        format!("store file: {e}"),
        Some(Box::new(e)),
    ))
}

/// Makes the name of a newly created store file durable: POSIX needs the directory synced for
/// a new entry to survive power loss.
pub(crate) fn sync_parent(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(parent)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error)?;
        #[cfg(test)]
        tests::record_sync(parent);
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    use super::*;

    static SYNCED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    pub(super) fn record_sync(dir: &Path) {
        SYNCED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(dir.to_path_buf());
    }

    fn synced(dir: &Path) -> usize {
        SYNCED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|d| d.as_path() == dir)
            .count()
    }

    /// A new store file's directory entry was never synced, so its name could vanish on power
    /// loss although commits inside it were acknowledged.
    #[test]
    fn regression_the_directory_is_synced_once_when_a_store_file_is_created() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("orgs.redb");
        let store = crate::OrgStore::open(&path).expect("create");
        assert_eq!(
            synced(dir.path()),
            1,
            "creating the file syncs its directory"
        );
        drop(store);
        drop(crate::OrgStore::open(&path).expect("reopen"));
        assert_eq!(synced(dir.path()), 1, "reopening does not sync it again");
    }

    /// A file another multi-process handle trims while it is checked under the shared lock.
    struct Shrinking;

    impl Bytes for Shrinking {
        fn size(&self) -> io::Result<u64> {
            Ok(CREATION_LEN)
        }
        fn read_at(&self, _offset: u64, _out: &mut [u8]) -> io::Result<()> {
            Err(io::ErrorKind::UnexpectedEof.into())
        }
    }

    /// Found by the multi-process open race (two processes, thousands of rounds): a check that
    /// met a file trimmed by another process's closing store failed the open as a storage
    /// error. Such a file is in use, not an unfinished creation.
    #[test]
    fn regression_a_file_that_shrinks_while_checked_is_not_unfinished() {
        assert!(!unfinished_creation(&Shrinking).expect("no error"));
    }

    #[test]
    fn only_an_interrupted_creation_counts_as_unfinished() {
        let check = |bytes: Vec<u8>| unfinished_creation(&crate::MemoryBackend::from_bytes(bytes));
        let mut half = vec![0u8; CREATION_LEN as usize];
        half[MAGIC_LEN..HEADER_LEN].fill(0xA5);
        assert!(check(half.clone()).expect("read"), "header without magic");
        assert!(check(vec![0; 4096]).expect("read"), "zeros, shorter");
        assert!(!check(Vec::new()).expect("read"), "empty: redb's own case");
        let mut longer = half.clone();
        longer.push(0);
        assert!(!check(longer).expect("read"), "longer than a creation");
        let mut data = half.clone();
        data[HEADER_LEN] = 1;
        assert!(!check(data).expect("read"), "a byte past the header");
        let mut magic = half;
        magic[0] = b'r';
        assert!(!check(magic).expect("read"), "a magic number");
    }
}
