//! Model test: random operation sequences over small key spaces (so clashes happen), run
//! against the store and against a plain in-memory model, compared after every step, together
//! with the index ↔ record invariant.
//!
//! `cargo test --release --test model`. `PROPTEST_CASES` sets the number of sequences (default
//! 1000); the seed is printed and can be replayed with `ORGSTORE_SEED=<seed>` (or
//! `PROPTEST_RNG_SEED`). Shrunk failures are kept in `tests/model.regressions` and replayed
//! first on every run.

#![allow(clippy::pedantic, clippy::unwrap_used)] // test code: plain over pedantic

use std::collections::{BTreeMap, BTreeSet};

use orgstore::{
    Durability, Error, ListRequest, NewOrganization, Order, OrgId, OrgStore, Organization,
    OrganizationUpdate, Readable, Region, UniqueField, WriteTransaction,
};
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;

#[path = "common/mod.rs"]
mod common;
use common::Expect;
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed, TestRunner};

/// Operations run across all sequences (for the summary line).
static STEPS: AtomicU64 = AtomicU64::new(0);

const EXTS: u8 = 4;
const SLUGS: u8 = 4;
const META_KEYS: u8 = 12; // more than the limit of 10, so merges can break it
const IMPORT_IDS: [&str; 3] = ["org_1", "org_59615193906282635", "org_7Z"];

#[derive(Clone, Debug)]
enum Change {
    Keep,
    Set(u8),
    Clear,
}

#[derive(Clone, Debug)]
enum Op {
    Create {
        name: u8,
        ext: Option<u8>,
        slug: Option<u8>,
        eu: bool,
        meta: Vec<u8>,
    },
    Update {
        target: u8,
        by_ext: bool,
        name: Option<u8>,
        ext: Change,
        slug: Change,
        set_meta: Vec<u8>,
        remove_meta: Vec<u8>,
        replace_meta: Option<Vec<u8>>,
        toggle: Option<(u8, bool)>,
    },
    Delete {
        target: u8,
        by_ext: bool,
    },
    Import {
        id: u8,
        name: u8,
        ext: Option<u8>,
        slug: Option<u8>,
        eu: bool,
    },
    Get {
        target: u8,
    },
    GetByExt(u8),
    GetBySlug(u8),
    List {
        region: Option<bool>,
        newest_first: bool,
        page_size: u8,
    },
    Begin,
    Commit,
    Abort {
        by_drop: bool,
    },
    Reopen,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        2 => Just(Change::Keep),
        2 => (0..EXTS).prop_map(Change::Set),
        1 => Just(Change::Clear),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let keys = || proptest::collection::vec(0..META_KEYS, 0..4);
    prop_oneof![
        6 => (any::<u8>(), proptest::option::of(0..EXTS), proptest::option::of(0..SLUGS), any::<bool>(), keys())
            .prop_map(|(name, ext, slug, eu, meta)| Op::Create { name, ext, slug, eu, meta }),
        5 => (
            any::<u8>(),
            any::<bool>(),
            proptest::option::of(0..3u8),
            change(),
            change(),
            keys(),
            keys(),
            proptest::option::weighted(0.2, proptest::collection::vec(0..META_KEYS, 0..12)),
            proptest::option::of((0..3u8, any::<bool>())),
        )
            .prop_map(|(target, by_ext, name, ext, slug, set_meta, remove_meta, replace_meta, toggle)| {
                Op::Update { target, by_ext, name, ext, slug, set_meta, remove_meta, replace_meta, toggle }
            }),
        3 => (any::<u8>(), any::<bool>()).prop_map(|(target, by_ext)| Op::Delete { target, by_ext }),
        2 => (0..IMPORT_IDS.len() as u8, any::<u8>(), proptest::option::of(0..EXTS), proptest::option::of(0..SLUGS), any::<bool>())
            .prop_map(|(id, name, ext, slug, eu)| Op::Import { id, name, ext, slug, eu }),
        2 => any::<u8>().prop_map(|target| Op::Get { target }),
        1 => (0..EXTS + 1).prop_map(Op::GetByExt),
        1 => (0..SLUGS + 1).prop_map(Op::GetBySlug),
        2 => (proptest::option::of(any::<bool>()), any::<bool>(), 0..6u8)
            .prop_map(|(region, newest_first, page_size)| Op::List { region, newest_first, page_size }),
        2 => Just(Op::Begin),
        2 => Just(Op::Commit),
        1 => any::<bool>().prop_map(|by_drop| Op::Abort { by_drop }),
        1 => Just(Op::Reopen),
    ]
}

fn ext(i: u8) -> String {
    format!("ext-{i}")
}
fn slug(i: u8) -> String {
    format!("slug{i}")
}
fn meta_key(i: u8) -> String {
    format!("key{i}")
}
fn region(eu: bool) -> Region {
    if eu {
        Region::Eu
    } else {
        Region::Us
    }
}

/// The reference model shared with the fuzz targets and the reliability suites.
type Model = common::Reference;

struct Harness {
    _dir: tempfile::TempDir,
    at: Location,
    store: Option<OrgStore>,
    txn: Option<WriteTransaction>,
    committed: Model,
    pending: Option<Model>,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let at = match common::postgres_url() {
            None => Location::File(dir.path().join("model.redb")),
            Some(url) => Location::Postgres(url, common::fresh_schema()),
        };
        let store = open(&at);
        Harness {
            _dir: dir,
            at,
            store: Some(store),
            txn: None,
            committed: Model::new(),
            pending: None,
        }
    }

    fn store(&self) -> &OrgStore {
        self.store.as_ref().expect("store is open")
    }

    fn model(&self) -> &Model {
        self.pending.as_ref().unwrap_or(&self.committed)
    }

    fn model_mut(&mut self) -> &mut Model {
        self.pending.as_mut().unwrap_or(&mut self.committed)
    }

    /// Runs a write in the open transaction, or as a one-shot call.
    fn write<T>(
        &mut self,
        f: impl FnOnce(&mut WriteTransaction) -> orgstore::Result<T>,
    ) -> orgstore::Result<T> {
        match &mut self.txn {
            Some(t) => f(t),
            None => self.store().transaction(f),
        }
    }

    fn read<T>(&self, f: impl Fn(&dyn ReadView) -> T) -> T {
        match &self.txn {
            Some(t) => f(t),
            None => f(&self.store().begin_read().expect("read")),
        }
    }

    /// An existing id (by position), or an absent one.
    fn pick(&self, target: u8) -> OrgId {
        match self.model().nth_id(usize::from(target)) {
            Some(id) if target % 8 != 7 => id,
            _ => "org_ABSENT".parse().expect("id"),
        }
    }

    fn step(&mut self, op: &Op) {
        match op.clone() {
            Op::Create {
                name,
                ext: e,
                slug: s,
                eu,
                meta,
            } => {
                let mut new = NewOrganization::new(format!("Org {name}")).region(region(eu));
                if let Some(e) = e {
                    new = new.external_id(ext(e));
                }
                if let Some(s) = s {
                    new = new.slug(slug(s));
                }
                for k in &meta {
                    new = new.metadata(meta_key(*k), "v");
                }
                let expected = self
                    .model()
                    .create(e.map(ext).as_deref(), s.map(slug).as_deref());
                let result = self.write(|t| t.create(new));
                match (expected, result) {
                    (Expect::Clash(field, holder), r) => expect_clash(r, field, &holder),
                    (_, Ok(org)) => {
                        assert!(self.model().get(&org.id).is_none(), "id {} reused", org.id);
                        assert_eq!(org.display_name, format!("Org {name}"));
                        assert_eq!(org.external_id, e.map(ext));
                        assert_eq!(org.slug, s.map(slug));
                        assert_eq!(org.region_code, region(eu));
                        assert_eq!(
                            org.metadata.len(),
                            meta.iter().collect::<BTreeSet<_>>().len()
                        );
                        assert_eq!(org.create_time, org.update_time);
                        self.model_mut().put(org);
                    }
                    (_, Err(err)) => panic!("create failed: {err}"),
                }
            }
            Op::Update {
                target,
                by_ext,
                name,
                ext: e,
                slug: s,
                set_meta,
                remove_meta,
                replace_meta,
                toggle,
            } => {
                let id = self.pick(target);
                let current = self.model().get(&id).cloned();
                let lookup_ext = current
                    .as_ref()
                    .and_then(|o| o.external_id.clone())
                    .unwrap_or_else(|| "ext-none".into());
                // Build the update and the model's expectation side by side.
                let mut update = OrganizationUpdate::new();
                let mut next = current.clone();
                if let Some(n) = name {
                    update = update.display_name(format!("Org {n}"));
                    if let Some(o) = &mut next {
                        o.display_name = format!("Org {n}");
                    }
                }
                match e {
                    Change::Keep => {}
                    Change::Set(v) => {
                        update = update.external_id(ext(v));
                        if let Some(o) = &mut next {
                            o.external_id = Some(ext(v));
                        }
                    }
                    Change::Clear => {
                        update = update.clear_external_id();
                        if let Some(o) = &mut next {
                            o.external_id = None;
                        }
                    }
                }
                match s {
                    Change::Keep => {}
                    Change::Set(v) => {
                        update = update.slug(slug(v));
                        if let Some(o) = &mut next {
                            o.slug = Some(slug(v));
                        }
                    }
                    Change::Clear => {
                        update = update.clear_slug();
                        if let Some(o) = &mut next {
                            o.slug = None;
                        }
                    }
                }
                if let Some(keys) = &replace_meta {
                    let map: BTreeMap<String, String> = keys
                        .iter()
                        .map(|k| (meta_key(*k), "r".to_string()))
                        .collect();
                    update = update.replace_metadata(map.clone());
                    if let Some(o) = &mut next {
                        o.metadata = map;
                    }
                }
                for k in &remove_meta {
                    update = update.remove_metadata(meta_key(*k));
                    if let Some(o) = &mut next {
                        o.metadata.remove(&meta_key(*k));
                    }
                }
                for k in &set_meta {
                    update = update.set_metadata(meta_key(*k), "s");
                    if let Some(o) = &mut next {
                        o.metadata.insert(meta_key(*k), "s".into());
                    }
                }
                if let Some((t, on)) = toggle {
                    let feature = ["sso", "dir_sync", "session_policy"][usize::from(t)];
                    update = update.setting(feature, on);
                    if let Some(o) = &mut next {
                        match o.settings.iter_mut().find(|x| x.name == feature) {
                            Some(x) => x.enabled = on,
                            None => o.settings.push(orgstore::FeatureToggle::new(feature, on)),
                        }
                    }
                }
                // Merges: removals then upserts happen in builder order; the builder keeps the
                // last word per key, which the sequence above reproduces when a key is both
                // removed and set (set comes last in both).
                let result = if by_ext && current.is_some() {
                    self.write(|t| t.update_by_external_id(&lookup_ext, update))
                } else {
                    self.write(|t| t.update(&id, update))
                };
                let by_missing_ext =
                    by_ext && current.as_ref().is_some_and(|o| o.external_id.is_none());
                let expect = if by_missing_ext {
                    Expect::NotFound
                } else {
                    self.model().update(&id, next.as_ref())
                };
                match (&expect, &next) {
                    (Expect::Written, Some(next)) => {
                        let got = result.expect("update");
                        let cur = current.as_ref().expect("current");
                        assert!(got.update_time >= cur.update_time);
                        let mut expected = next.clone();
                        expected.update_time = got.update_time;
                        assert_eq!(got, expected);
                        self.model_mut().put(got);
                    }
                    // The model's `settle` checks the rest (an unchanged record keeps its
                    // update_time).
                    _ => self.model_mut().settle(&expect, result),
                }
            }
            Op::Delete { target, by_ext } => {
                let id = self.pick(target);
                let current = self.model().get(&id).cloned();
                let key = current.as_ref().and_then(|o| o.external_id.clone());
                let result = match (&key, by_ext) {
                    (Some(k), true) => self.write(|t| t.delete_by_external_id(k)),
                    _ => self.write(|t| t.delete(&id)),
                };
                match (self.model().delete(&id), current) {
                    (Expect::Written, Some(cur)) => {
                        assert_eq!(result.expect("delete"), cur);
                        self.model_mut().remove(&id);
                    }
                    (expect, _) => self.model_mut().settle(&expect, result),
                }
            }
            Op::Import {
                id,
                name,
                ext: e,
                slug: s,
                eu,
            } => {
                let id: OrgId = IMPORT_IDS[usize::from(id)].parse().expect("id");
                let t0 = time::macros::datetime!(2025-02-15 06:23:44.56 UTC);
                let org = Organization {
                    id: id.clone(),
                    create_time: t0,
                    update_time: t0 + time::Duration::seconds(i64::from(name)),
                    display_name: format!("Imported {name}"),
                    region_code: region(eu),
                    external_id: e.map(ext),
                    metadata: BTreeMap::new(),
                    settings: vec![],
                    slug: s.map(slug),
                    logo_url: None,
                };
                let expect = self.model().import(&org);
                let result = self.write(|t| t.import(org.clone()));
                if matches!(expect, Expect::Written | Expect::Unchanged) {
                    assert_eq!(result.as_ref().ok(), Some(&org), "{result:?}");
                }
                self.model_mut().settle(&expect, result);
            }
            Op::Get { target } => {
                let id = self.pick(target);
                let expected = self.model().get(&id).cloned();
                assert_eq!(self.read(|r| r.get_dyn(&id)), expected);
            }
            Op::GetByExt(i) => {
                let expected = self
                    .model()
                    .holder(UniqueField::ExternalId, &ext(i))
                    .cloned();
                assert_eq!(self.read(|r| r.get_by_external_id_dyn(&ext(i))), expected);
            }
            Op::GetBySlug(i) => {
                let expected = self.model().holder(UniqueField::Slug, &slug(i)).cloned();
                assert_eq!(self.read(|r| r.get_by_slug_dyn(&slug(i))), expected);
            }
            Op::List {
                region: r,
                newest_first,
                page_size,
            } => {
                let r = r.map(region);
                let order = if newest_first {
                    Order::NewestFirst
                } else {
                    Order::OldestFirst
                };
                let mut request = ListRequest::new()
                    .order(order)
                    .page_size(u32::from(page_size));
                if let Some(r) = r {
                    request = request.region(r);
                }
                let expected = self.model().listing(r, order);
                let got = self.read(|v| v.walk(&request));
                assert_eq!(got, expected);
            }
            Op::Begin => {
                if self.txn.is_none() {
                    self.txn = Some(self.store().begin_write().expect("begin"));
                    self.pending = Some(self.committed.clone());
                }
            }
            Op::Commit => {
                if let Some(t) = self.txn.take() {
                    t.commit().expect("commit");
                    self.committed = self.pending.take().expect("pending");
                }
            }
            Op::Abort { by_drop } => {
                if let Some(t) = self.txn.take() {
                    if by_drop {
                        drop(t);
                    } else {
                        t.abort().expect("abort");
                    }
                    self.pending = None;
                }
            }
            Op::Reopen => {
                if self.txn.is_none() {
                    self.store = None;
                    self.store = Some(open(&self.at));
                }
            }
        }
        self.check();
    }

    /// The store agrees with the model, and its indexes with its records.
    fn check(&self) {
        let model = self.model().clone();
        self.read(|r| {
            assert_eq!(r.count_dyn(None), model.count(None));
            for region in Region::ALL {
                assert_eq!(r.count_dyn(Some(region)), model.count(Some(region)));
            }
            let listed = r.walk(&ListRequest::new().order(Order::OldestFirst).page_size(100));
            let all = model.listing(None, Order::OldestFirst);
            assert_eq!(listed, all);
            for org in &all {
                if let Some(e) = &org.external_id {
                    assert_eq!(r.get_by_external_id_dyn(e).as_ref(), Some(org));
                }
                if let Some(s) = &org.slug {
                    assert_eq!(r.get_by_slug_dyn(s).as_ref(), Some(org));
                }
            }
        });
        // Index ↔ record agreement on the committed state (walks the tables themselves).
        let checked = self
            .store()
            .check_indexes()
            .expect("indexes agree with records");
        assert_eq!(checked, self.committed.len() as u64);
    }
}

/// Where the store under test lives: a redb file, or a schema of the PostgreSQL database given
/// by `ORGSTORE_TEST_POSTGRES` (the same operations, against the same model).
enum Location {
    File(std::path::PathBuf),
    Postgres(String, String),
}

fn open(at: &Location) -> OrgStore {
    let builder = OrgStore::builder().durability(Durability::None);
    match at {
        Location::File(path) => builder.verify_on_open(false).open(path).expect("open"),
        Location::Postgres(url, schema) => common::on_schema(builder, url, schema),
    }
}

/// Object-safe reads over either transaction kind.
trait ReadView {
    fn get_dyn(&self, id: &OrgId) -> Option<Organization>;
    fn get_by_external_id_dyn(&self, e: &str) -> Option<Organization>;
    fn get_by_slug_dyn(&self, s: &str) -> Option<Organization>;
    fn count_dyn(&self, region: Option<Region>) -> u64;
    fn walk(&self, request: &ListRequest) -> Vec<Organization>;
}

impl<R: Readable> ReadView for R {
    fn get_dyn(&self, id: &OrgId) -> Option<Organization> {
        self.get(id).expect("get")
    }
    fn get_by_external_id_dyn(&self, e: &str) -> Option<Organization> {
        self.get_by_external_id(e).expect("get by external id")
    }
    fn get_by_slug_dyn(&self, s: &str) -> Option<Organization> {
        self.get_by_slug(s).expect("get by slug")
    }
    fn count_dyn(&self, region: Option<Region>) -> u64 {
        self.count(region).expect("count")
    }
    fn walk(&self, request: &ListRequest) -> Vec<Organization> {
        let mut out = Vec::new();
        let mut request = request.clone();
        loop {
            let page = self.list(&request).expect("list");
            out.extend(page.organizations);
            if page.next_page_token.is_empty() {
                return out;
            }
            request = request.page_token(page.next_page_token);
        }
    }
}

#[track_caller]
fn expect_clash<T: std::fmt::Debug>(
    result: orgstore::Result<T>,
    field: UniqueField,
    holder: &OrgId,
) {
    match result {
        Err(Error::AlreadyExists {
            field: f,
            holder: h,
            ..
        }) => {
            assert_eq!((f, &h), (field, holder));
        }
        other => panic!("expected a {field} clash with {holder}, got {other:?}"),
    }
}

fn config() -> Config {
    let seed = std::env::var("ORGSTORE_SEED")
        .or_else(|_| std::env::var("PROPTEST_RNG_SEED"))
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    eprintln!("model: {cases} sequences, seed {seed} (replay with ORGSTORE_SEED={seed})");
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..Config::default()
    }
}

#[test]
fn store_matches_the_model() {
    let config = config();
    let cases = config.cases;
    let mut runner = TestRunner::new(config);
    let result = runner.run(&proptest::collection::vec(op(), 1..48), |ops| {
        let mut h = Harness::new();
        for op in &ops {
            h.step(op);
            STEPS.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("model divergence: {e}");
    }
    eprintln!(
        "model: {cases} sequences, {} operations, each checked against the model and the index invariant, 0 divergences",
        STEPS.load(Ordering::Relaxed)
    );
}
