//! Organization ids, regions, and the generator of ids the store assigns.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::validate::rule;

const PREFIX: &str = "org_";
/// Longest suffix after `org_` (so a whole id is at most 32 characters, Scalekit's cap).
pub(crate) const MAX_SUFFIX: usize = 28;

/// The id of an organization: `org_` followed by 1 to 28 ASCII letters or digits.
///
/// Ids the store assigns are `org_` + a 26-character ULID (Crockford base32, upper case), which
/// sort in creation order. Imported or mirrored records may carry any well-formed id, such as
/// Scalekit's own `org_59615193906282635`. Ids are case-sensitive.
///
/// Ids order by the length of their suffix, then byte by byte. That is creation order for ids
/// the store assigns, and numeric order for Scalekit's decimal ids.
///
/// # Examples
///
/// ```
/// use orgstore::OrgId;
///
/// let id: OrgId = "org_59615193906282635".parse()?;
/// assert_eq!(id.as_str(), "org_59615193906282635");
/// assert!("org_".parse::<OrgId>().is_err());
/// assert!("org_59615193906282635".parse::<OrgId>()? > "org_9".parse::<OrgId>()?);
/// # Ok::<(), orgstore::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct OrgId(String);

impl OrgId {
    /// Parses and validates an id.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] with a violation on `id` when the text is not `org_` followed
    /// by 1 to 28 ASCII letters or digits.
    ///
    /// # Examples
    ///
    /// ```
    /// let id = orgstore::OrgId::parse("org_01JD8Z3V7W8Q2M4N6P8R0T2V4X")?;
    /// assert_eq!(id.to_string(), "org_01JD8Z3V7W8Q2M4N6P8R0T2V4X");
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn parse(text: &str) -> Result<OrgId> {
        match check(text) {
            None => Ok(OrgId(text.to_owned())),
            Some(why) => Err(Error::invalid("id", rule::PATTERN, why)),
        }
    }

    /// The id as text, `org_…`.
    ///
    /// # Examples
    ///
    /// ```
    /// let id = orgstore::OrgId::parse("org_42")?;
    /// assert_eq!(id.as_str(), "org_42");
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after `org_`.
    pub(crate) fn suffix(&self) -> &str {
        &self.0[PREFIX.len()..]
    }

    /// Builds an id from its suffix (from a decoded key or token), checking it.
    pub(crate) fn from_suffix(suffix: &str) -> Result<OrgId> {
        if suffix.is_empty()
            || suffix.len() > MAX_SUFFIX
            || !suffix.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(Error::invalid("id", rule::PATTERN, "malformed id suffix"));
        }
        let mut text = String::with_capacity(PREFIX.len() + suffix.len());
        text.push_str(PREFIX);
        text.push_str(suffix);
        Ok(OrgId(text))
    }

    pub(crate) fn from_ulid(ulid: ulid::Ulid) -> OrgId {
        OrgId(format!("{PREFIX}{ulid}"))
    }
}

/// Why `text` is not a valid id, or `None` if it is.
fn check(text: &str) -> Option<String> {
    let Some(suffix) = text.strip_prefix(PREFIX) else {
        return Some("must start with \"org_\"".into());
    };
    if suffix.is_empty() || suffix.len() > MAX_SUFFIX {
        return Some(format!(
            "must be \"org_\" followed by 1 to {MAX_SUFFIX} letters or digits, got {} characters after the prefix",
            suffix.chars().count()
        ));
    }
    if !suffix.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Some("may contain only ASCII letters and digits after \"org_\"".into());
    }
    None
}

impl Ord for OrgId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let (a, b) = (self.suffix(), other.suffix());
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }
}

impl PartialOrd for OrgId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl FromStr for OrgId {
    type Err = Error;
    fn from_str(s: &str) -> Result<OrgId> {
        OrgId::parse(s)
    }
}

impl AsRef<str> for OrgId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for OrgId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for OrgId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<OrgId, D::Error> {
        let text = String::deserialize(d)?;
        match check(&text) {
            None => Ok(OrgId(text)),
            Some(why) => Err(serde::de::Error::custom(format!("invalid id: {why}"))),
        }
    }
}

/// The data region an organization lives in; chosen at create and never changed.
///
/// Each region's records and indexes live in their own tables.
///
/// # Examples
///
/// ```
/// use orgstore::Region;
///
/// assert_eq!("EU".parse::<Region>()?, Region::Eu);
/// assert_eq!(Region::Us.to_string(), "US");
/// assert_eq!(Region::default(), Region::Us);
/// # Ok::<(), orgstore::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Region {
    /// United States (`"US"`), the default.
    #[default]
    Us,
    /// European Union (`"EU"`).
    Eu,
}

impl Region {
    /// Every region, in a fixed order.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(orgstore::Region::ALL.len(), 2);
    /// ```
    pub const ALL: [Region; 2] = [Region::Us, Region::Eu];

    /// The wire code, `"US"` or `"EU"`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(orgstore::Region::Eu.as_str(), "EU");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Us => "US",
            Region::Eu => "EU",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Region::Us => 0,
            Region::Eu => 1,
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Region {
    type Err = Error;
    fn from_str(s: &str) -> Result<Region> {
        match s {
            "US" => Ok(Region::Us),
            "EU" => Ok(Region::Eu),
            _ => Err(Error::invalid(
                "region_code",
                rule::DEFINED_ONLY,
                "must be \"US\" or \"EU\"",
            )),
        }
    }
}

impl Serialize for Region {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Region {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Region, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|_| serde::de::Error::custom("region_code must be \"US\" or \"EU\""))
    }
}

/// Chooses the next assigned id: strictly greater than `last`, time-based when the clock allows.
pub(crate) fn next_ulid(last: Option<ulid::Ulid>, now_ms: u64) -> Option<ulid::Ulid> {
    let fresh = ulid::Ulid::from_parts(now_ms, rand_bits());
    match last {
        Some(last) if fresh <= last => last.increment(),
        _ => Some(fresh),
    }
}

/// 80 random bits for the ULID's random part.
fn rand_bits() -> u128 {
    ulid::Ulid::new().random()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_validate() {
        assert!(OrgId::parse("org_a").is_ok());
        assert!(OrgId::parse(&format!("org_{}", "9".repeat(28))).is_ok());
        assert!(OrgId::parse(&format!("org_{}", "9".repeat(29))).is_err());
        assert!(OrgId::parse("org_a-b").is_err());
        assert!(OrgId::parse("org_é").is_err());
        assert!(OrgId::parse("ORG_1").is_err());
        assert!(OrgId::parse("").is_err());
    }

    #[test]
    fn next_ulid_is_strictly_increasing_even_when_clock_steps_back() {
        let a = next_ulid(None, 1_000).expect("id");
        let b = next_ulid(Some(a), 1_000).expect("id");
        let c = next_ulid(Some(b), 10).expect("id");
        let d = next_ulid(Some(c), 2_000).expect("id");
        assert!(a < b && b < c && c < d);
        assert_eq!(d.timestamp_ms(), 2_000);
    }
}
