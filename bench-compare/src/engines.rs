//! The four engines behind one trait. Each stores the same tenants with the same semantics:
//! unique external id and slug checked in the same transaction as the write, per-region
//! listing in id order, durable commits (fsync per transaction) unless bulk-loading.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::workload::Tenant;

/// Page cache of every engine: OrgStore's default (256 MiB), or `BENCH_CACHE_MB`.
pub static CACHE_BYTES: std::sync::LazyLock<usize> = std::sync::LazyLock::new(|| {
    std::env::var("BENCH_CACHE_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(orgstore::DEFAULT_CACHE_SIZE, |mb| mb * 1024 * 1024)
});

thread_local! {
    static SLOT: std::cell::Cell<usize> = const { std::cell::Cell::new(1) };
}

/// Which connection a thread uses where an engine keeps one per thread (SQLite): slot 0 is
/// the writer's; readers default to slot 1.
pub fn set_thread_slot(slot: usize) {
    SLOT.with(|s| s.set(slot));
}

fn thread_slot() -> usize {
    SLOT.with(std::cell::Cell::get)
}

thread_local! {
    static WRITE_SLOT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Which connection a thread writes through where an engine keeps one per thread (SQLite):
/// slot 0, the writer's, unless set, so that several writer threads can each write through a
/// connection of their own (the `concurrent` benchmark). Bulk loads always use slot 0.
#[allow(dead_code)] // set by the `concurrent` binary only
pub fn set_write_slot(slot: usize) {
    WRITE_SLOT.with(|s| s.set(slot));
}

fn write_slot() -> usize {
    WRITE_SLOT.with(std::cell::Cell::get)
}

/// Settles an engine's files before they are measured (SQLite: checkpoint the WAL into the
/// database and truncate it).
pub fn before_size(engine: &dyn std::any::Any) {
    if let Some(s) = engine.downcast_ref::<sqlite_engine::SqliteEngine>() {
        s.conn(0)
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .expect("checkpoint");
    }
}

/// What every engine implements. Ids are opaque `Key`s the engine hands out at load time.
pub trait Engine: Send + Sync {
    type Key: Clone + Send + Sync;
    /// Loads tenants in batches of 1,000 per transaction; returns each tenant's key.
    fn bulk_load(&self, tenants: &[Tenant]) -> Vec<Self::Key>;
    /// One durable transaction creating one tenant.
    fn create(&self, tenant: &Tenant) -> Self::Key;
    fn get_by_id(&self, key: &Self::Key) -> bool;
    fn get_by_external_id(&self, external_id: &str) -> bool;
    /// Where a listing of region `eu` continues: a page token or a last key.
    type Cursor: Clone + Send + Sync;
    /// The first `limit` tenants of region `eu` in id order, and the cursor after them.
    fn first_page(&self, eu: bool, limit: usize) -> (usize, Option<Self::Cursor>);
    /// The `limit` tenants after `cursor` (keyset), and the cursor after them.
    fn page_from(
        &self,
        eu: bool,
        cursor: &Self::Cursor,
        limit: usize,
    ) -> (usize, Option<Self::Cursor>);
    fn update_display_name(&self, key: &Self::Key, name: &str);
    fn update_external_id(&self, key: &Self::Key, external_id: &str);
    fn delete(&self, key: &Self::Key);
    /// Closes and reopens; returns the time the open took.
    fn reopen_time(path: &Path, verify: bool) -> Duration
    where
        Self: Sized;
    /// Reopens and compacts the file as far as the engine can (redb `compact()` until it
    /// reports nothing left, SQLite `VACUUM`).
    fn compact(path: &Path)
    where
        Self: Sized;
}

/// Where an engine keeps its files, and how big they are.
pub fn dir_size(path: &Path) -> u64 {
    let meta = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    // SQLite keeps a WAL beside the database.
    let wal = std::fs::metadata(PathBuf::from(format!("{}-wal", path.display())))
        .map(|m| m.len())
        .unwrap_or(0);
    meta + wal
}

// ---------------------------------------------------------------------------------------------
// OrgStore

pub mod orgstore_engine {
    use super::{Duration, Engine, Path, Tenant, CACHE_BYTES};
    use orgstore::{Durability, ListRequest, Order, OrgId, OrgStore, OrganizationUpdate, Region};
    use std::time::Instant;

    pub struct OrgStoreEngine {
        pub store: OrgStore,
    }

    impl OrgStoreEngine {
        pub fn open(path: &Path) -> Self {
            let store = OrgStore::builder()
                .cache_size(*CACHE_BYTES)
                .open(path)
                .expect("open orgstore");
            OrgStoreEngine { store }
        }
    }

    fn region(eu: bool) -> Region {
        if eu {
            Region::Eu
        } else {
            Region::Us
        }
    }

    impl Engine for OrgStoreEngine {
        type Key = OrgId;

        fn bulk_load(&self, tenants: &[Tenant]) -> Vec<OrgId> {
            let mut keys = Vec::with_capacity(tenants.len());
            for batch in tenants.chunks(1000) {
                self.store
                    .transaction(|t| {
                        for tenant in batch {
                            keys.push(t.create(tenant.to_new())?.id);
                        }
                        Ok::<_, orgstore::Error>(())
                    })
                    .expect("bulk load");
            }
            keys
        }

        fn create(&self, tenant: &Tenant) -> OrgId {
            self.store.create(tenant.to_new()).expect("create").id
        }

        fn get_by_id(&self, key: &OrgId) -> bool {
            self.store.get(key).expect("get").is_some()
        }

        fn get_by_external_id(&self, external_id: &str) -> bool {
            self.store
                .get_by_external_id(external_id)
                .expect("get")
                .is_some()
        }

        type Cursor = String;

        fn first_page(&self, eu: bool, limit: usize) -> (usize, Option<String>) {
            self.page_from(eu, &String::new(), limit)
        }

        fn page_from(&self, eu: bool, token: &String, limit: usize) -> (usize, Option<String>) {
            let request = ListRequest::new()
                .region(region(eu))
                .order(Order::OldestFirst)
                .page_size(limit as u32)
                .page_token(token);
            let page = self.store.list(&request).expect("list");
            let next = (!page.next_page_token.is_empty()).then_some(page.next_page_token);
            (page.organizations.len(), next)
        }

        fn update_display_name(&self, key: &OrgId, name: &str) {
            self.store
                .update(key, OrganizationUpdate::new().display_name(name))
                .expect("update");
        }

        fn update_external_id(&self, key: &OrgId, external_id: &str) {
            self.store
                .update(key, OrganizationUpdate::new().external_id(external_id))
                .expect("update");
        }

        fn delete(&self, key: &OrgId) {
            self.store.delete(key).expect("delete");
        }

        fn reopen_time(path: &Path, verify: bool) -> Duration {
            let start = Instant::now();
            let store = OrgStore::builder()
                .cache_size(*CACHE_BYTES)
                .verify_on_open(verify)
                .durability(Durability::Immediate)
                .open(path)
                .expect("reopen");
            let took = start.elapsed();
            drop(store);
            took
        }

        fn compact(path: &Path) {
            let mut store = OrgStore::builder()
                .verify_on_open(false)
                .open(path)
                .expect("reopen");
            while store.compact().expect("compact") {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Raw redb: OrgStore's tables (format 2) and value bytes, no validation, no API layer.

pub mod redb_engine {
    use super::{Duration, Engine, Path, Tenant, CACHE_BYTES};
    use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
    use std::ops::Bound;
    use std::time::Instant;

    type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;
    const ORGS: [Def; 2] = [
        TableDefinition::new("us/orgs/v2"),
        TableDefinition::new("eu/orgs/v2"),
    ];
    /// Both unique indexes of a region in one table, keys prefixed by a kind byte (format 2).
    const KEYS: [Def; 2] = [
        TableDefinition::new("us/keys/v2"),
        TableDefinition::new("eu/keys/v2"),
    ];
    const EXTERNAL_ID: u8 = 1;
    const SLUG: u8 = 2;

    fn index_key(kind: u8, value: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(1 + value.len());
        k.push(kind);
        k.extend_from_slice(value.as_bytes());
        k
    }

    /// An id key (same layout as OrgStore's) and its region.
    #[derive(Clone)]
    pub struct Key {
        pub id: Vec<u8>,
        pub eu: bool,
    }

    pub struct RedbEngine {
        db: Database,
    }

    type Table<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

    /// The four tables, opened once per write transaction (as OrgStore keeps them open).
    struct Open<'t> {
        orgs: [Table<'t>; 2],
        keys: [Table<'t>; 2],
    }

    impl<'t> Open<'t> {
        fn new(w: &'t redb::WriteTransaction) -> Self {
            let open = |def| w.open_table(def).expect("table");
            Open {
                orgs: ORGS.map(open),
                keys: KEYS.map(open),
            }
        }
    }

    fn id_key(id: u128) -> Vec<u8> {
        let text = crate::workload::ulid_text(id);
        let mut k = vec![text.len() as u8];
        k.extend_from_slice(text.as_bytes());
        k
    }

    impl RedbEngine {
        pub fn open(path: &Path) -> Self {
            let db = redb::Builder::new()
                .set_cache_size(*CACHE_BYTES)
                .create(path)
                .expect("open redb");
            let w = db.begin_write().expect("write");
            drop(Open::new(&w));
            w.commit().expect("commit");
            RedbEngine { db }
        }

        /// Same semantics as a create: external id and slug must be free in both regions.
        fn insert(t: &mut Open<'_>, tenant: &Tenant) -> Key {
            let ext = index_key(EXTERNAL_ID, &tenant.external_id);
            let slug = tenant.slug.as_deref().map(|s| index_key(SLUG, s));
            for r in 0..2 {
                assert!(t.keys[r].get(ext.as_slice()).expect("get").is_none());
                if let Some(s) = &slug {
                    assert!(t.keys[r].get(s.as_slice()).expect("get").is_none());
                }
            }
            let r = usize::from(tenant.eu);
            let key = id_key(tenant.id);
            let value = orgstore::internals::encode_record(&tenant.to_org());
            t.orgs[r]
                .insert(key.as_slice(), value.as_slice())
                .expect("insert");
            t.keys[r]
                .insert(ext.as_slice(), key.as_slice())
                .expect("insert");
            if let Some(s) = &slug {
                t.keys[r]
                    .insert(s.as_slice(), key.as_slice())
                    .expect("insert");
            }
            Key {
                id: key,
                eu: tenant.eu,
            }
        }

        fn page(&self, eu: bool, from: Bound<&[u8]>, limit: usize) -> (usize, Option<Vec<u8>>) {
            let r = self.db.begin_read().expect("read");
            let t = r.open_table(ORGS[usize::from(eu)]).expect("table");
            let mut out = Vec::with_capacity(limit);
            let mut last = None;
            for item in t
                .range::<&[u8]>((from, Bound::Unbounded))
                .expect("range")
                .take(limit)
            {
                let (k, v) = item.expect("item");
                out.push(orgstore::internals::decode_record(v.value()).expect("decode"));
                last = Some(k.value().to_vec());
            }
            std::hint::black_box(&out);
            (out.len(), last)
        }

        fn rewrite(&self, key: &Key, f: impl FnOnce(&mut orgstore::Organization)) {
            let w = self.db.begin_write().expect("write");
            {
                let r = usize::from(key.eu);
                let mut orgs = w.open_table(ORGS[r]).expect("table");
                let mut org = {
                    let v = orgs.get(key.id.as_slice()).expect("get").expect("present");
                    orgstore::internals::decode_record(v.value()).expect("decode")
                };
                let old_ext = org.external_id.clone();
                f(&mut org);
                if org.external_id != old_ext {
                    let mut keys = w.open_table(KEYS[r]).expect("table");
                    if let Some(new) = &org.external_id {
                        let new = index_key(EXTERNAL_ID, new);
                        assert!(keys.get(new.as_slice()).expect("get").is_none());
                        let other = w.open_table(KEYS[1 - r]).expect("table");
                        assert!(other.get(new.as_slice()).expect("get").is_none());
                        keys.insert(new.as_slice(), key.id.as_slice())
                            .expect("insert");
                    }
                    if let Some(old) = &old_ext {
                        keys.remove(index_key(EXTERNAL_ID, old).as_slice())
                            .expect("remove");
                    }
                }
                let value = orgstore::internals::encode_record(&org);
                orgs.insert(key.id.as_slice(), value.as_slice())
                    .expect("insert");
            }
            w.commit().expect("commit");
        }
    }

    impl Engine for RedbEngine {
        type Key = Key;

        fn bulk_load(&self, tenants: &[Tenant]) -> Vec<Key> {
            let mut keys = Vec::with_capacity(tenants.len());
            for batch in tenants.chunks(1000) {
                let w = self.db.begin_write().expect("write");
                {
                    let mut open = Open::new(&w);
                    for t in batch {
                        keys.push(Self::insert(&mut open, t));
                    }
                }
                w.commit().expect("commit");
            }
            keys
        }

        fn create(&self, tenant: &Tenant) -> Key {
            let w = self.db.begin_write().expect("write");
            let key = Self::insert(&mut Open::new(&w), tenant);
            w.commit().expect("commit");
            key
        }

        fn get_by_id(&self, key: &Key) -> bool {
            // Like OrgStore, the region is not known: probe in the same fixed order (US, EU).
            let r = self.db.begin_read().expect("read");
            for def in ORGS {
                let t = r.open_table(def).expect("table");
                if let Some(v) = t.get(key.id.as_slice()).expect("get") {
                    std::hint::black_box(
                        orgstore::internals::decode_record(v.value()).expect("decode"),
                    );
                    return true;
                }
            }
            false
        }

        fn get_by_external_id(&self, external_id: &str) -> bool {
            let r = self.db.begin_read().expect("read");
            let wanted = index_key(EXTERNAL_ID, external_id);
            for region in 0..2 {
                let idx = r.open_table(KEYS[region]).expect("table");
                if let Some(k) = idx.get(wanted.as_slice()).expect("get") {
                    let t = r.open_table(ORGS[region]).expect("table");
                    let v = t.get(k.value()).expect("get").expect("present");
                    std::hint::black_box(
                        orgstore::internals::decode_record(v.value()).expect("decode"),
                    );
                    return true;
                }
            }
            false
        }

        type Cursor = Vec<u8>;

        fn first_page(&self, eu: bool, limit: usize) -> (usize, Option<Vec<u8>>) {
            self.page(eu, Bound::Unbounded, limit)
        }

        fn page_from(&self, eu: bool, after: &Vec<u8>, limit: usize) -> (usize, Option<Vec<u8>>) {
            self.page(eu, Bound::Excluded(after.as_slice()), limit)
        }

        fn update_display_name(&self, key: &Key, name: &str) {
            self.rewrite(key, |o| o.display_name = name.to_string());
        }

        fn update_external_id(&self, key: &Key, external_id: &str) {
            self.rewrite(key, |o| o.external_id = Some(external_id.to_string()));
        }

        fn delete(&self, key: &Key) {
            let w = self.db.begin_write().expect("write");
            {
                let r = usize::from(key.eu);
                let mut orgs = w.open_table(ORGS[r]).expect("table");
                let org = {
                    let v = orgs.get(key.id.as_slice()).expect("get").expect("present");
                    orgstore::internals::decode_record(v.value()).expect("decode")
                };
                orgs.remove(key.id.as_slice()).expect("remove");
                let mut keys = w.open_table(KEYS[r]).expect("table");
                if let Some(e) = &org.external_id {
                    keys.remove(index_key(EXTERNAL_ID, e).as_slice())
                        .expect("remove");
                }
                if let Some(s) = &org.slug {
                    keys.remove(index_key(SLUG, s).as_slice()).expect("remove");
                }
            }
            w.commit().expect("commit");
        }

        fn reopen_time(path: &Path, verify: bool) -> Duration {
            let start = Instant::now();
            let db = redb::Builder::new()
                .set_cache_size(*CACHE_BYTES)
                .set_check_integrity_on_open(verify)
                .create(path)
                .expect("reopen");
            let took = start.elapsed();
            drop(db);
            took
        }

        fn compact(path: &Path) {
            let mut db = Database::open(path).expect("reopen");
            while db.compact().expect("compact") {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SQLite: one table, UNIQUE external_id and slug, WAL with synchronous=FULL, prepared statements.

pub mod sqlite_engine {
    use super::{Duration, Engine, Path, Tenant, CACHE_BYTES};
    use rusqlite::{params, Connection, OptionalExtension};
    use std::sync::Mutex;
    use std::time::Instant;

    pub struct SqliteEngine {
        // One connection per thread that uses the engine (readers and the writer).
        pool: Vec<Mutex<Connection>>,
    }

    pub fn connect(path: &Path) -> Connection {
        let c = Connection::open(path).expect("open sqlite");
        c.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-{}; \
             PRAGMA mmap_size=0; PRAGMA busy_timeout=10000;",
            *CACHE_BYTES / 1024
        ))
        .expect("pragmas");
        c
    }

    impl SqliteEngine {
        /// One durable read-modify-write of a record: `change` edits the decoded record, `store`
        /// writes its new bytes (and any column that changed) in the same transaction.
        fn rewrite(
            &self,
            key: &Key,
            change: impl FnOnce(&mut orgstore::Organization),
            store: impl FnOnce(&rusqlite::Transaction<'_>, Vec<u8>),
        ) {
            let mut c = self.conn(super::write_slot());
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .expect("begin");
            let data: Vec<u8> = tx
                .prepare_cached("SELECT data FROM orgs WHERE id = ?1")
                .expect("prepare")
                .query_row([&key.0], |r| r.get(0))
                .expect("row");
            let mut org = orgstore::internals::decode_record(&data).expect("decode");
            change(&mut org);
            store(&tx, orgstore::internals::encode_record(&org));
            tx.commit().expect("commit");
        }

        pub fn open(path: &Path, connections: usize) -> Self {
            let c = connect(path);
            c.execute_batch(
                "CREATE TABLE IF NOT EXISTS orgs (
                    id BLOB PRIMARY KEY,
                    region INTEGER NOT NULL,
                    external_id TEXT UNIQUE,
                    slug TEXT UNIQUE,
                    data BLOB NOT NULL
                 ) WITHOUT ROWID;
                 CREATE INDEX IF NOT EXISTS orgs_region_id ON orgs(region, id);",
            )
            .expect("schema");
            let mut pool = vec![Mutex::new(c)];
            for _ in 1..connections {
                pool.push(Mutex::new(connect(path)));
            }
            SqliteEngine { pool }
        }

        /// The connection for thread slot `i` (0 = the writer).
        pub fn conn(&self, i: usize) -> std::sync::MutexGuard<'_, Connection> {
            self.pool[i % self.pool.len()].lock().expect("connection")
        }

        fn insert(c: &Connection, t: &Tenant) {
            let data = orgstore::internals::encode_record(&t.to_org());
            c.prepare_cached(
                "INSERT INTO orgs (id, region, external_id, slug, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .expect("prepare")
            .execute(params![t.id.to_be_bytes(), i64::from(t.eu), t.external_id, t.slug, data])
            .expect("insert");
        }

        fn page(
            &self,
            sql: &str,
            eu: bool,
            arg: Option<Vec<u8>>,
            offset: i64,
            limit: usize,
        ) -> (usize, Option<Key>) {
            let c = self.conn(super::thread_slot());
            let mut stmt = c.prepare_cached(sql).expect("prepare");
            let map = |row: &rusqlite::Row<'_>| -> rusqlite::Result<Key> { Ok(Key(row.get(0)?)) };
            let map = |row: &rusqlite::Row<'_>| -> rusqlite::Result<(Key, orgstore::Organization)> {
                let (k, _) = (map(row)?, ());
                let data: Vec<u8> = row.get(1)?;
                Ok((
                    k,
                    orgstore::internals::decode_record(&data).expect("decode"),
                ))
            };
            let rows: Vec<(Key, orgstore::Organization)> = match arg {
                Some(after) => stmt
                    .query_map(params![i64::from(eu), after, limit as i64], map)
                    .expect("query")
                    .map(|r| r.expect("row"))
                    .collect(),
                None => stmt
                    .query_map(params![i64::from(eu), limit as i64, offset], map)
                    .expect("query")
                    .map(|r| r.expect("row"))
                    .collect(),
            };
            let n = rows.len();
            (n, rows.into_iter().last().map(|(k, _)| k))
        }

        /// A page at `offset` (the OFFSET anti-pattern, measured for contrast).
        pub fn page_at_offset(
            &self,
            eu: bool,
            offset: usize,
            limit: usize,
        ) -> (usize, Option<Key>) {
            self.page(
                "SELECT id, data FROM orgs WHERE region = ?1 ORDER BY id LIMIT ?2 OFFSET ?3",
                eu,
                None,
                offset as i64,
                limit,
            )
        }
    }

    #[derive(Clone)]
    pub struct Key(pub Vec<u8>);

    impl Engine for SqliteEngine {
        type Key = Key;

        fn bulk_load(&self, tenants: &[Tenant]) -> Vec<Key> {
            let mut c = self.conn(0);
            for batch in tenants.chunks(1000) {
                let tx = c.transaction().expect("begin");
                for t in batch {
                    Self::insert(&tx, t);
                }
                tx.commit().expect("commit");
            }
            tenants
                .iter()
                .map(|t| Key(t.id.to_be_bytes().to_vec()))
                .collect()
        }

        fn create(&self, tenant: &Tenant) -> Key {
            let mut c = self.conn(super::write_slot());
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .expect("begin");
            Self::insert(&tx, tenant);
            tx.commit().expect("commit");
            Key(tenant.id.to_be_bytes().to_vec())
        }

        fn get_by_id(&self, key: &Key) -> bool {
            let c = self.conn(super::thread_slot());
            let data: Option<Vec<u8>> = c
                .prepare_cached("SELECT data FROM orgs WHERE id = ?1")
                .expect("prepare")
                .query_row([&key.0], |r| r.get(0))
                .optional()
                .expect("query");
            data.map(|d| {
                std::hint::black_box(orgstore::internals::decode_record(&d).expect("decode"))
            })
            .is_some()
        }

        fn get_by_external_id(&self, external_id: &str) -> bool {
            let c = self.conn(super::thread_slot());
            let data: Option<Vec<u8>> = c
                .prepare_cached("SELECT data FROM orgs WHERE external_id = ?1")
                .expect("prepare")
                .query_row([external_id], |r| r.get(0))
                .optional()
                .expect("query");
            data.map(|d| {
                std::hint::black_box(orgstore::internals::decode_record(&d).expect("decode"))
            })
            .is_some()
        }

        type Cursor = Key;

        fn first_page(&self, eu: bool, limit: usize) -> (usize, Option<Key>) {
            self.page_at_offset(eu, 0, limit)
        }

        fn page_from(&self, eu: bool, after: &Key, limit: usize) -> (usize, Option<Key>) {
            self.page(
                "SELECT id, data FROM orgs WHERE region = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
                eu,
                Some(after.0.clone()),
                0,
                limit,
            )
        }

        fn update_display_name(&self, key: &Key, name: &str) {
            self.rewrite(
                key,
                |org| org.display_name = name.to_string(),
                |tx, data| {
                    tx.prepare_cached("UPDATE orgs SET data = ?2 WHERE id = ?1")
                        .expect("prepare")
                        .execute(params![key.0, data])
                        .expect("update");
                },
            );
        }

        fn update_external_id(&self, key: &Key, external_id: &str) {
            self.rewrite(
                key,
                |org| org.external_id = Some(external_id.to_string()),
                |tx, data| {
                    tx.prepare_cached("UPDATE orgs SET external_id = ?2, data = ?3 WHERE id = ?1")
                        .expect("prepare")
                        .execute(params![key.0, external_id, data])
                        .expect("update");
                },
            );
        }

        fn delete(&self, key: &Key) {
            let c = self.conn(super::write_slot());
            c.prepare_cached("DELETE FROM orgs WHERE id = ?1")
                .expect("prepare")
                .execute([&key.0])
                .expect("delete");
        }

        fn reopen_time(path: &Path, verify: bool) -> Duration {
            let start = Instant::now();
            let c = connect(path);
            let n: i64 = c
                .query_row("SELECT count(*) FROM orgs WHERE region = 0", [], |r| {
                    r.get(0)
                })
                .expect("count");
            std::hint::black_box(n);
            if verify {
                let ok: String = c
                    .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                    .expect("integrity");
                assert_eq!(ok, "ok");
            }
            let took = start.elapsed();
            drop(c);
            took
        }

        fn compact(path: &Path) {
            let c = connect(path);
            c.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
                .expect("vacuum");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// native_db 0.8: primary key plus unique secondary keys, its default codec.

pub mod native_engine {
    use super::{Duration, Engine, Path, Tenant, CACHE_BYTES};
    use native_db::{native_db, Builder, Database, Models, ToKey};
    use native_model::{native_model, Model};
    use serde::{Deserialize, Serialize};
    use std::sync::LazyLock;
    use std::time::Instant;

    /// Region in the top bit of the key, so a region is one key range in id order.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    #[native_model(id = 1, version = 1)]
    #[native_db]
    pub struct NativeOrg {
        #[primary_key]
        pub key: u128,
        #[secondary_key(unique)]
        pub external_id: String,
        #[secondary_key(unique, optional)]
        pub slug: Option<String>,
        pub display_name: String,
        pub logo_url: Option<String>,
        pub metadata: Vec<(String, String)>,
        pub settings: Vec<(String, bool)>,
        pub create_time_us: i64,
        pub update_time_us: i64,
    }

    static MODELS: LazyLock<Models> = LazyLock::new(|| {
        let mut m = Models::new();
        m.define::<NativeOrg>().expect("model");
        m
    });

    const EU_BIT: u128 = 1 << 127;

    pub struct NativeEngine {
        db: Database<'static>,
    }

    fn to_native(t: &Tenant) -> NativeOrg {
        NativeOrg {
            key: t.id | if t.eu { EU_BIT } else { 0 },
            external_id: t.external_id.clone(),
            slug: t.slug.clone(),
            display_name: t.display_name.clone(),
            logo_url: None,
            metadata: t.metadata.clone(),
            settings: vec![],
            create_time_us: t.time_us,
            update_time_us: t.time_us,
        }
    }

    impl NativeEngine {
        pub fn open(path: &Path) -> Self {
            let mut b = Builder::new();
            b.set_cache_size(*CACHE_BYTES);
            let db = b.create(&MODELS, path).expect("open native_db");
            NativeEngine { db }
        }

        fn page(&self, eu: bool, start: u128, limit: usize) -> (usize, Option<u128>) {
            let end = if eu { u128::MAX } else { EU_BIT - 1 };
            let r = self.db.r_transaction().expect("read");
            let scan = r.scan().primary::<NativeOrg>().expect("scan");
            let rows: Vec<NativeOrg> = scan
                .range(start..=end)
                .expect("range")
                .take(limit)
                .map(|o| o.expect("item"))
                .collect();
            (rows.len(), rows.last().map(|o| o.key))
        }
    }

    impl Engine for NativeEngine {
        type Key = u128;

        fn bulk_load(&self, tenants: &[Tenant]) -> Vec<u128> {
            for batch in tenants.chunks(1000) {
                let rw = self.db.rw_transaction().expect("write");
                for t in batch {
                    rw.insert(to_native(t)).expect("insert");
                }
                rw.commit().expect("commit");
            }
            tenants.iter().map(|t| to_native(t).key).collect()
        }

        fn create(&self, tenant: &Tenant) -> u128 {
            let rw = self.db.rw_transaction().expect("write");
            let org = to_native(tenant);
            let key = org.key;
            rw.insert(org).expect("insert");
            rw.commit().expect("commit");
            key
        }

        fn get_by_id(&self, key: &u128) -> bool {
            let r = self.db.r_transaction().expect("read");
            let o: Option<NativeOrg> = r.get().primary(*key).expect("get");
            std::hint::black_box(o).is_some()
        }

        fn get_by_external_id(&self, external_id: &str) -> bool {
            let r = self.db.r_transaction().expect("read");
            let o: Option<NativeOrg> = r
                .get()
                .secondary(NativeOrgKey::external_id, external_id.to_string())
                .expect("get");
            std::hint::black_box(o).is_some()
        }

        type Cursor = u128;

        fn first_page(&self, eu: bool, limit: usize) -> (usize, Option<u128>) {
            self.page(eu, if eu { EU_BIT } else { 0 }, limit)
        }

        fn page_from(&self, eu: bool, after: &u128, limit: usize) -> (usize, Option<u128>) {
            // native_db cannot start a range at an excluded bound (it panics); use key + 1.
            self.page(eu, after + 1, limit)
        }

        fn update_display_name(&self, key: &u128, name: &str) {
            let rw = self.db.rw_transaction().expect("write");
            let old: NativeOrg = rw.get().primary(*key).expect("get").expect("present");
            let mut new = old.clone();
            new.display_name = name.to_string();
            rw.update(old, new).expect("update");
            rw.commit().expect("commit");
        }

        fn update_external_id(&self, key: &u128, external_id: &str) {
            let rw = self.db.rw_transaction().expect("write");
            let old: NativeOrg = rw.get().primary(*key).expect("get").expect("present");
            let mut new = old.clone();
            new.external_id = external_id.to_string();
            rw.update(old, new).expect("update");
            rw.commit().expect("commit");
        }

        fn delete(&self, key: &u128) {
            let rw = self.db.rw_transaction().expect("write");
            let old: NativeOrg = rw.get().primary(*key).expect("get").expect("present");
            rw.remove(old).expect("remove");
            rw.commit().expect("commit");
        }

        fn reopen_time(path: &Path, verify: bool) -> Duration {
            let start = Instant::now();
            let mut b = Builder::new();
            b.set_cache_size(*CACHE_BYTES);
            let mut db = b.open(&MODELS, path).expect("reopen");
            if verify {
                db.check_integrity().expect("integrity");
            }
            let took = start.elapsed();
            drop(db);
            took
        }

        fn compact(path: &Path) {
            let mut b = Builder::new();
            b.set_cache_size(*CACHE_BYTES);
            let mut db = b.open(&MODELS, path).expect("reopen");
            // native_db 0.8's compact() runs redb's once and always answers `true`.
            for _ in 0..3 {
                db.compact().expect("compact");
            }
        }
    }

    // Keeps the import of ToKey used (the derive needs it in scope).
    #[allow(dead_code)]
    fn _key_is_tokey(k: u128) -> native_db::Key {
        k.to_key()
    }

    #[allow(dead_code)]
    fn _model_id() -> u32 {
        NativeOrg::native_model_id()
    }
}
