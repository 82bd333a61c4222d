//! The builder of a store: its settings and defaults, the durability setting, and opening on
//! either engine.

use std::path::Path;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::backend::StorageBackend;
use crate::engine::redb::{Engine, OpenOptions};
use crate::engine::Store;
use crate::error::{Error, Result};
use crate::id::Region;
use crate::store::{Clock, OrgStore, Shared};

/// Default page cache: 256 MiB, filled only as pages are read (redb's own default is 1 GiB, too
/// much for an embedded library). It holds most of a store of a million organizations, whose
/// gets and pages then beat SQLite's (BENCHMARKS.md); a store of 100,000 uses about 32 MiB of it.
///
/// # Examples
///
/// ```
/// let store = orgstore::OrgStore::builder()
///     .cache_size(4 * orgstore::DEFAULT_CACHE_SIZE)
///     .in_memory()?;
/// # drop(store);
/// # Ok::<(), orgstore::Error>(())
/// ```
pub const DEFAULT_CACHE_SIZE: usize = 256 * 1024 * 1024;

/// When a committed write is safe.
///
/// # Examples
///
/// ```
/// use orgstore::{Durability, OrgStore};
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = OrgStore::builder()
///     .durability(Durability::None) // fast, for a benchmark or a scratch store
///     .open(dir.path().join("scratch.redb"))?;
/// # drop(store);
/// # Ok::<(), orgstore::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Durability {
    /// A commit is on disk (fsync'd) when it returns: it survives a process crash and a power
    /// loss. The default.
    #[default]
    Immediate,
    /// A commit is visible at once but only in memory. **It is lost if the process crashes or
    /// the machine loses power**, together with every other commit since the store was opened.
    /// Everything becomes durable when the store is closed cleanly (dropped). For tests,
    /// benchmarks and bulk loads only. Not available with [`Builder::multi_process`].
    None,
}

/// Opens a store with chosen settings.
///
/// | setting | default |
/// |---|---|
/// | [`default_region`](Self::default_region) | [`Region::Us`] |
/// | [`durability`](Self::durability) | [`Durability::Immediate`] |
/// | [`cache_size`](Self::cache_size) | 256 MiB |
/// | [`verify_on_open`](Self::verify_on_open) | `true` |
/// | [`multi_process`](Self::multi_process) | `false` |
/// | [`clock`](Self::clock) | the system clock |
///
/// # Examples
///
/// ```
/// use orgstore::{NewOrganization, OrgStore, Region};
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = OrgStore::builder()
///     .default_region(Region::Eu)
///     .cache_size(16 << 20)
///     .open(dir.path().join("orgs.redb"))?;
/// let org = store.create(NewOrganization::new("Acme"))?;
/// assert_eq!(org.region_code, Region::Eu);
/// # Ok::<(), orgstore::Error>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct Builder {
    default_region: Region,
    durability: Durability,
    cache_size: usize,
    verify_on_open: bool,
    multi_process: bool,
    clock: Clock,
    /// The redb-only settings given explicitly (refused by other engines).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    redb_settings: Vec<&'static str>,
    #[cfg(feature = "postgres")]
    postgres: PostgresSettings,
}

/// The PostgreSQL engine's settings (`postgres` feature).
#[cfg(feature = "postgres")]
#[derive(Clone, Debug)]
struct PostgresSettings {
    schema: String,
    pool_size: usize,
    pool_timeout: std::time::Duration,
    commit_deadline: std::time::Duration,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            default_region: Region::Us,
            durability: Durability::Immediate,
            cache_size: DEFAULT_CACHE_SIZE,
            verify_on_open: true,
            multi_process: false,
            clock: Arc::new(OffsetDateTime::now_utc),
            redb_settings: Vec::new(),
            #[cfg(feature = "postgres")]
            postgres: PostgresSettings {
                schema: "orgstore".to_owned(),
                pool_size: 8,
                pool_timeout: std::time::Duration::from_secs(5),
                commit_deadline: std::time::Duration::from_secs(10),
            },
        }
    }
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("default_region", &self.default_region)
            .field("durability", &self.durability)
            .field("cache_size", &self.cache_size)
            .field("verify_on_open", &self.verify_on_open)
            .field("multi_process", &self.multi_process)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// The region of organizations created without one.
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrgStore, Region};
    /// let store = OrgStore::builder().default_region(Region::Eu).in_memory()?;
    /// assert_eq!(store.create(NewOrganization::new("Acme"))?.region_code, Region::Eu);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn default_region(mut self, region: Region) -> Self {
        self.default_region = region;
        self
    }

    /// When commits are safe; see [`Durability`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{Durability, OrgStore};
    /// let store = OrgStore::builder().durability(Durability::None).in_memory()?;
    /// # drop(store);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Bytes of page cache (default 256 MiB, [`DEFAULT_CACHE_SIZE`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let store = orgstore::OrgStore::builder().cache_size(8 << 20).in_memory()?;
    /// # drop(store);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn cache_size(mut self, bytes: usize) -> Self {
        self.cache_size = bytes;
        self.redb_settings.push("cache_size");
        self
    }

    /// Whether opening verifies every checksum of the file (default `true`). With it, a
    /// damaged file gives [`Error::Corrupted`] at open instead of wrong data or a panic later;
    /// it costs a read of the whole file per open.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = orgstore::OrgStore::builder()
    ///     .verify_on_open(false) // trust the file: faster opens of big stores
    ///     .open(dir.path().join("orgs.redb"))?;
    /// # drop(store);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn verify_on_open(mut self, verify: bool) -> Self {
        self.verify_on_open = verify;
        self.redb_settings.push("verify_on_open");
        self
    }

    /// Lets several processes on one machine open and write the same file (default `false`).
    /// Writes from all processes are serialized; each process sees the others' commits in
    /// transactions begun after them. Commits always use two-phase commit in this mode, and
    /// [`Durability::None`] is refused.
    ///
    /// An open in this mode waits while another process holds a write transaction on the file
    /// (redb takes the writer lock to open), and fails with [`Error::FailedPrecondition`] after
    /// 2 seconds if a handle opened without multi-process mode holds the file.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("shared.redb");
    /// let a = orgstore::OrgStore::builder().multi_process(true).open(&path)?;
    /// let b = orgstore::OrgStore::builder().multi_process(true).open(&path)?;
    /// a.create(orgstore::NewOrganization::new("Acme"))?;
    /// assert_eq!(b.count(None)?, 1);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn multi_process(mut self, enabled: bool) -> Self {
        self.multi_process = enabled;
        self.redb_settings.push("multi_process");
        self
    }

    /// The clock for `create_time`, `update_time` and the time part of assigned ids (default:
    /// the system clock). Useful for deterministic tests. Ids stay strictly increasing and
    /// `update_time` never decreases whatever the clock does.
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{NewOrganization, OrgStore};
    /// use time::macros::datetime;
    ///
    /// let store = OrgStore::builder().clock(|| datetime!(2025-01-01 00:00 UTC)).in_memory()?;
    /// let org = store.create(NewOrganization::new("Acme"))?;
    /// assert_eq!(org.create_time, datetime!(2025-01-01 00:00 UTC));
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn clock(mut self, clock: impl Fn() -> OffsetDateTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Opens the store file at `path`, creating it if missing.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupted`] for a damaged file (with verification on);
    /// [`Error::UnsupportedFormat`] for a file of a newer OrgStore;
    /// [`Error::FailedPrecondition`] when the file is already open elsewhere without
    /// multi-process mode, holds tables that are not OrgStore's, or the settings conflict;
    /// [`Error::Storage`] for I/O errors.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = orgstore::OrgStore::builder().open(dir.path().join("orgs.redb"))?;
    /// # drop(store);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn open(self, path: impl AsRef<Path>) -> Result<OrgStore> {
        self.check()?;
        let engine = Engine::open(path.as_ref(), &self.options())?;
        Ok(self.finish(Store::Redb(engine)))
    }

    /// Opens a throwaway store held in memory (for tests); it vanishes when dropped.
    ///
    /// # Errors
    ///
    /// [`Error::FailedPrecondition`] when the settings conflict.
    ///
    /// # Examples
    ///
    /// ```
    /// let store = orgstore::OrgStore::builder().in_memory()?;
    /// assert_eq!(store.count(None)?, 0);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn in_memory(self) -> Result<OrgStore> {
        self.check()?;
        let engine = Engine::in_memory(&self.options())?;
        Ok(self.finish(Store::Redb(engine)))
    }

    /// Opens (or initialises, when empty) a store on your own [`StorageBackend`].
    ///
    /// # Errors
    ///
    /// As for [`open`](Self::open).
    ///
    /// # Examples
    ///
    /// ```
    /// let store = orgstore::OrgStore::builder().create_with_backend(orgstore::MemoryBackend::new())?;
    /// assert_eq!(store.count(None)?, 0);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn create_with_backend(self, backend: impl StorageBackend) -> Result<OrgStore> {
        self.check()?;
        let engine = Engine::with_backend(backend, &self.options())?;
        Ok(self.finish(Store::Redb(engine)))
    }

    /// Connects to a PostgreSQL database (`postgres` feature): the same store, shared by every
    /// instance of an application that connects to it. `url` is a libpq connection string —
    /// `postgres://user:password@host:port/database?sslmode=require`, or `host=… port=… …`;
    /// several hosts with `target_session_attrs=read-write` reach whichever is the primary.
    /// The schema ([`postgres_schema`](Self::postgres_schema), default `orgstore`) is created
    /// on first use, and its format version checked.
    ///
    /// `sslmode` is libpq's: `disable`, `prefer` (the default), `require` (encrypted, the
    /// certificate not checked unless `sslrootcert=CA.pem` is given), `verify-ca`, `verify-full`.
    ///
    /// The redb settings ([`cache_size`](Self::cache_size),
    /// [`verify_on_open`](Self::verify_on_open), [`multi_process`](Self::multi_process)) do not
    /// apply and are refused; so are `compact`, `check_integrity` and `backup_to` on the store
    /// (the server has its own maintenance and backups).
    ///
    /// # Errors
    ///
    /// [`Error::FailedPrecondition`] for a bad connection string or schema name, or a redb
    /// setting; [`Error::UnsupportedFormat`] for a schema of a newer OrgStore;
    /// [`Error::Storage`] when the server cannot be reached.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let store = orgstore::OrgStore::builder()
    ///     .pool_size(16)
    ///     .postgres("postgres://app@db1,db2/tenants?target_session_attrs=read-write&sslmode=verify-full")?;
    /// store.create(orgstore::NewOrganization::new("Acme"))?;
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    #[cfg(feature = "postgres")]
    pub fn postgres(self, url: impl AsRef<str>) -> Result<OrgStore> {
        if let Some(setting) = self.redb_settings.first() {
            return Err(crate::engine::redb_only(setting));
        }
        let options = crate::engine::postgres::Options {
            url: url.as_ref().to_owned(),
            schema: self.postgres.schema.clone(),
            pool_size: self.postgres.pool_size,
            checkout_timeout: self.postgres.pool_timeout,
            commit_deadline: self.postgres.commit_deadline,
            durable: self.durability == Durability::Immediate,
        };
        let engine = crate::engine::postgres::Engine::connect(&options)?;
        Ok(self.finish(Store::Postgres(engine)))
    }

    /// The PostgreSQL schema (namespace) holding the store's tables (default `orgstore`):
    /// lower-case letters, digits and `_`. Several stores can share a database in different
    /// schemas (`postgres` feature).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let store = orgstore::OrgStore::builder()
    ///     .postgres_schema("tenants_staging")
    ///     .postgres("postgres://app@localhost/app")?;
    /// # drop(store);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    #[cfg(feature = "postgres")]
    pub fn postgres_schema(mut self, schema: impl Into<String>) -> Self {
        self.postgres.schema = schema.into();
        self
    }

    /// How many connections to the PostgreSQL server the store keeps at most (default 8). A
    /// transaction holds one from `begin_*` to its end; a one-shot call holds one for its
    /// duration (`postgres` feature).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let store = orgstore::OrgStore::builder().pool_size(32).postgres("postgres://app@localhost/app")?;
    /// # drop(store);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    #[cfg(feature = "postgres")]
    pub fn pool_size(mut self, connections: usize) -> Self {
        self.postgres.pool_size = connections.max(1);
        self
    }

    /// How long a call waits for a free connection before it fails with
    /// [`Error::FailedPrecondition`] (default 5 s): a thread that holds every connection and
    /// asks for one more gets an error, never a hang (`postgres` feature).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let store = orgstore::OrgStore::builder()
    ///     .pool_timeout(std::time::Duration::from_millis(500))
    ///     .postgres("postgres://app@localhost/app")?;
    /// # drop(store);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    #[cfg(feature = "postgres")]
    pub fn pool_timeout(mut self, wait: std::time::Duration) -> Self {
        self.postgres.pool_timeout = wait;
        self
    }

    /// The longest a commit may take (default 10 s). PostgreSQL does not bound a commit's wait
    /// for a synchronous standby (`statement_timeout` does not apply to it); past this, the
    /// commit is cancelled and reported as [`Error::OutcomeUnknown`] — it may be committed on
    /// the primary without being replicated (`postgres` feature).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let store = orgstore::OrgStore::builder()
    ///     .commit_deadline(std::time::Duration::from_secs(2))
    ///     .postgres("postgres://app@localhost/app")?;
    /// # drop(store);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    #[cfg(feature = "postgres")]
    pub fn commit_deadline(mut self, deadline: std::time::Duration) -> Self {
        self.postgres.commit_deadline = deadline;
        self
    }

    fn check(&self) -> Result<()> {
        if self.multi_process && self.durability == Durability::None {
            return Err(Error::precondition(
                "non-durable commits are not available in multi-process mode",
            ));
        }
        Ok(())
    }

    fn options(&self) -> OpenOptions {
        OpenOptions {
            cache_size: self.cache_size,
            verify_on_open: self.verify_on_open,
            multi_process: self.multi_process,
        }
    }

    fn finish(self, engine: Store) -> OrgStore {
        OrgStore::from_shared(Shared {
            engine,
            default_region: self.default_region,
            durability: self.durability,
            clock: self.clock,
            group: crate::group::Group::default(),
        })
    }
}
