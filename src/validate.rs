//! The rules of SPEC §1, checked all at once. No I/O.
//!
//! Every check appends to a list of violations, so one call reports everything that is wrong.
//! Lengths count Unicode scalar values (`char`s), not bytes.

use std::collections::{BTreeMap, HashSet};

use crate::error::{Error, FieldViolation, Result};
use crate::model::{from_micros, to_micros, FeatureToggle, Organization};

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

/// Machine-readable names of the rules, as [`FieldViolation::constraint`] reports them
/// (protovalidate-style identifiers).
pub(crate) mod rule {
    pub const MIN_LEN: &str = "string.min_len";
    pub const MAX_LEN: &str = "string.max_len";
    pub const PRINTABLE: &str = "string.printable";
    pub const PATTERN: &str = "string.pattern";
    pub const PREFIX: &str = "string.prefix";
    pub const MAX_PAIRS: &str = "map.max_pairs";
    pub const KEY_MIN_LEN: &str = "map.keys.string.min_len";
    pub const KEY_MAX_LEN: &str = "map.keys.string.max_len";
    pub const KEY_PRINTABLE: &str = "map.keys.string.printable";
    pub const VALUE_MIN_LEN: &str = "map.values.string.min_len";
    pub const VALUE_MAX_LEN: &str = "map.values.string.max_len";
    pub const MAX_ITEMS: &str = "repeated.max_items";
    pub const ITEM_MIN_LEN: &str = "repeated.items.string.min_len";
    pub const ITEM_MAX_LEN: &str = "repeated.items.string.max_len";
    pub const ITEM_PRINTABLE: &str = "repeated.items.string.printable";
    pub const UNIQUE: &str = "repeated.unique";
    pub const TIME_RANGE: &str = "timestamp.range";
    pub const TIME_ORDER: &str = "timestamp.order";
    pub const DEFINED_ONLY: &str = "enum.defined_only";
}

/// Collected violations; empty means valid.
#[derive(Default)]
pub(crate) struct Report(Vec<FieldViolation>);

impl Report {
    pub(crate) fn push(
        &mut self,
        field: &str,
        constraint: &'static str,
        description: impl Into<String>,
    ) {
        self.0
            .push(FieldViolation::new(field, constraint, description));
    }

    /// `Ok` when empty, else every violation, in the order of the record's fields (whatever
    /// order the checks ran in), so reports read the same everywhere.
    pub(crate) fn into_result(mut self) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        self.0.sort_by_key(|v| field_rank(v.field()));
        Err(Error::InvalidArgument(self.0))
    }
}

/// The place of a field in the record, for ordering reports.
fn field_rank(field: &str) -> usize {
    const ORDER: [&str; 10] = [
        "id",
        "display_name",
        "region_code",
        "external_id",
        "slug",
        "logo_url",
        "metadata",
        "settings",
        "create_time",
        "update_time",
    ];
    ORDER
        .iter()
        .position(|f| *f == field)
        .unwrap_or(ORDER.len())
}

/// Counts characters, but stops early once past `max` so huge inputs cost O(max).
fn char_len_capped(s: &str, max: usize) -> usize {
    s.chars().take(max + 1).count()
}

/// Why `s` breaks the length rule `min..=max` (and which bound it breaks), if it does.
fn describe_len(s: &str, min: usize, max: usize) -> Option<(Bound, String)> {
    // Short ASCII text (most values) has as many characters as bytes.
    let n = if s.len() <= max && s.is_ascii() {
        s.len()
    } else {
        char_len_capped(s, max)
    };
    if n < min || n > max {
        let (bound, got) = if n > max {
            (Bound::Max, format!("more than {max}"))
        } else {
            (Bound::Min, n.to_string())
        };
        Some((
            bound,
            format!("must be {min} to {max} characters, got {got}"),
        ))
    } else {
        None
    }
}

/// Which end of a length rule was broken.
#[derive(Clone, Copy)]
enum Bound {
    Min,
    Max,
}

impl Bound {
    /// The constraint name among `(min, max)`.
    fn pick(self, names: (&'static str, &'static str)) -> &'static str {
        match self {
            Bound::Min => names.0,
            Bound::Max => names.1,
        }
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
    if let Some((bound, why)) = describe_len(value, min, max) {
        report.push(field, bound.pick((rule::MIN_LEN, rule::MAX_LEN)), why);
    } else if has_control(value) {
        report.push(field, rule::PRINTABLE, NO_CONTROL);
    }
}

const NO_CONTROL: &str = "must not contain control or bidirectional override characters";

pub(crate) fn display_name(report: &mut Report, value: &str) {
    text_rule(report, "display_name", value, 1, DISPLAY_NAME_MAX);
}

pub(crate) fn external_id(report: &mut Report, value: &str) {
    text_rule(report, "external_id", value, 1, EXTERNAL_ID_MAX);
}

pub(crate) fn slug(report: &mut Report, value: &str) {
    if let Some((bound, why)) = describe_len(value, 1, SLUG_MAX) {
        report.push("slug", bound.pick((rule::MIN_LEN, rule::MAX_LEN)), why);
    } else if !is_slug(value) {
        report.push(
            "slug",
            rule::PATTERN,
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
    if let Some((bound, why)) = describe_len(value, 1, LOGO_URL_MAX) {
        report.push("logo_url", bound.pick((rule::MIN_LEN, rule::MAX_LEN)), why);
    } else if !value.starts_with("https://") || value.len() == "https://".len() {
        report.push("logo_url", rule::PREFIX, "must be an https:// URL");
    } else if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        report.push(
            "logo_url",
            rule::PATTERN,
            "must not contain whitespace or control characters",
        );
    }
}

/// Refuses more than the allowed number of metadata pairs; `true` if refused (the pairs are
/// then not described one by one).
fn metadata_count(report: &mut Report, n: usize, at_least: bool) -> bool {
    if n <= METADATA_MAX_PAIRS {
        return false;
    }
    let got = if at_least { "at least " } else { "" };
    report.push(
        "metadata",
        rule::MAX_PAIRS,
        format!("must have at most {METADATA_MAX_PAIRS} pairs, got {got}{n}"),
    );
    true
}

/// Refuses more than the allowed number of feature toggles; `true` if refused.
fn settings_count(report: &mut Report, n: usize, at_least: bool) -> bool {
    if n <= SETTINGS_MAX {
        return false;
    }
    let got = if at_least { "at least " } else { "" };
    report.push(
        "settings",
        rule::MAX_ITEMS,
        format!("must have at most {SETTINGS_MAX} feature toggles, got {got}{n}"),
    );
    true
}

pub(crate) fn metadata(report: &mut Report, map: &BTreeMap<String, String>) {
    if metadata_count(report, map.len(), false) {
        return;
    }
    for (k, v) in map {
        if let Some((bound, why)) = describe_len(k, METADATA_KEY_MIN, METADATA_KEY_MAX) {
            report.push(
                "metadata",
                bound.pick((rule::KEY_MIN_LEN, rule::KEY_MAX_LEN)),
                format!("key {}: {why}", shorten(k)),
            );
        } else if has_control(k) {
            report.push(
                "metadata",
                rule::KEY_PRINTABLE,
                format!("key {}: {NO_CONTROL}", shorten(k)),
            );
        }
        if let Some((bound, why)) = describe_len(v, 1, METADATA_VALUE_MAX) {
            report.push(
                "metadata",
                bound.pick((rule::VALUE_MIN_LEN, rule::VALUE_MAX_LEN)),
                format!("value of key {}: {why}", shorten(k)),
            );
        }
    }
}

pub(crate) fn settings(report: &mut Report, list: &[FeatureToggle]) {
    if settings_count(report, list.len(), false) {
        return;
    }
    let mut seen = HashSet::new();
    for t in list {
        if let Some((bound, why)) = describe_len(&t.name, 1, SETTING_NAME_MAX) {
            report.push(
                "settings",
                bound.pick((rule::ITEM_MIN_LEN, rule::ITEM_MAX_LEN)),
                format!("feature {}: {why}", shorten(&t.name)),
            );
        } else if has_control(&t.name) {
            report.push(
                "settings",
                rule::ITEM_PRINTABLE,
                format!("feature {}: {NO_CONTROL}", shorten(&t.name)),
            );
        } else if !seen.insert(t.name.as_str()) {
            report.push(
                "settings",
                rule::UNIQUE,
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

/// Every rule on the fields a caller controls, added to `report`.
pub(crate) fn check_fields(report: &mut Report, f: &Fields<'_>) {
    display_name(report, f.display_name);
    if let Some(v) = f.external_id {
        external_id(report, v);
    }
    if let Some(v) = f.slug {
        slug(report, v);
    }
    if let Some(v) = f.logo_url {
        logo_url(report, v);
    }
    metadata(report, f.metadata);
    settings(report, f.settings);
}

/// Every rule on the fields a caller controls.
pub(crate) fn fields(f: &Fields<'_>) -> Result<()> {
    let mut report = Report::default();
    check_fields(&mut report, f);
    report.into_result()
}

/// The caller-controlled fields of a complete record, borrowed for checking.
pub(crate) fn record(org: &Organization) -> Fields<'_> {
    Fields {
        display_name: &org.display_name,
        external_id: org.external_id.as_deref(),
        slug: org.slug.as_deref(),
        logo_url: org.logo_url.as_deref(),
        metadata: &org.metadata,
        settings: &org.settings,
    }
}

/// A complete record to import: its timestamps made UTC to the microsecond, and every rule on
/// its fields and timestamps checked, all violations reported at once.
pub(crate) fn imported(mut org: Organization) -> Result<Organization> {
    let mut report = Report::default();
    let min = time::macros::datetime!(0001-01-01 00:00 UTC);
    let max = time::macros::datetime!(9999-12-31 23:59:59.999_999 UTC);
    let mut in_range = true;
    for (field, t) in [
        ("create_time", &mut org.create_time),
        ("update_time", &mut org.update_time),
    ] {
        if *t < min || *t > max {
            report.push(
                field,
                rule::TIME_RANGE,
                "must be between years 0001 and 9999",
            );
            in_range = false;
        } else if let Some(truncated) = from_micros(to_micros(*t)) {
            *t = truncated;
        }
    }
    if in_range && org.update_time < org.create_time {
        report.push(
            "update_time",
            rule::TIME_ORDER,
            "must not be before create_time",
        );
    }
    check_fields(&mut report, &record(&org));
    report.into_result()?;
    Ok(org)
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
/// allowed number of metadata pairs or feature toggles into any record. Returns which of the
/// two were refused, so the update can leave them out and go on checking everything else.
pub(crate) fn update_bounds(
    report: &mut Report,
    metadata_in: usize,
    settings_in: usize,
) -> (bool, bool) {
    (
        metadata_count(report, metadata_in, true),
        settings_count(report, settings_in, true),
    )
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
