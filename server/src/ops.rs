//! The request logic both surfaces share: each operation converts nothing, runs one store
//! call through the [`Limiter`] (on the blocking pool, inside one closure, so a transaction
//! never crosses threads or awaits) and reports failures as [`ApiError`].

use std::collections::HashSet;

use orgstore::{
    Error, FeatureToggle, ListRequest, LookupKey, NewOrganization, OrgId, OrgStore, Organization,
    OrganizationUpdate, Page,
};

use crate::convert::Key;
use crate::error::ApiError;
use crate::limits::Limiter;

/// The store and the bound on its calls.
#[derive(Debug)]
pub struct Ops {
    store: OrgStore,
    limiter: Limiter,
}

impl Ops {
    /// Operations on `store`, bounded by `limiter`.
    pub fn new(store: OrgStore, limiter: Limiter) -> Self {
        Ops { store, limiter }
    }

    /// The limiter (for draining at shutdown).
    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// Creates an organization.
    pub async fn create(&self, new: NewOrganization) -> Result<Organization, ApiError> {
        let store = self.store.clone();
        self.limiter
            .run(move || store.create(new).map_err(ApiError::from))
            .await
    }

    /// The organization at `key`; NOT_FOUND when there is none.
    pub async fn get(&self, key: Key) -> Result<Organization, ApiError> {
        check_key(&key)?;
        let store = self.store.clone();
        self.limiter
            .run_read(move || {
                let found = match &key {
                    Key::Id(id) => store.get(id)?,
                    Key::ExternalId(e) => store.get_by_external_id(e)?,
                };
                found.ok_or_else(|| not_found(key))
            })
            .await
    }

    /// One page of a listing.
    pub async fn list(&self, request: ListRequest) -> Result<Page, ApiError> {
        let store = self.store.clone();
        self.limiter
            .run_read(move || store.list(&request).map_err(ApiError::from))
            .await
    }

    /// Applies `update` to the organization at `key`.
    pub async fn update(
        &self,
        key: Key,
        update: OrganizationUpdate,
    ) -> Result<Organization, ApiError> {
        check_key(&key)?;
        let store = self.store.clone();
        self.limiter
            .run(move || {
                Ok(match &key {
                    Key::Id(id) => store.update(id, update)?,
                    Key::ExternalId(e) => store.update_by_external_id(e, update)?,
                })
            })
            .await
    }

    /// Deletes the organization at `key`; returns what was removed.
    pub async fn delete(&self, key: Key) -> Result<Organization, ApiError> {
        check_key(&key)?;
        let store = self.store.clone();
        self.limiter
            .run(move || {
                Ok(match &key {
                    Key::Id(id) => store.delete(id)?,
                    Key::ExternalId(e) => store.delete_by_external_id(e)?,
                })
            })
            .await
    }

    /// Sets feature toggles: toggles already present keep their place and take the new
    /// `enabled`, new names are appended in the order sent.
    ///
    /// # Errors
    ///
    /// INVALID_ARGUMENT when one name comes twice in `features` (nothing is written), or for
    /// what the library refuses; NOT_FOUND for an unknown id.
    pub async fn update_settings(
        &self,
        id: String,
        features: Vec<FeatureToggle>,
    ) -> Result<Organization, ApiError> {
        check_key(&Key::Id(id.clone()))?;
        let mut seen = HashSet::with_capacity(features.len());
        let mut update = OrganizationUpdate::new();
        for toggle in features {
            if !seen.insert(toggle.name.clone()) {
                return Err(ApiError::invalid(
                    "settings",
                    format!(
                        "feature {:?} is named more than once in one request",
                        toggle.name
                    ),
                ));
            }
            update = update.setting(toggle.name, toggle.enabled);
        }
        self.update(Key::Id(id), update).await
    }
}

/// An empty id or external id is a missing argument, reported before any store call.
fn check_key(key: &Key) -> Result<(), ApiError> {
    match key {
        Key::Id(id) if id.is_empty() => Err(ApiError::invalid("id", "is required")),
        Key::ExternalId(e) if e.is_empty() => Err(ApiError::invalid("external_id", "is required")),
        _ => Ok(()),
    }
}

/// The library's own NOT_FOUND for a key that found nothing.
fn not_found(key: Key) -> ApiError {
    let key = match key {
        Key::Id(id) => match OrgId::parse(&id) {
            Ok(id) => LookupKey::Id(id),
            Err(err) => return err.into(),
        },
        Key::ExternalId(e) => LookupKey::ExternalId(e),
    };
    Error::NotFound { key }.into()
}
