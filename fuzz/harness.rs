//! The fuzz targets' logic, shared by the libFuzzer binaries in `fuzz_targets/` and by the
//! corpus replay test (`tests/fuzz_corpus.rs` in the main crate), so the committed corpus runs
//! in every CI run without libFuzzer.
//!
//! Each function takes raw fuzzer bytes and panics only on a real defect.

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Unstructured};

#[path = "../tests/common/reference.rs"]
mod reference;
use orgstore::time::{Date, OffsetDateTime, Time, UtcOffset};
use orgstore::{
    ErrorCode, ListRequest, NewOrganization, Order, OrgId, OrgStore, Organization,
    OrganizationUpdate, Readable, Region,
};
use reference::{Expect, Reference};

/// Record decoding from arbitrary bytes: an error or a record, never a panic; a decoded record
/// re-encodes to bytes that decode to the same record. (Not necessarily the same bytes:
/// postcard accepts over-long varints, e.g. `ca 00` for 74, which the encoder never writes.)
/// Its JSON form never panics either (see [`json_round_trip`]).
pub fn decode_record(data: &[u8]) {
    if let Ok(org) = orgstore::internals::decode_record(data) {
        let again = orgstore::internals::encode_record(&org);
        let back = orgstore::internals::decode_record(&again).expect("re-encoded record decodes");
        assert_eq!(back, org, "decode/encode round trip");
        json_round_trip(&org);
    }
}

/// Whether both timestamps fall in years 0000–9999 in UTC, what RFC 3339 text can hold.
fn in_wire_range(org: &Organization) -> bool {
    [org.create_time, org.update_time].iter().all(|t| {
        t.checked_to_offset(UtcOffset::UTC)
            .is_some_and(|u| (0..=9999).contains(&u.year()))
    })
}

/// Serializing never panics; a record whose times are in the wire's range serializes and reads
/// back as itself, one out of range is an error.
fn json_round_trip(org: &Organization) {
    match serde_json::to_string(org) {
        Ok(text) if in_wire_range(org) => {
            let back: Organization = serde_json::from_str(&text).expect("own JSON reads back");
            assert_eq!(&back, org, "JSON round trip");
        }
        Ok(text) => panic!("a time outside the wire's range serialized: {text}"),
        Err(e) => assert!(
            !in_wire_range(org),
            "a record in range failed to serialize: {e}"
        ),
    }
}

/// An organization's JSON from untrusted text: an error or a record, never a panic; a record
/// read serializes back to the same record, and importing it either stores exactly it (to the
/// microsecond, in UTC) or is refused with invalid-argument violations.
pub fn json(data: &[u8]) {
    let Ok(org) = serde_json::from_slice::<Organization>(data) else {
        return;
    };
    assert!(in_wire_range(&org), "read a time outside the wire's range");
    json_round_trip(&org);
    let store = OrgStore::in_memory().expect("store");
    match store.import(org) {
        Ok(stored) => {
            assert_eq!(store.get(&stored.id).expect("get").as_ref(), Some(&stored));
            json_round_trip(&stored);
        }
        Err(e) => assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}"),
    }
}

#[derive(Arbitrary, Debug)]
struct TokenInput {
    token: String,
    region: Option<bool>,
    newest_first: bool,
    external_id: Option<String>,
}

/// Page-token parsing: arbitrary text against arbitrary request parameters is refused or
/// yields a well-formed id; never a panic. A store lists with it without leaving the region.
pub fn page_token(data: &[u8]) {
    let Ok(input) = TokenInput::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let region = input
        .region
        .map(|eu| if eu { Region::Eu } else { Region::Us });
    let order = if input.newest_first {
        Order::NewestFirst
    } else {
        Order::OldestFirst
    };
    let parsed = orgstore::internals::decode_page_token(
        &input.token,
        region,
        order,
        input.external_id.as_deref(),
    );
    if let Ok(Some(id)) = &parsed {
        assert!(id.as_str().starts_with("org_"));
    }
    if input.token.len() <= 256 {
        let store = OrgStore::in_memory().expect("store");
        for i in 0..3 {
            let r = if i % 2 == 0 { Region::Us } else { Region::Eu };
            store
                .create(NewOrganization::new("o").region(r))
                .expect("create");
        }
        let mut request = ListRequest::new().order(order).page_token(&input.token);
        if let Some(r) = region {
            request = request.region(r);
        }
        match store.list(&request) {
            Ok(page) => {
                assert!(
                    parsed.is_ok(),
                    "listing accepted a token the parser refused"
                );
                if let Some(r) = region {
                    assert!(page.organizations.iter().all(|o| o.region_code == r));
                }
            }
            Err(e) => assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}"),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct FieldsInput {
    display_name: String,
    external_id: Option<String>,
    slug: Option<String>,
    logo_url: Option<String>,
    metadata: Vec<(String, String)>,
    settings: Vec<(String, bool)>,
    eu: bool,
    /// A timestamp to import with, given as a local date, hour and UTC offset.
    time: Option<TimeParts>,
}

#[derive(Arbitrary, Debug)]
struct TimeParts {
    year: i16,
    day_of_year: u16,
    hour: u8,
    offset_hours: i8,
}

impl TimeParts {
    /// The local time in its offset, which may lie outside UTC's years (a late time west of
    /// UTC), or `None` when the parts make no date.
    fn datetime(&self) -> Option<OffsetDateTime> {
        let date = Date::from_ordinal_date(i32::from(self.year), self.day_of_year).ok()?;
        let time = Time::from_hms(self.hour % 24, 59, 59).ok()?;
        let offset = UtcOffset::from_hms(self.offset_hours, 0, 0).ok()?;
        Some(date.with_time(time).assume_offset(offset))
    }
}

/// Validation of arbitrary inputs: either the organization is stored exactly as given, or the
/// request is refused with invalid-argument violations and nothing is written.
pub fn validate(data: &[u8]) {
    let Ok(input) = FieldsInput::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let store = OrgStore::in_memory().expect("store");
    let region = if input.eu { Region::Eu } else { Region::Us };
    let mut new = NewOrganization::new(&input.display_name).region(region);
    if let Some(v) = &input.external_id {
        new = new.external_id(v);
    }
    if let Some(v) = &input.slug {
        new = new.slug(v);
    }
    if let Some(v) = &input.logo_url {
        new = new.logo_url(v);
    }
    for (k, v) in &input.metadata {
        new = new.metadata(k, v);
    }
    for (k, v) in &input.settings {
        new = new.setting(k, *v);
    }
    match store.create(new) {
        Ok(org) => {
            assert_eq!(org.display_name, input.display_name);
            assert_eq!(org.external_id, input.external_id);
            assert_eq!(org.slug, input.slug);
            assert_eq!(org.logo_url, input.logo_url);
            let expected: BTreeMap<_, _> = input.metadata.iter().cloned().collect();
            assert_eq!(org.metadata, expected);
            assert_eq!(store.get(&org.id).expect("get"), Some(org));
        }
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
            assert!(!e.violations().is_empty());
            assert_eq!(
                store.count(None).expect("count"),
                0,
                "a refused create wrote"
            );
        }
    }
    // The same fields as a complete record with a caller's timestamp, imported: timestamps
    // anywhere (in their own offset) never panic, in JSON or in the store.
    if let Some(t) = input.time.as_ref().and_then(TimeParts::datetime) {
        let id = OrgId::parse("org_1").expect("id");
        let mut org = Organization::new(id, &input.display_name, region, t);
        org.external_id = input.external_id.clone();
        org.slug = input.slug.clone();
        org.logo_url = input.logo_url.clone();
        org.metadata = input.metadata.iter().cloned().collect();
        json_round_trip(&org);
        let imported = OrgStore::in_memory().expect("store");
        match imported.import(org.clone()) {
            Ok(stored) => {
                assert!(
                    in_wire_range(&org),
                    "imported a time outside the wire's range"
                );
                assert_eq!(stored.create_time, org.create_time);
                json_round_trip(&stored);
            }
            Err(e) => assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}"),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Create {
        ext: Option<u8>,
        slug: Option<u8>,
        eu: bool,
    },
    Update {
        who: u8,
        ext: Option<Option<u8>>,
        slug: Option<Option<u8>>,
        name: Option<u8>,
    },
    Delete {
        who: u8,
    },
    Begin,
    Commit,
    Abort,
    List {
        page_size: u8,
        newest_first: bool,
        region: Option<bool>,
    },
}

/// Operation sequences against the reference model (the same one the model test and the
/// reliability suites use), with the index invariant checked after every step.
pub fn ops(data: &[u8]) {
    let Ok(ops) = Vec::<Op>::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let store = OrgStore::in_memory().expect("store");
    let mut committed = Reference::new();
    let mut txn: Option<(orgstore::WriteTransaction, Reference)> = None;
    for op in ops.into_iter().take(64) {
        let model = match &mut txn {
            Some((_, m)) => m.clone(),
            None => committed.clone(),
        };
        let mut next = model.clone();
        match op {
            Op::Create { ext, slug, eu } => {
                let ext = ext.map(|e| format!("e{}", e % 4));
                let slug = slug.map(|s| format!("s{}", s % 4));
                let region = if eu { Region::Eu } else { Region::Us };
                let mut new = NewOrganization::new("n").region(region);
                if let Some(e) = &ext {
                    new = new.external_id(e);
                }
                if let Some(s) = &slug {
                    new = new.slug(s);
                }
                let expect = model.create(ext.as_deref(), slug.as_deref());
                let r = write(&store, &mut txn, |t| t.create(new));
                if let Ok(org) = &r {
                    assert_eq!((&org.external_id, &org.slug), (&ext, &slug));
                    assert_eq!(org.region_code, region);
                }
                next.settle(&expect, r);
            }
            Op::Update {
                who,
                ext,
                slug,
                name,
            } => {
                let Some(id) = model.nth_id(usize::from(who)) else {
                    continue;
                };
                let mut u = OrganizationUpdate::new();
                let mut rec = model.get(&id).expect("picked").clone();
                match ext {
                    Some(Some(e)) => {
                        let e = format!("e{}", e % 4);
                        u = u.external_id(&e);
                        rec.external_id = Some(e);
                    }
                    Some(None) => {
                        u = u.clear_external_id();
                        rec.external_id = None;
                    }
                    None => {}
                }
                match slug {
                    Some(Some(s)) => {
                        let s = format!("s{}", s % 4);
                        u = u.slug(&s);
                        rec.slug = Some(s);
                    }
                    Some(None) => {
                        u = u.clear_slug();
                        rec.slug = None;
                    }
                    None => {}
                }
                if let Some(n) = name {
                    rec.display_name = format!("n{n}");
                    u = u.display_name(&rec.display_name);
                }
                let expect = model.update(&id, Some(&rec));
                let r = write(&store, &mut txn, |t| t.update(&id, u));
                if let (Expect::Written, Ok(org)) = (&expect, &r) {
                    let mut expected = rec.clone();
                    expected.update_time = org.update_time;
                    assert_eq!(org, &expected, "update result");
                }
                next.settle(&expect, r);
            }
            Op::Delete { who } => {
                let Some(id) = model.nth_id(usize::from(who)) else {
                    continue;
                };
                assert_eq!(model.delete(&id), Expect::Written);
                let removed = write(&store, &mut txn, |t| t.delete(&id)).expect("delete");
                assert_eq!(next.remove(&id).as_ref(), Some(&removed));
            }
            Op::Begin => {
                if txn.is_none() {
                    txn = Some((store.begin_write().expect("begin"), committed.clone()));
                }
                continue;
            }
            Op::Commit => {
                if let Some((t, m)) = txn.take() {
                    t.commit().expect("commit");
                    committed = m;
                }
                continue;
            }
            Op::Abort => {
                txn = None;
                continue;
            }
            Op::List {
                page_size,
                newest_first,
                region,
            } => {
                let region = region.map(|eu| if eu { Region::Eu } else { Region::Us });
                let order = if newest_first {
                    Order::NewestFirst
                } else {
                    Order::OldestFirst
                };
                let mut request = ListRequest::new()
                    .order(order)
                    .page_size(u32::from(page_size % 12));
                if let Some(r) = region {
                    request = request.region(r);
                }
                let mut seen = Vec::new();
                loop {
                    let page = match &txn {
                        Some((t, _)) => t.list(&request),
                        None => store.list(&request),
                    }
                    .expect("list");
                    seen.extend(page.organizations);
                    if page.next_page_token.is_empty() {
                        break;
                    }
                    request = request.page_token(page.next_page_token);
                }
                assert_eq!(seen, model.listing(region, order));
                continue;
            }
        }
        match &mut txn {
            Some((_, m)) => *m = next,
            None => committed = next,
        }
        assert_eq!(
            store.check_indexes().expect("indexes agree"),
            committed.len() as u64
        );
    }
}

fn write<T>(
    store: &OrgStore,
    txn: &mut Option<(orgstore::WriteTransaction, impl Sized)>,
    f: impl FnOnce(&mut orgstore::WriteTransaction) -> orgstore::Result<T>,
) -> orgstore::Result<T> {
    match txn {
        Some((t, _)) => f(t),
        None => store.transaction(f),
    }
}
