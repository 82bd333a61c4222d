//! Region isolation: a region's listing and count never include another region's records.

use orgstore::{ListRequest, NewOrganization, Order, OrgStore, Region};

use crate::support::{create, store};

#[test]
fn default_region_is_us_unless_configured() {
    let s = store();
    assert_eq!(
        create(&s, NewOrganization::new("A")).region_code,
        Region::Us
    );
    let eu = crate::support::open(OrgStore::builder().default_region(Region::Eu));
    assert_eq!(
        create(&eu, NewOrganization::new("A")).region_code,
        Region::Eu
    );
    assert_eq!(
        create(&eu, NewOrganization::new("B").region(Region::Us)).region_code,
        Region::Us
    );
}

#[test]
fn listing_a_region_never_yields_another_regions_record() {
    let s = store();
    for i in 0..57 {
        let region = if i % 3 == 0 { Region::Eu } else { Region::Us };
        create(
            &s,
            NewOrganization::new(format!("o{i}"))
                .external_id(format!("e{i}"))
                .region(region),
        );
    }
    for region in Region::ALL {
        for order in [Order::NewestFirst, Order::OldestFirst] {
            for page_size in [1, 7, 100] {
                let mut request = ListRequest::new()
                    .region(region)
                    .order(order)
                    .page_size(page_size);
                let mut seen = 0;
                loop {
                    let page = s.list(&request).expect("list");
                    assert_eq!(page.total_size, s.count(Some(region)).expect("count"));
                    for org in &page.organizations {
                        assert_eq!(org.region_code, region);
                    }
                    seen += page.organizations.len() as u64;
                    if page.next_page_token.is_empty() {
                        break;
                    }
                    request = request.page_token(page.next_page_token);
                }
                assert_eq!(seen, s.count(Some(region)).expect("count"));
            }
        }
    }
    assert_eq!(s.count(Some(Region::Eu)).expect("count"), 19);
    assert_eq!(s.count(Some(Region::Us)).expect("count"), 38);
    assert_eq!(s.count(None).expect("count"), 57);
}

#[test]
fn the_external_id_filter_respects_the_region() {
    let s = store();
    create(
        &s,
        NewOrganization::new("eu")
            .external_id("x")
            .region(Region::Eu),
    );
    let eu = s
        .list(&ListRequest::new().region(Region::Eu).external_id("x"))
        .expect("list");
    assert_eq!(eu.organizations.len(), 1);
    let us = s
        .list(&ListRequest::new().region(Region::Us).external_id("x"))
        .expect("list");
    assert!(us.organizations.is_empty());
    assert_eq!(us.total_size, 0);
    let all = s.list(&ListRequest::new().external_id("x")).expect("list");
    assert_eq!(all.total_size, 1);
}

#[test]
fn lookups_do_not_need_the_region() {
    let s = store();
    let eu = create(
        &s,
        NewOrganization::new("eu")
            .external_id("x")
            .slug("x")
            .region(Region::Eu),
    );
    assert_eq!(s.get(&eu.id).expect("get"), Some(eu.clone()));
    assert_eq!(s.get_by_external_id("x").expect("get"), Some(eu.clone()));
    assert_eq!(s.get_by_slug("x").expect("get"), Some(eu));
}
