//! OrgStore: the organizations (tenants) of a B2B application, stored in-process in one
//! [redb](https://docs.rs/redb) file.
//!
//! An [`Organization`] is Scalekit's Organization object: id, display name, external id, slug,
//! logo, metadata, feature toggles, region and timestamps, with the same validation rules and
//! JSON form. The store gives it transactional create/get/update/delete/import, unique
//! secondary indexes on `external_id` and `slug` (across all regions), keyset pagination with
//! opaque tokens, O(1) counts, and US/EU data kept in separate tables.
//!
//! # Example
//!
//! ```
//! use orgstore::{ListRequest, NewOrganization, OrganizationUpdate, OrgStore, Region};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = OrgStore::open(dir.path().join("orgs.redb"))?; // created if missing
//!
//! let acme = store.create(
//!     NewOrganization::new("Acme")
//!         .external_id("acme-1")
//!         .slug("acme")
//!         .region(Region::Eu)
//!         .metadata("plan", "pro"),
//! )?;
//! assert_eq!(store.get_by_external_id("acme-1")?.as_ref(), Some(&acme));
//!
//! let acme = store.update(&acme.id, OrganizationUpdate::new().display_name("Acme Inc"))?;
//! assert_eq!(acme.display_name, "Acme Inc");
//!
//! // Several writes, atomically.
//! store.transaction(|txn| {
//!     txn.create(NewOrganization::new("Globex").external_id("globex"))?;
//!     txn.delete(&acme.id)?;
//!     Ok::<_, orgstore::Error>(())
//! })?;
//!
//! let page = store.list(&ListRequest::new().page_size(50))?;
//! assert_eq!(page.total_size, 1);
//! assert_eq!(page.organizations[0].display_name, "Globex");
//! # Ok::<(), orgstore::Error>(())
//! ```
//!
//! # Guarantees
//!
//! - **Durability**: with the default [`Durability::Immediate`], a write that returned `Ok` is
//!   on disk and survives a crash or power loss.
//! - **Atomicity and isolation**: a [`WriteTransaction`] is all-or-nothing; a
//!   [`ReadTransaction`] sees one snapshot. Readers never wait for the writer.
//! - **Nothing written on error**: a request that breaks any rule reports every violation
//!   ([`Error::InvalidArgument`]) and changes nothing.
//! - **Pagination**: pages are read from one snapshot each; across a whole traversal an
//!   organization that exists throughout appears exactly once; tokens are checked, never
//!   trusted.
//! - **Damaged files** are reported as [`Error::Corrupted`] (integrity is verified at open by
//!   default), never as a panic.

mod backend;
mod builder;
mod codec;
mod engine;
mod error;
mod group;
mod id;
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals;
mod list;
mod model;
mod ops;
mod pages;
mod permit;
mod request;
mod store;
mod txn;
mod validate;

pub use crate::backend::{MemoryBackend, StorageBackend};
pub use crate::builder::{Builder, Durability, DEFAULT_CACHE_SIZE};
pub use crate::error::{
    Error, ErrorCode, FieldViolation, LookupKey, Result, StorageError, UniqueField,
};
pub use crate::id::{OrgId, Region};
pub use crate::list::{ListRequest, Order, Page, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_TOKEN_LEN};
pub use crate::model::{FeatureToggle, Organization};
pub use crate::pages::Pages;
pub use crate::request::{NewOrganization, OrganizationUpdate};
pub use crate::store::OrgStore;
pub use crate::txn::{ReadTransaction, Readable, WriteTransaction};
/// The `time` crate, whose types the API uses for timestamps ([`Organization::create_time`],
/// [`Builder::clock`]), re-exported so callers need no version of their own.
pub use time;

/// The on-disk format version this build writes and reads.
///
/// # Examples
///
/// ```
/// assert_eq!(orgstore::FORMAT_VERSION, 2);
/// ```
pub const FORMAT_VERSION: u32 = engine::redb::FORMAT_VERSION;

// The README's examples compile and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_handles_are_send_and_sync() {
        assert_send_sync::<crate::OrgStore>();
        assert_send_sync::<crate::Error>();
        assert_send_sync::<crate::ReadTransaction>();
        assert_send_sync::<crate::Organization>();
    }
}
