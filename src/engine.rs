//! The engine seam: the storage steps every engine provides, and the dispatch from the store's
//! handles to the engine behind them.
//!
//! The operations themselves (create, update, delete, import, lookups, listing) are written
//! once, in [`crate::ops`], against two small traits: [`Read`], the steps of a read on one
//! snapshot, and [`Write`], the steps of a write transaction. An engine implements those steps
//! and nothing else: it never validates, never chooses an id or a time, never decides what a
//! page holds. Steps are compound where a networked engine needs one round trip — "write this
//! record and its index entries unless a key is taken, and say which", "a page of up to N rows
//! beyond this cursor, with whether more lie on either side and the total".
//!
//! redb, the embedded default, lives in [`redb`]; every call into redb is there. PostgreSQL,
//! behind the `postgres` feature, lives in `postgres`; every call into its client is there.

#[cfg(feature = "postgres")]
pub(crate) mod postgres;
pub(crate) mod redb;

use crate::error::{Result, UniqueField};
use crate::id::{OrgId, Region};
use crate::list::{Cursor, Fetched, Scan};
use crate::model::Organization;

/// The steps of a read, all on one consistent snapshot. Implemented by read transactions and,
/// seeing their own writes, by write transactions.
pub(crate) trait Read {
    /// The record with this id, in whichever region holds it.
    fn get(&self, id: &OrgId) -> Result<Option<Organization>>;

    /// The record holding `value` in the unique field `field`, in whichever region. An index
    /// entry that points at a record not holding the value is `Error::Corrupted`.
    fn find(&self, field: UniqueField, value: &str) -> Result<Option<Organization>>;

    /// How many records the regions hold, in constant time.
    fn count(&self, regions: &[Region]) -> Result<u64>;

    /// Up to `limit` records of `regions` strictly beyond the cursor (or from the start) in
    /// scan order, merged across the regions by id; whether more lie beyond them and whether
    /// any lie behind the cursor; and the total the regions hold.
    fn page(
        &self,
        regions: &[Region],
        cursor: Option<&Cursor>,
        scan: Scan,
        limit: usize,
    ) -> Result<(Fetched, u64)>;

    /// Walks every record and index entry and checks that they agree (see
    /// [`OrgStore::check_indexes`](crate::OrgStore::check_indexes)); the number of records.
    fn audit(&self) -> Result<u64>;
}

/// Why a write was not made: a key it needs is held. Nothing was written.
#[derive(Debug)]
pub(crate) enum Conflict {
    /// Another record already has this id (only for a new record).
    Id,
    /// Another record holds this value of a unique field.
    Unique {
        field: UniqueField,
        value: String,
        holder: OrgId,
    },
}

/// The steps of a write transaction. Every step writes all of its effect or nothing.
pub(crate) trait Write: Read {
    /// Writes a new record and its index entries, unless its id or one of its unique values is
    /// held, in any region: then nothing is written and the conflict is returned.
    fn insert(&self, org: &Organization) -> Result<Option<Conflict>>;

    /// Replaces `old` (the stored record) with `new` (same id and region), moving its index
    /// entries, unless a unique value of `new` is held by another record.
    fn replace(&self, old: &Organization, new: &Organization) -> Result<Option<Conflict>>;

    /// Removes `org` (the stored record) and its index entries.
    fn remove(&self, org: &Organization) -> Result<()>;

    /// The next id to assign: `draw` applied to the last id handed out, as this engine keeps
    /// it — the last one assigned in the store (redb, read under its single writer), or the
    /// last one this process handed out (a shared server, where instances interleave by time).
    /// `None` when `draw` finds no id.
    fn next_id(
        &self,
        draw: &dyn Fn(Option<ulid::Ulid>) -> Option<ulid::Ulid>,
    ) -> Result<Option<ulid::Ulid>>;

    /// Records that `id` was written (ids drawn but never written need not be kept).
    fn assigned(&self, id: ulid::Ulid) -> Result<()>;

    /// Runs one operation so that, if it fails, the transaction is as it was before it (and
    /// stays usable). An engine whose steps check everything before writing needs nothing more.
    fn atomically<R>(&self, op: impl FnOnce(&Self) -> Result<R>) -> Result<R> {
        op(self)
    }
}

/// An open store: the engine behind an [`OrgStore`](crate::OrgStore).
pub(crate) enum Store {
    Redb(redb::Engine),
    #[cfg(feature = "postgres")]
    Postgres(postgres::Engine),
}

/// A read transaction of one of the engines.
pub(crate) enum ReadTxn {
    Redb(::redb::ReadTransaction),
    // Boxed: the redb variants are small, and a networked transaction costs far more than an
    // allocation anyway.
    #[cfg(feature = "postgres")]
    Postgres(Box<postgres::PgRead>),
}

/// A write transaction of one of the engines.
pub(crate) enum WriteTxn {
    Redb(redb::Writer),
    #[cfg(feature = "postgres")]
    Postgres(Box<postgres::PgWrite>),
}

impl Store {
    /// Which store this is, for the write permit.
    pub(crate) fn key(&self) -> crate::permit::StoreKey {
        match self {
            Store::Redb(e) => e.key(),
            #[cfg(feature = "postgres")]
            Store::Postgres(e) => e.key(),
        }
    }

    /// Whether writers of other transactions (other connections, processes or hosts) may
    /// conflict with this store's writes, so that a one-shot write may be asked to run again.
    pub(crate) fn has_concurrent_writers(&self) -> bool {
        match self {
            // One writer at a time: a write never conflicts.
            Store::Redb(_) => false,
            #[cfg(feature = "postgres")]
            Store::Postgres(_) => true,
        }
    }

    /// A read transaction: one snapshot for all of its reads.
    pub(crate) fn begin_read(&self) -> Result<ReadTxn> {
        match self {
            Store::Redb(e) => e.begin_read().map(ReadTxn::Redb),
            #[cfg(feature = "postgres")]
            Store::Postgres(e) => Ok(ReadTxn::Postgres(Box::new(e.begin_read()?))),
        }
    }

    /// A reader for a one-shot read, which takes a single step (one snapshot by itself).
    pub(crate) fn read_once(&self) -> Result<ReadTxn> {
        match self {
            Store::Redb(e) => e.begin_read().map(ReadTxn::Redb),
            #[cfg(feature = "postgres")]
            Store::Postgres(e) => Ok(ReadTxn::Postgres(Box::new(e.read_once()?))),
        }
    }

    /// A write transaction; `durable` commits are on disk when they return (a networked
    /// engine sets durability per session instead).
    pub(crate) fn begin_write(&self, durable: bool) -> Result<WriteTxn> {
        match self {
            Store::Redb(e) => e.begin_write(durable).map(WriteTxn::Redb),
            #[cfg(feature = "postgres")]
            Store::Postgres(e) => Ok(WriteTxn::Postgres(Box::new(e.begin_write()?))),
        }
    }

    /// The transaction of one one-shot write.
    pub(crate) fn write_once(&self, durable: bool) -> Result<WriteTxn> {
        match self {
            Store::Redb(e) => e.begin_write(durable).map(WriteTxn::Redb),
            #[cfg(feature = "postgres")]
            Store::Postgres(e) => Ok(WriteTxn::Postgres(Box::new(e.write_once()?))),
        }
    }

    pub(crate) fn check_integrity(&mut self) -> Result<bool> {
        match self {
            Store::Redb(e) => e.check_integrity(),
            #[cfg(feature = "postgres")]
            Store::Postgres(_) => Err(redb_only("check_integrity")),
        }
    }

    pub(crate) fn compact(&mut self) -> Result<bool> {
        match self {
            Store::Redb(e) => e.compact(),
            #[cfg(feature = "postgres")]
            Store::Postgres(_) => Err(redb_only("compact")),
        }
    }

    pub(crate) fn backup_to(&self, dest: &std::path::Path) -> Result<u64> {
        match self {
            Store::Redb(e) => e.backup_to(dest),
            #[cfg(feature = "postgres")]
            Store::Postgres(_) => Err(redb_only("backup_to")),
        }
    }
}

/// The error of a setting or call that only the embedded engine has.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn redb_only(what: &str) -> crate::error::Error {
    crate::error::Error::precondition(format!(
        "{what} belongs to the embedded (redb) engine; a PostgreSQL store has its server's own"
    ))
}

impl WriteTxn {
    /// Makes every write durable (with the store's durability) and visible.
    pub(crate) fn commit(self) -> Result<()> {
        match self {
            WriteTxn::Redb(w) => w.commit(),
            #[cfg(feature = "postgres")]
            WriteTxn::Postgres(w) => w.commit(),
        }
    }

    /// Discards every write.
    pub(crate) fn abort(self) -> Result<()> {
        match self {
            WriteTxn::Redb(w) => w.abort(),
            #[cfg(feature = "postgres")]
            WriteTxn::Postgres(w) => w.abort(),
        }
    }
}

/// Runs `$body` with `$t` bound to the engine's [`Read`] view of a [`ReadTxn`].
macro_rules! with_read {
    ($txn:expr, $t:ident => $body:expr) => {
        match $txn {
            $crate::engine::ReadTxn::Redb($t) => $body,
            #[cfg(feature = "postgres")]
            $crate::engine::ReadTxn::Postgres(boxed) => {
                let $t = &**boxed;
                $body
            }
        }
    };
}

/// Runs `$body` with `$t` bound to the engine's [`Write`] view of a [`WriteTxn`].
macro_rules! with_write {
    ($txn:expr, $t:ident => $body:expr) => {
        match $txn {
            $crate::engine::WriteTxn::Redb(writer) => writer.with(|$t| $body),
            #[cfg(feature = "postgres")]
            $crate::engine::WriteTxn::Postgres(boxed) => {
                let $t = &**boxed;
                $body
            }
        }
    };
}

pub(crate) use {with_read, with_write};
