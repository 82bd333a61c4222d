//! PostgreSQL's errors, turned into ours. No type of the client library crosses this module.

use postgres::error::SqlState;

use crate::error::{Error, Result, StorageError};

/// Converts a client error into ours (the crate-private replacement for a public `From`).
pub(crate) trait PgResultExt<T> {
    fn pg(self) -> Result<T>;
}

impl<T> PgResultExt<T> for std::result::Result<T, postgres::Error> {
    fn pg(self) -> Result<T> {
        self.map_err(pg_error)
    }
}

pub(crate) fn pg_error(e: postgres::Error) -> Error {
    if let Some(code) = e.code() {
        if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
        {
            return Error::Aborted {
                message: "the transaction conflicted with a concurrent one; retry it".into(),
            };
        }
        if *code == SqlState::UNIQUE_VIOLATION {
            // The steps check every key before writing; a violation means a concurrent
            // writer took the key in between.
            return Error::Aborted {
                message: "a concurrent write took the same key; retry".into(),
            };
        }
    }
    let message = if e.is_closed() {
        "the connection to the database was lost".to_owned()
    } else if let Some(db) = e.as_db_error() {
        format!("database: {} ({})", db.message(), db.code().code())
    } else {
        format!("database: {e}")
    };
    Error::Storage(StorageError::new(message, Some(Box::new(e))))
}

/// Whether the error says the connection is gone (so a write's outcome may be unknown).
pub(crate) fn is_connection_loss(e: &postgres::Error) -> bool {
    e.is_closed()
        || e.code().is_some_and(|c| {
            *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CONNECTION_FAILURE
                || *c == SqlState::CONNECTION_EXCEPTION
        })
        || (e.as_db_error().is_none() && e.code().is_none())
}

/// Whether the error is our own deadline cancelling the statement.
pub(crate) fn is_cancel(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::QUERY_CANCELED)
}
