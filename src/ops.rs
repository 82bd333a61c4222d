//! The operations, written once for every engine: what a create, update, delete, import,
//! lookup or listing means, on top of an engine's storage steps ([`Read`], [`Write`]).
//!
//! Everything here is a domain rule: validation before any step, uniqueness reported as
//! [`Error::AlreadyExists`], the choice of assigned ids, resolution by external id, time
//! normalization, which rows a page holds. No engine is named.

use time::OffsetDateTime;

use crate::engine::{Conflict, Read, Write};
use crate::error::{Error, LookupKey, Result, UniqueField};
use crate::id::{next_ulid, OrgId, Region};
use crate::list::{self, Cursor, Fetched, ListRequest, Page, Scan};
use crate::model::Organization;
use crate::request::{NewOrganization, OrganizationUpdate};
use crate::validate;

/// What a write needs besides its input: the time and the default region.
pub(crate) struct WriteContext {
    pub now: OffsetDateTime,
    pub default_region: Region,
}

/// The regions a request covers.
pub(crate) fn regions(region: Option<Region>) -> &'static [Region] {
    match region {
        Some(Region::Us) => &[Region::Us],
        Some(Region::Eu) => &[Region::Eu],
        None => &Region::ALL,
    }
}

// ---------------------------------------------------------------------------------------------
// Reads

pub(crate) fn get(r: &impl Read, id: &OrgId) -> Result<Option<Organization>> {
    r.get(id)
}

pub(crate) fn get_by_external_id(r: &impl Read, external_id: &str) -> Result<Option<Organization>> {
    validate::lookup_external_id(external_id)?;
    r.find(UniqueField::ExternalId, external_id)
}

pub(crate) fn get_by_slug(r: &impl Read, slug: &str) -> Result<Option<Organization>> {
    validate::lookup_slug(slug)?;
    r.find(UniqueField::Slug, slug)
}

pub(crate) fn count(r: &impl Read, region: Option<Region>) -> Result<u64> {
    r.count(regions(region))
}

/// One page of a listing, read from one snapshot.
pub(crate) fn list(r: &impl Read, request: &ListRequest) -> Result<Page> {
    let cursor = list::decode_token(request)?;
    let within = regions(request.region);
    let forward = cursor.as_ref().is_none_or(|c| c.forward);
    let scan = request.order.scan(forward);
    let (fetched, total) = match &request.external_id {
        Some(external_id) => filtered(r, external_id, within, cursor.as_ref(), scan)?,
        None => r.page(within, cursor.as_ref(), scan, request.effective_page_size())?,
    };
    Ok(list::assemble(request, cursor.as_ref(), fetched, total))
}

/// The 0 or 1 organization matching an external-id filter, placed relative to the cursor.
fn filtered(
    r: &impl Read,
    external_id: &str,
    within: &[Region],
    cursor: Option<&Cursor>,
    scan: Scan,
) -> Result<(Fetched, u64)> {
    validate::lookup_external_id(external_id)?;
    let hit = r
        .find(UniqueField::ExternalId, external_id)?
        .filter(|org| within.contains(&org.region_code));
    let total = u64::from(hit.is_some());
    let (rows, any_behind) = match (hit, cursor) {
        (Some(org), Some(c))
            if !(beyond(&org.id, &c.id, scan) || c.inclusive && org.id == c.id) =>
        {
            (vec![], true)
        }
        (Some(org), _) => (vec![org], false),
        (None, _) => (vec![], false),
    };
    let fetched = Fetched {
        rows,
        more_ahead: false,
        any_behind,
    };
    Ok((fetched, total))
}

/// Whether `id` lies strictly beyond `cursor` when scanning in `scan` direction.
fn beyond(id: &OrgId, cursor: &OrgId, scan: Scan) -> bool {
    match scan {
        Scan::Ascending => id > cursor,
        Scan::Descending => id < cursor,
    }
}

// ---------------------------------------------------------------------------------------------
// Writes

/// The error of a write refused for a key another record holds.
fn already_exists(conflict: Conflict, id: &OrgId) -> Error {
    match conflict {
        Conflict::Unique {
            field,
            value,
            holder,
        } => Error::AlreadyExists {
            field,
            value,
            holder,
        },
        // A record with this id appeared between the lookup and the write: only a store with
        // concurrent writers sees it, and a retry finds the record.
        Conflict::Id => Error::Aborted {
            message: format!("organization {id} was written concurrently; retry"),
        },
    }
}

/// Creates an organization: validates, assigns id and timestamps, writes it with its index
/// entries. The assigned id is strictly greater than every id assigned before (as the engine
/// keeps that record) and held by no record; a refused create leaves no trace.
pub(crate) fn create(
    w: &impl Write,
    new: NewOrganization,
    cx: &WriteContext,
) -> Result<Organization> {
    let mut org = prepare_create(w, new, cx)?;
    insert_created(w, &mut org)?;
    Ok(org)
}

/// The record a create writes: validated, with its id drawn and its timestamps set, so that a
/// retried create writes exactly the same record.
pub(crate) fn prepare_create(
    w: &impl Write,
    new: NewOrganization,
    cx: &WriteContext,
) -> Result<Organization> {
    new.validate()?;
    let now_ms = millis(cx.now);
    let ulid = w
        .next_id(&|last| next_ulid(last, now_ms))?
        .ok_or_else(exhausted)?;
    Ok(new.into_record(OrgId::from_ulid(ulid), cx.default_region, cx.now))
}

/// Writes a record made by [`prepare_create`]. Should a record already hold its id: if it is
/// this very record (an earlier attempt of the same create did land), that is success; if it
/// is another (an imported record with that id, vanishingly rare), a new id is drawn.
pub(crate) fn insert_created(w: &impl Write, org: &mut Organization) -> Result<()> {
    let now_ms = millis(org.create_time);
    w.atomically(|w| loop {
        let ulid = ulid::Ulid::from_string(org.id.suffix()).ok();
        match w.insert(org)? {
            None => {
                if let Some(ulid) = ulid {
                    w.assigned(ulid)?;
                }
                return Ok(());
            }
            Some(Conflict::Id) => {
                if w.get(&org.id)?.as_ref() == Some(&*org) {
                    return Ok(());
                }
                let next = next_ulid(ulid, now_ms).ok_or_else(exhausted)?;
                org.id = OrgId::from_ulid(next);
            }
            Some(conflict) => return Err(already_exists(conflict, &org.id)),
        }
    })
}

fn millis(t: OffsetDateTime) -> u64 {
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

fn exhausted() -> Error {
    Error::precondition("the id space is exhausted")
}

/// Resolves an update or delete target.
pub(crate) enum Target<'a> {
    Id(&'a OrgId),
    ExternalId(&'a str),
}

fn resolve(r: &impl Read, target: &Target<'_>) -> Result<Organization> {
    let (found, key) = match target {
        Target::Id(id) => (r.get(id)?, LookupKey::Id((*id).clone())),
        Target::ExternalId(e) => (
            get_by_external_id(r, e)?,
            LookupKey::ExternalId((*e).to_owned()),
        ),
    };
    found.ok_or(Error::NotFound { key })
}

/// Applies a partial update; an update that changes nothing writes nothing.
pub(crate) fn update(
    w: &impl Write,
    target: &Target<'_>,
    change: OrganizationUpdate,
    cx: &WriteContext,
) -> Result<Organization> {
    w.atomically(|w| {
        let current = resolve(w, target)?;
        let Some(next) = change.apply(&current, cx.now)? else {
            return Ok(current);
        };
        match w.replace(&current, &next)? {
            None => Ok(next),
            Some(conflict) => Err(already_exists(conflict, &next.id)),
        }
    })
}

/// Deletes the target and its index entries; returns what was removed.
pub(crate) fn delete(w: &impl Write, target: &Target<'_>) -> Result<Organization> {
    w.atomically(|w| {
        let current = resolve(w, target)?;
        w.remove(&current)?;
        Ok(current)
    })
}

/// Inserts or replaces a complete record, keeping its id and timestamps (to microseconds).
/// Importing the record that is already stored writes nothing.
pub(crate) fn import(w: &impl Write, org: Organization) -> Result<Organization> {
    let org = validate::imported(org)?;
    w.atomically(|w| {
        let existing = w.get(&org.id)?;
        let conflict = match &existing {
            Some(old) if old.region_code != org.region_code => {
                return Err(Error::precondition(format!(
                    "organization {} lives in region {}; a region cannot change",
                    org.id, old.region_code
                )));
            }
            // The same record again (a repeated mirror or seed): nothing to write.
            Some(old) if *old == org => None,
            Some(old) => w.replace(old, &org)?,
            None => w.insert(&org)?,
        };
        match conflict {
            None => Ok(org),
            Some(conflict) => Err(already_exists(conflict, &org.id)),
        }
    })
}
