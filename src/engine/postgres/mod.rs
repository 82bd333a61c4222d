//! The PostgreSQL engine (`postgres` feature): the same store on a replicated server, for
//! applications whose instances outgrow one host. The only module that names the client
//! library.
//!
//! - Connections come from a small pool ([`pool`]), over TLS as `sslmode` says ([`tls`]). A
//!   connection is opened on one host of the URL at a time, each attempt bounded as a whole by
//!   `connect_timeout` (10 s when the URL gives none), so a host that hangs is passed over
//!   ([`connect`]).
//! - The schema and every statement are in [`sql`]; each storage step is one statement, so a
//!   create is one round trip.
//! - Read transactions are `REPEATABLE READ READ ONLY` snapshots; a one-shot read is a single
//!   statement (one snapshot by itself).
//! - Write transactions run at `SERIALIZABLE`, each operation under a savepoint, so one that
//!   fails leaves the transaction usable. A one-shot create is a single autocommitted statement;
//!   other one-shot writes begin their transaction with their first read.
//! - A commit (or a one-shot statement that commits) has a deadline ([`deadline`]): cancelled
//!   then, and its connection shut down ([`socket`]) if the server still does not answer a
//!   grace later. Cut short, or cut off by a lost connection, it is [`Error::OutcomeUnknown`],
//!   never `Ok`.
//! - Ids are assigned from this process's last id, not a shared row: time-ordered ULIDs across
//!   instances, strictly increasing within one.

mod connect;
mod deadline;
mod error;
mod pool;
mod socket;
mod sql;
mod tls;

use std::cell::{Cell, RefCell};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use postgres::types::ToSql;
use postgres::Row;

use self::connect::Connector;
use self::deadline::Deadlines;
use self::error::{is_cancel, is_connection_loss, pg_error, PgResultExt};
use self::pool::{Conn, Pool, Pooled};
use self::sql::{kind, region_code, region_of, Sql, FORMAT_VERSION, STRIPES};
use crate::codec::{self, decode_id_key, IdKey};
use crate::engine::{Conflict, Read, Write};
use crate::error::{Error, Result, UniqueField};
use crate::id::{OrgId, Region};
use crate::list::{Cursor, Fetched, Scan};
use crate::model::Organization;
use crate::permit::StoreKey;

/// How to reach and use the server.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub url: String,
    pub schema: String,
    pub pool_size: usize,
    pub checkout_timeout: Duration,
    pub commit_deadline: Duration,
    pub durable: bool,
}

/// A store in one schema of a PostgreSQL database.
pub(crate) struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Arc<Pool>,
    sql: Sql,
    deadlines: Arc<Deadlines>,
    commit_deadline: Duration,
    key: StoreKey,
}

/// The last id this process assigned, to any PostgreSQL store: ids are time-ordered across
/// processes (and hosts), strictly increasing within one.
static LAST_ID: Mutex<Option<ulid::Ulid>> = Mutex::new(None);

impl Drop for Inner {
    fn drop(&mut self) {
        self.deadlines.close();
    }
}

impl Engine {
    /// Connects, then creates the schema or checks its format version.
    pub(crate) fn connect(options: &Options) -> Result<Engine> {
        if !sql::valid_schema(&options.schema) {
            return Err(Error::precondition(format!(
                "schema name {:?} must be lower-case letters, digits and '_', not starting with a digit",
                options.schema
            )));
        }
        let (config, tls) = tls::configure(&options.url)?;
        let setup = if options.durable {
            String::new()
        } else {
            "SET synchronous_commit = off".to_owned()
        };
        let deadlines = Deadlines::new(tls.clone());
        let pool = Arc::new(Pool::new(
            Connector::new(config, tls, setup)?,
            options.pool_size,
            options.checkout_timeout,
        ));
        let engine = Engine {
            inner: Arc::new(Inner {
                pool,
                sql: Sql::new(&options.schema),
                deadlines,
                commit_deadline: options.commit_deadline,
                key: StoreKey::fresh(),
            }),
        };
        engine.init()?;
        Ok(engine)
    }

    /// Creates the tables if missing (racing instances retry) and checks the format version.
    fn init(&self) -> Result<()> {
        let mut conn = self.inner.pool.get()?;
        let mut attempts = 0;
        loop {
            let created = conn
                .client
                .batch_execute(&format!("BEGIN; {} COMMIT;", self.inner.sql.create));
            match created {
                Ok(()) => break,
                Err(e) if attempts < 5 && e.as_db_error().is_some() => {
                    // Another instance creating the same schema at the same moment.
                    let _ = conn.client.batch_execute("ROLLBACK");
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(20 * attempts));
                }
                Err(e) => return Err(pg_error(e)),
            }
        }
        let row = conn
            .client
            .query_opt(self.inner.sql.version.as_str(), &[])
            .pg()?;
        let found: i64 = row
            .map(|r| r.try_get(0))
            .transpose()
            .pg()?
            .ok_or_else(|| Error::corrupted("format version row is missing"))?;
        if found > FORMAT_VERSION {
            return Err(Error::UnsupportedFormat {
                found: u32::try_from(found).unwrap_or(u32::MAX),
                supported: u32::try_from(FORMAT_VERSION).unwrap_or(0),
            });
        }
        if found < FORMAT_VERSION {
            // No older PostgreSQL format exists; a migration would run here.
            conn.client
                .execute(self.inner.sql.set_version.as_str(), &[&FORMAT_VERSION])
                .pg()?;
        }
        Ok(())
    }

    pub(crate) fn key(&self) -> StoreKey {
        self.inner.key
    }

    /// A read-only snapshot.
    pub(crate) fn begin_read(&self) -> Result<PgRead> {
        let mut conn = self.inner.pool.get()?;
        // PostgreSQL takes the snapshot at the first statement, not at BEGIN: a first
        // statement in the same round trip takes it now, so later commits stay out of it.
        conn.client
            .batch_execute("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1")
            .pg()?;
        Ok(PgRead {
            inner: Arc::clone(&self.inner),
            conn: Mutex::new(conn),
            in_transaction: true,
        })
    }

    /// A reader for one step (a single statement is one snapshot by itself).
    pub(crate) fn read_once(&self) -> Result<PgRead> {
        Ok(PgRead {
            inner: Arc::clone(&self.inner),
            conn: Mutex::new(self.inner.pool.get()?),
            in_transaction: false,
        })
    }

    /// An explicit write transaction (`SERIALIZABLE`, an operation per savepoint).
    pub(crate) fn begin_write(&self) -> Result<PgWrite> {
        let mut conn = self.inner.pool.get()?;
        conn.client
            .batch_execute("BEGIN TRANSACTION ISOLATION LEVEL SERIALIZABLE")
            .pg()?;
        Ok(PgWrite::new(Arc::clone(&self.inner), conn, true))
    }

    /// The transaction of one one-shot write: a lone write step commits by itself; reads begin
    /// a `SERIALIZABLE` transaction.
    pub(crate) fn write_once(&self) -> Result<PgWrite> {
        let conn = self.inner.pool.get()?;
        Ok(PgWrite::new(Arc::clone(&self.inner), conn, false))
    }
}

// ---------------------------------------------------------------------------------------------
// Steps shared by readers and writers

fn param_id(id: &OrgId) -> Vec<u8> {
    IdKey::of(id).as_slice().to_vec()
}

/// A record from its region code, id key and bytes.
fn record(region: i16, id: &[u8], bytes: &[u8]) -> Result<Organization> {
    let region = region_of(region)
        .ok_or_else(|| Error::corrupted(format!("unknown region code {region}")))?;
    codec::decode(decode_id_key(id)?, region, bytes)
}

fn query(conn: &mut Conn, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
    let statement = conn.statement(sql)?;
    conn.client.query(&statement, params).pg()
}

fn get(conn: &mut Conn, sql: &Sql, id: &OrgId) -> Result<Option<Organization>> {
    let rows = query(conn, &sql.get, &[&param_id(id)])?;
    match rows.first() {
        None => Ok(None),
        Some(row) => {
            let region: i16 = row.try_get(0).pg()?;
            let bytes: Vec<u8> = row.try_get(1).pg()?;
            let region = region_of(region)
                .ok_or_else(|| Error::corrupted(format!("unknown region code {region}")))?;
            codec::decode(id.clone(), region, &bytes).map(Some)
        }
    }
}

fn find(
    conn: &mut Conn,
    sql: &Sql,
    field: UniqueField,
    value: &str,
) -> Result<Option<Organization>> {
    let rows = query(conn, &sql.find, &[&kind(field), &value])?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let region: i16 = row.try_get(0).pg()?;
    let id: Vec<u8> = row.try_get(1).pg()?;
    let bytes: Option<Vec<u8>> = row.try_get(2).pg()?;
    let dangling = || {
        Error::corrupted(format!(
            "unique key {field} {value:?} points at {}, which does not hold it",
            decode_id_key(&id).map_or_else(|_| format!("{id:02x?}"), |i| i.to_string())
        ))
    };
    let org = record(region, &id, &bytes.ok_or_else(dangling)?)?;
    let held = match field {
        UniqueField::ExternalId => org.external_id.as_deref(),
        UniqueField::Slug => org.slug.as_deref(),
    };
    if held == Some(value) {
        Ok(Some(org))
    } else {
        Err(dangling())
    }
}

fn count(conn: &mut Conn, sql: &Sql, regions: &[Region]) -> Result<u64> {
    let codes: Vec<i16> = regions.iter().map(|r| region_code(*r)).collect();
    let rows = query(conn, &sql.count, &[&codes])?;
    let n: i64 = rows
        .first()
        .map(|r| r.try_get(0))
        .transpose()
        .pg()?
        .unwrap_or(0);
    u64::try_from(n).map_err(|_| Error::corrupted(format!("negative count {n}")))
}

fn page(
    conn: &mut Conn,
    sql: &Sql,
    regions: &[Region],
    cursor: Option<&Cursor>,
    scan: Scan,
    limit: usize,
) -> Result<(Fetched, u64)> {
    let text = sql.page(regions, cursor.map(|c| c.inclusive), scan);
    let codes: Vec<i16> = regions.iter().map(|r| region_code(*r)).collect();
    let lim = i64::try_from(limit + 1).unwrap_or(i64::MAX);
    let key = cursor.map(|c| param_id(&c.id));
    let rows = match &key {
        Some(k) => query(conn, &text, &[k, &lim, &codes])?,
        None => query(conn, &text, &[&lim, &codes])?,
    };
    let mut orgs = Vec::with_capacity(limit + 1);
    let (mut total, mut any_behind) = (0, false);
    for row in &rows {
        let region: i16 = row.try_get(0).pg()?;
        if region == 0 {
            let n: i64 = row.try_get(3).pg()?;
            total =
                u64::try_from(n).map_err(|_| Error::corrupted(format!("negative count {n}")))?;
            any_behind = row.try_get(4).pg()?;
        } else {
            let id: Vec<u8> = row.try_get(1).pg()?;
            let bytes: Vec<u8> = row.try_get(2).pg()?;
            orgs.push(record(region, &id, &bytes)?);
        }
    }
    // The rows of a union come in no promised order: put them in scan order.
    match scan {
        Scan::Ascending => orgs.sort_by(|a, b| a.id.cmp(&b.id)),
        Scan::Descending => orgs.sort_by(|a, b| b.id.cmp(&a.id)),
    }
    let more_ahead = orgs.len() > limit;
    orgs.truncate(limit);
    Ok((
        Fetched {
            rows: orgs,
            more_ahead,
            any_behind,
        },
        total,
    ))
}

/// Checks that records, unique keys and counts agree (see `OrgStore::check_indexes`).
fn audit(conn: &mut Conn, sql: &Sql) -> Result<u64> {
    use std::collections::HashMap;
    let mut records = HashMap::new();
    let mut per_region = [0i64; 2];
    for row in query(conn, &sql.audit_records, &[])? {
        let region: i16 = row.try_get(0).pg()?;
        let id: Vec<u8> = row.try_get(1).pg()?;
        let bytes: Vec<u8> = row.try_get(2).pg()?;
        let org = record(region, &id, &bytes)?;
        per_region[org.region_code.index()] += 1;
        if records.insert(org.id.clone(), org).is_some() {
            return Err(Error::corrupted("an id is stored in two regions"));
        }
    }
    let mut expected: usize = records
        .values()
        .map(|o| 1 + usize::from(o.external_id.is_some()) + usize::from(o.slug.is_some()))
        .sum();
    for row in query(conn, &sql.audit_keys, &[])? {
        let k: i16 = row.try_get(0).pg()?;
        let value: String = row.try_get(1).pg()?;
        let id = decode_id_key(&row.try_get::<_, Vec<u8>>(2).pg()?)?;
        let region: i16 = row.try_get(3).pg()?;
        let org = records.get(&id).ok_or_else(|| {
            Error::corrupted(format!(
                "unique key ({k}, {value:?}) points at {id}, which is not stored"
            ))
        })?;
        let held = match k {
            0 => Some(org.id.as_str()),
            1 => org.external_id.as_deref(),
            2 => org.slug.as_deref(),
            _ => None,
        };
        if held != Some(value.as_str()) || region_of(region) != Some(org.region_code) {
            return Err(Error::corrupted(format!(
                "unique key ({k}, {value:?}) does not match record {id}"
            )));
        }
        expected = expected
            .checked_sub(1)
            .ok_or_else(|| Error::corrupted("more unique keys than values"))?;
    }
    if expected != 0 {
        return Err(Error::corrupted(format!(
            "{expected} values have no unique key"
        )));
    }
    for row in query(conn, &sql.audit_counts, &[])? {
        let region: i16 = row.try_get(0).pg()?;
        let n: i64 = row.try_get(1).pg()?;
        let r = region_of(region).ok_or_else(|| Error::corrupted("unknown region in counts"))?;
        if n != per_region[r.index()] {
            return Err(Error::corrupted(format!(
                "region {r} counts {n} but holds {}",
                per_region[r.index()]
            )));
        }
    }
    Ok(records.len() as u64)
}

/// The conflicts a write statement found (its `taken` rows); nothing was written if any.
fn conflicts(rows: &[Row]) -> Result<Option<Conflict>> {
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let k: i16 = row.try_get(0).pg()?;
    let value: String = row.try_get(1).pg()?;
    let holder = decode_id_key(&row.try_get::<_, Vec<u8>>(2).pg()?)?;
    Ok(Some(match k {
        0 => Conflict::Id,
        1 => Conflict::Unique {
            field: UniqueField::ExternalId,
            value,
            holder,
        },
        _ => Conflict::Unique {
            field: UniqueField::Slug,
            value,
            holder,
        },
    }))
}

fn stripe() -> i16 {
    i16::try_from(ulid::Ulid::new().random() % u128::from(STRIPES.unsigned_abs())).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Readers

/// A read transaction (a snapshot), or a one-step reader.
pub(crate) struct PgRead {
    inner: Arc<Inner>,
    conn: Mutex<Pooled>,
    in_transaction: bool,
}

impl PgRead {
    fn with<R>(&self, f: impl FnOnce(&mut Conn, &Sql) -> Result<R>) -> Result<R> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut conn, &self.inner.sql)
    }
}

impl Drop for PgRead {
    fn drop(&mut self) {
        if self.in_transaction {
            let conn = self.conn.get_mut().unwrap_or_else(PoisonError::into_inner);
            if conn.client.batch_execute("ROLLBACK").is_err() {
                conn.spoil();
            }
        }
    }
}

impl Read for PgRead {
    fn get(&self, id: &OrgId) -> Result<Option<Organization>> {
        self.with(|c, s| get(c, s, id))
    }
    fn find(&self, field: UniqueField, value: &str) -> Result<Option<Organization>> {
        self.with(|c, s| find(c, s, field, value))
    }
    fn count(&self, regions: &[Region]) -> Result<u64> {
        self.with(|c, s| count(c, s, regions))
    }
    fn page(
        &self,
        regions: &[Region],
        cursor: Option<&Cursor>,
        scan: Scan,
        limit: usize,
    ) -> Result<(Fetched, u64)> {
        self.with(|c, s| page(c, s, regions, cursor, scan, limit))
    }
    fn audit(&self) -> Result<u64> {
        self.with(audit)
    }
}

// ---------------------------------------------------------------------------------------------
// Writers

/// A write transaction: explicit (begun, an operation per savepoint), or the transaction of
/// one one-shot write (a lone write step autocommits; a read begins the transaction).
pub(crate) struct PgWrite {
    inner: Arc<Inner>,
    conn: RefCell<Pooled>,
    explicit: bool,
    /// Whether a transaction is open on the connection.
    open: Cell<bool>,
    /// The ids written, for the error of a commit whose outcome is unknown.
    written: RefCell<Vec<OrgId>>,
}

impl PgWrite {
    fn new(inner: Arc<Inner>, conn: Pooled, explicit: bool) -> PgWrite {
        PgWrite {
            inner,
            conn: RefCell::new(conn),
            explicit,
            open: Cell::new(explicit),
            written: RefCell::new(Vec::new()),
        }
    }

    /// The connection, inside the transaction (begun now by a one-shot's first read).
    fn in_transaction<R>(&self, f: impl FnOnce(&mut Conn, &Sql) -> Result<R>) -> Result<R> {
        let mut conn = self.conn.try_borrow_mut().map_err(|_| busy())?;
        if !self.open.get() {
            conn.client
                .batch_execute("BEGIN TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                .pg()?;
            self.open.set(true);
        }
        f(&mut conn, &self.inner.sql)
    }

    /// Runs a write statement. Inside a transaction, as any statement; alone (a one-shot
    /// write's only step), it commits by itself, so it runs under the commit deadline and a
    /// cut-short or lost statement is an unknown outcome.
    fn write(&self, id: &OrgId, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        self.written.borrow_mut().push(id.clone());
        if self.open.get() {
            return self.in_transaction(|c, _| query(c, sql, params));
        }
        let mut conn = self.conn.try_borrow_mut().map_err(|_| busy())?;
        let statement = conn.statement(sql)?;
        conn.clear_warning();
        let watch = self.inner.deadlines.watch(
            conn.client.cancel_token(),
            conn.socket(),
            self.inner.commit_deadline,
        );
        let result = conn.client.query(&statement, params);
        let ended = watch.end();
        settle(result, ended, &mut conn, Some(id))
    }

    /// Commits: durable (as configured) and visible, or an error saying whether it may have
    /// taken effect.
    pub(crate) fn commit(self) -> Result<()> {
        if !self.open.get() {
            return Ok(());
        }
        let id = match self.written.borrow().as_slice() {
            [only] => Some(only.clone()),
            many => many
                .first()
                .filter(|f| many.iter().all(|i| i == *f))
                .cloned(),
        };
        let mut conn = self.conn.try_borrow_mut().map_err(|_| busy())?;
        conn.clear_warning();
        let watch = self.inner.deadlines.watch(
            conn.client.cancel_token(),
            conn.socket(),
            self.inner.commit_deadline,
        );
        let result = conn.client.batch_execute("COMMIT");
        let ended = watch.end();
        self.open.set(false);
        settle(result, ended, &mut conn, id.as_ref())
    }

    /// Rolls back.
    pub(crate) fn abort(self) -> Result<()> {
        if !self.open.get() {
            return Ok(());
        }
        self.open.set(false);
        let mut conn = self.conn.try_borrow_mut().map_err(|_| busy())?;
        let result = conn.client.batch_execute("ROLLBACK");
        if result.is_err() {
            conn.spoil();
        }
        result.pg()
    }
}

impl Drop for PgWrite {
    fn drop(&mut self) {
        if self.open.get() {
            let conn = self.conn.get_mut();
            if conn.client.batch_execute("ROLLBACK").is_err() {
                conn.spoil();
            }
        }
    }
}

/// The outcome of a statement that commits: its result, unless its deadline cut it short, the
/// server warned (a cancelled wait for replication), or the connection went: then whether it
/// took effect is unknown. A connection whose deadline passed is not reused: a cancel sent for
/// it may still be on its way, and would hit its next statement.
fn settle<T>(
    result: std::result::Result<T, postgres::Error>,
    ended: deadline::Ended,
    conn: &mut Pooled,
    id: Option<&OrgId>,
) -> Result<T> {
    let unknown = |why: &str| Error::OutcomeUnknown {
        id: id.cloned(),
        message: why.to_owned(),
    };
    if ended.fired {
        conn.spoil();
    }
    match result {
        Ok(_) if ended.cut => Err(unknown(
            "the commit outlived its deadline and the connection was cut as it ended; it may \
             have taken effect",
        )),
        Ok(_) if conn.warned() => Err(unknown(
            "the commit outlived its deadline waiting for replication and was cut short; it \
             may be committed on the primary and not on a standby",
        )),
        Ok(_) if ended.fired => Err(unknown(
            "the commit outlived its deadline and was cancelled as it ended; it may have taken \
             effect",
        )),
        Ok(v) => Ok(v),
        Err(_) if ended.cut => Err(unknown(
            "the server did not answer within the commit deadline, nor to the cancel that \
             followed, so the connection was closed; the commit may have taken effect",
        )),
        Err(e) if is_connection_loss(&e) || is_cancel(&e) || ended.fired => {
            conn.spoil();
            Err(unknown(&format!(
                "the connection was lost or cut while committing ({e})"
            )))
        }
        Err(e) => Err(pg_error(e)),
    }
}

fn busy() -> Error {
    Error::Storage(crate::error::StorageError::new(
        "the transaction's connection is already in use (a bug)",
        None,
    ))
}

impl Read for PgWrite {
    fn get(&self, id: &OrgId) -> Result<Option<Organization>> {
        self.in_transaction(|c, s| get(c, s, id))
    }
    fn find(&self, field: UniqueField, value: &str) -> Result<Option<Organization>> {
        self.in_transaction(|c, s| find(c, s, field, value))
    }
    fn count(&self, regions: &[Region]) -> Result<u64> {
        self.in_transaction(|c, s| count(c, s, regions))
    }
    fn page(
        &self,
        regions: &[Region],
        cursor: Option<&Cursor>,
        scan: Scan,
        limit: usize,
    ) -> Result<(Fetched, u64)> {
        self.in_transaction(|c, s| page(c, s, regions, cursor, scan, limit))
    }
    fn audit(&self) -> Result<u64> {
        self.in_transaction(audit)
    }
}

impl Write for PgWrite {
    fn insert(&self, org: &Organization) -> Result<Option<Conflict>> {
        let id_text = org.id.as_str();
        let region = region_code(org.region_code);
        let rows = self.write(
            &org.id,
            self.inner.sql.insert(org.region_code),
            &[
                &id_text,
                &org.external_id,
                &org.slug,
                &param_id(&org.id),
                &region,
                &stripe(),
                &codec::encode(org),
            ],
        )?;
        conflicts(&rows)
    }

    fn replace(&self, old: &Organization, new: &Organization) -> Result<Option<Conflict>> {
        let changed =
            |a: &Option<String>, b: &Option<String>| (a != b).then(|| b.clone()).flatten();
        let gone = |a: &Option<String>, b: &Option<String>| (a != b).then(|| a.clone()).flatten();
        let rows = self.write(
            &new.id,
            self.inner.sql.replace(new.region_code),
            &[
                &changed(&old.external_id, &new.external_id),
                &changed(&old.slug, &new.slug),
                &gone(&old.external_id, &new.external_id),
                &gone(&old.slug, &new.slug),
                &param_id(&new.id),
                &region_code(new.region_code),
                &codec::encode(new),
            ],
        )?;
        conflicts(&rows)
    }

    fn remove(&self, org: &Organization) -> Result<()> {
        let id_text = org.id.as_str();
        self.write(
            &org.id,
            self.inner.sql.remove(org.region_code),
            &[
                &id_text,
                &org.external_id,
                &org.slug,
                &param_id(&org.id),
                &region_code(org.region_code),
                &stripe(),
            ],
        )?;
        Ok(())
    }

    fn next_id(
        &self,
        draw: &dyn Fn(Option<ulid::Ulid>) -> Option<ulid::Ulid>,
    ) -> Result<Option<ulid::Ulid>> {
        // Handed out at once, so concurrent creates of this process get increasing ids.
        let mut last = LAST_ID.lock().unwrap_or_else(PoisonError::into_inner);
        let next = draw(*last);
        if next.is_some() {
            *last = next;
        }
        Ok(next)
    }

    fn assigned(&self, _id: ulid::Ulid) -> Result<()> {
        Ok(())
    }

    fn atomically<R>(&self, op: impl FnOnce(&Self) -> Result<R>) -> Result<R> {
        if !self.explicit {
            // A one-shot write is its own transaction: a failure rolls all of it back.
            return op(self);
        }
        self.in_transaction(|c, _| c.client.batch_execute("SAVEPOINT orgstore_op").pg())?;
        let result = op(self);
        let end = if result.is_ok() {
            "RELEASE SAVEPOINT orgstore_op"
        } else {
            "ROLLBACK TO SAVEPOINT orgstore_op; RELEASE SAVEPOINT orgstore_op"
        };
        let ended = self.in_transaction(|c, _| c.client.batch_execute(end).pg());
        match (result, ended) {
            (Ok(v), Ok(())) => Ok(v),
            (Err(e), _) | (Ok(_), Err(e)) => Err(e),
        }
    }
}
