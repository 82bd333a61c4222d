//! The reference model of a store: its organizations as plain data, and what each operation
//! must answer, written once. The model test (`tests/model.rs`), the fuzz targets
//! (`fuzz/harness.rs`) and the reliability suites' workload (`tests/common`) all check the
//! store against it.

#![allow(dead_code)] // each user needs part of it

use std::collections::BTreeMap;

use orgstore::{Error, ErrorCode, Order, OrgId, Organization, Region, UniqueField};

/// What a write must do, by the rules of the SPEC: the outcome the store's answer is checked
/// against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// It writes (the store's record is then recorded with [`Reference::put`]).
    Written,
    /// It succeeds and changes nothing (an update to the same values, a repeated import).
    Unchanged,
    /// Refused: `field` is held by `holder` (external id checked before slug).
    Clash(UniqueField, OrgId),
    /// Refused: nothing to update or delete.
    NotFound,
    /// Refused: more metadata pairs than allowed.
    TooMuchMetadata,
    /// Refused: an import would move a record to another region.
    RegionChange,
}

/// The organizations a store must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reference {
    orgs: BTreeMap<OrgId, Organization>,
}

impl Reference {
    pub fn new() -> Reference {
        Reference::default()
    }

    pub fn len(&self) -> usize {
        self.orgs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orgs.is_empty()
    }

    pub fn get(&self, id: &OrgId) -> Option<&Organization> {
        self.orgs.get(id)
    }

    /// The ids held, in id order.
    pub fn ids(&self) -> impl Iterator<Item = &OrgId> {
        self.orgs.keys()
    }

    /// The id at `position` (modulo the size), for picking a target; `None` when empty.
    pub fn nth_id(&self, position: usize) -> Option<OrgId> {
        if self.orgs.is_empty() {
            return None;
        }
        self.orgs.keys().nth(position % self.orgs.len()).cloned()
    }

    /// The holder of a unique value.
    pub fn holder(&self, field: UniqueField, value: &str) -> Option<&Organization> {
        self.orgs.values().find(|o| held(field, o) == Some(value))
    }

    /// How many organizations `region` (or every region) holds.
    pub fn count(&self, region: Option<Region>) -> u64 {
        self.orgs
            .values()
            .filter(|o| region.is_none_or(|r| o.region_code == r))
            .count() as u64
    }

    /// A whole listing of `region` (or every region) in `order`.
    pub fn listing(&self, region: Option<Region>, order: Order) -> Vec<Organization> {
        let mut out: Vec<Organization> = self
            .orgs
            .values()
            .filter(|o| region.is_none_or(|r| o.region_code == r))
            .cloned()
            .collect();
        if order == Order::NewestFirst {
            out.reverse();
        }
        out
    }

    /// The clash a write of these unique values by `owner` (none for a new record) meets:
    /// external id first, then slug.
    pub fn clash(
        &self,
        owner: Option<&OrgId>,
        external_id: Option<&str>,
        slug: Option<&str>,
    ) -> Option<(UniqueField, OrgId)> {
        for (field, value) in [
            (UniqueField::ExternalId, external_id),
            (UniqueField::Slug, slug),
        ] {
            let Some(v) = value else { continue };
            if let Some(h) = self.holder(field, v) {
                if Some(&h.id) != owner {
                    return Some((field, h.id.clone()));
                }
            }
        }
        None
    }

    /// What a create of a record with these unique values must do.
    pub fn create(&self, external_id: Option<&str>, slug: Option<&str>) -> Expect {
        match self.clash(None, external_id, slug) {
            Some((field, holder)) => Expect::Clash(field, holder),
            None => Expect::Written,
        }
    }

    /// What an update of `id` must do, given the record the update makes of it (`next`,
    /// `update_time` aside; `None` when `id` is absent).
    pub fn update(&self, id: &OrgId, next: Option<&Organization>) -> Expect {
        let (Some(current), Some(next)) = (self.orgs.get(id), next) else {
            return Expect::NotFound;
        };
        if next.metadata.len() > 10 {
            return Expect::TooMuchMetadata;
        }
        if let Some((field, holder)) =
            self.clash(Some(id), next.external_id.as_deref(), next.slug.as_deref())
        {
            return Expect::Clash(field, holder);
        }
        if next == current {
            Expect::Unchanged
        } else {
            Expect::Written
        }
    }

    /// What a delete of `id` must do.
    pub fn delete(&self, id: &OrgId) -> Expect {
        if self.orgs.contains_key(id) {
            Expect::Written
        } else {
            Expect::NotFound
        }
    }

    /// What an import of the complete record `org` must do.
    pub fn import(&self, org: &Organization) -> Expect {
        if let Some(old) = self.orgs.get(&org.id) {
            if old.region_code != org.region_code {
                return Expect::RegionChange;
            }
        }
        if let Some((field, holder)) = self.clash(
            Some(&org.id),
            org.external_id.as_deref(),
            org.slug.as_deref(),
        ) {
            return Expect::Clash(field, holder);
        }
        if self.orgs.get(&org.id) == Some(org) {
            Expect::Unchanged
        } else {
            Expect::Written
        }
    }

    /// Records a record the store wrote.
    pub fn put(&mut self, org: Organization) {
        self.orgs.insert(org.id.clone(), org);
    }

    /// Records a delete.
    pub fn remove(&mut self, id: &OrgId) -> Option<Organization> {
        self.orgs.remove(id)
    }

    /// Checks the store's answer to a write against the expectation, and records what it
    /// wrote (the `Ok` record for [`Expect::Written`]; deletes are recorded by the caller).
    /// Panics, naming both, on any disagreement.
    #[track_caller]
    pub fn settle(&mut self, expect: &Expect, result: orgstore::Result<Organization>) {
        match (expect, result) {
            (Expect::Written, Ok(org)) => self.put(org),
            (Expect::Unchanged, Ok(org)) => {
                assert_eq!(
                    self.orgs.get(&org.id),
                    Some(&org),
                    "an unchanged record changed"
                );
            }
            (
                Expect::Clash(field, holder),
                Err(Error::AlreadyExists {
                    field: f,
                    holder: h,
                    ..
                }),
            ) => {
                assert_eq!(
                    (&f, &h),
                    (field, holder),
                    "clash on another field or holder"
                );
            }
            (Expect::NotFound, Err(e)) => assert_eq!(e.code(), ErrorCode::NotFound, "{e}"),
            (Expect::TooMuchMetadata, Err(e)) => {
                assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
                assert_eq!(e.violations()[0].field(), "metadata", "{e}");
            }
            (Expect::RegionChange, Err(e)) => {
                assert_eq!(e.code(), ErrorCode::FailedPrecondition, "{e}");
            }
            (expect, result) => panic!("expected {expect:?}, the store answered {result:?}"),
        }
    }

    /// The logical content, keyed by external id, without ids and timestamps (what a workload
    /// whose records all carry an external id can predict without running the store).
    pub fn logical(&self) -> BTreeMap<String, Logical> {
        logical_of(self.orgs.values())
    }
}

/// What a workload tracks of an organization, keyed by its external id: everything but the
/// store-assigned id and timestamps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logical {
    pub display_name: String,
    pub slug: Option<String>,
    pub region: Region,
    pub metadata: BTreeMap<String, String>,
}

/// The logical content of these organizations (those without an external id are left out).
pub fn logical_of<'a>(
    orgs: impl IntoIterator<Item = &'a Organization>,
) -> BTreeMap<String, Logical> {
    orgs.into_iter()
        .filter_map(|o| {
            Some((
                o.external_id.clone()?,
                Logical {
                    display_name: o.display_name.clone(),
                    slug: o.slug.clone(),
                    region: o.region_code,
                    metadata: o.metadata.clone(),
                },
            ))
        })
        .collect()
}

fn held(field: UniqueField, org: &Organization) -> Option<&str> {
    match field {
        UniqueField::ExternalId => org.external_id.as_deref(),
        UniqueField::Slug => org.slug.as_deref(),
        _ => None,
    }
}
