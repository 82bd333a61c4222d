//! The store handle: one-shot calls, transactions, maintenance.

use std::path::Path;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::builder::{Builder, Durability};
use crate::engine::Store;
use crate::error::{Error, Result};
use crate::id::Region;
use crate::list::{ListRequest, Page};
use crate::model::{from_micros, to_micros, Organization};
use crate::pages::Pages;
use crate::permit::{self, Permit};
use crate::request::{NewOrganization, OrganizationUpdate};
use crate::txn::{ReadTransaction, Readable, WriteTransaction};

pub(crate) type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// State shared by the store handle and its transactions.
pub(crate) struct Shared {
    pub(crate) engine: Store,
    pub(crate) default_region: Region,
    pub(crate) durability: Durability,
    pub(crate) clock: Clock,
    /// The commit queue of one-shot writes (an engine with one writer at a time).
    pub(crate) group: crate::group::Group,
}

impl Shared {
    /// The current time, to the microsecond.
    pub(crate) fn now(&self) -> OffsetDateTime {
        let t = (self.clock)();
        from_micros(to_micros(t)).unwrap_or(t)
    }
}

/// An organization store in one redb file (or in memory).
///
/// Cheap to clone (clones share the store) and `Send + Sync`. Every one-shot method below is
/// atomic and durable on its own (with the default durability) when it returns, but may share
/// its commit with the one-shot writes of other threads (group commit, on redb); use [`begin_write`](Self::begin_write) or
/// [`transaction`](Self::transaction) to group writes, and [`begin_read`](Self::begin_read) for
/// several reads on one snapshot.
///
/// # Examples
///
/// ```
/// use orgstore::{ListRequest, NewOrganization, OrganizationUpdate, OrgStore, Region};
///
/// let store = OrgStore::in_memory()?;
/// let acme = store.create(NewOrganization::new("Acme").external_id("acme-1").slug("acme"))?;
/// assert_eq!(store.get_by_slug("acme")?.as_ref(), Some(&acme));
/// store.update(&acme.id, OrganizationUpdate::new().display_name("Acme Inc"))?;
/// assert_eq!(store.count(Some(Region::Us))?, 1);
/// store.delete(&acme.id)?;
/// assert!(store.list(&ListRequest::new())?.organizations.is_empty());
/// # Ok::<(), orgstore::Error>(())
/// ```
#[derive(Clone)]
pub struct OrgStore {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for OrgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgStore")
            .field("default_region", &self.shared.default_region)
            .field("durability", &self.shared.durability)
            .finish_non_exhaustive()
    }
}

impl OrgStore {
    pub(crate) fn from_shared(shared: Shared) -> OrgStore {
        OrgStore {
            shared: Arc::new(shared),
        }
    }

    /// Opens (or creates) the store file at `path` with default settings.
    ///
    /// # Errors
    ///
    /// As for [`Builder::open`].
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = orgstore::OrgStore::open(dir.path().join("orgs.redb"))?;
    /// # drop(store);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<OrgStore> {
        Builder::default().open(path)
    }

    /// A throwaway store in memory, for tests.
    ///
    /// # Errors
    ///
    /// Only if memory for the store cannot be set up.
    ///
    /// # Examples
    ///
    /// ```
    /// let store = orgstore::OrgStore::in_memory()?;
    /// # drop(store);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn in_memory() -> Result<OrgStore> {
        Builder::default().in_memory()
    }

    /// A [`Builder`] to choose settings.
    ///
    /// # Examples
    ///
    /// ```
    /// let store = orgstore::OrgStore::builder().in_memory()?;
    /// # drop(store);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Begins a read transaction: a snapshot that later commits do not change.
    ///
    /// While it is open, the pages of its snapshot cannot be reused by writers, so a store
    /// written to meanwhile grows (50,000 durable updates under one reader took a file of
    /// 0.14 MiB to 1,088 MiB in our measurement; without the reader, 0.20 MiB), and the space
    /// stays allocated until [`compact`](Self::compact). Keep read transactions short: one per
    /// request or page, not one per process.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the snapshot cannot be taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::Readable;
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let snap = store.begin_read()?;
    /// assert_eq!(snap.count(None)?, 0);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn begin_read(&self) -> Result<ReadTransaction> {
        Ok(ReadTransaction::new(self.shared.engine.begin_read()?))
    }

    /// Begins a write transaction, waiting while another thread holds one.
    ///
    /// A store has one write transaction at a time; this waits for the current one to end
    /// (in multi-process mode, also for other processes' transactions on the file). A thread
    /// never waits for itself: asking again while this thread holds the store's write
    /// transaction — through this handle, a clone, or another handle of the same file in
    /// multi-process mode — is refused at once.
    ///
    /// A [`WriteTransaction`] stays on the thread that began it (it is neither `Send` nor
    /// `Sync`). That is what lets the store tell "this thread already holds the transaction"
    /// (refuse, or it would wait forever) from "another thread does" (wait): a transaction
    /// that could move would make the first case hang on the thread it moved to, and refuse a
    /// thread that no longer holds it. Work that must run elsewhere can begin its own
    /// transaction there, or use [`transaction`](Self::transaction) inside that thread.
    ///
    /// # Errors
    ///
    /// [`Error::FailedPrecondition`] if this thread already holds a write transaction of this
    /// store file (waiting would never end); [`Error::Storage`] if the store refuses writes
    /// after an earlier storage failure (reopen it).
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::NewOrganization;
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let mut txn = store.begin_write()?;
    /// assert!(store.begin_write().is_err()); // same thread: refused, not a deadlock
    /// txn.create(NewOrganization::new("Acme"))?;
    /// txn.commit()?;
    /// assert!(store.begin_write().is_ok()); // free again
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    ///
    /// A transaction cannot be sent to another thread:
    ///
    /// ```compile_fail
    /// let store = orgstore::OrgStore::in_memory()?;
    /// let txn = store.begin_write()?;
    /// std::thread::spawn(move || txn.commit()); // error: `WriteTransaction` is not `Send`
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn begin_write(&self) -> Result<WriteTransaction> {
        self.write_transaction(false)
    }

    /// A write transaction, explicit or for one one-shot call (which an engine may run
    /// differently: PostgreSQL autocommits a lone write).
    fn write_transaction(&self, one_shot: bool) -> Result<WriteTransaction> {
        let key = self.shared.engine.key();
        permit::check(key)?;
        let durable = self.shared.durability == Durability::Immediate;
        let txn = if one_shot {
            self.shared.engine.write_once(durable)?
        } else {
            self.shared.engine.begin_write(durable)?
        };
        Ok(WriteTransaction::new(
            txn,
            Arc::clone(&self.shared),
            Permit::take(key),
        ))
    }

    /// Runs a one-shot write. On an engine with one writer at a time (redb), it joins the next
    /// group commit (`crate::group`): applied in arrival order with the one-shot writes of
    /// other threads in one transaction, made durable by one commit, its own result given only
    /// then. Elsewhere it runs alone ([`one_shot`](Self::one_shot)).
    fn write<T: Send + 'static>(
        &self,
        op: impl FnMut(&mut WriteTransaction) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        if self.shared.engine.has_concurrent_writers() {
            return self.one_shot(op);
        }
        // Refused before it queues: the group could never begin while this thread holds the
        // store's write transaction.
        permit::check(self.shared.engine.key())?;
        let mut op = op;
        self.group().submit(self, move |t| op(t))
    }

    /// The commit queue of one-shot writes.
    pub(crate) fn group(&self) -> &crate::group::Group {
        &self.shared.group
    }

    /// The write transaction of a group commit (`crate::group`).
    pub(crate) fn group_transaction(&self) -> Result<WriteTransaction> {
        self.write_transaction(true)
    }

    /// Runs a one-shot write in its own transaction. A store shared by several writers may
    /// refuse it for a conflict with a concurrent transaction ([`Error::Aborted`], nothing
    /// written): it is run again, a bounded number of times. (The closure of
    /// [`transaction`](Self::transaction), in contrast, is never run twice.)
    fn one_shot<T>(&self, mut op: impl FnMut(&mut WriteTransaction) -> Result<T>) -> Result<T> {
        const ATTEMPTS: u32 = 8;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.write_transaction(true).and_then(|mut txn| {
                let value = op(&mut txn)?;
                txn.commit()?;
                Ok(value)
            });
            match result {
                Err(Error::Aborted { .. }) if attempt < ATTEMPTS => {
                    // Back off a little, more each time, with a random part so that racing
                    // writers spread out.
                    let jitter = u64::from(ulid::Ulid::new().random() as u8);
                    std::thread::sleep(std::time::Duration::from_micros(
                        (200 << attempt.min(6)) + jitter * 4,
                    ));
                }
                other => return other,
            }
        }
    }

    /// Runs `f` in a write transaction: commits if it returns `Ok`, rolls everything back if
    /// it returns `Err` (or panics).
    ///
    /// # Errors
    ///
    /// Whatever `f` returns, or the errors of [`begin_write`](Self::begin_write) and
    /// [`WriteTransaction::commit`], converted into `E`.
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{Error, NewOrganization, OrgStore};
    ///
    /// let store = OrgStore::in_memory()?;
    /// let result: Result<(), Error> = store.transaction(|txn| {
    ///     txn.create(NewOrganization::new("Acme").external_id("dup"))?;
    ///     txn.create(NewOrganization::new("Copy").external_id("dup"))?; // clash
    ///     Ok(())
    /// });
    /// assert!(result.is_err());
    /// assert_eq!(store.count(None)?, 0); // the first create was rolled back too
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn transaction<T, E>(
        &self,
        f: impl FnOnce(&mut WriteTransaction) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E>
    where
        E: From<Error>,
    {
        let mut txn = self.begin_write()?;
        let value = f(&mut txn)?;
        txn.commit()?;
        Ok(value)
    }

    /// Creates an organization in its own transaction; see [`WriteTransaction::create`].
    ///
    /// # Errors
    ///
    /// As for [`WriteTransaction::create`], plus commit errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let org = store.create(orgstore::NewOrganization::new("Acme"))?;
    /// assert_eq!(org.create_time, org.update_time);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn create(&self, new: NewOrganization) -> Result<Organization> {
        // The record (id and timestamps) is fixed by the first attempt; a retry writes the same.
        let mut new = Some(new);
        let mut record: Option<Organization> = None;
        let retries = self.shared.engine.has_concurrent_writers();
        self.write(move |t| {
            if let Some(new) = new.take() {
                record = Some(t.prepare_create(new)?);
            }
            let org = record
                .as_mut()
                .ok_or_else(|| Error::precondition("the create was refused before"))?;
            t.insert_created(org)?;
            Ok(if retries {
                org.clone()
            } else {
                record
                    .take()
                    .unwrap_or_else(|| unreachable!("the record was just written"))
            })
        })
    }

    /// Updates an organization in its own transaction; see [`WriteTransaction::update`].
    ///
    /// # Errors
    ///
    /// As for [`WriteTransaction::update`], plus commit errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrganizationUpdate};
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let org = store.create(NewOrganization::new("Acme"))?;
    /// let org = store.update(&org.id, OrganizationUpdate::new().slug("acme"))?;
    /// assert_eq!(org.slug.as_deref(), Some("acme"));
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn update(&self, id: impl AsRef<str>, update: OrganizationUpdate) -> Result<Organization> {
        // Keys are checked before they are copied for the writer: refusing a huge one costs
        // nothing proportional to it.
        let id = crate::id::OrgId::parse(id.as_ref())?;
        let mut update = Reusable::new(update, self.shared.engine.has_concurrent_writers());
        self.write(move |t| t.update(&id, update.take()?))
    }

    /// Updates the organization holding `external_id`, in its own transaction.
    ///
    /// # Errors
    ///
    /// As for [`WriteTransaction::update_by_external_id`], plus commit errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrganizationUpdate};
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// store.create(NewOrganization::new("Acme").external_id("acme-1"))?;
    /// let org = store.update_by_external_id("acme-1", OrganizationUpdate::new().display_name("A"))?;
    /// assert_eq!(org.display_name, "A");
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn update_by_external_id(
        &self,
        external_id: &str,
        update: OrganizationUpdate,
    ) -> Result<Organization> {
        crate::validate::lookup_external_id(external_id)?;
        let external_id = external_id.to_owned();
        let mut update = Reusable::new(update, self.shared.engine.has_concurrent_writers());
        self.write(move |t| t.update_by_external_id(&external_id, update.take()?))
    }

    /// Deletes an organization in its own transaction; returns what was removed.
    ///
    /// # Errors
    ///
    /// As for [`WriteTransaction::delete`], plus commit errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let org = store.create(orgstore::NewOrganization::new("Acme"))?;
    /// store.delete(&org.id)?;
    /// assert!(store.delete(&org.id).is_err()); // not found
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn delete(&self, id: impl AsRef<str>) -> Result<Organization> {
        let id = crate::id::OrgId::parse(id.as_ref())?;
        self.write(move |t| t.delete(&id))
    }

    /// Deletes the organization holding `external_id`, in its own transaction.
    ///
    /// # Errors
    ///
    /// As for [`WriteTransaction::delete_by_external_id`], plus commit errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// store.create(orgstore::NewOrganization::new("Acme").external_id("acme-1"))?;
    /// store.delete_by_external_id("acme-1")?;
    /// // The external id is free again at once.
    /// store.create(orgstore::NewOrganization::new("Acme 2").external_id("acme-1"))?;
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn delete_by_external_id(&self, external_id: &str) -> Result<Organization> {
        crate::validate::lookup_external_id(external_id)?;
        let external_id = external_id.to_owned();
        self.write(move |t| t.delete_by_external_id(&external_id))
    }

    /// Inserts or replaces a complete record, in its own transaction.
    ///
    /// # Errors
    ///
    /// As for [`WriteTransaction::import`], plus commit errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let mut org = store.create(orgstore::NewOrganization::new("Acme"))?;
    /// org.display_name = "Acme (mirrored)".into();
    /// store.import(org.clone())?;
    /// assert_eq!(store.get(&org.id)?, Some(org));
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn import(&self, organization: Organization) -> Result<Organization> {
        let mut organization =
            Reusable::new(organization, self.shared.engine.has_concurrent_writers());
        self.write(move |t| t.import(organization.take()?))
    }

    /// The organization with this id, or `None`; see [`Readable::get`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a malformed id; storage errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let org = store.create(orgstore::NewOrganization::new("Acme"))?;
    /// assert_eq!(store.get(&org.id)?, Some(org));
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn get(&self, id: impl AsRef<str>) -> Result<Option<Organization>> {
        self.read_once()?.get(id)
    }

    /// The organization holding this external id, or `None`; see
    /// [`Readable::get_by_external_id`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a malformed key; storage errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// assert_eq!(store.get_by_external_id("nobody")?, None);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn get_by_external_id(&self, external_id: &str) -> Result<Option<Organization>> {
        self.read_once()?.get_by_external_id(external_id)
    }

    /// The organization holding this slug, or `None`; see [`Readable::get_by_slug`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for text that is not a valid slug; storage errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// assert_eq!(store.get_by_slug("acme")?, None);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn get_by_slug(&self, slug: &str) -> Result<Option<Organization>> {
        self.read_once()?.get_by_slug(slug)
    }

    /// One page of a listing, read from one snapshot; see [`Readable::list`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPageToken`], [`Error::InvalidArgument`], storage errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let page = store.list(&orgstore::ListRequest::new())?;
    /// assert_eq!(page.total_size, 0);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn list(&self, request: &ListRequest) -> Result<Page> {
        self.read_once()?.list(request)
    }

    /// A reader for a one-shot read (a single step, so one snapshot by itself).
    fn read_once(&self) -> Result<ReadTransaction> {
        Ok(ReadTransaction::new(self.shared.engine.read_once()?))
    }

    /// Every page of a listing, from the request's page token on; see [`Pages`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{ListRequest, NewOrganization, OrgStore, Region};
    /// # let store = OrgStore::in_memory()?;
    /// store.create(NewOrganization::new("Acme").region(Region::Eu))?;
    /// let eu: Vec<_> = store
    ///     .pages(ListRequest::new().region(Region::Eu))
    ///     .organizations()
    ///     .collect::<orgstore::Result<_>>()?;
    /// assert_eq!(eu.len(), 1);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn pages(&self, request: ListRequest) -> Pages {
        Pages::new(self.clone(), request)
    }

    /// The number of organizations in one region or in all, in constant time.
    ///
    /// # Errors
    ///
    /// Storage errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// assert_eq!(store.count(Some(orgstore::Region::Us))?, 0);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn count(&self, region: Option<Region>) -> Result<u64> {
        self.read_once()?.count(region)
    }

    /// Walks the whole store on one snapshot and checks that records and indexes agree: every
    /// record's external id and slug are indexed and point back at it, every index entry points
    /// at a live record holding that value, and no id, external id or slug is in two regions.
    /// Returns the number of records checked. Costs a full scan; meant for tests and audits.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupted`] describing the first disagreement; storage errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// store.create(orgstore::NewOrganization::new("Acme").external_id("a").slug("a"))?;
    /// assert_eq!(store.check_indexes()?, 1);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn check_indexes(&self) -> Result<u64> {
        self.begin_read()?.audit()
    }

    /// Verifies every checksum of the file, repairing what can be repaired. `Ok(true)`: the
    /// file was intact; `Ok(false)`: it was repaired. Needs the only handle of the store (no
    /// clones, no open transactions).
    ///
    /// # Errors
    ///
    /// [`Error::Corrupted`] when the file is damaged beyond repair;
    /// [`Error::FailedPrecondition`] when other handles or transactions exist.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut store = orgstore::OrgStore::in_memory()?;
    /// assert!(store.check_integrity()?);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn check_integrity(&mut self) -> Result<bool> {
        self.exclusive()?.engine.check_integrity()
    }

    /// Reclaims free space inside the file. Needs the only handle of the store.
    /// Returns whether anything was reclaimed; call again until it returns `false`.
    ///
    /// # Errors
    ///
    /// [`Error::FailedPrecondition`] when other handles or transactions exist; storage errors.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut store = orgstore::OrgStore::in_memory()?;
    /// while store.compact()? {}
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn compact(&mut self) -> Result<bool> {
        self.exclusive()?.engine.compact()
    }

    /// Writes a consistent copy of the store, as of now, to a new store file at `path`, while
    /// readers and writers go on (none of their later commits is in it). Copying the file of a
    /// store in use is not safe; this is. The copy is written under a temporary name beside
    /// `path`, made durable, reopened with every checksum verified and every index audited, and
    /// only then named `path`. Returns how many organizations it holds.
    ///
    /// A long backup holds its snapshot open, which keeps the pages it reads from being reused
    /// (see [`begin_read`](Self::begin_read)).
    ///
    /// # Errors
    ///
    /// [`Error::FailedPrecondition`] when `path` already exists; [`Error::Corrupted`] if the
    /// copy does not verify; [`Error::Storage`] for I/O errors. After any error, `path` does
    /// not exist.
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{NewOrganization, OrgStore};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = OrgStore::open(dir.path().join("orgs.redb"))?;
    /// store.create(NewOrganization::new("Acme"))?;
    /// assert_eq!(store.backup_to(dir.path().join("backup.redb"))?, 1);
    /// let copy = OrgStore::open(dir.path().join("backup.redb"))?;
    /// assert_eq!(copy.count(None)?, 1);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn backup_to(&self, path: impl AsRef<Path>) -> Result<u64> {
        self.shared.engine.backup_to(path.as_ref())
    }

    fn exclusive(&mut self) -> Result<&mut Shared> {
        Arc::get_mut(&mut self.shared).ok_or_else(|| {
            Error::precondition("other handles or transactions of this store are open")
        })
    }
}

/// An input a one-shot call consumes, kept for a retry where the engine may ask for one.
struct Reusable<T> {
    first: Option<T>,
    copy: Option<T>,
}

impl<T: Clone> Reusable<T> {
    fn new(value: T, keep_a_copy: bool) -> Self {
        Reusable {
            copy: keep_a_copy.then(|| value.clone()),
            first: Some(value),
        }
    }

    /// The input, the first time; a copy of it for every retry.
    fn take(&mut self) -> Result<T> {
        self.first
            .take()
            .or_else(|| self.copy.clone())
            .ok_or_else(|| Error::precondition("the call cannot be retried"))
    }
}
