//! Partial updates: keep/set/clear, metadata replace/merge/clear, toggles, timestamps.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use orgstore::{ErrorCode, LookupKey, NewOrganization, OrgStore, OrganizationUpdate, Region};
use time::OffsetDateTime;

use crate::support::{create, expect_code, store};

/// A store whose clock reads `micros` (microseconds since the epoch).
fn store_with_clock(micros: &Arc<AtomicI64>) -> OrgStore {
    let m = Arc::clone(micros);
    crate::support::open(OrgStore::builder().clock(move || {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(m.load(Ordering::SeqCst)) * 1000)
            .expect("time")
    }))
}

fn full() -> NewOrganization {
    NewOrganization::new("Acme")
        .external_id("acme-1")
        .slug("acme")
        .logo_url("https://x.io/a.png")
        .region(Region::Eu)
        .metadata("plan", "pro")
        .metadata("seats", "10")
        .setting("sso", true)
}

#[test]
fn only_the_given_fields_change() {
    let s = store();
    let org = create(&s, full());
    let next = s
        .update(&org.id, OrganizationUpdate::new().display_name("Acme Inc"))
        .expect("update");
    let mut expected = org.clone();
    expected.display_name = "Acme Inc".into();
    expected.update_time = next.update_time;
    assert_eq!(next, expected);
    assert_eq!(s.get(&org.id).expect("get"), Some(next));
}

#[test]
fn optional_fields_keep_set_and_clear() {
    let s = store();
    let org = create(&s, full());
    let set = s
        .update(
            &org.id,
            OrganizationUpdate::new()
                .external_id("acme-2")
                .slug("acme2")
                .logo_url("https://x.io/b.png"),
        )
        .expect("set");
    assert_eq!(set.external_id.as_deref(), Some("acme-2"));
    assert_eq!(set.slug.as_deref(), Some("acme2"));
    assert_eq!(set.logo_url.as_deref(), Some("https://x.io/b.png"));
    let cleared = s
        .update(
            &org.id,
            OrganizationUpdate::new()
                .clear_external_id()
                .clear_slug()
                .clear_logo_url(),
        )
        .expect("clear");
    assert_eq!(
        (cleared.external_id, cleared.slug, cleared.logo_url),
        (None, None, None)
    );
    assert_eq!(cleared.display_name, "Acme");
    assert_eq!(cleared.metadata, org.metadata);
    assert_eq!(s.get_by_external_id("acme-2").expect("get"), None);
    assert_eq!(s.get_by_slug("acme2").expect("get"), None);
    s.check_indexes().expect("indexes agree");
}

#[test]
fn metadata_replace_merge_and_clear() {
    let s = store();
    let org = create(&s, full());
    let merged = s
        .update(
            &org.id,
            OrganizationUpdate::new()
                .set_metadata("plan", "enterprise")
                .set_metadata("region", "west")
                .remove_metadata("seats")
                .remove_metadata("absent"),
        )
        .expect("merge");
    let expect: BTreeMap<String, String> = [("plan", "enterprise"), ("region", "west")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(merged.metadata, expect);

    let replaced = s
        .update(
            &org.id,
            OrganizationUpdate::new()
                .replace_metadata(BTreeMap::from([("tier".to_string(), "gold".to_string())])),
        )
        .expect("replace");
    assert_eq!(replaced.metadata.len(), 1);
    assert_eq!(replaced.metadata["tier"], "gold");

    let cleared = s
        .update(&org.id, OrganizationUpdate::new().clear_metadata())
        .expect("clear");
    assert!(cleared.metadata.is_empty());
}

#[test]
fn later_builder_calls_edit_earlier_ones() {
    let s = store();
    let org = create(&s, full());
    // set then remove the same key in a merge: removed.
    let a = s
        .update(
            &org.id,
            OrganizationUpdate::new()
                .set_metadata("k1k", "v")
                .remove_metadata("k1k"),
        )
        .expect("update");
    assert!(!a.metadata.contains_key("k1k"));
    // clear then set: the replacement holds exactly the set key.
    let b = s
        .update(
            &org.id,
            OrganizationUpdate::new()
                .clear_metadata()
                .set_metadata("only", "1"),
        )
        .expect("update");
    assert_eq!(b.metadata.keys().collect::<Vec<_>>(), ["only"]);
}

#[test]
fn settings_toggles_set_only_the_given_names() {
    let s = store();
    let org = create(&s, full());
    let next = s
        .update(
            &org.id,
            OrganizationUpdate::new()
                .setting("dir_sync", true)
                .setting("sso", false),
        )
        .expect("update");
    assert!(!next.is_enabled("sso"));
    assert!(next.is_enabled("dir_sync"));
    assert_eq!(next.settings.len(), 2);
}

#[test]
fn region_id_and_create_time_never_change() {
    let s = store();
    let org = create(&s, full());
    let next = s
        .update(
            &org.id,
            OrganizationUpdate::new()
                .display_name("X")
                .external_id("y")
                .setting("a", true),
        )
        .expect("update");
    assert_eq!(
        (&next.id, next.region_code, next.create_time),
        (&org.id, Region::Eu, org.create_time)
    );
}

#[test]
fn a_no_op_update_writes_nothing_and_keeps_update_time() {
    let clock = Arc::new(AtomicI64::new(1_700_000_000_000_000));
    let s = store_with_clock(&clock);
    let org = create(&s, full());
    clock.fetch_add(5_000_000, Ordering::SeqCst);
    for noop in [
        OrganizationUpdate::new(),
        OrganizationUpdate::new().display_name("Acme"),
        OrganizationUpdate::new().external_id("acme-1").slug("acme"),
        OrganizationUpdate::new()
            .set_metadata("plan", "pro")
            .remove_metadata("nope"),
        OrganizationUpdate::new().setting("sso", true),
        OrganizationUpdate::new().replace_metadata(org.metadata.clone()),
    ] {
        assert_eq!(s.update(&org.id, noop).expect("noop"), org);
    }
    assert_eq!(s.get(&org.id).expect("get"), Some(org.clone()));
    let changed = s
        .update(&org.id, OrganizationUpdate::new().display_name("New"))
        .expect("change");
    assert_eq!(
        changed.update_time - org.update_time,
        time::Duration::seconds(5)
    );
}

#[test]
fn update_time_never_decreases_even_when_the_clock_steps_back() {
    let clock = Arc::new(AtomicI64::new(1_700_000_000_000_000));
    let s = store_with_clock(&clock);
    let org = create(&s, NewOrganization::new("A"));
    clock.fetch_sub(3_600_000_000, Ordering::SeqCst); // one hour back
    let next = s
        .update(&org.id, OrganizationUpdate::new().display_name("B"))
        .expect("update");
    assert_eq!(next.update_time, org.update_time);
    assert!(next.update_time >= next.create_time);
    clock.fetch_add(7_200_000_000, Ordering::SeqCst);
    let later = s
        .update(&org.id, OrganizationUpdate::new().display_name("C"))
        .expect("update");
    assert!(later.update_time > next.update_time);
}

#[test]
fn timestamps_have_microsecond_precision() {
    let s = crate::support::open(OrgStore::builder().clock(|| {
        OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).expect("time")
    }));
    let org = create(&s, NewOrganization::new("A"));
    assert_eq!(org.create_time.nanosecond(), 123_456_000);
    assert_eq!(
        s.get(&org.id).expect("get").expect("hit").create_time,
        org.create_time
    );
}

#[test]
fn updating_or_deleting_a_missing_organization_is_not_found() {
    let s = store();
    let e = expect_code(
        s.update("org_404", OrganizationUpdate::new().display_name("x")),
        ErrorCode::NotFound,
    );
    assert!(
        matches!(e, orgstore::Error::NotFound { key: LookupKey::Id(ref id) } if id.as_str() == "org_404"),
        "{e:?}"
    );
    expect_code(
        s.update_by_external_id("nobody", OrganizationUpdate::new()),
        ErrorCode::NotFound,
    );
    expect_code(s.delete("org_404"), ErrorCode::NotFound);
    expect_code(s.delete_by_external_id("nobody"), ErrorCode::NotFound);
}

#[test]
fn update_by_external_id_may_rename_the_key() {
    let s = store();
    let org = create(&s, full());
    let next = s
        .update_by_external_id("acme-1", OrganizationUpdate::new().external_id("acme-9"))
        .expect("update");
    assert_eq!(next.id, org.id);
    assert_eq!(s.get_by_external_id("acme-1").expect("get"), None);
    assert_eq!(s.get_by_external_id("acme-9").expect("get"), Some(next));
}

/// Counts the syncs and writes that reach the bytes of a store (clones share the counts).
#[derive(Clone, Debug, Default)]
struct Counting(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    inner: orgstore::MemoryBackend,
    syncs: std::sync::atomic::AtomicU64,
    writes: std::sync::atomic::AtomicU64,
}

impl std::ops::Deref for Counting {
    type Target = Counts;
    fn deref(&self) -> &Counts {
        &self.0
    }
}

impl orgstore::StorageBackend for Counting {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.syncs.fetch_add(1, Ordering::SeqCst);
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.write(offset, data)
    }
}

/// Three one-shot updates that changed nothing cost three durable commits (three syncs) and
/// changed the file's bytes. A write that changes nothing commits nothing now.
#[test]
fn regression_a_write_that_changes_nothing_commits_nothing() {
    if crate::support::redb_only("regression_a_write_that_changes_nothing_commits_nothing") {
        return;
    }
    let disk = Counting::default();
    let s = OrgStore::builder()
        .create_with_backend(disk.clone())
        .expect("store");
    let org = create(&s, full());
    let image = disk.inner.to_bytes();
    let (syncs, writes) = (
        disk.syncs.load(Ordering::SeqCst),
        disk.writes.load(Ordering::SeqCst),
    );
    for _ in 0..3 {
        s.update(&org.id, OrganizationUpdate::new().display_name("Acme"))
            .expect("no-op update");
    }
    s.update_by_external_id("acme-1", OrganizationUpdate::new())
        .expect("no-op by external id");
    assert_eq!(s.import(org.clone()).expect("same record"), org);
    s.begin_write()
        .expect("begin")
        .commit()
        .expect("empty commit");
    s.transaction(|t| t.update(&org.id, OrganizationUpdate::new().setting("sso", true)))
        .expect("no-op in a transaction");
    assert_eq!(disk.syncs.load(Ordering::SeqCst), syncs, "no sync");
    assert_eq!(disk.writes.load(Ordering::SeqCst), writes, "no write");
    assert!(disk.inner.to_bytes() == image, "the bytes are unchanged");
    // A real change still commits durably.
    s.update(&org.id, OrganizationUpdate::new().display_name("Acme Inc"))
        .expect("update");
    assert!(disk.syncs.load(Ordering::SeqCst) > syncs);
}

#[test]
fn a_toggle_can_be_removed() {
    let s = store();
    let org = create(&s, full().setting("dir_sync", false).setting("beta", true));
    let org = s
        .update(
            &org.id,
            OrganizationUpdate::new()
                .remove_setting("dir_sync")
                .setting("new", true)
                .remove_setting("missing"),
        )
        .expect("remove");
    let names: Vec<&str> = org.settings.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["sso", "beta", "new"]);
    // The last change of a name wins within one update.
    let org = s
        .update(
            &org.id,
            OrganizationUpdate::new()
                .remove_setting("sso")
                .setting("sso", false),
        )
        .expect("update");
    assert_eq!(org.settings[0], orgstore::FeatureToggle::new("sso", false));
    let org = s
        .update(
            &org.id,
            OrganizationUpdate::new()
                .setting("beta", false)
                .remove_setting("beta"),
        )
        .expect("update");
    assert!(org.settings.iter().all(|t| t.name != "beta"));
}
