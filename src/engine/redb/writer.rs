//! Write transactions: a redb write transaction that keeps its tables open until it commits,
//! and the engine's [`Write`] steps on it.

use std::cell::{Cell, Ref, RefCell, RefMut};

use redb::ReadableTable;

use super::error::StorageResultExt;
use super::read::{self, Tables};
use super::schema::{self, IndexKey, Tab, META, META_LAST_ID, TABLES, UNIQUE};
use crate::codec;
use crate::codec::IdKey;
use crate::engine::{Conflict, Write};
use crate::error::{Error, Result, StorageError};
use crate::model::Organization;

type WriteTable<'q> = redb::Table<'q, &'static [u8], &'static [u8]>;

/// The tables a write transaction has opened so far, one slot per table of the schema, and
/// what it knows of the last assigned id.
///
/// redb lets a write transaction have a table open only once at a time, and opening one costs
/// a lookup in the transaction's table tree (a fifth of a bulk load when each operation opened
/// its tables anew). So each table is opened at its first use and stays open until the
/// transaction ends; reads and writes borrow it from here.
#[derive(Default)]
pub(crate) struct OpenTables<'q> {
    slots: [RefCell<Option<WriteTable<'q>>>; TABLES],
    /// Whether any table was borrowed for writing: a transaction that wrote nothing commits
    /// nothing (no fsync, not a byte of the file changed).
    written: Cell<bool>,
    ids: Cell<IdState>,
}

/// The last assigned id as a write transaction knows it: the larger of the floor kept in
/// `orgstore/meta` and the newest assigned id stored (see [`schema`]). Loaded at the
/// transaction's first create or delete; a create only raises it in memory, and the floor is
/// written back, once, just before commit, only when a delete removed the newest id.
#[derive(Clone, Copy, Debug, Default)]
struct IdState {
    /// Whether `floor` and `last` have been read yet.
    loaded: bool,
    /// The floor stored in the meta table.
    floor: Option<ulid::Ulid>,
    /// The last assigned id: never below `floor`.
    last: Option<ulid::Ulid>,
    /// Whether `floor` must be written back.
    dirty: bool,
}

self_cell::self_cell!(
    /// A redb write transaction together with the tables it has open.
    struct WriterCell {
        owner: redb::WriteTransaction,
        #[not_covariant]
        dependent: OpenTables,
    }
);

/// An OrgStore write transaction at the engine level: a redb write transaction that keeps
/// every table it uses open until it commits or is dropped (which rolls it back).
pub(crate) struct Writer(WriterCell);

impl Writer {
    pub(crate) fn new(txn: redb::WriteTransaction) -> Writer {
        Writer(WriterCell::new(txn, |_| OpenTables::default()))
    }

    /// Runs `f` with access to the transaction's tables.
    pub(crate) fn with<R>(&self, f: impl for<'o, 'q> FnOnce(&W<'o, 'q>) -> R) -> R {
        self.0.with_dependent(|txn, open| f(&W { txn, open }))
    }

    /// Writes the last assigned id back, closes the tables and commits; a transaction that
    /// wrote nothing is rolled back instead, which leaves the file untouched and costs no sync.
    pub(crate) fn commit(self) -> Result<()> {
        // A closure, not the method path: `with` needs it for every lifetime of the view.
        #[allow(clippy::redundant_closure_for_method_calls)]
        self.with(|w| w.save_ids())?;
        let written = self.0.with_dependent(|_, open| open.written.get());
        let txn = self.0.into_owner();
        if written {
            txn.commit().storage()
        } else {
            txn.abort().storage()
        }
    }

    /// Closes the tables and rolls back.
    pub(crate) fn abort(self) -> Result<()> {
        self.0.into_owner().abort().storage()
    }
}

/// A view of a [`Writer`] inside [`Writer::with`]: the transaction and its open tables.
pub(crate) struct W<'o, 'q> {
    txn: &'q redb::WriteTransaction,
    open: &'o OpenTables<'q>,
}

impl<'o, 'q> W<'o, 'q> {
    /// The slot of `tab`, with the table opened if this is its first use.
    fn slot(&self, tab: Tab) -> Result<&'o RefCell<Option<WriteTable<'q>>>> {
        let open: &'o OpenTables<'q> = self.open;
        let slot = &open.slots[tab.slot];
        // An empty slot cannot be borrowed (nothing is handed out of it), so filling it is safe.
        if let Ok(mut empty) = slot.try_borrow_mut() {
            if empty.is_none() {
                *empty = Some(self.txn.open_table(tab.def).storage()?);
            }
        }
        Ok(slot)
    }

    /// `tab`, for writing.
    fn table_mut(&self, tab: Tab) -> Result<RefMut<'o, WriteTable<'q>>> {
        self.open.written.set(true);
        self.slot(tab)?
            .try_borrow_mut()
            .ok()
            .and_then(|t| RefMut::filter_map(t, Option::as_mut).ok())
            .ok_or_else(|| busy(tab))
    }

    /// The last assigned id, read at first use.
    fn ids(&self) -> Result<IdState> {
        let mut ids = self.open.ids.get();
        if !ids.loaded {
            let meta = self.table(META)?;
            let value = meta.get(META_LAST_ID).storage()?;
            ids.floor = value
                .map(|v| {
                    let bytes: [u8; 16] = v
                        .value()
                        .try_into()
                        .map_err(|_| Error::corrupted("last assigned id is malformed"))?;
                    Ok::<_, Error>(ulid::Ulid::from_bytes(bytes))
                })
                .transpose()?;
            drop(meta);
            ids.last = ids.floor.max(self.newest_stored()?);
            ids.loaded = true;
            self.open.ids.set(ids);
        }
        Ok(ids)
    }

    /// The newest id of the store that has the form of an assigned id.
    fn newest_stored(&self) -> Result<Option<ulid::Ulid>> {
        let mut newest = None;
        for region in crate::id::Region::ALL {
            let orgs = self.table(schema::orgs(region))?;
            newest = newest.max(schema::newest_assigned(&*orgs)?);
        }
        Ok(newest)
    }

    /// Writes the floor back to the meta table if a delete raised it.
    fn save_ids(&self) -> Result<()> {
        if let IdState {
            dirty: true,
            floor: Some(floor),
            ..
        } = self.open.ids.get()
        {
            self.table_mut(META)?
                .insert(META_LAST_ID, &floor.to_bytes()[..])
                .storage()?;
        }
        Ok(())
    }

    /// The unique value of `new` that another record holds, if any: checked in every region
    /// before anything is written.
    fn clash(&self, new: &Organization) -> Result<Option<Conflict>> {
        for field in UNIQUE {
            let Some(value) = read::value(field, new) else {
                continue;
            };
            if let Some(holder) = read::find(self, field, value)? {
                if holder.id != new.id {
                    return Ok(Some(Conflict::Unique {
                        field,
                        value: value.to_owned(),
                        holder: holder.id,
                    }));
                }
            }
        }
        Ok(None)
    }

    /// Writes `new` (replacing `old`, the same id's stored record, if given) with its indexes.
    fn put(&self, old: Option<&Organization>, new: &Organization) -> Result<()> {
        let region = new.region_code;
        let key = IdKey::of(&new.id);
        for field in UNIQUE {
            let (before, after) = (
                old.and_then(|o| read::value(field, o)),
                read::value(field, new),
            );
            if before == after {
                continue;
            }
            let mut table = self.table_mut(schema::keys(region))?;
            if let Some(v) = before {
                table.remove(IndexKey::of(field, v).as_slice()).storage()?;
            }
            if let Some(v) = after {
                table
                    .insert(IndexKey::of(field, v).as_slice(), key.as_slice())
                    .storage()?;
            }
        }
        let mut orgs = self.table_mut(schema::orgs(region))?;
        orgs.insert(key.as_slice(), codec::encode(new).as_slice())
            .storage()?;
        Ok(())
    }
}

/// A table wanted for writing while it is borrowed: a bug of this module, reported, not a
/// panic.
fn busy(tab: Tab) -> Error {
    Error::Storage(StorageError::new(
        format!("table {} is already in use in this transaction", tab.name()),
        None,
    ))
}

impl<'q> Tables for W<'_, 'q> {
    type Inner = WriteTable<'q>;
    type Table<'a>
        = Ref<'a, WriteTable<'q>>
    where
        Self: 'a;
    fn table(&self, tab: Tab) -> Result<Self::Table<'_>> {
        self.slot(tab)?
            .try_borrow()
            .ok()
            .and_then(|t| Ref::filter_map(t, Option::as_ref).ok())
            .ok_or_else(|| busy(tab))
    }
}

// redb has one writer at a time, so checking a key and then writing it cannot race.
impl Write for W<'_, '_> {
    fn insert(&self, org: &Organization) -> Result<Option<Conflict>> {
        if read::exists(self, &IdKey::of(&org.id))? {
            return Ok(Some(Conflict::Id));
        }
        if let Some(conflict) = self.clash(org)? {
            return Ok(Some(conflict));
        }
        self.put(None, org)?;
        Ok(None)
    }

    fn replace(&self, old: &Organization, new: &Organization) -> Result<Option<Conflict>> {
        if let Some(conflict) = self.clash(new)? {
            return Ok(Some(conflict));
        }
        self.put(Some(old), new)?;
        Ok(None)
    }

    fn remove(&self, org: &Organization) -> Result<()> {
        let region = org.region_code;
        for field in UNIQUE {
            if let Some(v) = read::value(field, org) {
                self.table_mut(schema::keys(region))?
                    .remove(IndexKey::of(field, v).as_slice())
                    .storage()?;
            }
        }
        // Loaded before the record goes, so the last assigned id still counts it.
        let mut ids = self.ids()?;
        self.table_mut(schema::orgs(region))?
            .remove(IdKey::of(&org.id).as_slice())
            .storage()?;
        // Deleting the newest assigned id must not let it be assigned again: keep it as the
        // floor. Any other delete leaves a newer id stored, which keeps the floor for it.
        if let Some(gone) = schema::assigned_form(org.id.suffix()) {
            if ids.floor < Some(gone) && self.newest_stored()? < Some(gone) {
                ids.floor = Some(gone);
                ids.dirty = true;
                self.open.ids.set(ids);
            }
        }
        Ok(())
    }

    fn next_id(
        &self,
        draw: &dyn Fn(Option<ulid::Ulid>) -> Option<ulid::Ulid>,
    ) -> Result<Option<ulid::Ulid>> {
        // Recorded only once written (`assigned`): a refused create leaves no trace.
        Ok(draw(self.ids()?.last))
    }

    fn assigned(&self, id: ulid::Ulid) -> Result<()> {
        let mut ids = self.ids()?;
        ids.last = ids.last.max(Some(id));
        self.open.ids.set(ids);
        Ok(())
    }
}
