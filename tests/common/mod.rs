//! Shared by the reliability suites: seeds, sizes, a deterministic workload with its model,
//! and the invariant checks.

#![allow(dead_code)] // each suite uses part of this module

use std::collections::BTreeMap;

use orgstore::{
    Error, ListRequest, NewOrganization, Order, OrgStore, Organization, OrganizationUpdate,
    Readable, Region,
};

/// A deterministic generator (xorshift64*).
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The seed of a randomized suite: `ORGSTORE_SEED` if set, else the clock. Printed.
pub fn seed(suite: &str) -> u64 {
    let seed = std::env::var("ORGSTORE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("{suite}: seed {seed} (replay with ORGSTORE_SEED={seed})");
    seed
}

/// A size from the environment variable `name`, or `default`.
pub fn size(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

mod reference;
pub use reference::{logical_of, Expect, Logical, Reference};

/// A workload's expected content: by external id (every workload record has one), without
/// ids and timestamps, which the store assigns.
pub type State = BTreeMap<String, Logical>;

/// One transaction of the workload.
#[derive(Clone, Debug)]
pub enum Step {
    Create {
        ext: String,
        slug: Option<String>,
        region: Region,
    },
    Rename {
        ext: String,
        name: String,
    },
    SetMeta {
        ext: String,
        key: String,
        value: String,
    },
    ChangeSlug {
        ext: String,
        slug: Option<String>,
    },
    Delete {
        ext: String,
    },
    /// Several changes in one transaction.
    Batch(Vec<Step>),
}

impl Step {
    /// The state after this step, by the reference model (the workload only makes steps that
    /// succeed, which the model confirms).
    pub fn apply_to(&self, state: &State) -> State {
        let mut model = reference_of(state);
        self.apply_in(&mut model);
        model.logical()
    }

    fn apply_in(&self, model: &mut Reference) {
        let current = |model: &Reference, ext: &str| {
            model
                .holder(orgstore::UniqueField::ExternalId, ext)
                .cloned()
                .unwrap_or_else(|| panic!("the workload names {ext}, which it does not hold"))
        };
        let change = |model: &mut Reference, next: Organization| {
            let expect = model.update(&next.id, Some(&next));
            assert!(
                matches!(expect, Expect::Written | Expect::Unchanged),
                "the workload made a failing step: {expect:?}"
            );
            model.put(next);
        };
        match self {
            Step::Create { ext, slug, region } => {
                let expect = model.create(Some(ext), slug.as_deref());
                assert_eq!(
                    expect,
                    Expect::Written,
                    "the workload made a failing create"
                );
                model.put(workload_record(ext, slug.clone(), *region));
            }
            Step::Rename { ext, name } => {
                let mut next = current(model, ext);
                next.display_name.clone_from(name);
                change(model, next);
            }
            Step::SetMeta { ext, key, value } => {
                let mut next = current(model, ext);
                next.metadata.insert(key.clone(), value.clone());
                change(model, next);
            }
            Step::ChangeSlug { ext, slug } => {
                let mut next = current(model, ext);
                next.slug.clone_from(slug);
                change(model, next);
            }
            Step::Delete { ext } => {
                let id = current(model, ext).id;
                assert_eq!(model.delete(&id), Expect::Written);
                model.remove(&id);
            }
            Step::Batch(steps) => {
                for step in steps {
                    step.apply_in(model);
                }
            }
        }
    }

    /// Runs the step in its own transaction.
    pub fn run(&self, store: &OrgStore) -> Result<(), Error> {
        store.transaction(|t| self.run_in(t))
    }

    fn run_in(&self, t: &mut orgstore::WriteTransaction) -> Result<(), Error> {
        match self {
            Step::Create { ext, slug, region } => {
                let mut new = NewOrganization::new(format!("Org {ext}"))
                    .external_id(ext)
                    .region(*region);
                if let Some(s) = slug {
                    new = new.slug(s);
                }
                t.create(new)?;
            }
            Step::Rename { ext, name } => {
                t.update_by_external_id(ext, OrganizationUpdate::new().display_name(name))?;
            }
            Step::SetMeta { ext, key, value } => {
                t.update_by_external_id(ext, OrganizationUpdate::new().set_metadata(key, value))?;
            }
            Step::ChangeSlug { ext, slug } => {
                let u = match slug {
                    Some(s) => OrganizationUpdate::new().slug(s),
                    None => OrganizationUpdate::new().clear_slug(),
                };
                t.update_by_external_id(ext, u)?;
            }
            Step::Delete { ext } => {
                t.delete_by_external_id(ext)?;
            }
            Step::Batch(steps) => {
                for step in steps {
                    step.run_in(t)?;
                }
            }
        }
        Ok(())
    }
}

/// The reference model holding `state`, each record under an id made from its external id
/// (the model's ids are its own; only the logical content is compared with a store).
fn reference_of(state: &State) -> Reference {
    let mut model = Reference::new();
    for (ext, l) in state {
        let mut org = workload_record(ext, l.slug.clone(), l.region);
        org.display_name.clone_from(&l.display_name);
        org.metadata.clone_from(&l.metadata);
        model.put(org);
    }
    model
}

/// The record the workload's create of `ext` makes, under an id of the model's own.
fn workload_record(ext: &str, slug: Option<String>, region: Region) -> Organization {
    let hash = ext.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let id = format!("org_W{hash:016X}").parse().expect("model id");
    let mut org = Organization::new(
        id,
        format!("Org {ext}"),
        region,
        time::macros::datetime!(2025-01-01 00:00 UTC),
    );
    org.external_id = Some(ext.to_owned());
    org.slug = slug;
    org
}

/// A valid random workload of `n` steps: every step succeeds on the state it follows.
pub fn workload(rng: &mut Rng, n: usize) -> Vec<Step> {
    let mut state = State::new();
    let mut next_ext = 0u64;
    let mut steps = Vec::with_capacity(n);
    for _ in 0..n {
        let step = random_step(rng, &state, &mut next_ext, true);
        state = step.apply_to(&state);
        steps.push(step);
    }
    steps
}

fn random_step(rng: &mut Rng, state: &State, next_ext: &mut u64, batch_ok: bool) -> Step {
    let pick = |rng: &mut Rng| -> Option<String> {
        if state.is_empty() {
            None
        } else {
            state
                .keys()
                .nth(rng.below(state.len() as u64) as usize)
                .cloned()
        }
    };
    let free_slug = |rng: &mut Rng| -> Option<String> {
        let s = format!("slug-{}", rng.below(1_000_000));
        (!state
            .values()
            .any(|o| o.slug.as_deref() == Some(s.as_str())))
        .then_some(s)
    };
    match rng.below(10) {
        0..=3 => {
            *next_ext += 1;
            Step::Create {
                ext: format!("ext-{next_ext}-{}", rng.below(1_000)),
                slug: if rng.chance(50) { free_slug(rng) } else { None },
                region: if rng.chance(50) {
                    Region::Us
                } else {
                    Region::Eu
                },
            }
        }
        4 => match pick(rng) {
            Some(ext) => Step::Rename {
                ext,
                name: format!("Renamed {}", rng.below(1_000)),
            },
            None => random_step(rng, state, next_ext, batch_ok),
        },
        5 => match pick(rng) {
            Some(ext) => Step::SetMeta {
                ext,
                key: format!("key{}", rng.below(5)),
                value: format!("v{}", rng.below(100)),
            },
            None => random_step(rng, state, next_ext, batch_ok),
        },
        6 => match pick(rng) {
            Some(ext) => Step::ChangeSlug {
                ext,
                slug: if rng.chance(70) { free_slug(rng) } else { None },
            },
            None => random_step(rng, state, next_ext, batch_ok),
        },
        7 | 8 => match pick(rng) {
            Some(ext) => Step::Delete { ext },
            None => random_step(rng, state, next_ext, batch_ok),
        },
        _ if batch_ok => {
            let mut inner = Vec::new();
            let mut s = state.clone();
            for _ in 0..2 + rng.below(3) {
                let step = random_step(rng, &s, next_ext, false);
                s = step.apply_to(&s);
                inner.push(step);
            }
            Step::Batch(inner)
        }
        _ => random_step(rng, state, next_ext, batch_ok),
    }
}

/// The logical state of a store, read through the public API on one snapshot.
pub fn logical(store: &OrgStore) -> Result<State, Error> {
    let snap = store.begin_read()?;
    let all = walk(
        &snap,
        ListRequest::new().order(Order::OldestFirst).page_size(100),
    )?;
    if let Some(org) = all.iter().find(|o| o.external_id.is_none()) {
        return Err(Error::FailedPrecondition {
            message: format!("workload record {} lost its external id", org.id),
        });
    }
    Ok(logical_of(&all))
}

/// Every page of a listing.
pub fn walk(r: &impl Readable, mut request: ListRequest) -> Result<Vec<Organization>, Error> {
    let mut out = Vec::new();
    loop {
        let page = r.list(&request)?;
        out.extend(page.organizations);
        if page.next_page_token.is_empty() {
            return Ok(out);
        }
        request = request.page_token(page.next_page_token);
    }
}

/// The invariants every reachable state must satisfy: indexes agree with records, counts agree
/// with listings (per region too), and lookups by external id and slug find their holders.
pub fn check_invariants(store: &OrgStore) -> Result<(), String> {
    let records = store
        .check_indexes()
        .map_err(|e| format!("check_indexes: {e}"))?;
    let snap = store.begin_read().map_err(|e| e.to_string())?;
    let all = walk(&snap, ListRequest::new().page_size(100)).map_err(|e| e.to_string())?;
    if all.len() as u64 != records {
        return Err(format!(
            "listing has {} records, tables {records}",
            all.len()
        ));
    }
    for region in Region::ALL {
        let listed = walk(&snap, ListRequest::new().region(region).page_size(100))
            .map_err(|e| e.to_string())?;
        if listed.iter().any(|o| o.region_code != region) {
            return Err(format!("listing {region} yielded another region's record"));
        }
        let count = snap.count(Some(region)).map_err(|e| e.to_string())?;
        if listed.len() as u64 != count {
            return Err(format!("{region}: count {count}, listed {}", listed.len()));
        }
    }
    for org in &all {
        if let Some(e) = &org.external_id {
            let hit = snap.get_by_external_id(e).map_err(|e| e.to_string())?;
            if hit.as_ref() != Some(org) {
                return Err(format!("external id {e:?} does not find {}", org.id));
            }
        }
        if let Some(s) = &org.slug {
            let hit = snap.get_by_slug(s).map_err(|e| e.to_string())?;
            if hit.as_ref() != Some(org) {
                return Err(format!("slug {s:?} does not find {}", org.id));
            }
        }
    }
    Ok(())
}

/// The PostgreSQL server a suite runs against, if any: `ORGSTORE_TEST_POSTGRES` holds a
/// connection URL (and the suite is built with the `postgres` feature). Otherwise, redb.
pub fn postgres_url() -> Option<String> {
    std::env::var("ORGSTORE_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A schema name no other test of this run uses.
pub fn fresh_schema() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    format!("t{stamp}_{}_{n}", std::process::id())
}

/// The store in `schema` of the PostgreSQL database at `url`.
#[cfg(feature = "postgres")]
pub fn on_schema(builder: orgstore::Builder, url: &str, schema: &str) -> OrgStore {
    builder
        .postgres_schema(schema)
        .postgres(url)
        .expect("PostgreSQL store")
}

#[cfg(not(feature = "postgres"))]
pub fn on_schema(_builder: orgstore::Builder, _url: &str, _schema: &str) -> OrgStore {
    panic!("ORGSTORE_TEST_POSTGRES is set: build the tests with --features postgres")
}
