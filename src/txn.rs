//! Read and write transactions, and the [`Readable`] trait both implement.

use std::sync::Arc;

use crate::engine::{self, with_read, with_write};
use crate::error::{Error, Result};
use crate::id::{OrgId, Region};
use crate::list::{ListRequest, Page};
use crate::model::Organization;
use crate::ops::{self, Target, WriteContext};
use crate::permit::Permit;
use crate::request::{NewOrganization, OrganizationUpdate};
use crate::store::Shared;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::ReadTransaction {}
    impl Sealed for super::WriteTransaction {}
}

/// Reads, available on both [`ReadTransaction`] and [`WriteTransaction`], so code written
/// against reads accepts either. Sealed: only this crate implements it.
///
/// A write transaction reads its own uncommitted writes; a read transaction reads the snapshot
/// taken when it began.
///
/// # Examples
///
/// ```
/// use orgstore::{NewOrganization, OrgStore, Readable, Region};
///
/// fn eu_share(r: &impl Readable) -> orgstore::Result<f64> {
///     let all = r.count(None)?;
///     Ok(if all == 0 { 0.0 } else { r.count(Some(Region::Eu))? as f64 / all as f64 })
/// }
///
/// let store = OrgStore::in_memory()?;
/// let mut txn = store.begin_write()?;
/// txn.create(NewOrganization::new("Acme").region(Region::Eu))?;
/// assert_eq!(eu_share(&txn)?, 1.0);
/// txn.commit()?;
/// assert_eq!(eu_share(&store.begin_read()?)?, 1.0);
/// # Ok::<(), orgstore::Error>(())
/// ```
pub trait Readable: sealed::Sealed {
    /// The organization with this id, or `None`. The region need not be known.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a malformed id; [`Error::Corrupted`] or
    /// [`Error::Storage`] when reading fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{NewOrganization, OrgStore, Readable};
    /// let store = OrgStore::in_memory()?;
    /// let org = store.create(NewOrganization::new("Acme"))?;
    /// assert_eq!(store.begin_read()?.get(&org.id)?, Some(org));
    /// assert_eq!(store.begin_read()?.get("org_missing")?, None);
    /// assert!(store.begin_read()?.get("acme").is_err());
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    fn get(&self, id: impl AsRef<str>) -> Result<Option<Organization>>;

    /// The organization holding this external id, or `None`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty, over-long (> 255 characters) or control-character
    /// key; storage errors as for [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{NewOrganization, OrgStore, Readable};
    /// let store = OrgStore::in_memory()?;
    /// store.create(NewOrganization::new("Acme").external_id("acme-1"))?;
    /// assert!(store.begin_read()?.get_by_external_id("acme-1")?.is_some());
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    fn get_by_external_id(&self, external_id: &str) -> Result<Option<Organization>>;

    /// The organization holding this slug, or `None`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for text that is not a valid slug; storage errors as for
    /// [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{NewOrganization, OrgStore, Readable};
    /// let store = OrgStore::in_memory()?;
    /// store.create(NewOrganization::new("Acme").slug("acme"))?;
    /// assert!(store.begin_read()?.get_by_slug("acme")?.is_some());
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    fn get_by_slug(&self, slug: &str) -> Result<Option<Organization>>;

    /// One page of a listing (see [`ListRequest`] and the crate docs on pagination).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPageToken`] for a token that does not decode or was made for another
    /// region, order or filter; [`Error::InvalidArgument`] for a malformed external-id filter.
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{ListRequest, NewOrganization, OrgStore, Readable};
    /// let store = OrgStore::in_memory()?;
    /// store.create(NewOrganization::new("Acme"))?;
    /// let page = store.begin_read()?.list(&ListRequest::new())?;
    /// assert_eq!(page.total_size, 1);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    fn list(&self, request: &ListRequest) -> Result<Page>;

    /// The number of organizations in one region, or in all (`None`). Constant time.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when reading fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{NewOrganization, OrgStore, Readable, Region};
    /// let store = OrgStore::in_memory()?;
    /// store.create(NewOrganization::new("Acme"))?;
    /// let snap = store.begin_read()?;
    /// assert_eq!(snap.count(Some(Region::Us))?, 1);
    /// assert_eq!(snap.count(Some(Region::Eu))?, 0);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    fn count(&self, region: Option<Region>) -> Result<u64>;
}

/// `Readable` for a transaction type, each read running `$with!(<its engine transaction>, t =>
/// ops::…(t, …))`.
macro_rules! impl_readable {
    ($ty:ty, $with:ident, $txn:ident) => {
        impl Readable for $ty {
            fn get(&self, id: impl AsRef<str>) -> Result<Option<Organization>> {
                let id = OrgId::parse(id.as_ref())?;
                $with!(self.$txn()?, t => ops::get(t, &id))
            }

            fn get_by_external_id(&self, external_id: &str) -> Result<Option<Organization>> {
                $with!(self.$txn()?, t => ops::get_by_external_id(t, external_id))
            }

            fn get_by_slug(&self, slug: &str) -> Result<Option<Organization>> {
                $with!(self.$txn()?, t => ops::get_by_slug(t, slug))
            }

            fn list(&self, request: &ListRequest) -> Result<Page> {
                $with!(self.$txn()?, t => ops::list(t, request))
            }

            fn count(&self, region: Option<Region>) -> Result<u64> {
                $with!(self.$txn()?, t => ops::count(t, region))
            }
        }
    };
}

/// A consistent snapshot: every read sees the store as it was when the transaction began,
/// whatever commits later. Readers never wait for writers.
///
/// # Examples
///
/// ```
/// use orgstore::{NewOrganization, OrgStore, Readable};
///
/// let store = OrgStore::in_memory()?;
/// let snap = store.begin_read()?;
/// store.create(NewOrganization::new("Acme"))?;
/// assert_eq!(snap.count(None)?, 0); // the snapshot predates the create
/// assert_eq!(store.count(None)?, 1);
/// # Ok::<(), orgstore::Error>(())
/// ```
pub struct ReadTransaction {
    txn: engine::ReadTxn,
}

impl ReadTransaction {
    pub(crate) fn new(txn: engine::ReadTxn) -> Self {
        ReadTransaction { txn }
    }

    /// The engine's transaction (a read transaction never ends early).
    #[allow(clippy::unnecessary_wraps)] // the same shape as `WriteTransaction::txn`
    fn txn(&self) -> Result<&engine::ReadTxn> {
        Ok(&self.txn)
    }

    /// Every record and index entry checked against each other; the number of records.
    pub(crate) fn audit(&self) -> Result<u64> {
        with_read!(&self.txn, t => crate::engine::Read::audit(t))
    }
}

impl std::fmt::Debug for ReadTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadTransaction").finish_non_exhaustive()
    }
}

impl_readable!(ReadTransaction, with_read, txn);

/// An all-or-nothing group of writes. Nothing is visible to others until
/// [`commit`](Self::commit); dropping the transaction (or [`abort`](Self::abort)) discards it.
///
/// Only one write transaction is open at a time per store;
/// [`OrgStore::begin_write`](crate::OrgStore::begin_write) waits for the current one. A failed operation (bad input,
/// clash, not found) writes nothing, and the transaction stays usable.
///
/// # Examples
///
/// ```
/// use orgstore::{NewOrganization, OrgStore, Region};
///
/// let store = OrgStore::in_memory()?;
/// let mut txn = store.begin_write()?;
/// txn.create(NewOrganization::new("Acme").external_id("acme"))?;
/// txn.create(NewOrganization::new("Globex").external_id("globex").region(Region::Eu))?;
/// txn.commit()?;
/// assert_eq!(store.count(None)?, 2);
///
/// let mut txn = store.begin_write()?;
/// txn.delete_by_external_id("acme")?;
/// drop(txn); // rolled back
/// assert_eq!(store.count(None)?, 2);
/// # Ok::<(), orgstore::Error>(())
/// ```
pub struct WriteTransaction {
    // `None` once committed or aborted.
    txn: Option<engine::WriteTxn>,
    shared: Arc<Shared>,
    /// This thread's record of holding the store's write transaction; released with it.
    _permit: Permit,
}

impl WriteTransaction {
    pub(crate) fn new(txn: engine::WriteTxn, shared: Arc<Shared>, permit: Permit) -> Self {
        WriteTransaction {
            txn: Some(txn),
            shared,
            _permit: permit,
        }
    }

    fn txn(&self) -> Result<&engine::WriteTxn> {
        self.txn.as_ref().ok_or_else(ended)
    }

    fn context(&self) -> WriteContext {
        WriteContext {
            now: self.shared.now(),
            default_region: self.shared.default_region,
        }
    }

    /// Creates an organization: validates, assigns id and timestamps, enforces uniqueness.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] listing every broken rule; [`Error::AlreadyExists`] when the
    /// external id or slug is held by another organization (in any region).
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// let mut txn = store.begin_write()?;
    /// let org = txn.create(NewOrganization::new("Acme"))?;
    /// txn.commit()?;
    /// assert!(org.id.as_str().starts_with("org_"));
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn create(&mut self, new: NewOrganization) -> Result<Organization> {
        let cx = self.context();
        with_write!(self.txn()?, w => ops::create(w, new, &cx))
    }

    /// The record a create would write (validated, with its id and timestamps), written by
    /// [`insert_created`](Self::insert_created): a retried one-shot create writes the same.
    pub(crate) fn prepare_create(&mut self, new: NewOrganization) -> Result<Organization> {
        let cx = self.context();
        with_write!(self.txn()?, w => ops::prepare_create(w, new, &cx))
    }

    /// Writes a record made by [`prepare_create`](Self::prepare_create) (its id is redrawn in
    /// the rare case another record holds it); returns it as stored.
    pub(crate) fn insert_created(&mut self, org: &mut Organization) -> Result<()> {
        with_write!(self.txn()?, w => ops::insert_created(w, org))
    }

    /// Applies a partial update to the organization with this id and returns the result.
    ///
    /// An update that changes nothing writes nothing and leaves `update_time` alone.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a malformed id or a result that breaks a rule;
    /// [`Error::NotFound`] when no organization has the id; [`Error::AlreadyExists`] when a new
    /// external id or slug is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrganizationUpdate, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// # let org = store.create(NewOrganization::new("Acme"))?;
    /// let mut txn = store.begin_write()?;
    /// let org = txn.update(&org.id, OrganizationUpdate::new().display_name("Acme Inc"))?;
    /// txn.commit()?;
    /// assert_eq!(org.display_name, "Acme Inc");
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn update(
        &mut self,
        id: impl AsRef<str>,
        update: OrganizationUpdate,
    ) -> Result<Organization> {
        let id = OrgId::parse(id.as_ref())?;
        let cx = self.context();
        with_write!(self.txn()?, w => ops::update(w, &Target::Id(&id), update, &cx))
    }

    /// Like [`update`](Self::update), addressing the organization by external id.
    ///
    /// # Errors
    ///
    /// As for [`update`](Self::update); a malformed external id is [`Error::InvalidArgument`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrganizationUpdate, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// store.create(NewOrganization::new("Acme").external_id("acme-1"))?;
    /// let mut txn = store.begin_write()?;
    /// // The lookup key and the new value may differ: this renames the key.
    /// txn.update_by_external_id("acme-1", OrganizationUpdate::new().external_id("acme-2"))?;
    /// txn.commit()?;
    /// assert!(store.get_by_external_id("acme-2")?.is_some());
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn update_by_external_id(
        &mut self,
        external_id: &str,
        update: OrganizationUpdate,
    ) -> Result<Organization> {
        let cx = self.context();
        let target = Target::ExternalId(external_id);
        with_write!(self.txn()?, w => ops::update(w, &target, update, &cx))
    }

    /// Deletes the organization with this id and its index entries; returns what was removed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a malformed id; [`Error::NotFound`] when absent.
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// # let org = store.create(NewOrganization::new("Acme"))?;
    /// let mut txn = store.begin_write()?;
    /// txn.delete(&org.id)?;
    /// txn.commit()?;
    /// assert_eq!(store.get(&org.id)?, None);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn delete(&mut self, id: impl AsRef<str>) -> Result<Organization> {
        let id = OrgId::parse(id.as_ref())?;
        with_write!(self.txn()?, w => ops::delete(w, &Target::Id(&id)))
    }

    /// Deletes the organization holding this external id; returns what was removed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a malformed external id; [`Error::NotFound`] when absent.
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// store.create(NewOrganization::new("Acme").external_id("acme-1"))?;
    /// let mut txn = store.begin_write()?;
    /// txn.delete_by_external_id("acme-1")?;
    /// txn.commit()?;
    /// assert_eq!(store.count(None)?, 0);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn delete_by_external_id(&mut self, external_id: &str) -> Result<Organization> {
        with_write!(self.txn()?, w => ops::delete(w, &Target::ExternalId(external_id)))
    }

    /// Inserts or replaces a complete record with its own id and timestamps (for migration
    /// from, or mirroring of, another system). Timestamps are kept to the microsecond (finer
    /// digits are dropped) and converted to UTC. Returns the record as stored.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for any broken field rule, timestamps outside years
    /// 0001–9999 or `update_time` before `create_time`; [`Error::AlreadyExists`] when another
    /// organization holds the external id or slug; [`Error::FailedPrecondition`] when the id
    /// exists in another region (a region never changes).
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{Organization, OrgStore};
    ///
    /// let store = OrgStore::in_memory()?;
    /// let org: Organization = serde_json::from_str(r#"{
    ///     "id": "org_59615193906282635",
    ///     "create_time": "2025-02-15T06:23:44.560000Z",
    ///     "update_time": "2025-02-15T06:23:44.560000Z",
    ///     "display_name": "Megasoft",
    ///     "region_code": "US",
    ///     "external_id": "my_unique_id",
    ///     "metadata": {}
    /// }"#).unwrap();
    /// let mut txn = store.begin_write()?;
    /// txn.import(org.clone())?;
    /// txn.commit()?;
    /// assert_eq!(store.get("org_59615193906282635")?, Some(org));
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn import(&mut self, organization: Organization) -> Result<Organization> {
        with_write!(self.txn()?, w => ops::import(w, organization))
    }

    /// Makes every write of the transaction visible and, with the default durability,
    /// durable before returning.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the commit fails; the store then refuses writes until reopened.
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// let mut txn = store.begin_write()?;
    /// txn.create(NewOrganization::new("Acme"))?;
    /// txn.commit()?;
    /// assert_eq!(store.count(None)?, 1);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn commit(mut self) -> Result<()> {
        self.txn.take().ok_or_else(ended)?.commit()
    }

    /// Discards every write of the transaction (as dropping it does, but reporting errors).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the rollback fails.
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// let mut txn = store.begin_write()?;
    /// txn.create(NewOrganization::new("Acme"))?;
    /// txn.abort()?;
    /// assert_eq!(store.count(None)?, 0);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn abort(mut self) -> Result<()> {
        match self.txn.take() {
            Some(t) => t.abort(),
            None => Ok(()),
        }
    }
}

impl std::fmt::Debug for WriteTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTransaction")
            .field("open", &self.txn.is_some())
            .finish_non_exhaustive()
    }
}

impl_readable!(WriteTransaction, with_write, txn);

/// The error of using a transaction after its commit or abort.
fn ended() -> Error {
    Error::precondition("the transaction has already ended")
}
