//! The rules of SPEC §1, checked all at once. No I/O.
//!
//! Every check appends to a list of violations, so one call reports everything that is wrong.
//! Lengths count Unicode scalar values (`char`s), not bytes.

use std::collections::{BTreeMap, HashSet};

use crate::error::{Error, FieldViolation, Result};
use crate::model::{FeatureToggle, Organization};

pub(crate) const DISPLAY_NAME_MAX: usize = 200;
pub(crate) const EXTERNAL_ID_MAX: usize = 255;
pub(crate) const SLUG_MAX: usize = 253;
pub(crate) const LOGO_URL_MAX: usize = 1024;
pub(crate) const METADATA_MAX_PAIRS: usize = 10;
pub(crate) const METADATA_KEY_MIN: usize = 3;
pub(crate) const METADATA_KEY_MAX: usize = 25;
pub(crate) const METADATA_VALUE_MAX: usize = 256;
pub(crate) const SETTING_NAME_MAX: usize = 50;
/// Most feature toggles one organization may carry (a bound on input size).
pub(crate) const SETTINGS_MAX: usize = 100;

/// Collected violations; empty means valid.
#[derive(Default)]
pub(crate) struct Report(Vec<FieldViolation>);

impl Report {
    pub(crate) fn push(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    pub(crate) fn into_result(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(self.0))
        }
    }
}

/// Counts characters, but stops early once past `max` so huge inputs cost O(max).
fn char_len_capped(s: &str, max: usize) -> usize {
    s.chars().take(max + 1).count()
}

fn describe_len(s: &str, min: usize, max: usize) -> Option<String> {
    // Short ASCII text (most values) has as many characters as bytes.
    let n = if s.len() <= max && s.is_ascii() {
        s.len()
    } else {
        char_len_capped(s, max)
    };
    if n < min || n > max {
        let got = if n > max {
            format!("more than {max}")
        } else {
            n.to_string()
        };
        Some(format!("must be {min} to {max} characters, got {got}"))
    } else {
        None
    }
}

/// Control characters, and the bidirectional embedding, override and isolate characters
/// (U+202A–U+202E, U+2066–U+2069) that can make text display differently from what it is
/// ("Trojan Source"). The plain direction marks (U+200E, U+200F, U+061C) stay allowed: real
/// right-to-left names need them.
fn has_control(s: &str) -> bool {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return false; // printable ASCII
    }
    s.chars().any(|c| {
        c.is_control()
            || ('\u{202A}'..='\u{202E}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    })
}

/// Length and control-character rule shared by names and keys.
fn text_rule(report: &mut Report, field: &str, value: &str, min: usize, max: usize) {
    if let Some(why) = describe_len(value, min, max) {
        report.push(field, why);
    } else if has_control(value) {
        report.push(
            field,
            "must not contain control or bidirectional override characters",
        );
    }
}

pub(crate) fn display_name(report: &mut Report, value: &str) {
    text_rule(report, "display_name", value, 1, DISPLAY_NAME_MAX);
}

pub(crate) fn external_id(report: &mut Report, value: &str) {
    text_rule(report, "external_id", value, 1, EXTERNAL_ID_MAX);
}

pub(crate) fn slug(report: &mut Report, value: &str) {
    if let Some(why) = describe_len(value, 1, SLUG_MAX) {
        report.push("slug", why);
    } else if !is_slug(value) {
        report.push(
            "slug",
            "must be a lowercase DNS label or hostname: labels of a-z, 0-9 and inner '-', 1 to 63 characters, joined by '.'",
        );
    }
}

/// `^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$`
fn is_slug(value: &str) -> bool {
    value.split('.').all(|label| {
        let b = label.as_bytes();
        let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty()
            && b.len() <= 63
            && alnum(&b[0])
            && alnum(&b[b.len() - 1])
            && b.iter().all(|c| alnum(c) || *c == b'-')
    })
}

pub(crate) fn logo_url(report: &mut Report, value: &str) {
    if let Some(why) = describe_len(value, 1, LOGO_URL_MAX) {
        report.push("logo_url", why);
    } else if !value.starts_with("https://") || value.len() == "https://".len() {
        report.push("logo_url", "must be an https:// URL");
    } else if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        report.push(
            "logo_url",
            "must not contain whitespace or control characters",
        );
    }
}

pub(crate) fn metadata(report: &mut Report, map: &BTreeMap<String, String>) {
    if map.len() > METADATA_MAX_PAIRS {
        report.push(
            "metadata",
            format!(
                "must have at most {METADATA_MAX_PAIRS} pairs, got {}",
                map.len()
            ),
        );
        // Do not describe thousands of entries one by one.
        return;
    }
    for (k, v) in map {
        if let Some(why) = describe_len(k, METADATA_KEY_MIN, METADATA_KEY_MAX) {
            report.push("metadata", format!("key {}: {why}", shorten(k)));
        } else if has_control(k) {
            report.push(
                "metadata",
                format!(
                    "key {}: must not contain control or bidirectional override characters",
                    shorten(k)
                ),
            );
        }
        if let Some(why) = describe_len(v, 1, METADATA_VALUE_MAX) {
            report.push("metadata", format!("value of key {}: {why}", shorten(k)));
        }
    }
}

pub(crate) fn settings(report: &mut Report, list: &[FeatureToggle]) {
    if list.len() > SETTINGS_MAX {
        report.push(
            "settings",
            format!(
                "must have at most {SETTINGS_MAX} feature toggles, got {}",
                list.len()
            ),
        );
        return;
    }
    let mut seen = HashSet::new();
    for t in list {
        if let Some(why) = describe_len(&t.name, 1, SETTING_NAME_MAX) {
            report.push("settings", format!("feature {}: {why}", shorten(&t.name)));
        } else if has_control(&t.name) {
            report.push(
                "settings",
                format!(
                    "feature {}: must not contain control or bidirectional override characters",
                    shorten(&t.name)
                ),
            );
        } else if !seen.insert(t.name.as_str()) {
            report.push(
                "settings",
                format!("feature {} is listed twice", shorten(&t.name)),
            );
        }
    }
}

/// The fields of a record that callers control, borrowed for checking.
pub(crate) struct Fields<'a> {
    pub display_name: &'a str,
    pub external_id: Option<&'a str>,
    pub slug: Option<&'a str>,
    pub logo_url: Option<&'a str>,
    pub metadata: &'a BTreeMap<String, String>,
    pub settings: &'a [FeatureToggle],
}

/// Every rule on the fields a caller controls.
pub(crate) fn fields(f: &Fields<'_>) -> Result<()> {
    let mut report = Report::default();
    display_name(&mut report, f.display_name);
    if let Some(v) = f.external_id {
        external_id(&mut report, v);
    }
    if let Some(v) = f.slug {
        slug(&mut report, v);
    }
    if let Some(v) = f.logo_url {
        logo_url(&mut report, v);
    }
    metadata(&mut report, f.metadata);
    settings(&mut report, f.settings);
    report.into_result()
}

/// Every rule on the fields a caller controls, for a complete record.
pub(crate) fn record_fields(org: &Organization) -> Result<()> {
    fields(&Fields {
        display_name: &org.display_name,
        external_id: org.external_id.as_deref(),
        slug: org.slug.as_deref(),
        logo_url: org.logo_url.as_deref(),
        metadata: &org.metadata,
        settings: &org.settings,
    })
}

/// A key given to a lookup by external id: same rules as the field.
pub(crate) fn lookup_external_id(value: &str) -> Result<()> {
    let mut r = Report::default();
    external_id(&mut r, value);
    r.into_result()
}

/// A key given to a lookup by slug: same rules as the field.
pub(crate) fn lookup_slug(value: &str) -> Result<()> {
    let mut r = Report::default();
    slug(&mut r, value);
    r.into_result()
}

/// Refuses, before any work proportional to its size, an update that would put more than the
/// allowed number of metadata pairs or feature toggles into any record.
pub(crate) fn update_bounds(metadata_in: usize, settings_in: usize) -> Result<()> {
    let mut report = Report::default();
    if metadata_in > METADATA_MAX_PAIRS {
        report.push(
            "metadata",
            format!("must have at most {METADATA_MAX_PAIRS} pairs, got at least {metadata_in}"),
        );
    }
    if settings_in > SETTINGS_MAX {
        report.push(
            "settings",
            format!("must have at most {SETTINGS_MAX} feature toggles, got at least {settings_in}"),
        );
    }
    report.into_result()
}

/// Quotes a value for a message, cut to a readable length.
fn shorten(s: &str) -> String {
    const KEEP: usize = 40;
    if char_len_capped(s, KEEP) > KEEP {
        let head: String = s.chars().take(KEEP).collect();
        format!("{head:?}…")
    } else {
        format!("{s:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_pattern() {
        for ok in [
            "a",
            "acme",
            "a-b",
            "0",
            "oauth.pstmn.io",
            &"a".repeat(63),
            "a1.b2",
        ] {
            assert!(is_slug(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "A",
            "a..b",
            ".a",
            "a.",
            "a_b",
            &"a".repeat(64),
            "é",
        ] {
            assert!(!is_slug(bad), "{bad}");
        }
    }

    #[test]
    fn length_counts_chars_not_bytes() {
        let mut r = Report::default();
        display_name(&mut r, &"é".repeat(200));
        assert!(r.0.is_empty());
        display_name(&mut r, &"é".repeat(201));
        assert_eq!(r.0.len(), 1);
    }
}
