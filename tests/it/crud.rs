//! Create, get, delete, import, and the ids the store assigns.

use orgstore::{NewOrganization, OrgId, OrgStore, Organization, Region};
use time::macros::datetime;

use crate::support::{create, store, temp_path};

#[test]
fn create_returns_the_stored_record() {
    let s = store();
    let org = create(
        &s,
        NewOrganization::new("Acme")
            .external_id("acme-1")
            .slug("acme")
            .logo_url("https://x.io/a.png")
            .metadata("plan", "pro")
            .setting("sso", true),
    );
    assert_eq!(org.create_time, org.update_time);
    assert_eq!(org.region_code, Region::Us);
    assert_eq!(s.get(&org.id).expect("get"), Some(org.clone()));
    assert_eq!(
        s.get(org.id.as_str()).expect("get by str"),
        Some(org.clone())
    );
    assert_eq!(
        s.get_by_external_id("acme-1").expect("get"),
        Some(org.clone())
    );
    assert_eq!(s.get_by_slug("acme").expect("get"), Some(org.clone()));
}

#[test]
fn display_names_are_not_unique() {
    let s = store();
    let a = create(&s, NewOrganization::new("Same"));
    let b = create(&s, NewOrganization::new("Same"));
    assert_ne!(a.id, b.id);
}

#[test]
fn delete_removes_record_and_index_entries() {
    let s = store();
    let org = create(&s, NewOrganization::new("Acme").external_id("e").slug("s"));
    let removed = s.delete(&org.id).expect("delete");
    assert_eq!(removed, org);
    assert_eq!(s.get(&org.id).expect("get"), None);
    assert_eq!(s.get_by_external_id("e").expect("get"), None);
    assert_eq!(s.get_by_slug("s").expect("get"), None);
    assert_eq!(s.count(None).expect("count"), 0);
    assert_eq!(s.check_indexes().expect("indexes"), 0);
}

#[test]
fn assigned_ids_have_the_documented_form() {
    let s = store();
    let org = create(&s, NewOrganization::new("A"));
    let suffix = org.id.as_str().strip_prefix("org_").expect("prefix");
    assert_eq!(suffix.len(), 26);
    assert!(suffix
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
}

#[test]
fn assigned_ids_strictly_increase_within_one_millisecond() {
    let s = crate::support::open(OrgStore::builder().clock(|| datetime!(2025-06-01 12:00 UTC)));
    let ids: Vec<OrgId> = (0..200)
        .map(|i| create(&s, NewOrganization::new(format!("o{i}"))).id)
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids not increasing");
    assert!(ids.windows(2).all(|w| w[0].as_str() < w[1].as_str()));
}

#[test]
fn assigned_ids_increase_across_reopen_even_if_the_clock_stepped_back() {
    // On PostgreSQL, ids are increasing per process, time-ordered across processes (README).
    if crate::support::redb_only(
        "assigned_ids_increase_across_reopen_even_if_the_clock_stepped_back",
    ) {
        return;
    }
    let (_dir, path) = temp_path();
    let first = {
        let s = OrgStore::builder()
            .clock(|| datetime!(2030-01-01 00:00 UTC))
            .open(&path)
            .expect("open");
        let a = create(&s, NewOrganization::new("late"));
        // Delete it: the next id must still be higher than this one.
        s.delete(&a.id).expect("delete");
        a.id
    };
    let s = OrgStore::builder()
        .clock(|| datetime!(2020-01-01 00:00 UTC))
        .open(&path)
        .expect("reopen");
    let b = create(&s, NewOrganization::new("early clock"));
    assert!(b.id > first, "{} <= {}", b.id, first);
}

#[test]
fn foreign_ids_import_and_read_back() {
    let s = store();
    let mut ids = Vec::new();
    for (i, raw) in [
        "org_59615193906282635",
        "org_64444217115541813",
        "org_7",
        "org_abcXYZ09",
    ]
    .into_iter()
    .enumerate()
    {
        let org = Organization {
            id: raw.parse().expect("id"),
            create_time: datetime!(2025-02-15 06:23:44.56 UTC),
            update_time: datetime!(2025-03-21 05:55:03.416772 UTC),
            display_name: format!("Mirror {i}"),
            region_code: if i % 2 == 0 { Region::Us } else { Region::Eu },
            external_id: Some(format!("ext-{i}")),
            metadata: Default::default(),
            settings: vec![],
            slug: None,
            logo_url: None,
        };
        assert_eq!(s.import(org.clone()).expect("import"), org);
        assert_eq!(s.get(raw).expect("get"), Some(org.clone()));
        ids.push(org.id);
    }
    // Replacing keeps one record; a replaced external id is freed.
    let mut again = s.get(&ids[0]).expect("get").expect("hit");
    again.display_name = "Renamed".into();
    again.external_id = Some("ext-new".into());
    s.import(again.clone()).expect("replace");
    assert_eq!(s.count(None).expect("count"), 4);
    assert_eq!(s.get_by_external_id("ext-0").expect("get"), None);
    assert_eq!(s.get_by_external_id("ext-new").expect("get"), Some(again));
    // Decimal ids sort numerically: shorter ids first.
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted[0].as_str(), "org_7");
    assert_eq!(sorted[1].as_str(), "org_abcXYZ09");
    assert_eq!(sorted[2].as_str(), "org_59615193906282635");
    s.check_indexes().expect("indexes agree");
}

#[test]
fn import_checks_timestamps_and_truncates_to_microseconds() {
    let s = store();
    let mut org = Organization {
        id: "org_1".parse().expect("id"),
        create_time: datetime!(2025-01-01 00:00:00.123_456_789 UTC),
        update_time: datetime!(2025-01-01 00:00:00.123_456_999 UTC),
        display_name: "A".into(),
        region_code: Region::Us,
        external_id: None,
        metadata: Default::default(),
        settings: vec![],
        slug: None,
        logo_url: None,
    };
    let stored = s.import(org.clone()).expect("import");
    assert_eq!(
        stored.create_time,
        datetime!(2025-01-01 00:00:00.123_456 UTC)
    );
    assert_eq!(s.get("org_1").expect("get"), Some(stored));

    org.update_time = datetime!(2024-01-01 00:00 UTC);
    crate::support::expect_invalid(s.import(org.clone()), &["update_time"]);
    org.create_time = datetime!(-0001-01-01 00:00 UTC);
    crate::support::expect_invalid(s.import(org), &["create_time"]);
}
