//! Helpers shared by the test modules.

use std::path::PathBuf;

use orgstore::{Error, ErrorCode, NewOrganization, OrgStore, Organization, Readable};

pub fn store() -> OrgStore {
    OrgStore::in_memory().expect("in-memory store")
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

/// Every organization of the store, oldest first, read through the public listing.
pub fn all(r: &impl Readable) -> Vec<Organization> {
    let mut out = Vec::new();
    let mut request = orgstore::ListRequest::new()
        .page_size(100)
        .order(orgstore::Order::OldestFirst);
    loop {
        let page = r.list(&request).expect("list");
        out.extend(page.organizations);
        if page.next_page_token.is_empty() {
            return out;
        }
        request = request.page_token(page.next_page_token);
    }
}

/// A snapshot of the whole store, for "nothing was written" checks.
#[track_caller]
pub fn snapshot(store: &OrgStore) -> (Vec<Organization>, u64) {
    (
        all(&store.begin_read().expect("read")),
        store.count(None).expect("count"),
    )
}

/// A small deterministic generator (xorshift64*) for randomized tests.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `ORGSTORE_SEED` if set, else from the clock; prints the seed so a failure
    /// can be replayed with `ORGSTORE_SEED=<seed>`.
    pub fn from_env(test: &str) -> Rng {
        let seed = std::env::var("ORGSTORE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        eprintln!("{test}: seed {seed} (replay with ORGSTORE_SEED={seed})");
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
