//! The Organization record and its wire (JSON) form. No I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use crate::id::{OrgId, Region};

/// An organization (tenant), as stored and as Scalekit's API returns it.
///
/// Its serde JSON form is Scalekit's wire form: snake_case names, `region_code` as `"US"`/`"EU"`,
/// timestamps as RFC 3339 UTC with six fractional digits and a `Z`, `metadata` always present,
/// absent optional fields (and empty `settings`) omitted. Deserializing is as lenient as
/// Scalekit's own JSON (proto3 JSON through a gateway) needs: any RFC 3339 offset and
/// precision, `null` or no `metadata`/`settings`, a toggle without `enabled` (disabled), and
/// unknown fields ignored. It never panics.
///
/// Records returned by the store always hold valid values; a record you build yourself is checked
/// when you hand it to [`WriteTransaction::import`](crate::WriteTransaction::import).
///
/// # Examples
///
/// ```
/// use orgstore::{NewOrganization, OrgStore, Region};
///
/// let store = OrgStore::in_memory()?;
/// let org = store.create(NewOrganization::new("Acme").slug("acme").region(Region::Eu))?;
/// let json = serde_json::to_value(&org).unwrap();
/// assert_eq!(json["display_name"], "Acme");
/// assert_eq!(json["region_code"], "EU");
/// assert_eq!(json["metadata"], serde_json::json!({}));
/// assert!(json.get("external_id").is_none());
/// # Ok::<(), orgstore::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// The id, assigned at create (or carried by an imported record). Immutable.
    pub id: OrgId,
    /// When the organization was created (UTC, microsecond precision).
    #[serde(with = "wire_time")]
    pub create_time: OffsetDateTime,
    /// When it last changed (UTC, microsecond precision); never before `create_time`.
    #[serde(with = "wire_time")]
    pub update_time: OffsetDateTime,
    /// The name shown to people; 1 to 200 characters, not unique.
    pub display_name: String,
    /// The region the organization's data lives in. Immutable.
    pub region_code: Region,
    /// The application's own key for the tenant; unique across the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Up to 10 string pairs of extra attributes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: BTreeMap<String, String>,
    /// Feature toggles such as `sso` and `dir_sync`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "wire_settings::serialize",
        deserialize_with = "wire_settings::deserialize"
    )]
    pub settings: Vec<FeatureToggle>,
    /// A lowercase DNS label or hostname; unique across the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    /// An `https://` URL of the organization's logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
}

impl Organization {
    /// A complete record with the required fields, to fill in and hand to
    /// [`OrgStore::import`](crate::OrgStore::import): no external id, slug, logo, metadata or
    /// settings, and `update_time` equal to `create_time`. Nothing is checked until the import.
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{OrgId, OrgStore, Organization, Region};
    /// use orgstore::time::macros::datetime;
    ///
    /// let store = OrgStore::in_memory()?;
    /// let mut org = Organization::new(
    ///     OrgId::parse("org_59615193906282635")?,
    ///     "Megasoft",
    ///     Region::Eu,
    ///     datetime!(2025-02-15 06:23:44.56 UTC),
    /// );
    /// org.external_id = Some("megasoft".into());
    /// org.metadata.insert("plan".into(), "pro".into());
    /// assert_eq!(store.import(org.clone())?, org);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn new(
        id: OrgId,
        display_name: impl Into<String>,
        region_code: Region,
        create_time: OffsetDateTime,
    ) -> Organization {
        Organization {
            id,
            create_time,
            update_time: create_time,
            display_name: display_name.into(),
            region_code,
            external_id: None,
            metadata: BTreeMap::new(),
            settings: Vec::new(),
            slug: None,
            logo_url: None,
        }
    }

    /// Whether the feature toggle `name` is present and enabled.
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let org = store.create(orgstore::NewOrganization::new("Acme").setting("sso", true))?;
    /// assert!(org.is_enabled("sso"));
    /// assert!(!org.is_enabled("dir_sync"));
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn is_enabled(&self, name: &str) -> bool {
        self.settings.iter().any(|t| t.name == name && t.enabled)
    }
}

/// One feature toggle of an organization's settings.
///
/// In JSON, a toggle without `enabled` (proto3 JSON omits `false`) reads as disabled.
///
/// # Examples
///
/// ```
/// let t = orgstore::FeatureToggle::new("sso", true);
/// assert_eq!(t.name, "sso");
/// assert!(t.enabled);
/// let off: orgstore::FeatureToggle = serde_json::from_str(r#"{"name": "dir_sync"}"#).unwrap();
/// assert!(!off.enabled);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FeatureToggle {
    /// The feature's name, 1 to 50 characters, unique within the list.
    pub name: String,
    /// Whether it is on.
    #[serde(default)]
    pub enabled: bool,
}

impl FeatureToggle {
    /// A toggle named `name`.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = orgstore::FeatureToggle::new("dir_sync", false);
    /// assert!(!t.enabled);
    /// ```
    pub fn new(name: impl Into<String>, enabled: bool) -> Self {
        FeatureToggle {
            name: name.into(),
            enabled,
        }
    }
}

/// `null` reads as the empty value (proto3 JSON writes an unset map or message as `null`).
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Truncates a timestamp to microseconds, in UTC (the precision the store keeps).
pub(crate) fn to_micros(t: OffsetDateTime) -> i64 {
    let nanos = t.unix_timestamp_nanos();
    // Floor division so that times before 1970 truncate towards the past, like positive ones.
    nanos.div_euclid(1_000) as i64
}

/// The timestamp of `micros` microseconds since the Unix epoch, if representable.
pub(crate) fn from_micros(micros: i64) -> Option<OffsetDateTime> {
    // Seconds and the microseconds within them, in 64-bit arithmetic (two per decoded record).
    let (secs, sub) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
    let micro = u32::try_from(sub).ok()?;
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()?
        .replace_microsecond(micro)
        .ok()
}

mod wire_time {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    use time::{OffsetDateTime, UtcOffset};

    const FORMAT: &[time::format_description::FormatItem<'static>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

    /// A time that exists in its own offset but not in UTC (`9999-12-31T23:59:59-01:00` is in
    /// year 10000 there) is an error, never a panic.
    const OUT_OF_RANGE: &str =
        "timestamp is out of range once converted to UTC (years 0000 to 9999)";

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        // RFC 3339 has four-digit years only.
        let utc = t
            .checked_to_offset(UtcOffset::UTC)
            .filter(|u| (0..=9999).contains(&u.year()))
            .ok_or_else(|| serde::ser::Error::custom(OUT_OF_RANGE))?;
        let text = utc.format(FORMAT).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    /// Any offset and precision; the result is UTC, to the microsecond (the store's precision,
    /// so a record read from JSON equals what the store keeps of it).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        let utc = OffsetDateTime::parse(&text, &Rfc3339)
            .map_err(serde::de::Error::custom)?
            .checked_to_offset(UtcOffset::UTC)
            .ok_or_else(|| serde::de::Error::custom(OUT_OF_RANGE))?;
        Ok(super::from_micros(super::to_micros(utc)).unwrap_or(utc))
    }
}

mod wire_settings {
    use super::{Deserialize, Deserializer, FeatureToggle, Serialize, Serializer};

    #[derive(Serialize)]
    struct Out<'a> {
        features: &'a [FeatureToggle],
    }

    #[derive(Deserialize)]
    struct In {
        #[serde(default, deserialize_with = "super::null_as_default")]
        features: Vec<FeatureToggle>,
    }

    // serde's `serialize_with` hands over `&Vec<_>`.
    #[allow(clippy::ptr_arg)]
    pub fn serialize<S: Serializer>(v: &Vec<FeatureToggle>, s: S) -> Result<S::Ok, S::Error> {
        Out { features: v }.serialize(s)
    }

    /// `null` (an unset message in proto3 JSON) reads as no settings.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<FeatureToggle>, D::Error> {
        Ok(Option::<In>::deserialize(d)?
            .map(|i| i.features)
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_round_trip_and_floor() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).expect("t");
        assert_eq!(to_micros(t), 1_700_000_000_123_456);
        let before = OffsetDateTime::from_unix_timestamp_nanos(-1_500).expect("t");
        assert_eq!(to_micros(before), -2);
        assert_eq!(from_micros(-2).map(to_micros), Some(-2));
    }

    /// The 64-bit decoding gives what the plain nanosecond conversion gives, in range and out.
    #[test]
    fn from_micros_matches_the_nanosecond_conversion() {
        let plain = |m: i64| OffsetDateTime::from_unix_timestamp_nanos(i128::from(m) * 1_000).ok();
        let max = to_micros(OffsetDateTime::from_unix_timestamp(253_402_300_799).expect("max"));
        let min = to_micros(OffsetDateTime::from_unix_timestamp(-377_705_116_800).expect("min"));
        for m in [
            0,
            1,
            -1,
            999_999,
            -999_999,
            1_000_000,
            -1_000_001,
            1_700_000_000_123_456,
            max,
            max + 999_999,
            max + 1_000_000,
            min,
            min - 1,
            i64::MAX,
            i64::MIN,
        ] {
            assert_eq!(from_micros(m), plain(m), "{m}");
        }
    }
}
