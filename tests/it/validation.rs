//! Every rule of SPEC §1 at and past its boundary; nothing is written when a rule fails.

use std::collections::BTreeMap;

use orgstore::{NewOrganization, OrganizationUpdate};

use crate::support::{create, expect_invalid, snapshot, store};

fn name(n: usize) -> String {
    // Multi-byte characters, so a byte-length check would fail these tests.
    "é".repeat(n)
}

#[test]
fn display_name_length_counts_characters() {
    let s = store();
    create(&s, NewOrganization::new(name(1)));
    create(&s, NewOrganization::new(name(200)));
    let before = snapshot(&s);
    expect_invalid(s.create(NewOrganization::new("")), &["display_name"]);
    expect_invalid(s.create(NewOrganization::new(name(201))), &["display_name"]);
    assert_eq!(snapshot(&s), before);
    // ASCII (where characters and bytes agree) at the same boundary.
    create(&s, NewOrganization::new("a".repeat(200)));
    let before = snapshot(&s);
    expect_invalid(
        s.create(NewOrganization::new("a".repeat(201))),
        &["display_name"],
    );
    assert_eq!(snapshot(&s), before);
}

#[test]
fn control_characters_are_refused() {
    let s = store();
    for bad in [
        "a\u{0}b",
        "tab\there",
        "new\nline",
        "del\u{7f}",
        "c1\u{85}",
        "override\u{202e}gnp.exe",
        "isolate\u{2066}x\u{2069}",
    ] {
        expect_invalid(s.create(NewOrganization::new(bad)), &["display_name"]);
        expect_invalid(
            s.create(NewOrganization::new("ok").external_id(bad)),
            &["external_id"],
        );
        expect_invalid(
            s.create(NewOrganization::new("ok").metadata(format!("key{bad}"), "v")),
            &["metadata"],
        );
    }
    // Other Unicode is fine, including the plain direction marks real RTL names need.
    create(
        &s,
        NewOrganization::new("Ünïcødé 名前 \u{200f}").external_id("ключ"),
    );
    assert_eq!(s.count(None).expect("count"), 1);
}

#[test]
fn external_id_is_1_to_255_characters() {
    let s = store();
    create(&s, NewOrganization::new("a").external_id(name(255)));
    create(&s, NewOrganization::new("b").external_id("x"));
    let before = snapshot(&s);
    expect_invalid(
        s.create(NewOrganization::new("c").external_id("")),
        &["external_id"],
    );
    expect_invalid(
        s.create(NewOrganization::new("c").external_id(name(256))),
        &["external_id"],
    );
    assert_eq!(snapshot(&s), before);
}

#[test]
fn slug_follows_the_dns_pattern() {
    let s = store();
    let label63 = "a".repeat(63);
    // 253 characters: four labels of 63 plus three dots = 255, so trim to 253.
    let long_ok = format!("{label63}.{label63}.{label63}.{}", "b".repeat(61));
    assert_eq!(long_ok.len(), 253);
    for ok in [
        "a",
        "acme",
        "a-b",
        "0",
        "oauth.pstmn.io",
        &label63,
        &long_ok,
    ] {
        create(&s, NewOrganization::new("x").slug(ok));
    }
    let too_long = format!("{long_ok}b");
    let label64 = "a".repeat(64);
    let before = snapshot(&s);
    for bad in [
        "", "-a", "a-", "Acme", "a..b", ".a", "a.", "a_b", "é", "a b", &label64, &too_long,
    ] {
        expect_invalid(s.create(NewOrganization::new("x").slug(bad)), &["slug"]);
    }
    assert_eq!(snapshot(&s), before);
}

#[test]
fn logo_url_must_be_https_and_at_most_1024_characters() {
    let s = store();
    let base = "https://cdn.example.com/";
    let exact = format!("{base}{}", "l".repeat(1024 - base.len()));
    create(&s, NewOrganization::new("a").logo_url(&exact));
    let before = snapshot(&s);
    for bad in [
        format!("{exact}l"),
        "http://cdn.example.com/a.png".into(),
        "HTTPS://cdn.example.com/a.png".into(),
        "https://".into(),
        "ftp://x".into(),
        String::new(),
        "https://a b".into(),
    ] {
        expect_invalid(
            s.create(NewOrganization::new("b").logo_url(bad)),
            &["logo_url"],
        );
    }
    assert_eq!(snapshot(&s), before);
}

#[test]
fn metadata_limits() {
    let s = store();
    let mut ok = NewOrganization::new("a");
    for i in 0..10 {
        ok = ok.metadata(format!("key{i}"), "v");
    }
    create(&s, ok.clone());
    create(
        &s,
        NewOrganization::new("b")
            .metadata("abc", name(256))
            .metadata(name(25), "v"),
    );
    let before = snapshot(&s);
    expect_invalid(s.create(ok.metadata("key10", "v")), &["metadata"]);
    expect_invalid(
        s.create(NewOrganization::new("c").metadata("ab", "v")),
        &["metadata"],
    );
    expect_invalid(
        s.create(NewOrganization::new("c").metadata(name(26), "v")),
        &["metadata"],
    );
    expect_invalid(
        s.create(NewOrganization::new("c").metadata("abc", "")),
        &["metadata"],
    );
    expect_invalid(
        s.create(NewOrganization::new("c").metadata("abc", name(257))),
        &["metadata"],
    );
    assert_eq!(snapshot(&s), before);
}

#[test]
fn metadata_limits_apply_after_a_merge() {
    let s = store();
    let mut new = NewOrganization::new("a");
    for i in 0..10 {
        new = new.metadata(format!("key{i}"), "v");
    }
    let org = create(&s, new);
    // An 11th key is refused...
    expect_invalid(
        s.update(
            &org.id,
            OrganizationUpdate::new().set_metadata("key10", "v"),
        ),
        &["metadata"],
    );
    // ...unless the same update removes one.
    let org2 = s
        .update(
            &org.id,
            OrganizationUpdate::new()
                .remove_metadata("key0")
                .set_metadata("key10", "v"),
        )
        .expect("merge within limits");
    assert_eq!(org2.metadata.len(), 10);
    assert!(!org2.metadata.contains_key("key0"));
    // A replacement over the limit is refused, and nothing changes.
    let big: BTreeMap<String, String> = (0..11).map(|i| (format!("new{i}"), "v".into())).collect();
    expect_invalid(
        s.update(&org.id, OrganizationUpdate::new().replace_metadata(big)),
        &["metadata"],
    );
    assert_eq!(s.get(&org.id).expect("get"), Some(org2));
}

#[test]
fn settings_rules() {
    let s = store();
    create(&s, NewOrganization::new("a").setting(name(50), true));
    expect_invalid(
        s.create(NewOrganization::new("b").setting("", true)),
        &["settings"],
    );
    expect_invalid(
        s.create(NewOrganization::new("b").setting(name(51), true)),
        &["settings"],
    );
    let org = create(&s, NewOrganization::new("c"));
    expect_invalid(
        s.update(&org.id, OrganizationUpdate::new().setting("bad\u{1}", true)),
        &["settings"],
    );
    // Duplicate names arrive through import (the builders upsert); they are refused there.
    let mut dup = org.clone();
    dup.settings = vec![
        orgstore::FeatureToggle::new("sso", true),
        orgstore::FeatureToggle::new("sso", false),
    ];
    expect_invalid(s.import(dup), &["settings"]);
}

#[test]
fn every_violation_is_reported_at_once() {
    let s = store();
    let e = expect_invalid(
        s.create(
            NewOrganization::new("")
                .external_id("")
                .slug("BAD")
                .logo_url("http://x")
                .metadata("k", "")
                .setting("", true),
        ),
        &[
            "display_name",
            "external_id",
            "slug",
            "logo_url",
            "metadata",
            "metadata",
            "settings",
        ],
    );
    let text = e.to_string();
    assert!(
        text.starts_with("invalid argument: display_name: must be 1 to 200"),
        "{text}"
    );
    assert_eq!(s.count(None).expect("count"), 0);
}

#[test]
fn update_validates_the_result_and_writes_nothing_on_failure() {
    let s = store();
    let org = create(&s, NewOrganization::new("Acme").slug("acme"));
    let before = snapshot(&s);
    expect_invalid(
        s.update(
            &org.id,
            OrganizationUpdate::new()
                .display_name("")
                .slug("NOPE")
                .logo_url("x"),
        ),
        &["display_name", "slug", "logo_url"],
    );
    assert_eq!(snapshot(&s), before);
}

#[test]
fn lookups_with_malformed_keys_are_invalid_arguments() {
    let s = store();
    expect_invalid(s.get("acme"), &["id"]);
    expect_invalid(s.get("org_"), &["id"]);
    expect_invalid(s.get("org_a-b"), &["id"]);
    expect_invalid(s.get(format!("org_{}", "1".repeat(29))), &["id"]);
    expect_invalid(s.get_by_external_id(""), &["external_id"]);
    expect_invalid(s.get_by_external_id(&name(256)), &["external_id"]);
    expect_invalid(s.get_by_slug("Acme"), &["slug"]);
    expect_invalid(s.delete("nope"), &["id"]);
    expect_invalid(s.update("nope", OrganizationUpdate::new()), &["id"]);
    expect_invalid(s.delete_by_external_id(""), &["external_id"]);
    // Well-formed but unknown keys are simply absent.
    assert_eq!(s.get("org_59615193906282635").expect("get"), None);
    assert_eq!(s.get_by_external_id("nobody").expect("get"), None);
    assert_eq!(s.get_by_slug("nobody").expect("get"), None);
}

#[test]
fn huge_inputs_are_refused_without_being_stored() {
    let s = store();
    let mega = "x".repeat(1 << 20);
    expect_invalid(s.create(NewOrganization::new(&mega)), &["display_name"]);
    let mut many = NewOrganization::new("a");
    for i in 0..10_000 {
        many = many.metadata(format!("key{i}"), "v");
    }
    let e = expect_invalid(s.create(many), &["metadata"]);
    assert!(e.to_string().len() < 200, "message stays short: {e}");
    assert_eq!(s.count(None).expect("count"), 0);
}

/// An import breaking a field rule and a timestamp rule reported only the timestamp.
#[test]
fn regression_an_import_reports_every_violation_at_once() {
    let s = store();
    let mut org = orgstore::Organization::new(
        "org_42".parse().expect("id"),
        "",
        orgstore::Region::Us,
        time::macros::datetime!(2025-02-15 06:00 UTC),
    );
    org.update_time = time::macros::datetime!(2025-02-14 06:00 UTC);
    org.slug = Some("Not A Slug".into());
    let e = expect_invalid(s.import(org), &["display_name", "slug", "update_time"]);
    let constraints: Vec<&str> = e.violations().iter().map(|v| v.constraint()).collect();
    assert_eq!(
        constraints,
        ["string.min_len", "string.pattern", "timestamp.order"]
    );
    assert_eq!(s.count(None).expect("count"), 0);
}

/// An update with more than 10 metadata pairs (or 100 toggles) reported only that, hiding the
/// update's other violations. The pairs are still counted before anything is built.
#[test]
fn regression_an_update_with_too_much_metadata_reports_its_other_violations() {
    let s = store();
    let org = create(&s, NewOrganization::new("Acme"));
    let map: BTreeMap<String, String> = (0..11).map(|i| (format!("key{i}"), "v".into())).collect();
    let before = snapshot(&s);
    let e = expect_invalid(
        s.update(
            &org.id,
            OrganizationUpdate::new()
                .display_name("")
                .logo_url("ftp://x")
                .replace_metadata(map),
        ),
        &["display_name", "logo_url", "metadata"],
    );
    assert_eq!(e.violations()[2].constraint(), "map.max_pairs");
    let mut toggles = OrganizationUpdate::new().slug("-bad-");
    for i in 0..101 {
        toggles = toggles.setting(format!("f{i}"), true);
    }
    let e = expect_invalid(s.update(&org.id, toggles), &["slug", "settings"]);
    assert_eq!(e.violations()[1].constraint(), "repeated.max_items");
    assert_eq!(snapshot(&s), before);
}

#[test]
fn every_violation_names_its_rule() {
    let s = store();
    let long = "x".repeat(300);
    let e = expect_invalid(
        s.create(
            NewOrganization::new("a\u{202E}b")
                .external_id(&long)
                .slug("a_b")
                .logo_url("https://a b")
                .metadata("k", "v")
                .metadata("key", "")
                .setting("sso", true)
                .setting("", true),
        ),
        &[
            "display_name",
            "external_id",
            "slug",
            "logo_url",
            "metadata",
            "metadata",
            "settings",
        ],
    );
    let got: Vec<&str> = e.violations().iter().map(|v| v.constraint()).collect();
    assert_eq!(
        got,
        [
            "string.printable",
            "string.max_len",
            "string.pattern",
            "string.pattern",
            "map.keys.string.min_len",
            "map.values.string.min_len",
            "repeated.items.string.min_len",
        ]
    );
    let e = expect_invalid(s.get("acme"), &["id"]);
    assert_eq!(e.violations()[0].constraint(), "string.pattern");
}
