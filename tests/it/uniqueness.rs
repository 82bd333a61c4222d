//! external_id and slug are unique across the whole store among live organizations.

use orgstore::{Error, ErrorCode, NewOrganization, OrganizationUpdate, Region, UniqueField};

use crate::support::{create, expect_code, snapshot, store};

#[track_caller]
fn expect_clash<T: std::fmt::Debug>(
    result: orgstore::Result<T>,
    field: UniqueField,
    value: &str,
    holder: &orgstore::OrgId,
) {
    match expect_code(result, ErrorCode::AlreadyExists) {
        Error::AlreadyExists {
            field: f,
            value: v,
            holder: h,
        } => {
            assert_eq!((f, v.as_str(), &h), (field, value, holder));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn clashes_are_refused_across_regions() {
    let s = store();
    let us = create(
        &s,
        NewOrganization::new("A")
            .external_id("ext")
            .slug("slug")
            .region(Region::Us),
    );
    let before = snapshot(&s);
    for region in Region::ALL {
        expect_clash(
            s.create(NewOrganization::new("B").external_id("ext").region(region)),
            UniqueField::ExternalId,
            "ext",
            &us.id,
        );
        expect_clash(
            s.create(NewOrganization::new("B").slug("slug").region(region)),
            UniqueField::Slug,
            "slug",
            &us.id,
        );
    }
    assert_eq!(snapshot(&s), before);
    let e = s
        .create(NewOrganization::new("B").external_id("ext"))
        .unwrap_err();
    assert_eq!(e.code().http_status(), 409);
    assert!(
        e.to_string()
            .contains("organization with external_id \"ext\" already exists (held by org_"),
        "{e}"
    );
}

#[test]
fn matching_is_exact_and_case_sensitive() {
    let s = store();
    create(&s, NewOrganization::new("A").external_id("Ext"));
    create(&s, NewOrganization::new("B").external_id("ext"));
    create(&s, NewOrganization::new("C").external_id("ext "));
    assert_eq!(s.count(None).expect("count"), 3);
    assert_eq!(
        s.get_by_external_id("Ext")
            .expect("get")
            .expect("hit")
            .display_name,
        "A"
    );
}

#[test]
fn values_are_free_right_after_delete() {
    let s = store();
    let a = create(
        &s,
        NewOrganization::new("A")
            .external_id("ext")
            .slug("slug")
            .region(Region::Eu),
    );
    s.delete(&a.id).expect("delete");
    let b = create(
        &s,
        NewOrganization::new("B").external_id("ext").slug("slug"),
    );
    assert_eq!(s.get_by_external_id("ext").expect("get"), Some(b.clone()));
    s.delete_by_external_id("ext")
        .expect("delete by external id");
    create(
        &s,
        NewOrganization::new("C").external_id("ext").slug("slug"),
    );
    s.check_indexes().expect("indexes agree");
}

#[test]
fn values_are_free_right_after_the_holder_changes_or_clears_them() {
    let s = store();
    let a = create(&s, NewOrganization::new("A").external_id("e1").slug("s1"));
    s.update(
        &a.id,
        OrganizationUpdate::new().external_id("e2").slug("s2"),
    )
    .expect("change");
    let b = create(
        &s,
        NewOrganization::new("B")
            .external_id("e1")
            .slug("s1")
            .region(Region::Eu),
    );
    expect_clash(
        s.create(NewOrganization::new("C").external_id("e2")),
        UniqueField::ExternalId,
        "e2",
        &a.id,
    );
    s.update(
        &a.id,
        OrganizationUpdate::new().clear_external_id().clear_slug(),
    )
    .expect("clear");
    create(&s, NewOrganization::new("C").external_id("e2").slug("s2"));
    // Old values no longer find the holder that gave them up.
    assert_eq!(
        s.get_by_external_id("e1").expect("get").map(|o| o.id),
        Some(b.id)
    );
    s.check_indexes().expect("indexes agree");
}

#[test]
fn an_update_may_not_take_anothers_value_but_may_keep_its_own() {
    let s = store();
    let a = create(&s, NewOrganization::new("A").external_id("a").slug("a"));
    let b = create(
        &s,
        NewOrganization::new("B")
            .external_id("b")
            .slug("b")
            .region(Region::Eu),
    );
    let before = snapshot(&s);
    expect_clash(
        s.update(&b.id, OrganizationUpdate::new().external_id("a")),
        UniqueField::ExternalId,
        "a",
        &a.id,
    );
    expect_clash(
        s.update(&b.id, OrganizationUpdate::new().slug("a")),
        UniqueField::Slug,
        "a",
        &a.id,
    );
    assert_eq!(snapshot(&s), before);
    // Setting its own values again is a no-op, not a clash.
    let same = s
        .update(&a.id, OrganizationUpdate::new().external_id("a").slug("a"))
        .expect("own values");
    assert_eq!(same, a);
}

#[test]
fn values_can_swap_inside_one_transaction() {
    let s = store();
    let a = create(&s, NewOrganization::new("A").external_id("x"));
    let b = create(&s, NewOrganization::new("B").external_id("y"));
    s.transaction(|t| {
        t.update(&a.id, OrganizationUpdate::new().external_id("tmp"))?;
        t.update(&b.id, OrganizationUpdate::new().external_id("x"))?;
        t.update(&a.id, OrganizationUpdate::new().external_id("y"))?;
        Ok::<_, Error>(())
    })
    .expect("swap");
    assert_eq!(
        s.get_by_external_id("x").expect("get").map(|o| o.id),
        Some(b.id)
    );
    assert_eq!(
        s.get_by_external_id("y").expect("get").map(|o| o.id),
        Some(a.id)
    );
    assert_eq!(s.get_by_external_id("tmp").expect("get"), None);
    s.check_indexes().expect("indexes agree");
}

#[test]
fn import_respects_uniqueness_and_region_immutability() {
    let s = store();
    let a = create(
        &s,
        NewOrganization::new("A")
            .external_id("a")
            .region(Region::Us),
    );
    let b = create(
        &s,
        NewOrganization::new("B")
            .external_id("b")
            .region(Region::Eu),
    );
    let mut clash = b.clone();
    clash.external_id = Some("a".into());
    expect_clash(s.import(clash), UniqueField::ExternalId, "a", &a.id);
    let mut moved = a.clone();
    moved.region_code = Region::Eu;
    expect_code(s.import(moved), ErrorCode::FailedPrecondition);
    assert_eq!(s.get(&a.id).expect("get"), Some(a));
    assert_eq!(s.get(&b.id).expect("get"), Some(b));
}
