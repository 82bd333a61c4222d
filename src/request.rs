//! What callers ask for: a new organization, a partial update. Building records from them is
//! pure (no I/O), so every engine shares it.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::error::Result;
use crate::id::{OrgId, Region};
use crate::model::{FeatureToggle, Organization};
use crate::validate;

/// The fields of an organization to create; the store assigns id and timestamps.
///
/// Nothing is checked until the create runs; then every broken rule is reported at once.
///
/// # Examples
///
/// ```
/// use orgstore::{NewOrganization, OrgStore, Region};
///
/// let store = OrgStore::in_memory()?;
/// let org = store.create(
///     NewOrganization::new("Acme")
///         .external_id("acme-1")
///         .slug("acme")
///         .logo_url("https://cdn.example.com/acme.png")
///         .region(Region::Eu)
///         .metadata("plan", "pro")
///         .setting("sso", true),
/// )?;
/// assert_eq!(org.region_code, Region::Eu);
/// assert_eq!(org.metadata["plan"], "pro");
/// # Ok::<(), orgstore::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct NewOrganization {
    pub(crate) display_name: String,
    pub(crate) external_id: Option<String>,
    pub(crate) slug: Option<String>,
    pub(crate) logo_url: Option<String>,
    pub(crate) region: Option<Region>,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) settings: Vec<FeatureToggle>,
}

impl NewOrganization {
    /// A new organization named `display_name`, in the store's default region.
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let org = store.create(orgstore::NewOrganization::new("Acme"))?;
    /// assert_eq!(org.display_name, "Acme");
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn new(display_name: impl Into<String>) -> Self {
        NewOrganization {
            display_name: display_name.into(),
            ..Self::default()
        }
    }

    /// Sets the application's own key for the tenant (unique across the store).
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// store.create(orgstore::NewOrganization::new("Acme").external_id("acme-1"))?;
    /// assert!(store.get_by_external_id("acme-1")?.is_some());
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn external_id(mut self, external_id: impl Into<String>) -> Self {
        self.external_id = Some(external_id.into());
        self
    }

    /// Sets the slug, a lowercase DNS label or hostname (unique across the store).
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// store.create(orgstore::NewOrganization::new("Acme").slug("acme"))?;
    /// assert!(store.get_by_slug("acme")?.is_some());
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn slug(mut self, slug: impl Into<String>) -> Self {
        self.slug = Some(slug.into());
        self
    }

    /// Sets the logo URL, which must start with `https://`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let org = store.create(orgstore::NewOrganization::new("Acme").logo_url("https://x.io/a.png"))?;
    /// assert_eq!(org.logo_url.as_deref(), Some("https://x.io/a.png"));
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn logo_url(mut self, logo_url: impl Into<String>) -> Self {
        self.logo_url = Some(logo_url.into());
        self
    }

    /// Chooses the region (immutable afterwards); default: the store's default region.
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{NewOrganization, Region};
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let org = store.create(NewOrganization::new("Acme").region(Region::Eu))?;
    /// assert_eq!(org.region_code, Region::Eu);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn region(mut self, region: Region) -> Self {
        self.region = Some(region);
        self
    }

    /// Adds (or replaces) one metadata pair.
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let org = store.create(orgstore::NewOrganization::new("Acme").metadata("plan", "pro"))?;
    /// assert_eq!(org.metadata.get("plan").map(String::as_str), Some("pro"));
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Adds (or replaces) one feature toggle.
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let org = store.create(orgstore::NewOrganization::new("Acme").setting("sso", true))?;
    /// assert!(org.is_enabled("sso"));
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn setting(mut self, name: impl Into<String>, enabled: bool) -> Self {
        upsert_toggle(&mut self.settings, name.into(), enabled);
        self
    }

    /// Checks every field rule without writing anything (a create runs the same check first).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) listing every broken rule.
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::NewOrganization;
    ///
    /// assert!(NewOrganization::new("Acme").slug("acme").validate().is_ok());
    /// let err = NewOrganization::new("").slug("Not A Slug").validate().unwrap_err();
    /// assert_eq!(err.violations().len(), 2);
    /// ```
    pub fn validate(&self) -> Result<()> {
        validate::fields(&validate::Fields {
            display_name: &self.display_name,
            external_id: self.external_id.as_deref(),
            slug: self.slug.as_deref(),
            logo_url: self.logo_url.as_deref(),
            metadata: &self.metadata,
            settings: &self.settings,
        })
    }

    /// The record the store writes, once [`check`](Self::check) has passed.
    pub(crate) fn into_record(
        self,
        id: OrgId,
        default_region: Region,
        now: OffsetDateTime,
    ) -> Organization {
        Organization {
            id,
            create_time: now,
            update_time: now,
            display_name: self.display_name,
            region_code: self.region.unwrap_or(default_region),
            external_id: self.external_id,
            metadata: self.metadata,
            settings: self.settings,
            slug: self.slug,
            logo_url: self.logo_url,
        }
    }
}

fn upsert_toggle(list: &mut Vec<FeatureToggle>, name: String, enabled: bool) {
    match list.iter_mut().find(|t| t.name == name) {
        Some(t) => t.enabled = enabled,
        None => list.push(FeatureToggle { name, enabled }),
    }
}

/// Keep, set or clear one optional field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Change {
    #[default]
    Keep,
    Set(String),
    Clear,
}

impl Change {
    fn apply(self, field: &mut Option<String>) {
        match self {
            Change::Keep => {}
            Change::Set(v) => *field = Some(v),
            Change::Clear => *field = None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum MetadataChange {
    #[default]
    Keep,
    Replace(BTreeMap<String, String>),
    Merge {
        upsert: BTreeMap<String, String>,
        remove: Vec<String>,
    },
}

/// A partial update: only the fields you touch change.
///
/// `display_name` can be set; `external_id`, `slug` and `logo_url` kept, set or cleared;
/// feature toggles set one by one (others stay); metadata kept, replaced as a whole, or merged
/// (upsert some keys, remove others). Limits apply to the resulting record. Region, id and
/// `create_time` never change. An update that changes nothing writes nothing.
///
/// # Examples
///
/// ```
/// use orgstore::{NewOrganization, OrganizationUpdate, OrgStore};
///
/// let store = OrgStore::in_memory()?;
/// let org = store.create(NewOrganization::new("Acme").external_id("acme-1").metadata("plan", "free"))?;
/// let org = store.update(
///     &org.id,
///     OrganizationUpdate::new()
///         .display_name("Acme Inc")
///         .clear_external_id()
///         .set_metadata("plan", "pro")
///         .set_metadata("seats", "40"),
/// )?;
/// assert_eq!(org.display_name, "Acme Inc");
/// assert_eq!(org.external_id, None);
/// assert_eq!(org.metadata.len(), 2);
/// # Ok::<(), orgstore::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct OrganizationUpdate {
    display_name: Option<String>,
    external_id: Change,
    slug: Change,
    logo_url: Change,
    metadata: MetadataChange,
    /// Feature toggles to set or remove, in the order given (a later change of the same name
    /// replaces an earlier one).
    settings: Vec<SettingChange>,
}

/// One change to the feature toggles.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SettingChange {
    Set(FeatureToggle),
    Remove(String),
}

impl SettingChange {
    fn name(&self) -> &str {
        match self {
            SettingChange::Set(t) => &t.name,
            SettingChange::Remove(name) => name,
        }
    }
}

impl OrganizationUpdate {
    /// An update that changes nothing yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{NewOrganization, OrganizationUpdate, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// let org = store.create(NewOrganization::new("Acme"))?;
    /// let same = store.update(&org.id, OrganizationUpdate::new())?;
    /// assert_eq!(same, org); // update_time untouched
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the display name.
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrganizationUpdate, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// # let org = store.create(NewOrganization::new("Acme"))?;
    /// let org = store.update(&org.id, OrganizationUpdate::new().display_name("Acme Inc"))?;
    /// assert_eq!(org.display_name, "Acme Inc");
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn display_name(mut self, display_name: impl Into<String>) -> Self {
        self.display_name = Some(display_name.into());
        self
    }

    /// Sets the external id (it must not be held by another organization).
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrganizationUpdate, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// # let org = store.create(NewOrganization::new("Acme"))?;
    /// store.update(&org.id, OrganizationUpdate::new().external_id("acme-2"))?;
    /// assert!(store.get_by_external_id("acme-2")?.is_some());
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn external_id(mut self, external_id: impl Into<String>) -> Self {
        self.external_id = Change::Set(external_id.into());
        self
    }

    /// Removes the external id, freeing it for other organizations.
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrganizationUpdate, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// let org = store.create(NewOrganization::new("Acme").external_id("a"))?;
    /// let org = store.update(&org.id, OrganizationUpdate::new().clear_external_id())?;
    /// assert_eq!(org.external_id, None);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn clear_external_id(mut self) -> Self {
        self.external_id = Change::Clear;
        self
    }

    /// Sets the slug.
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrganizationUpdate, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// # let org = store.create(NewOrganization::new("Acme"))?;
    /// let org = store.update(&org.id, OrganizationUpdate::new().slug("acme"))?;
    /// assert_eq!(org.slug.as_deref(), Some("acme"));
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn slug(mut self, slug: impl Into<String>) -> Self {
        self.slug = Change::Set(slug.into());
        self
    }

    /// Removes the slug.
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrganizationUpdate, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// let org = store.create(NewOrganization::new("Acme").slug("acme"))?;
    /// let org = store.update(&org.id, OrganizationUpdate::new().clear_slug())?;
    /// assert_eq!(org.slug, None);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn clear_slug(mut self) -> Self {
        self.slug = Change::Clear;
        self
    }

    /// Sets the logo URL.
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrganizationUpdate, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// # let org = store.create(NewOrganization::new("Acme"))?;
    /// let org = store.update(&org.id, OrganizationUpdate::new().logo_url("https://x.io/l.png"))?;
    /// assert!(org.logo_url.is_some());
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn logo_url(mut self, logo_url: impl Into<String>) -> Self {
        self.logo_url = Change::Set(logo_url.into());
        self
    }

    /// Removes the logo URL.
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrganizationUpdate, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// let org = store.create(NewOrganization::new("Acme").logo_url("https://x.io/l.png"))?;
    /// let org = store.update(&org.id, OrganizationUpdate::new().clear_logo_url())?;
    /// assert_eq!(org.logo_url, None);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn clear_logo_url(mut self) -> Self {
        self.logo_url = Change::Clear;
        self
    }

    /// Replaces the whole metadata map (an empty map clears it). Later
    /// [`set_metadata`](Self::set_metadata) / [`remove_metadata`](Self::remove_metadata) calls
    /// edit the replacement.
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrganizationUpdate, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// let org = store.create(NewOrganization::new("Acme").metadata("plan", "pro"))?;
    /// let map = [("tier".to_string(), "gold".to_string())].into_iter().collect();
    /// let org = store.update(&org.id, OrganizationUpdate::new().replace_metadata(map))?;
    /// assert_eq!(org.metadata.keys().collect::<Vec<_>>(), ["tier"]);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn replace_metadata(mut self, metadata: BTreeMap<String, String>) -> Self {
        self.metadata = MetadataChange::Replace(metadata);
        self
    }

    /// Removes every metadata pair.
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrganizationUpdate, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// let org = store.create(NewOrganization::new("Acme").metadata("plan", "pro"))?;
    /// let org = store.update(&org.id, OrganizationUpdate::new().clear_metadata())?;
    /// assert!(org.metadata.is_empty());
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn clear_metadata(self) -> Self {
        self.replace_metadata(BTreeMap::new())
    }

    /// Upserts one metadata pair, keeping the others (merge).
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrganizationUpdate, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// let org = store.create(NewOrganization::new("Acme").metadata("plan", "pro"))?;
    /// let org = store.update(&org.id, OrganizationUpdate::new().set_metadata("seats", "5"))?;
    /// assert_eq!(org.metadata.len(), 2);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn set_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (key, value) = (key.into(), value.into());
        match &mut self.metadata {
            MetadataChange::Keep => {
                self.metadata = MetadataChange::Merge {
                    upsert: BTreeMap::from([(key, value)]),
                    remove: Vec::new(),
                };
            }
            MetadataChange::Replace(map) => {
                map.insert(key, value);
            }
            MetadataChange::Merge { upsert, remove } => {
                remove.retain(|k| *k != key);
                upsert.insert(key, value);
            }
        }
        self
    }

    /// Removes one metadata key if present, keeping the others (merge).
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrganizationUpdate, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// let org = store.create(NewOrganization::new("Acme").metadata("plan", "pro").metadata("seats", "5"))?;
    /// let org = store.update(&org.id, OrganizationUpdate::new().remove_metadata("plan"))?;
    /// assert_eq!(org.metadata.keys().collect::<Vec<_>>(), ["seats"]);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn remove_metadata(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        match &mut self.metadata {
            MetadataChange::Keep => {
                self.metadata = MetadataChange::Merge {
                    upsert: BTreeMap::new(),
                    remove: vec![key],
                };
            }
            MetadataChange::Replace(map) => {
                map.remove(&key);
            }
            MetadataChange::Merge { upsert, remove } => {
                upsert.remove(&key);
                remove.push(key);
            }
        }
        self
    }

    /// Sets one feature toggle; the others stay as they are. A toggle already present keeps
    /// its place in the list; a new one is added at the end.
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrganizationUpdate, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// let org = store.create(NewOrganization::new("Acme").setting("sso", true))?;
    /// let org = store.update(&org.id, OrganizationUpdate::new().setting("dir_sync", true))?;
    /// assert!(org.is_enabled("sso") && org.is_enabled("dir_sync"));
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn setting(self, name: impl Into<String>, enabled: bool) -> Self {
        self.change_setting(SettingChange::Set(FeatureToggle::new(name, enabled)))
    }

    /// Removes one feature toggle from the list if present (a disabled toggle, in contrast,
    /// stays listed with `enabled: false`); the others stay as they are.
    ///
    /// # Examples
    ///
    /// ```
    /// # use orgstore::{NewOrganization, OrganizationUpdate, OrgStore};
    /// # let store = OrgStore::in_memory()?;
    /// let org = store.create(NewOrganization::new("Acme").setting("sso", true).setting("beta", true))?;
    /// let org = store.update(&org.id, OrganizationUpdate::new().remove_setting("beta"))?;
    /// assert_eq!(org.settings, [orgstore::FeatureToggle::new("sso", true)]);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn remove_setting(self, name: impl Into<String>) -> Self {
        self.change_setting(SettingChange::Remove(name.into()))
    }

    fn change_setting(mut self, change: SettingChange) -> Self {
        self.settings.retain(|c| c.name() != change.name());
        self.settings.push(change);
        self
    }

    /// Applies the update to `current`: `Ok(None)` if nothing changes, else the validated
    /// new record with `update_time` bumped to `max(now, current.update_time)`. Every violation
    /// is reported at once.
    pub(crate) fn apply(
        self,
        current: &Organization,
        now: OffsetDateTime,
    ) -> Result<Option<Organization>> {
        // Keys the update sets always end up in the record: too many is an error whatever the
        // record holds, found before copying or merging anything. The rest is still checked.
        let metadata_in = match &self.metadata {
            MetadataChange::Keep => 0,
            MetadataChange::Replace(map) => map.len(),
            MetadataChange::Merge { upsert, .. } => upsert.len(),
        };
        let mut report = validate::Report::default();
        let (too_much_metadata, too_many_settings) =
            validate::update_bounds(&mut report, metadata_in, self.settings.len());
        let mut next = current.clone();
        if let Some(name) = self.display_name {
            next.display_name = name;
        }
        self.external_id.apply(&mut next.external_id);
        self.slug.apply(&mut next.slug);
        self.logo_url.apply(&mut next.logo_url);
        match self.metadata {
            _ if too_much_metadata => {}
            MetadataChange::Keep => {}
            MetadataChange::Replace(map) => next.metadata = map,
            MetadataChange::Merge { upsert, remove } => {
                for k in &remove {
                    next.metadata.remove(k);
                }
                next.metadata.extend(upsert);
            }
        }
        if !too_many_settings {
            for change in self.settings {
                match change {
                    SettingChange::Set(t) => upsert_toggle(&mut next.settings, t.name, t.enabled),
                    SettingChange::Remove(name) => next.settings.retain(|t| t.name != name),
                }
            }
        }
        validate::check_fields(&mut report, &validate::record(&next));
        report.into_result()?;
        if next == *current {
            return Ok(None);
        }
        next.update_time = now.max(current.update_time);
        Ok(Some(next))
    }
}
