//! Keyset pagination: traversal under churn, previous pages, token checks, page sizes.

use std::collections::{BTreeSet, HashSet};

use orgstore::{Error, ListRequest, NewOrganization, Order, OrgId, OrgStore, Page, Region};

use crate::support::{create, expect_code, store, Rng};

fn fill(s: &OrgStore, n: usize) -> Vec<OrgId> {
    (0..n)
        .map(|i| {
            let region = if i % 2 == 0 { Region::Us } else { Region::Eu };
            create(s, NewOrganization::new(format!("o{i}")).region(region)).id
        })
        .collect()
}

fn ids(page: &Page) -> Vec<OrgId> {
    page.organizations.iter().map(|o| o.id.clone()).collect()
}

#[test]
fn page_size_defaults_and_caps() {
    let s = store();
    fill(&s, 130);
    assert_eq!(
        s.list(&ListRequest::new())
            .expect("list")
            .organizations
            .len(),
        10
    );
    assert_eq!(
        s.list(&ListRequest::new().page_size(0))
            .expect("list")
            .organizations
            .len(),
        10
    );
    assert_eq!(
        s.list(&ListRequest::new().page_size(1))
            .expect("list")
            .organizations
            .len(),
        1
    );
    assert_eq!(
        s.list(&ListRequest::new().page_size(100))
            .expect("list")
            .organizations
            .len(),
        100
    );
    assert_eq!(
        s.list(&ListRequest::new().page_size(u32::MAX))
            .expect("list")
            .organizations
            .len(),
        100
    );
}

#[test]
fn order_is_newest_first_by_default() {
    let s = store();
    let created = fill(&s, 25);
    let page = s.list(&ListRequest::new().page_size(100)).expect("list");
    let mut newest_first = created.clone();
    newest_first.reverse();
    assert_eq!(ids(&page), newest_first);
    let page = s
        .list(&ListRequest::new().page_size(100).order(Order::OldestFirst))
        .expect("list");
    assert_eq!(ids(&page), created);
    assert_eq!(page.total_size, 25);
    assert_eq!(
        (page.next_page_token.as_str(), page.prev_page_token.as_str()),
        ("", "")
    );
}

#[test]
fn first_and_last_pages_have_empty_tokens() {
    let s = store();
    fill(&s, 20);
    let first = s.list(&ListRequest::new().page_size(10)).expect("list");
    assert_eq!(first.prev_page_token, "");
    assert!(!first.next_page_token.is_empty());
    let last = s
        .list(
            &ListRequest::new()
                .page_size(10)
                .page_token(&first.next_page_token),
        )
        .expect("list");
    assert_eq!(
        last.next_page_token, "",
        "exactly 20: the second page is the last"
    );
    assert!(!last.prev_page_token.is_empty());
    let empty = store().list(&ListRequest::new()).expect("list");
    assert_eq!(
        (empty.next_page_token, empty.prev_page_token),
        (String::new(), String::new())
    );
}

#[test]
fn prev_page_token_returns_the_previous_page() {
    let s = store();
    fill(&s, 47);
    for region in [None, Some(Region::Us), Some(Region::Eu)] {
        for order in [Order::NewestFirst, Order::OldestFirst] {
            let mut base = ListRequest::new().page_size(6).order(order);
            if let Some(r) = region {
                base = base.region(r);
            }
            // Walk forward, remembering pages; then walk back with prev tokens.
            let mut pages = vec![s.list(&base).expect("list")];
            while !pages.last().expect("page").next_page_token.is_empty() {
                let token = pages.last().expect("page").next_page_token.clone();
                pages.push(s.list(&base.clone().page_token(token)).expect("list"));
            }
            for i in (1..pages.len()).rev() {
                let back = s
                    .list(&base.clone().page_token(&pages[i].prev_page_token))
                    .expect("list");
                assert_eq!(
                    ids(&back),
                    ids(&pages[i - 1]),
                    "page {i} back, {order:?} {region:?}"
                );
                // A page reached backwards links forward and backward like the original.
                assert!(!back.next_page_token.is_empty());
                assert_eq!(back.prev_page_token.is_empty(), i == 1);
                if i > 1 {
                    let back2 = s
                        .list(&base.clone().page_token(&back.prev_page_token))
                        .expect("list");
                    assert_eq!(ids(&back2), ids(&pages[i - 2]));
                }
                let fwd = s
                    .list(&base.clone().page_token(&back.next_page_token))
                    .expect("list");
                assert_eq!(ids(&fwd), ids(&pages[i]));
            }
        }
    }
}

#[test]
fn prev_page_reflects_the_store_as_it_is_now() {
    let s = store();
    let created = fill(&s, 30); // oldest first: created[0..]
    let base = ListRequest::new().page_size(10).order(Order::OldestFirst);
    let p1 = s.list(&base).expect("list");
    let p2 = s
        .list(&base.clone().page_token(&p1.next_page_token))
        .expect("list");
    s.delete(&created[3]).expect("delete");
    let back = s
        .list(&base.clone().page_token(&p2.prev_page_token))
        .expect("list");
    let mut expected: Vec<OrgId> = created[..10].to_vec();
    expected.remove(3);
    assert_eq!(ids(&back), expected, "page 1 as it is now: 9 records");
}

/// Walks every page while creating and deleting between pages; every organization that lived
/// through the whole walk must be seen exactly once, and nothing seen twice.
fn traverse_under_churn(rng: &mut Rng, region: Option<Region>, order: Order) {
    let s = store();
    let mut live: BTreeSet<OrgId> = fill(&s, 150).into_iter().collect();
    let mut doomed_or_new: HashSet<OrgId> = HashSet::new();
    let mut request = ListRequest::new().order(order);
    if let Some(r) = region {
        request = request.region(r);
    }
    let mut seen = HashSet::new();
    loop {
        let size = 1 + rng.below(15) as u32;
        let page = s.list(&request.clone().page_size(size)).expect("list");
        for org in &page.organizations {
            assert!(seen.insert(org.id.clone()), "{} seen twice", org.id);
            if let Some(r) = region {
                assert_eq!(org.region_code, r);
            }
        }
        // Churn: delete a few random live orgs, create a few new ones.
        for _ in 0..rng.below(4) {
            let victim = live
                .iter()
                .nth(rng.below(live.len() as u64) as usize)
                .cloned();
            if let Some(v) = victim {
                s.delete(&v).expect("delete");
                live.remove(&v);
                doomed_or_new.insert(v);
            }
        }
        for _ in 0..rng.below(4) {
            let r = if rng.below(2) == 0 {
                Region::Us
            } else {
                Region::Eu
            };
            let id = create(&s, NewOrganization::new("late").region(r)).id;
            live.insert(id.clone());
            doomed_or_new.insert(id);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        request = request.page_token(page.next_page_token);
    }
    let survivors = live.iter().filter(|id| !doomed_or_new.contains(*id));
    for id in survivors {
        let org = s.get(id).expect("get").expect("survivor exists");
        if region.is_none_or(|r| org.region_code == r) {
            assert!(
                seen.contains(id),
                "survivor {id} skipped ({region:?}, {order:?})"
            );
        }
    }
}

#[test]
fn full_traversal_under_churn_sees_every_survivor_exactly_once() {
    let mut rng = crate::support::rng("pagination churn");
    for region in [None, Some(Region::Us), Some(Region::Eu)] {
        for order in [Order::NewestFirst, Order::OldestFirst] {
            traverse_under_churn(&mut rng, region, order);
        }
    }
}

#[test]
fn total_size_and_external_id_filter() {
    let s = store();
    fill(&s, 12);
    let target = create(
        &s,
        NewOrganization::new("t")
            .external_id("target")
            .region(Region::Eu),
    );
    let page = s
        .list(&ListRequest::new().external_id("target"))
        .expect("list");
    assert_eq!(ids(&page), vec![target.id.clone()]);
    assert_eq!((page.total_size, page.next_page_token.as_str()), (1, ""));
    let none = s
        .list(&ListRequest::new().external_id("absent"))
        .expect("list");
    assert_eq!((none.organizations.len(), none.total_size), (0, 0));
    assert_eq!(s.list(&ListRequest::new()).expect("list").total_size, 13);
    assert_eq!(
        s.list(&ListRequest::new().region(Region::Eu))
            .expect("list")
            .total_size,
        7
    );
    match s.list(&ListRequest::new().external_id("")) {
        Err(Error::InvalidArgument(v)) => assert_eq!(v[0].field(), "external_id"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn tokens_are_bound_to_region_order_and_filter() {
    let s = store();
    fill(&s, 30);
    let base = ListRequest::new().region(Region::Us).page_size(3);
    let token = s.list(&base).expect("list").next_page_token;
    assert!(token.len() <= orgstore::MAX_TOKEN_LEN);
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    for other in [
        ListRequest::new(),
        ListRequest::new().region(Region::Eu),
        base.clone().order(Order::OldestFirst),
        base.clone().external_id("x"),
    ] {
        let e = expect_code(
            s.list(&other.page_size(3).page_token(&token)),
            orgstore::ErrorCode::InvalidArgument,
        );
        assert!(matches!(e, Error::InvalidPageToken { .. }), "{e:?}");
    }
    // Page size may change between pages.
    assert_eq!(
        s.list(&base.clone().page_size(5).page_token(&token))
            .expect("list")
            .organizations
            .len(),
        5
    );
}

#[test]
fn garbage_and_over_long_tokens_are_rejected() {
    let s = store();
    fill(&s, 5);
    let good = s
        .list(&ListRequest::new().page_size(2))
        .expect("list")
        .next_page_token;
    let mut bad: Vec<String> = vec![
        "garbage!".into(),
        "=".into(),
        "AAAA".into(),
        "A".repeat(129),
        "A".repeat(10_000),
        good[..good.len() - 1].into(),
        format!("{good}A"),
        format!("{good}AAAA"),
        "éé".into(),
    ];
    // Every single-character change of a good token.
    for i in 0..good.len() {
        let mut t = good.clone().into_bytes();
        t[i] = if t[i] == b'B' { b'C' } else { b'B' };
        bad.push(String::from_utf8(t).expect("ascii"));
    }
    for token in bad {
        if token == good {
            continue;
        }
        let e = s
            .list(&ListRequest::new().page_size(2).page_token(&token))
            .unwrap_err();
        assert!(
            matches!(e, Error::InvalidPageToken { .. }),
            "{token}: {e:?}"
        );
        assert_eq!(e.code().http_status(), 400);
    }
}

#[test]
fn a_page_beyond_deleted_rows_is_empty_and_links_back() {
    let s = store();
    let created = fill(&s, 4);
    let base = ListRequest::new().order(Order::OldestFirst).page_size(2);
    let p1 = s.list(&base).expect("list");
    s.delete(&created[2]).expect("delete");
    s.delete(&created[3]).expect("delete");
    let p2 = s
        .list(&base.clone().page_token(&p1.next_page_token))
        .expect("list");
    assert!(p2.organizations.is_empty());
    assert_eq!(p2.next_page_token, "");
    let back = s
        .list(&base.clone().page_token(&p2.prev_page_token))
        .expect("list");
    assert_eq!(ids(&back), created[..2].to_vec());
}

#[test]
fn pages_walks_every_page_and_stops_after_the_last() {
    let s = crate::support::store();
    for i in 0..23 {
        crate::support::create(&s, orgstore::NewOrganization::new(format!("Org {i}")));
    }
    let request = orgstore::ListRequest::new().page_size(5);
    let pages: Vec<orgstore::Page> = s
        .pages(request.clone())
        .collect::<orgstore::Result<_>>()
        .expect("pages");
    assert_eq!(
        pages
            .iter()
            .map(|p| p.organizations.len())
            .collect::<Vec<_>>(),
        [5, 5, 5, 5, 3]
    );
    assert_eq!(pages.last().expect("last").next_page_token, "");
    let ids: Vec<_> = s
        .pages(request)
        .organizations()
        .map(|o| o.expect("org").id)
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(ids, sorted, "newest first, each once");
    assert_eq!(ids.len(), 23);
    // A bad token is yielded as the one error, then the walk ends.
    let mut bad = s.pages(orgstore::ListRequest::new().page_token("nonsense"));
    assert!(bad.next().expect("one item").is_err());
    assert!(bad.next().is_none());
}
