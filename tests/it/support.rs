//! Helpers shared by the test modules.

use std::path::PathBuf;

use orgstore::{Error, ErrorCode, NewOrganization, OrgStore, Organization, Readable};

pub use crate::common::{fresh_schema, on_schema, postgres_url};

/// Whether the suite runs against PostgreSQL.
pub fn on_postgres() -> bool {
    postgres_url().is_some()
}

/// Skips a test that is about the embedded engine only (files, redb settings): it runs in the
/// redb run of the suite. Returns whether to skip.
#[must_use]
pub fn redb_only(test: &str) -> bool {
    if on_postgres() {
        eprintln!("{test}: about the redb engine; skipped on PostgreSQL");
        return true;
    }
    false
}

/// A new, empty store on the suite's engine, with default settings.
pub fn store() -> OrgStore {
    open(OrgStore::builder())
}

/// A new, empty store on the suite's engine with the builder's settings: an in-memory redb
/// store, or a schema of its own in the PostgreSQL database.
pub fn open(builder: orgstore::Builder) -> OrgStore {
    match postgres_url() {
        None => builder.in_memory().expect("in-memory store"),
        Some(url) => on_schema(builder, &url, &fresh_schema()),
    }
}

/// A temp dir and a store file path inside it (the dir lives as long as the guard).
pub fn temp_path() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("orgs.redb");
    (dir, path)
}

pub fn create(store: &OrgStore, new: NewOrganization) -> Organization {
    store.create(new).expect("create")
}

/// Asserts `result` is an error with `code`, and returns it.
#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(result: orgstore::Result<T>, code: ErrorCode) -> Error {
    match result {
        Ok(v) => panic!("expected {code}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.code(), code, "unexpected error: {e}");
            e
        }
    }
}

/// Asserts an invalid-argument error naming exactly `fields` (in order), and returns it.
#[track_caller]
pub fn expect_invalid<T: std::fmt::Debug>(result: orgstore::Result<T>, fields: &[&str]) -> Error {
    let e = expect_code(result, ErrorCode::InvalidArgument);
    let got: Vec<&str> = e.violations().iter().map(|v| v.field()).collect();
    assert_eq!(got, fields, "violations: {e}");
    e
}

pub use crate::common::Rng;

/// Every organization of the store, oldest first, read through the public listing.
#[track_caller]
pub fn all(r: &impl Readable) -> Vec<Organization> {
    let request = orgstore::ListRequest::new()
        .page_size(100)
        .order(orgstore::Order::OldestFirst);
    crate::common::walk(r, request).expect("list")
}

/// A generator seeded from `ORGSTORE_SEED` (or the clock), printing its seed.
pub fn rng(test: &str) -> Rng {
    Rng::new(crate::common::seed(test))
}

/// A snapshot of the whole store, for "nothing was written" checks.
#[track_caller]
pub fn snapshot(store: &OrgStore) -> (Vec<Organization>, u64) {
    (
        all(&store.begin_read().expect("read")),
        store.count(None).expect("count"),
    )
}
