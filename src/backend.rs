//! Pluggable storage under the store: the bytes of a store that is not a plain file.
//!
//! The engine adapts a [`StorageBackend`] to redb's own backend trait, so redb's types stay out
//! of the API. Uses: fault injection and crash simulation in tests, in-memory images, or storage
//! you wrap yourself (encryption, metering).

use std::fmt;
use std::io;
use std::sync::{Arc, PoisonError, RwLock};

/// The byte store under an [`OrgStore`](crate::OrgStore): a growable array of bytes.
///
/// The contract is redb's: `read` of a range below `len` returns what was last written there;
/// `set_len` grows with zeros or shrinks; `sync_data` returns only when every earlier `write`
/// and `set_len` is durable. A failed call returns an error; the store then refuses further
/// writes until it is reopened.
///
/// # Examples
///
/// ```
/// use std::io;
/// use orgstore::{MemoryBackend, NewOrganization, OrgStore, StorageBackend};
///
/// /// Counts syncs, delegating to memory.
/// #[derive(Debug, Default)]
/// struct Counting { inner: MemoryBackend, syncs: std::sync::atomic::AtomicU64 }
///
/// impl StorageBackend for Counting {
///     fn len(&self) -> io::Result<u64> { self.inner.len() }
///     fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> { self.inner.read(offset, out) }
///     fn set_len(&self, len: u64) -> io::Result<()> { self.inner.set_len(len) }
///     fn sync_data(&self) -> io::Result<()> {
///         self.syncs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
///         self.inner.sync_data()
///     }
///     fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> { self.inner.write(offset, data) }
/// }
///
/// let store = OrgStore::builder().create_with_backend(Counting::default())?;
/// store.create(NewOrganization::new("Acme"))?;
/// # Ok::<(), orgstore::Error>(())
/// ```
// Mirrors the shape of redb's backend trait, which has no `is_empty` either.
#[allow(clippy::len_without_is_empty)]
pub trait StorageBackend: fmt::Debug + Send + Sync + 'static {
    /// The current length in bytes.
    ///
    /// # Errors
    ///
    /// Any I/O error.
    fn len(&self) -> io::Result<u64>;

    /// Fills `out` with the bytes at `offset`.
    ///
    /// # Errors
    ///
    /// Any I/O error, or a range past the end.
    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()>;

    /// Grows (with zeros) or shrinks to `len` bytes.
    ///
    /// # Errors
    ///
    /// Any I/O error.
    fn set_len(&self, len: u64) -> io::Result<()>;

    /// Makes every earlier write durable.
    ///
    /// # Errors
    ///
    /// Any I/O error.
    fn sync_data(&self) -> io::Result<()>;

    /// Writes `data` at `offset` (within the current length).
    ///
    /// # Errors
    ///
    /// Any I/O error.
    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()>;
}

/// A [`StorageBackend`] in memory. Clones share the same bytes, so a test can keep a clone,
/// drop the store, and look at or copy the image.
///
/// # Examples
///
/// ```
/// use orgstore::{MemoryBackend, NewOrganization, OrgStore};
///
/// let disk = MemoryBackend::new();
/// let store = OrgStore::builder().create_with_backend(disk.clone())?;
/// store.create(NewOrganization::new("Acme"))?;
/// drop(store);
/// let copy = MemoryBackend::from_bytes(disk.to_bytes());
/// let reopened = OrgStore::builder().create_with_backend(copy)?;
/// assert_eq!(reopened.count(None)?, 1);
/// # Ok::<(), orgstore::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct MemoryBackend(Arc<RwLock<Vec<u8>>>);

impl MemoryBackend {
    /// An empty backend.
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::StorageBackend;
    /// assert_eq!(orgstore::MemoryBackend::new().len().unwrap(), 0);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// A backend holding a copy of `bytes` (for example an image taken with
    /// [`to_bytes`](Self::to_bytes) or a file's content).
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::StorageBackend;
    /// let b = orgstore::MemoryBackend::from_bytes(vec![0; 10]);
    /// assert_eq!(b.len().unwrap(), 10);
    /// ```
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        MemoryBackend(Arc::new(RwLock::new(bytes)))
    }

    /// A copy of the current bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = orgstore::MemoryBackend::from_bytes(vec![1, 2]);
    /// assert_eq!(b.to_bytes(), [1, 2]);
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.0.read().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("MemoryBackend").field("len", &len).finish()
    }
}

fn out_of_range() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "access past the end of the backend",
    )
}

fn range(offset: u64, len: usize, size: usize) -> io::Result<std::ops::Range<usize>> {
    let start = usize::try_from(offset).map_err(|_| out_of_range())?;
    let end = start.checked_add(len).ok_or_else(out_of_range)?;
    if end > size {
        return Err(out_of_range());
    }
    Ok(start..end)
}

impl StorageBackend for MemoryBackend {
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.read().unwrap_or_else(PoisonError::into_inner).len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let bytes = self.0.read().unwrap_or_else(PoisonError::into_inner);
        let r = range(offset, out.len(), bytes.len())?;
        out.copy_from_slice(&bytes[r]);
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(|_| out_of_range())?;
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .resize(len, 0);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut bytes = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let size = bytes.len();
        let r = range(offset, data.len(), size)?;
        bytes[r].copy_from_slice(data);
        Ok(())
    }
}
