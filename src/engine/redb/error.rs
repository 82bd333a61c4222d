//! redb's errors, turned into ours. No redb type crosses this module's boundary.

use super::schema::FORMAT_VERSION;
use crate::error::{Error, Result, StorageError};

/// Converts any redb error into ours; the crate-private replacement for a public `From`.
pub(crate) trait StorageResultExt<T> {
    fn storage(self) -> Result<T>;
}

impl<T, E: Into<redb::Error>> StorageResultExt<T> for std::result::Result<T, E> {
    fn storage(self) -> Result<T> {
        self.map_err(|e| map_error(e.into()))
    }
}

fn map_error(e: redb::Error) -> Error {
    match e {
        redb::Error::Corrupted(detail) => Error::Corrupted { detail },
        redb::Error::DatabaseAlreadyOpen => {
            Error::precondition("the store file is in use: already open in this or another process")
        }
        redb::Error::LockProtocolMismatch => Error::precondition(
            "the store file is open in another process with a different multi-process setting",
        ),
        // redb's word for bytes that are not a database it wrote (no magic number, bad header).
        redb::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => Error::Corrupted {
            detail: io.to_string(),
        },
        // A read past the end: the file is shorter than the database it holds (truncated).
        redb::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => Error::Corrupted {
            detail: format!("the file is shorter than its contents (truncated?): {io}"),
        },
        // `compact` and `check_integrity` need the store to themselves.
        redb::Error::TransactionInProgress => Error::precondition(
            "a read or write transaction of this store is still open (end it first)",
        ),
        redb::Error::UpgradeRequired(v) => Error::UnsupportedFormat {
            found: u32::from(v),
            supported: FORMAT_VERSION,
        },
        other => Error::Storage(StorageError::new(other.to_string(), Some(Box::new(other)))),
    }
}
