//! The redb engine: the only module that names redb. It owns the schema (table names, format
//! version), key encoding, the mapping of redb errors, and the operations on tables.
//!
//! Everything engine-independent (validation, update semantics, id choice, record bytes, page
//! tokens, error codes) is called from here but lives elsewhere, so a second engine would
//! reuse it and replace only this file.
//!
//! # Schema (format version 1)
//!
//! | table | key | value |
//! |---|---|---|
//! | `orgstore/meta` | `b"format_version"`, `b"last_assigned_id"` | u32 LE; 16-byte ULID BE |
//! | `{us,eu}/orgs/v1` | id key | record bytes ([`crate::codec`]) |
//! | `{us,eu}/by_external_id/v1` | external id, UTF-8 | id key |
//! | `{us,eu}/by_slug/v1` | slug, ASCII | id key |
//!
//! An *id key* is `[suffix length: u8][suffix bytes]`, the suffix being the id without `org_`;
//! bytewise order of id keys is the order of [`OrgId`]. Every key and value is `&[u8]`, so a
//! damaged byte can only ever surface as [`Error::Corrupted`], not as a panic inside redb's
//! UTF-8 decoding.

use std::cell::{Ref, RefCell, RefMut};
use std::ops::Bound;
use std::path::Path;

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use time::OffsetDateTime;

use crate::codec;
use crate::error::{Error, LookupKey, Result, StorageError, UniqueField};
use crate::id::{next_ulid, OrgId, Region, MAX_SUFFIX};
use crate::list::{self, Cursor, Fetched, ListRequest, Page, Scan};
use crate::model::Organization;
use crate::permit::StoreKey;
use crate::request::{NewOrganization, OrganizationUpdate};
use crate::validate;

mod backup;
mod file;

/// The on-disk format version this build writes and reads.
pub(crate) const FORMAT_VERSION: u32 = 1;

type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// A table of the schema: its definition and its place in a write transaction's set of open
/// tables ([`OpenTables`]).
#[derive(Clone, Copy)]
pub(crate) struct Tab {
    def: Def,
    slot: usize,
}

const fn tab(name: &'static str, slot: usize) -> Tab {
    Tab {
        def: TableDefinition::new(name),
        slot,
    }
}

const META: Tab = tab("orgstore/meta", 0);
const ORGS: [Tab; 2] = [tab("us/orgs/v1", 1), tab("eu/orgs/v1", 2)];
const BY_EXTERNAL_ID: [Tab; 2] = [
    tab("us/by_external_id/v1", 3),
    tab("eu/by_external_id/v1", 4),
];
const BY_SLUG: [Tab; 2] = [tab("us/by_slug/v1", 5), tab("eu/by_slug/v1", 6)];
/// How many tables the schema has.
const TABLES: usize = 7;

const META_FORMAT_VERSION: &[u8] = b"format_version";
const META_LAST_ID: &[u8] = b"last_assigned_id";

/// A unique secondary index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Index {
    ExternalId,
    Slug,
}

impl Index {
    fn table(self, region: Region) -> Tab {
        match self {
            Index::ExternalId => BY_EXTERNAL_ID[region.index()],
            Index::Slug => BY_SLUG[region.index()],
        }
    }

    fn field(self) -> UniqueField {
        match self {
            Index::ExternalId => UniqueField::ExternalId,
            Index::Slug => UniqueField::Slug,
        }
    }

    fn value(self, org: &Organization) -> Option<&str> {
        match self {
            Index::ExternalId => org.external_id.as_deref(),
            Index::Slug => org.slug.as_deref(),
        }
    }

    const ALL: [Index; 2] = [Index::ExternalId, Index::Slug];
}

// ---------------------------------------------------------------------------------------------
// Errors

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

// ---------------------------------------------------------------------------------------------
// Keys

/// An id key, kept on the stack (reads make one per lookup).
struct IdKey {
    bytes: [u8; 1 + MAX_SUFFIX],
    len: usize,
}

impl IdKey {
    /// A copy of a key read from a table; one too long to be an id key is corrupt.
    fn stored(key: &[u8]) -> Result<IdKey> {
        let mut bytes = [0u8; 1 + MAX_SUFFIX];
        bytes
            .get_mut(..key.len())
            .ok_or_else(|| Error::corrupted(format!("malformed id key {key:02x?}")))?
            .copy_from_slice(key);
        Ok(IdKey {
            bytes,
            len: key.len(),
        })
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl std::ops::Deref for IdKey {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

fn id_key(id: &OrgId) -> IdKey {
    let s = id.suffix().as_bytes();
    // Every `OrgId` has a suffix of 1 to MAX_SUFFIX bytes (checked wherever one is made).
    let n = s.len().min(MAX_SUFFIX);
    let mut bytes = [0u8; 1 + MAX_SUFFIX];
    bytes[0] = n as u8;
    bytes[1..=n].copy_from_slice(&s[..n]);
    IdKey { bytes, len: 1 + n }
}

fn decode_id_key(key: &[u8]) -> Result<OrgId> {
    let bad = || Error::corrupted(format!("malformed id key {key:02x?}"));
    let (&len, suffix) = key.split_first().ok_or_else(bad)?;
    if usize::from(len) != suffix.len() {
        return Err(bad());
    }
    let text = std::str::from_utf8(suffix).map_err(|_| bad())?;
    OrgId::from_suffix(text).map_err(|_| bad())
}

// ---------------------------------------------------------------------------------------------
// Opening

/// How to open the database.
pub(crate) struct OpenOptions {
    pub cache_size: usize,
    pub verify_on_open: bool,
    pub multi_process: bool,
}

/// An open redb database holding an OrgStore.
pub(crate) struct Engine {
    db: redb::Database,
    /// Which store this is, for the write permit (the file, or this handle alone).
    key: StoreKey,
}

impl Engine {
    pub(crate) fn open(path: &Path, options: &OpenOptions) -> Result<Engine> {
        let opened = file::open(path, options.multi_process)?;
        let identity = StoreKey::of_file(&opened.file);
        let backend = redb::backends::FileBackend::new(opened.file).storage()?;
        let db = builder(options).create_with_backend(backend).storage()?;
        let engine = Engine::init(db, identity)?;
        if opened.created {
            file::sync_parent(path)?;
        }
        Ok(engine)
    }

    pub(crate) fn with_backend(
        backend: impl crate::backend::StorageBackend,
        options: &OpenOptions,
    ) -> Result<Engine> {
        if file::unfinished_creation(&backend).storage()? {
            backend.set_len(0).storage()?;
            backend.sync_data().storage()?;
        }
        let db = builder(options)
            .create_with_backend(Backend(backend))
            .storage()?;
        Engine::init(db, StoreKey::fresh())
    }

    pub(crate) fn in_memory(options: &OpenOptions) -> Result<Engine> {
        let db = builder(options)
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .storage()?;
        Engine::init(db, StoreKey::fresh())
    }

    /// Checks the format version, creating every table on a new file.
    fn init(db: redb::Database, key: StoreKey) -> Result<Engine> {
        let engine = Engine { db, key };
        let read = engine.db.begin_read().storage()?;
        let ready = match read.open_table(META.def) {
            Ok(meta) => {
                check_version(meta.get(META_FORMAT_VERSION).storage()?.as_ref())?;
                true
            }
            Err(redb::TableError::TableDoesNotExist(_)) => false,
            Err(e) => return Err(e).storage(),
        };
        drop(read);
        if !ready {
            let w = engine.db.begin_write().storage()?;
            // Another process may have initialised the file meanwhile (multi-process mode).
            let existing: Vec<String> = w
                .list_tables()
                .storage()?
                .map(|t| redb::TableHandle::name(&t).to_owned())
                .collect();
            if existing.iter().any(|n| n == META.def.name_str()) {
                let meta = w.open_table(META.def).storage()?;
                check_version(meta.get(META_FORMAT_VERSION).storage()?.as_ref())?;
            } else if !existing.is_empty() {
                return Err(Error::precondition(format!(
                    "the file holds tables that are not OrgStore's ({})",
                    existing.join(", ")
                )));
            } else {
                let mut meta = w.open_table(META.def).storage()?;
                meta.insert(META_FORMAT_VERSION, &FORMAT_VERSION.to_le_bytes()[..])
                    .storage()?;
            }
            for region in Region::ALL {
                w.open_table(ORGS[region.index()].def).storage()?;
                for index in Index::ALL {
                    w.open_table(index.table(region).def).storage()?;
                }
            }
            w.commit().storage()?;
        }
        Ok(engine)
    }

    /// Which store this is, for the write permit.
    pub(crate) fn key(&self) -> StoreKey {
        self.key
    }

    pub(crate) fn begin_read(&self) -> Result<redb::ReadTransaction> {
        self.db.begin_read().storage()
    }

    pub(crate) fn begin_write(&self, durable: bool) -> Result<Writer> {
        let mut w = self.db.begin_write().storage()?;
        if !durable {
            w.set_durability(redb::Durability::None)
                .map_err(|e| Error::precondition(e.to_string()))?;
        }
        Ok(Writer::new(w))
    }

    /// Verifies every checksum, repairing what redb can; `Ok(true)` when the file was intact.
    pub(crate) fn check_integrity(&mut self) -> Result<bool> {
        self.db.check_integrity().storage()
    }

    /// Compacts the file; `Ok(true)` if anything was reclaimed.
    pub(crate) fn compact(&mut self) -> Result<bool> {
        self.db.compact().storage()
    }
}

/// Adapts our [`StorageBackend`](crate::backend::StorageBackend) to redb's.
#[derive(Debug)]
struct Backend<B>(B);

impl<B: crate::backend::StorageBackend> redb::StorageBackend for Backend<B> {
    fn len(&self) -> std::io::Result<u64> {
        self.0.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.0.read(offset, out)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.0.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.0.write(offset, data)
    }
}

trait NameStr {
    fn name_str(&self) -> &str;
}

impl NameStr for Def {
    fn name_str(&self) -> &str {
        redb::TableHandle::name(self)
    }
}

impl NameStr for Tab {
    fn name_str(&self) -> &str {
        self.def.name_str()
    }
}

fn builder(options: &OpenOptions) -> redb::Builder {
    let mut b = redb::Builder::new();
    b.set_cache_size(options.cache_size);
    b.set_check_integrity_on_open(options.verify_on_open);
    if options.multi_process {
        b.set_concurrency_mode(redb::ConcurrencyMode::MultiWriter);
    }
    b
}

fn check_version(stored: Option<&redb::AccessGuard<'_, &'static [u8]>>) -> Result<()> {
    let Some(guard) = stored else {
        return Err(Error::corrupted("format version is missing"));
    };
    let bytes: [u8; 4] = guard
        .value()
        .try_into()
        .map_err(|_| Error::corrupted("format version is malformed"))?;
    let found = u32::from_le_bytes(bytes);
    if found == FORMAT_VERSION {
        Ok(())
    } else {
        Err(Error::UnsupportedFormat {
            found,
            supported: FORMAT_VERSION,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Reading: one code path for read and write transactions

/// Tables to read, in either kind of transaction.
pub(crate) trait Tables {
    /// The table type of the transaction.
    type Inner: ReadableTable<&'static [u8], &'static [u8]>;
    /// What [`table`](Tables::table) hands out: the table itself or a borrow of it.
    type Table<'a>: std::ops::Deref<Target = Self::Inner>
    where
        Self: 'a;
    fn table(&self, tab: Tab) -> Result<Self::Table<'_>>;
}

/// A table owned by the caller (a read transaction's tables are independent values).
pub(crate) struct Owned<T>(T);

impl<T> std::ops::Deref for Owned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl Tables for redb::ReadTransaction {
    type Inner = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;
    type Table<'a> = Owned<Self::Inner>;
    fn table(&self, tab: Tab) -> Result<Self::Table<'_>> {
        self.open_table(tab.def).storage().map(Owned)
    }
}

// ---------------------------------------------------------------------------------------------
// Write transactions

type WriteTable<'q> = redb::Table<'q, &'static [u8], &'static [u8]>;

/// The tables a write transaction has opened so far, one slot per table of the schema.
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
    written: std::cell::Cell<bool>,
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
    fn new(txn: redb::WriteTransaction) -> Writer {
        Writer(WriterCell::new(txn, |_| OpenTables::default()))
    }

    /// Runs `f` with access to the transaction's tables.
    pub(crate) fn with<R>(&self, f: impl for<'o, 'q> FnOnce(&W<'o, 'q>) -> R) -> R {
        self.0.with_dependent(|txn, open| f(&W { txn, open }))
    }

    /// Closes the tables and commits; a transaction that wrote nothing is rolled back instead,
    /// which leaves the file untouched and costs no sync.
    pub(crate) fn commit(self) -> Result<()> {
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
}

/// A table wanted for writing while it is borrowed: a bug of this module, reported, not a
/// panic.
fn busy(tab: Tab) -> Error {
    Error::Storage(StorageError::new(
        format!(
            "table {} is already in use in this transaction",
            tab.name_str()
        ),
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

fn regions(region: Option<Region>) -> &'static [Region] {
    match region {
        Some(Region::Us) => &[Region::Us],
        Some(Region::Eu) => &[Region::Eu],
        None => &Region::ALL,
    }
}

/// The record with this id key in `region`, if any.
fn load<T: Tables>(t: &T, region: Region, id: OrgId, key: &[u8]) -> Result<Option<Organization>> {
    let orgs = t.table(ORGS[region.index()])?;
    let value = orgs.get(key).storage()?;
    value
        .map(|v| codec::decode(id, region, v.value()))
        .transpose()
}

/// Finds an organization by id in any region.
pub(crate) fn get<T: Tables>(t: &T, id: OrgId) -> Result<Option<Organization>> {
    let key = id_key(&id);
    for region in Region::ALL {
        let orgs = t.table(ORGS[region.index()])?;
        let value = orgs.get(key.as_slice()).storage()?;
        if let Some(v) = value {
            return codec::decode(id, region, v.value()).map(Some);
        }
    }
    Ok(None)
}

/// Finds the holder of a unique value in the given regions.
fn find_by_index<T: Tables>(
    t: &T,
    index: Index,
    value: &str,
    within: &[Region],
) -> Result<Option<Organization>> {
    for &region in within {
        let key = {
            let table = t.table(index.table(region))?;
            let hit = table.get(value.as_bytes()).storage()?;
            match hit {
                Some(k) => IdKey::stored(k.value())?,
                None => continue,
            }
        };
        let id = decode_id_key(&key)?;
        return match load(t, region, id, &key)? {
            Some(org) if index.value(&org) == Some(value) => Ok(Some(org)),
            _ => Err(Error::corrupted(format!(
                "index {} entry {value:?} points at {}, which does not hold it",
                index.table(region).name_str(),
                decode_id_key(&key)?
            ))),
        };
    }
    Ok(None)
}

pub(crate) fn get_by_external_id<T: Tables>(
    t: &T,
    external_id: &str,
) -> Result<Option<Organization>> {
    validate::lookup_external_id(external_id)?;
    find_by_index(t, Index::ExternalId, external_id, &Region::ALL)
}

pub(crate) fn get_by_slug<T: Tables>(t: &T, slug: &str) -> Result<Option<Organization>> {
    validate::lookup_slug(slug)?;
    find_by_index(t, Index::Slug, slug, &Region::ALL)
}

pub(crate) fn count<T: Tables>(t: &T, region: Option<Region>) -> Result<u64> {
    let mut n = 0;
    for &r in regions(region) {
        n += t.table(ORGS[r.index()])?.len().storage()?;
    }
    Ok(n)
}

type Row<'a> = (
    redb::AccessGuard<'a, &'static [u8]>,
    redb::AccessGuard<'a, &'static [u8]>,
);
type RowIter<'a> = Box<dyn Iterator<Item = std::result::Result<Row<'a>, redb::StorageError>> + 'a>;

/// The key range beyond `from` in scan direction.
fn bounds(from: Bound<&[u8]>, scan: Scan) -> (Bound<&[u8]>, Bound<&[u8]>) {
    match scan {
        Scan::Ascending => (from, Bound::Unbounded),
        Scan::Descending => (Bound::Unbounded, from),
    }
}

/// Decodes up to `limit` rows of `region` into `rows`; whether more follow.
fn take_rows<'a>(
    iter: impl Iterator<Item = std::result::Result<Row<'a>, redb::StorageError>>,
    region: Region,
    limit: usize,
    rows: &mut Vec<Organization>,
) -> Result<bool> {
    for item in iter {
        if rows.len() == limit {
            return Ok(true);
        }
        let (k, v) = item.storage()?;
        rows.push(codec::decode(decode_id_key(k.value())?, region, v.value())?);
    }
    Ok(false)
}

fn range<'a, T>(table: &'a T, from: Bound<&'a [u8]>, scan: Scan) -> Result<RowIter<'a>>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let r = table.range::<&[u8]>(bounds(from, scan)).storage()?;
    Ok(match scan {
        Scan::Ascending => Box::new(r),
        Scan::Descending => Box::new(r.rev()),
    })
}

/// One page of a listing, read from one snapshot.
pub(crate) fn list<T: Tables>(t: &T, request: &ListRequest) -> Result<Page> {
    let cursor = list::decode_token(request)?;
    let within = regions(request.region);
    let forward = cursor.as_ref().is_none_or(|c| c.forward);
    let scan = request.order.scan(forward);
    let (fetched, total) = match &request.external_id {
        Some(external_id) => fetch_filtered(t, external_id, within, cursor.as_ref(), scan)?,
        None => fetch_range(
            t,
            within,
            cursor.as_ref(),
            scan,
            request.effective_page_size(),
        )?,
    };
    Ok(list::assemble(request, cursor.as_ref(), fetched, total))
}

/// The 0 or 1 organization matching an external-id filter, placed relative to the cursor.
fn fetch_filtered<T: Tables>(
    t: &T,
    external_id: &str,
    within: &[Region],
    cursor: Option<&Cursor>,
    scan: Scan,
) -> Result<(Fetched, u64)> {
    validate::lookup_external_id(external_id)?;
    let hit = find_by_index(t, Index::ExternalId, external_id, within)?;
    let total = u64::from(hit.is_some());
    let (rows, any_behind) = match (hit, cursor) {
        (Some(org), Some(c))
            if !(beyond(&org.id, &c.id, scan) || c.inclusive && org.id == c.id) =>
        {
            (vec![], true)
        }
        (Some(org), _) => (vec![org], false),
        (None, _) => (vec![], false),
    };
    let fetched = Fetched {
        rows,
        more_ahead: false,
        any_behind,
    };
    Ok((fetched, total))
}

/// Up to `limit` rows beyond the cursor, merged across `within` in scan order.
fn fetch_range<T: Tables>(
    t: &T,
    within: &[Region],
    cursor: Option<&Cursor>,
    scan: Scan,
    limit: usize,
) -> Result<(Fetched, u64)> {
    let cursor_key = cursor.map(|c| (id_key(&c.id), c.inclusive));
    let (from, behind) = match &cursor_key {
        None => (Bound::Unbounded, None),
        // Behind the cursor is what the scan does not cover.
        Some((key, true)) => (Bound::Included(&key[..]), Some(Bound::Excluded(&key[..]))),
        Some((key, false)) => (Bound::Excluded(&key[..]), Some(Bound::Included(&key[..]))),
    };
    let tables = within
        .iter()
        .map(|r| Ok((*r, t.table(ORGS[r.index()])?)))
        .collect::<Result<Vec<_>>>()?;
    let mut rows = Vec::with_capacity(limit);
    let more_ahead = if let [(region, table)] = tables.as_slice() {
        // One region: a straight scan.
        let r = table.range::<&[u8]>(bounds(from, scan)).storage()?;
        match scan {
            Scan::Ascending => take_rows(r, *region, limit, &mut rows)?,
            Scan::Descending => take_rows(r.rev(), *region, limit, &mut rows)?,
        }
    } else {
        // All regions: merge the per-region scans in id order.
        let mut iters = Vec::with_capacity(tables.len());
        for (region, table) in &tables {
            iters.push((*region, range(&**table, from, scan)?.peekable()));
        }
        loop {
            let Some(i) = next_source(&mut iters, scan) else {
                break false;
            };
            if rows.len() == limit {
                break true;
            }
            let (region, it) = &mut iters[i];
            let Some(item) = it.next() else { break false };
            let (k, v) = item.storage()?;
            let id = decode_id_key(k.value())?;
            rows.push(codec::decode(id, *region, v.value())?);
        }
    };
    let mut any_behind = false;
    if let Some(behind) = behind {
        let back = match scan {
            Scan::Ascending => Scan::Descending,
            Scan::Descending => Scan::Ascending,
        };
        for (_, table) in &tables {
            if range(&**table, behind, back)?
                .next()
                .transpose()
                .storage()?
                .is_some()
            {
                any_behind = true;
                break;
            }
        }
    }
    // Counted on the tables already open (a write transaction cannot open a table twice).
    let mut total = 0;
    for (_, table) in &tables {
        total += table.len().storage()?;
    }
    let fetched = Fetched {
        rows,
        more_ahead,
        any_behind,
    };
    Ok((fetched, total))
}

/// The index of the source whose next key comes first in scan order (an error comes first, so
/// it surfaces), or `None` when all are exhausted.
fn next_source(
    iters: &mut [(Region, std::iter::Peekable<RowIter<'_>>)],
    scan: Scan,
) -> Option<usize> {
    let mut best: Option<(usize, &[u8])> = None;
    for (i, (_, it)) in iters.iter_mut().enumerate() {
        match it.peek() {
            None => {}
            Some(Err(_)) => return Some(i),
            Some(Ok((k, _))) => {
                let k = k.value();
                let better = best.is_none_or(|(_, b)| match scan {
                    Scan::Ascending => k < b,
                    Scan::Descending => k > b,
                });
                if better {
                    best = Some((i, k));
                }
            }
        }
    }
    best.map(|(i, _)| i)
}

/// Whether `id` lies strictly beyond `cursor` when scanning in `scan` direction.
fn beyond(id: &OrgId, cursor: &OrgId, scan: Scan) -> bool {
    match scan {
        Scan::Ascending => id > cursor,
        Scan::Descending => id < cursor,
    }
}

/// Walks every record and index entry and checks that they agree: each record's unique values
/// are indexed in its region and point back at it; each index entry points at a live record
/// holding that value; no id or unique value appears in two regions. Returns the record count.
pub(crate) fn check_indexes<T: Tables>(t: &T) -> Result<u64> {
    let mut seen_ids = std::collections::HashSet::new();
    let mut seen_values: [std::collections::HashSet<Vec<u8>>; 2] = Default::default();
    let mut records = 0;
    for region in Region::ALL {
        let orgs = t.table(ORGS[region.index()])?;
        let mut expected = [0u64; 2];
        for item in orgs.iter().storage()? {
            let (k, v) = item.storage()?;
            let id = decode_id_key(k.value())?;
            let org = codec::decode(id.clone(), region, v.value())?;
            if !seen_ids.insert(id.clone()) {
                return Err(Error::corrupted(format!(
                    "id {id} is stored in two regions"
                )));
            }
            records += 1;
            for (i, index) in Index::ALL.into_iter().enumerate() {
                let Some(value) = index.value(&org) else {
                    continue;
                };
                expected[i] += 1;
                let table = t.table(index.table(region))?;
                let entry = table.get(value.as_bytes()).storage()?;
                if entry.as_ref().map(redb::AccessGuard::value) != Some(k.value()) {
                    return Err(Error::corrupted(format!(
                        "{id} holds {} {value:?} but the index does not point at it",
                        index.field()
                    )));
                }
            }
        }
        for (i, index) in Index::ALL.into_iter().enumerate() {
            let table = t.table(index.table(region))?;
            let len = table.len().storage()?;
            if len != expected[i] {
                return Err(Error::corrupted(format!(
                    "index {} has {len} entries for {} holders",
                    index.table(region).name_str(),
                    expected[i]
                )));
            }
            for item in table.iter().storage()? {
                let (value, _) = item.storage()?;
                if !seen_values[i].insert(value.value().to_vec()) {
                    return Err(Error::corrupted(format!(
                        "{} {:?} is indexed in two regions",
                        index.field(),
                        String::from_utf8_lossy(value.value())
                    )));
                }
            }
        }
    }
    Ok(records)
}

// ---------------------------------------------------------------------------------------------
// Writing

/// What a write needs besides its input: the time and the default region.
pub(crate) struct WriteContext {
    pub now: OffsetDateTime,
    pub default_region: Region,
}

/// Refuses unique values held by an organization other than `owner`.
fn check_unique(
    w: &W<'_, '_>,
    owner: Option<&OrgId>,
    external_id: Option<&str>,
    slug: Option<&str>,
) -> Result<()> {
    for (index, value) in [(Index::ExternalId, external_id), (Index::Slug, slug)] {
        let Some(value) = value else { continue };
        if let Some(holder) = find_by_index(w, index, value, &Region::ALL)? {
            if Some(&holder.id) != owner {
                return Err(Error::AlreadyExists {
                    field: index.field(),
                    value: value.to_owned(),
                    holder: holder.id,
                });
            }
        }
    }
    Ok(())
}

/// [`check_unique`] for the values of a complete record.
fn check_unique_record(w: &W<'_, '_>, org: &Organization) -> Result<()> {
    check_unique(
        w,
        Some(&org.id),
        org.external_id.as_deref(),
        org.slug.as_deref(),
    )
}

/// Writes `new` (replacing `old`, the same id's current record, if given) with its indexes.
fn put(w: &W<'_, '_>, old: Option<&Organization>, new: &Organization) -> Result<()> {
    let region = new.region_code;
    let key = id_key(&new.id);
    for index in Index::ALL {
        let (before, after) = (old.and_then(|o| index.value(o)), index.value(new));
        if before == after {
            continue;
        }
        let mut table = w.table_mut(index.table(region))?;
        if let Some(v) = before {
            table.remove(v.as_bytes()).storage()?;
        }
        if let Some(v) = after {
            table.insert(v.as_bytes(), key.as_slice()).storage()?;
        }
    }
    let mut orgs = w.table_mut(ORGS[region.index()])?;
    orgs.insert(key.as_slice(), codec::encode(new).as_slice())
        .storage()?;
    Ok(())
}

/// Removes `org` and its index entries.
fn remove(w: &W<'_, '_>, org: &Organization) -> Result<()> {
    let region = org.region_code;
    for index in Index::ALL {
        if let Some(v) = index.value(org) {
            w.table_mut(index.table(region))?
                .remove(v.as_bytes())
                .storage()?;
        }
    }
    w.table_mut(ORGS[region.index()])?
        .remove(id_key(&org.id).as_slice())
        .storage()?;
    Ok(())
}

/// The last assigned id as a write transaction knows it. Read from `orgstore/meta` at the
/// transaction's first create and written back once, just before it commits, so a transaction
/// creating a thousand organizations touches the meta table twice, not two thousand times.
#[derive(Debug, Default)]
pub(crate) struct IdState {
    /// Whether `last` has been read from the meta table yet.
    loaded: bool,
    last: Option<ulid::Ulid>,
    dirty: bool,
}

fn read_last_id(w: &W<'_, '_>) -> Result<Option<ulid::Ulid>> {
    let meta = w.table(META)?;
    let value = meta.get(META_LAST_ID).storage()?;
    value
        .map(|v| {
            let bytes: [u8; 16] = v
                .value()
                .try_into()
                .map_err(|_| Error::corrupted("last assigned id is malformed"))?;
            Ok(ulid::Ulid::from_bytes(bytes))
        })
        .transpose()
}

/// Writes the last assigned id back to the meta table if this transaction assigned any.
/// Call just before committing.
pub(crate) fn save_ids(w: &W<'_, '_>, ids: &IdState) -> Result<()> {
    if let (true, Some(last)) = (ids.dirty, ids.last) {
        w.table_mut(META)?
            .insert(META_LAST_ID, &last.to_bytes()[..])
            .storage()?;
    }
    Ok(())
}

/// Whether any region holds a record with this id key.
fn exists<T: Tables>(t: &T, key: &[u8]) -> Result<bool> {
    for region in Region::ALL {
        if t.table(ORGS[region.index()])?.get(key).storage()?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Draws the next assigned id: above every id assigned before, and not held by any record.
fn assign_id(w: &W<'_, '_>, ids: &mut IdState, now: OffsetDateTime) -> Result<OrgId> {
    if !ids.loaded {
        ids.last = read_last_id(w)?;
        ids.loaded = true;
    }
    let last = ids.last;
    let now_ms = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let mut candidate = last;
    loop {
        let ulid = next_ulid(candidate, now_ms)
            .ok_or_else(|| Error::precondition("the id space is exhausted"))?;
        let id = OrgId::from_ulid(ulid);
        candidate = Some(ulid);
        // An imported record may already carry this id (vanishingly rare): draw again.
        if !exists(w, &id_key(&id))? {
            ids.last = Some(ulid);
            ids.dirty = true;
            return Ok(id);
        }
    }
}

pub(crate) fn create(
    w: &W<'_, '_>,
    ids: &mut IdState,
    new: NewOrganization,
    cx: &WriteContext,
) -> Result<Organization> {
    new.validate()?;
    // Uniqueness before drawing an id, so a refused create leaves no trace at all.
    check_unique(w, None, new.external_id.as_deref(), new.slug.as_deref())?;
    let id = assign_id(w, ids, cx.now)?;
    let org = new.into_record(id, cx.default_region, cx.now);
    put(w, None, &org)?;
    Ok(org)
}

/// Resolves an update or delete target.
pub(crate) enum Target<'a> {
    Id(&'a OrgId),
    ExternalId(&'a str),
}

fn resolve<T: Tables>(t: &T, target: &Target<'_>) -> Result<Organization> {
    let (found, key) = match target {
        Target::Id(id) => (get(t, (*id).clone())?, LookupKey::Id((*id).clone())),
        Target::ExternalId(e) => (
            get_by_external_id(t, e)?,
            LookupKey::ExternalId((*e).to_owned()),
        ),
    };
    found.ok_or(Error::NotFound { key })
}

pub(crate) fn update(
    w: &W<'_, '_>,
    target: &Target<'_>,
    change: OrganizationUpdate,
    cx: &WriteContext,
) -> Result<Organization> {
    let current = resolve(w, target)?;
    let Some(next) = change.apply(&current, cx.now)? else {
        return Ok(current);
    };
    check_unique_record(w, &next)?;
    put(w, Some(&current), &next)?;
    Ok(next)
}

pub(crate) fn delete(w: &W<'_, '_>, target: &Target<'_>) -> Result<Organization> {
    let current = resolve(w, target)?;
    remove(w, &current)?;
    Ok(current)
}

/// Inserts or replaces a complete record, keeping its id and timestamps (to microseconds).
pub(crate) fn import(w: &W<'_, '_>, org: Organization) -> Result<Organization> {
    let org = validate::imported(org)?;
    let existing = get(w, org.id.clone())?;
    if let Some(old) = &existing {
        if old.region_code != org.region_code {
            return Err(Error::precondition(format!(
                "organization {} lives in region {}; a region cannot change",
                org.id, old.region_code
            )));
        }
    }
    if existing.as_ref() == Some(&org) {
        // The same record again (a repeated mirror or seed): nothing to write.
        return Ok(org);
    }
    check_unique_record(w, &org)?;
    put(w, existing.as_ref(), &org)?;
    Ok(org)
}
