//! Hostile inputs: megabyte strings, 10,000 metadata pairs, control and bidi characters,
//! invalid ids, forged page tokens. Each gets a clear error, nothing is written (the store's
//! bytes are identical before and after), and the work done before the refusal does not grow
//! with the input: a counting allocator bounds what the call allocates.
//!
//! `cargo test --release --test adversarial`; `ORGSTORE_FORGED_TOKENS` sets the number of
//! random tokens (default 2000), `ORGSTORE_SEED` replays them.

#![allow(clippy::pedantic, clippy::unwrap_used)] // test code: plain over pedantic

mod common;

use std::alloc::System;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use common::Rng;
use orgstore::Region as DataRegion;
use orgstore::{
    Error, ErrorCode, ListRequest, MemoryBackend, NewOrganization, Order, OrgStore, Organization,
    OrganizationUpdate,
};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The allocator counts every thread, so the tests of this file take turns.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Bytes allocated while `f` runs.
fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let region = Region::new(GLOBAL);
    let out = f();
    (out, region.change().bytes_allocated as u64)
}

/// Most a refused call may allocate, whatever its input size: a write transaction, a snapshot,
/// one error message. The hostile inputs are megabytes.
const BOUND: u64 = 256 * 1024;
const MEGABYTE: usize = 1 << 20;

struct Target {
    disk: MemoryBackend,
    store: OrgStore,
    existing: Organization,
}

fn target() -> Target {
    let disk = MemoryBackend::new();
    let store = OrgStore::builder()
        .create_with_backend(disk.clone())
        .unwrap();
    let existing = store
        .create(
            NewOrganization::new("Existing")
                .external_id("existing")
                .slug("existing")
                .metadata("plan", "pro"),
        )
        .unwrap();
    for i in 0..30 {
        let region = if i % 2 == 0 {
            DataRegion::Us
        } else {
            DataRegion::Eu
        };
        store
            .create(NewOrganization::new(format!("o{i}")).region(region))
            .unwrap();
    }
    Target {
        disk,
        store,
        existing,
    }
}

/// Runs a hostile call: it must fail with `code`, allocate at most `BOUND`, write nothing.
#[track_caller]
fn refuse<T: std::fmt::Debug>(
    t: &Target,
    what: &str,
    code: ErrorCode,
    call: impl FnOnce(&OrgStore) -> orgstore::Result<T>,
) -> Error {
    let before = t.disk.to_bytes();
    let (result, bytes) = allocated_by(|| call(&t.store));
    let err = match result {
        Ok(v) => panic!("{what}: accepted ({v:?})"),
        Err(e) => e,
    };
    assert_eq!(err.code(), code, "{what}: {err}");
    assert!(
        bytes <= BOUND,
        "{what}: allocated {bytes} bytes before refusing"
    );
    assert!(
        err.to_string().len() < 1_000,
        "{what}: message of {} bytes",
        err.to_string().len()
    );
    assert!(
        t.disk.to_bytes() == before,
        "{what}: the store's bytes changed"
    );
    err
}

#[test]
fn megabyte_strings_are_refused_cheaply() {
    let _turn = serial();
    let t = target();
    let big = "x".repeat(MEGABYTE);
    let big_multibyte = "é".repeat(MEGABYTE / 2);
    let id = t.existing.id.clone();
    let cases: Vec<(&str, NewOrganization)> = vec![
        ("display_name", NewOrganization::new(&big)),
        (
            "display_name (multibyte)",
            NewOrganization::new(&big_multibyte),
        ),
        ("external_id", NewOrganization::new("a").external_id(&big)),
        ("slug", NewOrganization::new("a").slug(&big)),
        (
            "logo_url",
            NewOrganization::new("a").logo_url(format!("https://{big}")),
        ),
        (
            "metadata key",
            NewOrganization::new("a").metadata(&big, "v"),
        ),
        (
            "metadata value",
            NewOrganization::new("a").metadata("key", &big),
        ),
        (
            "setting name",
            NewOrganization::new("a").setting(&big, true),
        ),
    ];
    for (what, new) in cases {
        refuse(&t, what, ErrorCode::InvalidArgument, |s| s.create(new));
    }
    let u = OrganizationUpdate::new().display_name(&big);
    refuse(&t, "update display_name", ErrorCode::InvalidArgument, |s| {
        s.update(&id, u)
    });
    let u = OrganizationUpdate::new().set_metadata("key", &big);
    refuse(
        &t,
        "update metadata value",
        ErrorCode::InvalidArgument,
        |s| s.update(&id, u),
    );
    let huge_id = format!("org_{big}");
    refuse(&t, "get by huge id", ErrorCode::InvalidArgument, |s| {
        s.get(&huge_id)
    });
    refuse(
        &t,
        "get by huge external id",
        ErrorCode::InvalidArgument,
        |s| s.get_by_external_id(&big),
    );
    refuse(&t, "get by huge slug", ErrorCode::InvalidArgument, |s| {
        s.get_by_slug(&big)
    });
    refuse(
        &t,
        "delete by huge external id",
        ErrorCode::InvalidArgument,
        |s| s.delete_by_external_id(&big),
    );
    let filtered = ListRequest::new().external_id(&big);
    refuse(
        &t,
        "list filtered by a huge external id",
        ErrorCode::InvalidArgument,
        |s| s.list(&filtered),
    );
    let mut imported = t.existing.clone();
    imported.display_name = big.clone();
    refuse(&t, "import", ErrorCode::InvalidArgument, |s| {
        s.import(imported)
    });
}

/// 10,000 distinct, individually valid metadata pairs.
fn ten_thousand_pairs() -> BTreeMap<String, String> {
    (0..10_000)
        .map(|i| (format!("key{i:05}"), format!("value {i}")))
        .collect()
}

#[test]
fn ten_thousand_metadata_pairs_or_toggles_are_refused_cheaply() {
    let _turn = serial();
    let t = target();
    let id = t.existing.id.clone();
    let pairs = ten_thousand_pairs();
    let mut new = NewOrganization::new("a");
    for (k, v) in &pairs {
        new = new.metadata(k, v);
    }
    let e = refuse(
        &t,
        "create with 10k pairs",
        ErrorCode::InvalidArgument,
        |s| s.create(new),
    );
    assert_eq!(e.violations().len(), 1, "one violation, not 10,000: {e}");

    let replace = OrganizationUpdate::new().replace_metadata(pairs.clone());
    refuse(
        &t,
        "replace with 10k pairs",
        ErrorCode::InvalidArgument,
        |s| s.update(&id, replace),
    );

    let mut toggles = OrganizationUpdate::new();
    for i in 0..1_000 {
        toggles = toggles.setting(format!("feature{i}"), true);
    }
    refuse(&t, "1k toggles", ErrorCode::InvalidArgument, |s| {
        s.update(&id, toggles)
    });

    let mut imported = t.existing.clone();
    imported.metadata = pairs;
    refuse(
        &t,
        "import with 10k pairs",
        ErrorCode::InvalidArgument,
        |s| s.import(imported),
    );
}

#[test]
fn control_and_bidi_characters_are_refused() {
    let _turn = serial();
    let t = target();
    for bad in [
        "nul\u{0}",
        "esc\u{1b}[31m",
        "line\u{2028}".replace('\u{2028}', "\n").as_str(),
        "rlo\u{202e}cod.exe",
        "lri\u{2066}x",
        "pdi\u{2069}",
        "c1\u{9b}",
    ] {
        let e = refuse(&t, bad, ErrorCode::InvalidArgument, |s| {
            s.create(NewOrganization::new(bad))
        });
        assert!(e.to_string().contains("control"), "{e}");
        refuse(&t, bad, ErrorCode::InvalidArgument, |s| {
            s.create(NewOrganization::new("a").external_id(bad))
        });
        refuse(&t, bad, ErrorCode::InvalidArgument, |s| {
            s.get_by_external_id(bad)
        });
    }
}

#[test]
fn invalid_ids_are_refused() {
    let _turn = serial();
    let t = target();
    for bad in [
        "",
        "org_",
        "org",
        "ORG_1",
        "org_-1",
        "org_a b",
        "org_é",
        "org_1\u{0}",
        "org_../../etc",
        "org_12345678901234567890123456789",
    ] {
        refuse(&t, bad, ErrorCode::InvalidArgument, |s| s.get(bad));
        refuse(&t, bad, ErrorCode::InvalidArgument, |s| s.delete(bad));
        refuse(&t, bad, ErrorCode::InvalidArgument, |s| {
            s.update(bad, OrganizationUpdate::new().display_name("x"))
        });
    }
}

#[test]
fn forged_page_tokens_are_refused() {
    let _turn = serial();
    let seed = common::seed("adversarial tokens");
    let mut rng = Rng::new(seed);
    let t = target();
    let base = ListRequest::new().region(DataRegion::Us).page_size(3);
    let good = t.store.list(&base).unwrap().next_page_token;
    assert!(!good.is_empty());
    let mut forged: Vec<(String, ListRequest)> = vec![
        // Made for another request.
        (
            good.clone(),
            ListRequest::new().region(DataRegion::Eu).page_size(3),
        ),
        (good.clone(), ListRequest::new().page_size(3)),
        (good.clone(), base.clone().order(Order::OldestFirst)),
        (good.clone(), base.clone().external_id("existing")),
        // Damaged.
        (good[..good.len() / 2].to_string(), base.clone()),
        (format!("{good}{good}"), base.clone()),
        ("A".repeat(MEGABYTE), base.clone()),
        ("=".repeat(40), base.clone()),
        (
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
            base.clone(),
        ),
    ];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for _ in 0..common::size("ORGSTORE_FORGED_TOKENS", 2000) {
        let len = 1 + rng.below(120) as usize;
        let token: String = if rng.chance(50) {
            // Valid base64url of garbage.
            (0..len)
                .map(|_| char::from(alphabet[rng.below(64) as usize]))
                .collect()
        } else {
            // Arbitrary bytes, as text.
            let bytes: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        forged.push((token, base.clone()));
    }
    // Every single-character change of a good token.
    for i in 0..good.len() {
        let mut b = good.clone().into_bytes();
        b[i] = if b[i] == b'x' { b'y' } else { b'x' };
        forged.push((String::from_utf8(b).unwrap(), base.clone()));
    }
    let mut refused = 0;
    for (token, request) in forged {
        if token == good && request == base {
            continue;
        }
        let request = request.page_token(token);
        let e = refuse(&t, "forged token", ErrorCode::InvalidArgument, |s| {
            s.list(&request)
        });
        assert!(matches!(e, Error::InvalidPageToken { .. }), "{e:?}");
        refused += 1;
    }
    eprintln!("adversarial: {refused} forged page tokens refused, 0 accepted");
}

/// Found by this suite: an update merging thousands of metadata keys built the whole merged
/// map (about 1 MB for 10,000 keys) before the 10-pair limit refused it. The bound is now
/// checked on the update's own size first.
#[test]
fn regression_a_huge_metadata_merge_is_refused_before_it_is_built() {
    let _turn = serial();
    let t = target();
    let id = t.existing.id.clone();
    let pairs = ten_thousand_pairs();
    let mut merge = OrganizationUpdate::new();
    for (k, v) in &pairs {
        merge = merge.set_metadata(k, v);
    }
    refuse(&t, "merge of 10k pairs", ErrorCode::InvalidArgument, |s| {
        s.update(&id, merge)
    });
}
