//! Every conversion between the wire forms (protobuf messages, REST JSON bodies) and the
//! library's types, in one place.
//!
//! The update rules both surfaces share live in [`UpdateFields::into_update`]: a field absent
//! is unchanged; `external_id`, `slug` and `logo_url` present and `""` are cleared; a
//! `display_name` of `""` is passed on (and refused by the library); metadata is kept or
//! replaced as a whole. Each surface only decides, from its own wire form, which of these it
//! was sent (see [`rest_update`] and [`grpc_update`]).

use std::collections::BTreeMap;

use orgstore::{FeatureToggle, NewOrganization, Organization, OrganizationUpdate, Region};
use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::proto::scalekit::v1::commons::RegionCode;
use crate::proto::scalekit::v1::organizations as pb;

/// How an organization is addressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// By its id, `org_…`.
    Id(String),
    /// By the application's external id.
    ExternalId(String),
}

/// What to do with the metadata map in an update.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum MetadataChange {
    /// Leave it as it is.
    #[default]
    Keep,
    /// Replace it as a whole (an empty map clears it).
    Replace(BTreeMap<String, String>),
}

/// A partial update as either surface received it, before the shared rules apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateFields {
    /// New display name, if sent.
    pub display_name: Option<String>,
    /// New external id, if sent; `""` clears it.
    pub external_id: Option<String>,
    /// New slug, if sent; `""` clears it.
    pub slug: Option<String>,
    /// New logo URL, if sent; `""` clears it.
    pub logo_url: Option<String>,
    /// What happens to the metadata.
    pub metadata: MetadataChange,
}

impl UpdateFields {
    /// The library update these fields ask for.
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{NewOrganization, OrgStore};
    /// use orgstore_server::convert::{MetadataChange, UpdateFields};
    ///
    /// let store = OrgStore::in_memory()?;
    /// let org = store.create(NewOrganization::new("Acme").slug("acme").metadata("plan", "pro"))?;
    /// let fields = UpdateFields { slug: Some(String::new()), ..UpdateFields::default() };
    /// let org = store.update(&org.id, fields.into_update())?;
    /// assert_eq!(org.slug, None);
    /// assert_eq!(org.metadata["plan"], "pro"); // Keep
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn into_update(self) -> OrganizationUpdate {
        let mut update = OrganizationUpdate::new();
        if let Some(name) = self.display_name {
            update = update.display_name(name);
        }
        update = match self.external_id.as_deref() {
            None => update,
            Some("") => update.clear_external_id(),
            Some(v) => update.external_id(v),
        };
        update = match self.slug.as_deref() {
            None => update,
            Some("") => update.clear_slug(),
            Some(v) => update.slug(v),
        };
        update = match self.logo_url.as_deref() {
            None => update,
            Some("") => update.clear_logo_url(),
            Some(v) => update.logo_url(v),
        };
        match self.metadata {
            MetadataChange::Keep => update,
            MetadataChange::Replace(map) => update.replace_metadata(map),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Regions

/// The region of a gRPC `RegionCode` number; `None` for `REGION_CODE_UNSPECIFIED` (the store's
/// default region).
///
/// # Errors
///
/// An `INVALID_ARGUMENT` on `region_code` for a number that is no region.
pub fn region_from_proto(code: i32) -> Result<Option<Region>, ApiError> {
    match RegionCode::try_from(code) {
        Ok(RegionCode::Unspecified) => Ok(None),
        Ok(RegionCode::Us) => Ok(Some(Region::Us)),
        Ok(RegionCode::Eu) => Ok(Some(Region::Eu)),
        Err(_) => Err(ApiError::invalid(
            "region_code",
            format!("must be US (1) or EU (2), got {code}"),
        )),
    }
}

/// The gRPC `RegionCode` number of a region.
pub fn region_to_proto(region: Region) -> i32 {
    match region {
        Region::Eu => RegionCode::Eu as i32,
        // `Region` is exhaustive today; US is also the default region.
        Region::Us => RegionCode::Us as i32,
    }
}

/// The region named in REST JSON: `"US"`, `"EU"`, or `"REGION_CODE_UNSPECIFIED"` / `""` for
/// the store's default.
///
/// # Errors
///
/// An `INVALID_ARGUMENT` on `region_code` for any other text.
pub fn region_from_text(text: &str) -> Result<Option<Region>, ApiError> {
    match text {
        "" | "REGION_CODE_UNSPECIFIED" => Ok(None),
        "US" => Ok(Some(Region::Us)),
        "EU" => Ok(Some(Region::Eu)),
        other => Err(ApiError::invalid(
            "region_code",
            format!("must be \"US\" or \"EU\", got {:?}", shorten(other)),
        )),
    }
}

fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(MAX).collect();
        short.push('…');
        short
    }
}

// ---------------------------------------------------------------------------------------------
// gRPC

/// A protobuf `Timestamp` of a time.
pub fn timestamp(t: OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.unix_timestamp(),
        // Always below 1e9, so it fits.
        nanos: i32::try_from(t.nanosecond()).unwrap_or(0),
    }
}

/// The protobuf form of an organization.
pub fn organization_to_proto(org: Organization) -> pb::Organization {
    pb::Organization {
        id: org.id.as_str().to_owned(),
        create_time: Some(timestamp(org.create_time)),
        update_time: Some(timestamp(org.update_time)),
        display_name: org.display_name,
        region_code: region_to_proto(org.region_code),
        external_id: org.external_id,
        metadata: org.metadata.into_iter().collect(),
        settings: Some(pb::OrganizationSettings {
            features: org
                .settings
                .into_iter()
                .map(|t| pb::OrganizationSettingsFeature {
                    name: t.name,
                    enabled: t.enabled,
                })
                .collect(),
        }),
        slug: org.slug,
        logo_url: org.logo_url,
    }
}

/// The new organization of a gRPC create.
///
/// # Errors
///
/// An `INVALID_ARGUMENT` for an unknown region number.
pub fn grpc_create(org: pb::CreateOrganization) -> Result<NewOrganization, ApiError> {
    let mut new = NewOrganization::new(org.display_name);
    if let Some(region) = region_from_proto(org.region_code)? {
        new = new.region(region);
    }
    if let Some(v) = org.external_id {
        new = new.external_id(v);
    }
    if let Some(v) = org.slug {
        new = new.slug(v);
    }
    if let Some(v) = org.logo_url {
        new = new.logo_url(v);
    }
    for (k, v) in org.metadata {
        new = new.metadata(k, v);
    }
    Ok(new)
}

/// The update of a gRPC `UpdateOrganization`. A proto3 map has no presence and the SDKs send
/// an empty one on every update that does not touch metadata, so an empty map is "unchanged"
/// unless `update_mask` names `metadata` (then it clears).
pub fn grpc_update(
    org: Option<pb::UpdateOrganization>,
    update_mask: Option<&prost_types::FieldMask>,
) -> UpdateFields {
    let org = org.unwrap_or_default();
    let masked = update_mask.is_some_and(|mask| {
        mask.paths
            .iter()
            .any(|p| p == "metadata" || p == "organization.metadata")
    });
    let metadata = if org.metadata.is_empty() && !masked {
        MetadataChange::Keep
    } else {
        MetadataChange::Replace(org.metadata.into_iter().collect())
    };
    UpdateFields {
        display_name: org.display_name,
        external_id: org.external_id,
        slug: org.slug,
        logo_url: org.logo_url,
        metadata,
    }
}

/// The feature toggles of a gRPC settings message, in the order sent.
pub fn grpc_features(settings: Option<pb::OrganizationSettings>) -> Vec<FeatureToggle> {
    settings
        .map(|s| s.features)
        .unwrap_or_default()
        .into_iter()
        .map(|f| FeatureToggle::new(f.name, f.enabled))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// REST

/// The body of `POST /api/v1/organizations` (Scalekit's `CreateOrganization`).
#[derive(Debug, Default, Deserialize)]
pub struct CreateBody {
    /// Required; 1 to 200 characters.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Optional region (`"US"`, `"EU"`); the store's default when absent.
    #[serde(default)]
    pub region_code: Option<String>,
    /// Optional external id.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Optional metadata pairs.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Optional slug.
    #[serde(default)]
    pub slug: Option<String>,
    /// Optional logo URL.
    #[serde(default)]
    pub logo_url: Option<String>,
}

/// The new organization of a REST create.
///
/// # Errors
///
/// An `INVALID_ARGUMENT` for an unknown region.
pub fn rest_create(body: CreateBody) -> Result<NewOrganization, ApiError> {
    let mut new = NewOrganization::new(body.display_name.unwrap_or_default());
    if let Some(region) = region_from_text(body.region_code.as_deref().unwrap_or(""))? {
        new = new.region(region);
    }
    if let Some(v) = body.external_id {
        new = new.external_id(v);
    }
    if let Some(v) = body.slug {
        new = new.slug(v);
    }
    if let Some(v) = body.logo_url {
        new = new.logo_url(v);
    }
    for (k, v) in body.metadata.unwrap_or_default() {
        new = new.metadata(k, v);
    }
    Ok(new)
}

/// The body of `PATCH /api/v1/organizations/{id}` (Scalekit's `UpdateOrganization`).
///
/// A `null` string field is the same as an absent one; `metadata` absent keeps the map, and
/// `metadata` `{}` or `null` clears it.
#[derive(Debug, Default, Deserialize)]
pub struct UpdateBody {
    /// New display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// New external id; `""` clears it.
    #[serde(default)]
    pub external_id: Option<String>,
    /// New slug; `""` clears it.
    #[serde(default)]
    pub slug: Option<String>,
    /// New logo URL; `""` clears it.
    #[serde(default)]
    pub logo_url: Option<String>,
    /// `None`: absent; `Some(None)`: `null`; `Some(Some(map))`: a map.
    #[allow(clippy::option_option)]
    #[serde(default, deserialize_with = "present")]
    pub metadata: Option<Option<BTreeMap<String, String>>>,
}

#[allow(clippy::option_option)] // absent / null / value: the three cases of a JSON field
/// Tells a field sent as `null` (`Some(None)`) from an absent one (`None`, via `default`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The update of a REST PATCH.
pub fn rest_update(body: UpdateBody) -> UpdateFields {
    let metadata = match body.metadata {
        None => MetadataChange::Keep,
        Some(map) => MetadataChange::Replace(map.unwrap_or_default()),
    };
    UpdateFields {
        display_name: body.display_name,
        external_id: body.external_id,
        slug: body.slug,
        logo_url: body.logo_url,
        metadata,
    }
}

/// The body of `PATCH /api/v1/organizations/{id}/settings` (`OrganizationSettings`).
#[derive(Debug, Default, Deserialize)]
pub struct SettingsBody {
    /// The toggles to set, in order.
    #[serde(default)]
    pub features: Vec<FeatureBody>,
}

/// One toggle of a [`SettingsBody`]; both fields are required.
#[derive(Debug, Deserialize)]
pub struct FeatureBody {
    /// The feature's name.
    pub name: String,
    /// Whether it is on.
    pub enabled: bool,
}

/// The feature toggles of a REST settings body, in the order sent.
pub fn rest_features(body: SettingsBody) -> Vec<FeatureToggle> {
    body.features
        .into_iter()
        .map(|f| FeatureToggle::new(f.name, f.enabled))
        .collect()
}

/// A REST `page_size` query value: a non-negative decimal integer (values past `u32::MAX`
/// are served as the largest page, like any value above 100).
///
/// # Errors
///
/// An `INVALID_ARGUMENT` on `page_size` for anything else, including `""`, signs and spaces.
///
/// # Examples
///
/// ```
/// use orgstore_server::convert::page_size;
///
/// assert_eq!(page_size("5").unwrap(), 5);
/// assert_eq!(page_size("99999999999999999999999").unwrap(), u32::MAX);
/// assert!(page_size("-1").is_err());
/// assert!(page_size("ten").is_err());
/// ```
pub fn page_size(text: &str) -> Result<u32, ApiError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(
            "page_size",
            format!("must be a non-negative integer, got {:?}", shorten(text)),
        ));
    }
    Ok(text.parse::<u32>().unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_metadata_absent_null_empty_and_full() {
        let parse = |json: &str| rest_update(serde_json::from_str(json).expect("json")).metadata;
        assert_eq!(parse("{}"), MetadataChange::Keep);
        assert_eq!(
            parse(r#"{"metadata": null}"#),
            MetadataChange::Replace(BTreeMap::new())
        );
        assert_eq!(
            parse(r#"{"metadata": {}}"#),
            MetadataChange::Replace(BTreeMap::new())
        );
        assert_eq!(
            parse(r#"{"metadata": {"plan": "pro"}}"#),
            MetadataChange::Replace(BTreeMap::from([("plan".into(), "pro".into())]))
        );
    }

    #[test]
    fn grpc_empty_metadata_is_kept_unless_masked() {
        let org = pb::UpdateOrganization {
            display_name: Some("A".into()),
            ..Default::default()
        };
        assert_eq!(
            grpc_update(Some(org.clone()), None).metadata,
            MetadataChange::Keep
        );
        let mask = prost_types::FieldMask {
            paths: vec!["metadata".into()],
        };
        assert_eq!(
            grpc_update(Some(org), Some(&mask)).metadata,
            MetadataChange::Replace(BTreeMap::new())
        );
        assert_eq!(grpc_update(None, None), UpdateFields::default());
    }

    #[test]
    fn regions() {
        assert_eq!(region_from_proto(0), Ok(None));
        assert_eq!(region_from_proto(2), Ok(Some(Region::Eu)));
        assert_eq!(
            region_from_proto(7).expect_err("must fail").violations[0].field,
            "region_code"
        );
        assert_eq!(region_from_text("US"), Ok(Some(Region::Us)));
        assert!(region_from_text("us").is_err());
        assert_eq!(region_to_proto(Region::Eu), 2);
    }

    #[test]
    fn page_sizes() {
        assert_eq!(page_size("0").ok(), Some(0));
        assert!(page_size("").is_err());
        assert!(page_size("+3").is_err());
        assert!(page_size("1.5").is_err());
        assert!(page_size(" 3").is_err());
    }
}
