//! Reads: one code path for read and write transactions (the [`Tables`] trait), and the
//! engine's [`Read`] steps on top of it.

use std::ops::Bound;

use redb::{ReadableTable, ReadableTableMetadata};

use super::error::StorageResultExt;
use super::schema::{self, IndexKey, Tab, UNIQUE};
use crate::codec;
use crate::codec::{decode_id_key, IdKey};
use crate::engine::Read;
use crate::error::{Error, Result, UniqueField};
use crate::id::{OrgId, Region};
use crate::list::{Cursor, Fetched, Scan};
use crate::model::Organization;

/// Tables to read, in either kind of transaction.
pub(crate) trait Tables {
    /// The table type of the transaction.
    type Inner: ReadableTable<&'static [u8], &'static [u8]>;
    /// What [`table`](Tables::table) hands out: the table itself or a borrow of it.
    type Table<'a>: std::ops::Deref<Target = Self::Inner>
    where
        Self: 'a;
    fn table(&self, tab: Tab) -> Result<Self::Table<'_>>;
}

/// A table owned by the caller (a read transaction's tables are independent values).
pub(crate) struct Owned<T>(T);

impl<T> std::ops::Deref for Owned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl Tables for redb::ReadTransaction {
    type Inner = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;
    type Table<'a> = Owned<Self::Inner>;
    fn table(&self, tab: Tab) -> Result<Self::Table<'_>> {
        self.open_table(tab.def).storage().map(Owned)
    }
}

/// The engine's read steps, for any [`Tables`].
macro_rules! impl_read {
    ($($ty:ty),*) => {$(
        impl Read for $ty {
            fn get(&self, id: &OrgId) -> Result<Option<Organization>> {
                get(self, id)
            }
            fn find(&self, field: UniqueField, value: &str) -> Result<Option<Organization>> {
                find(self, field, value)
            }
            fn count(&self, regions: &[Region]) -> Result<u64> {
                count(self, regions)
            }
            fn page(
                &self,
                regions: &[Region],
                cursor: Option<&Cursor>,
                scan: Scan,
                limit: usize,
            ) -> Result<(Fetched, u64)> {
                fetch_range(self, regions, cursor, scan, limit)
            }
            fn audit(&self) -> Result<u64> {
                check_indexes(self)
            }
        }
    )*};
}

impl_read!(redb::ReadTransaction, super::writer::W<'_, '_>);

/// The unique value of `field` a record holds, if any.
pub(crate) fn value(field: UniqueField, org: &Organization) -> Option<&str> {
    match field {
        UniqueField::ExternalId => org.external_id.as_deref(),
        UniqueField::Slug => org.slug.as_deref(),
    }
}

/// The record with this id key in `region`, if any.
fn load<T: Tables>(t: &T, region: Region, id: OrgId, key: &[u8]) -> Result<Option<Organization>> {
    let orgs = t.table(schema::orgs(region))?;
    let value = orgs.get(key).storage()?;
    value
        .map(|v| codec::decode(id, region, v.value()))
        .transpose()
}

/// Finds an organization by id in any region.
pub(crate) fn get<T: Tables>(t: &T, id: &OrgId) -> Result<Option<Organization>> {
    let key = IdKey::of(id);
    for region in Region::ALL {
        let orgs = t.table(schema::orgs(region))?;
        let value = orgs.get(key.as_slice()).storage()?;
        if let Some(v) = value {
            return codec::decode(id.clone(), region, v.value()).map(Some);
        }
    }
    Ok(None)
}

/// Whether any region holds a record with this id key.
pub(crate) fn exists<T: Tables>(t: &T, key: &[u8]) -> Result<bool> {
    for region in Region::ALL {
        if t.table(schema::orgs(region))?.get(key).storage()?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Finds the holder of a unique value in any region.
pub(crate) fn find<T: Tables>(t: &T, field: UniqueField, v: &str) -> Result<Option<Organization>> {
    for region in Region::ALL {
        let key = {
            let table = t.table(schema::keys(region))?;
            let hit = table.get(IndexKey::of(field, v).as_slice()).storage()?;
            match hit {
                Some(k) => IdKey::stored(k.value())?,
                None => continue,
            }
        };
        let id = decode_id_key(&key)?;
        return match load(t, region, id, &key)? {
            Some(org) if value(field, &org) == Some(v) => Ok(Some(org)),
            _ => Err(Error::corrupted(format!(
                "index {} entry {field} {v:?} points at {}, which does not hold it",
                schema::keys(region).name(),
                decode_id_key(&key)?
            ))),
        };
    }
    Ok(None)
}

pub(crate) fn count<T: Tables>(t: &T, regions: &[Region]) -> Result<u64> {
    let mut n = 0;
    for &r in regions {
        n += t.table(schema::orgs(r))?.len().storage()?;
    }
    Ok(n)
}

type Row<'a> = (
    redb::AccessGuard<'a, &'static [u8]>,
    redb::AccessGuard<'a, &'static [u8]>,
);
type RowIter<'a> = Box<dyn Iterator<Item = std::result::Result<Row<'a>, redb::StorageError>> + 'a>;

/// The key range beyond `from` in scan direction.
fn bounds(from: Bound<&[u8]>, scan: Scan) -> (Bound<&[u8]>, Bound<&[u8]>) {
    match scan {
        Scan::Ascending => (from, Bound::Unbounded),
        Scan::Descending => (Bound::Unbounded, from),
    }
}

/// Decodes up to `limit` rows of `region` into `rows`; whether more follow.
fn take_rows<'a>(
    iter: impl Iterator<Item = std::result::Result<Row<'a>, redb::StorageError>>,
    region: Region,
    limit: usize,
    rows: &mut Vec<Organization>,
) -> Result<bool> {
    for item in iter {
        if rows.len() == limit {
            return Ok(true);
        }
        let (k, v) = item.storage()?;
        rows.push(codec::decode(decode_id_key(k.value())?, region, v.value())?);
    }
    Ok(false)
}

fn range<'a, T>(table: &'a T, from: Bound<&'a [u8]>, scan: Scan) -> Result<RowIter<'a>>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let r = table.range::<&[u8]>(bounds(from, scan)).storage()?;
    Ok(match scan {
        Scan::Ascending => Box::new(r),
        Scan::Descending => Box::new(r.rev()),
    })
}

/// Up to `limit` rows beyond the cursor, merged across `regions` in scan order.
fn fetch_range<T: Tables>(
    t: &T,
    regions: &[Region],
    cursor: Option<&Cursor>,
    scan: Scan,
    limit: usize,
) -> Result<(Fetched, u64)> {
    let cursor_key = cursor.map(|c| (IdKey::of(&c.id), c.inclusive));
    let (from, behind) = match &cursor_key {
        None => (Bound::Unbounded, None),
        // Behind the cursor is what the scan does not cover.
        Some((key, true)) => (Bound::Included(&key[..]), Some(Bound::Excluded(&key[..]))),
        Some((key, false)) => (Bound::Excluded(&key[..]), Some(Bound::Included(&key[..]))),
    };
    let tables = regions
        .iter()
        .map(|r| Ok((*r, t.table(schema::orgs(*r))?)))
        .collect::<Result<Vec<_>>>()?;
    let mut rows = Vec::with_capacity(limit);
    let more_ahead = if let [(region, table)] = tables.as_slice() {
        // One region: a straight scan.
        let r = table.range::<&[u8]>(bounds(from, scan)).storage()?;
        match scan {
            Scan::Ascending => take_rows(r, *region, limit, &mut rows)?,
            Scan::Descending => take_rows(r.rev(), *region, limit, &mut rows)?,
        }
    } else {
        // All regions: merge the per-region scans in id order.
        let mut iters = Vec::with_capacity(tables.len());
        for (region, table) in &tables {
            iters.push((*region, range(&**table, from, scan)?.peekable()));
        }
        loop {
            let Some(i) = next_source(&mut iters, scan) else {
                break false;
            };
            if rows.len() == limit {
                break true;
            }
            let (region, it) = &mut iters[i];
            let Some(item) = it.next() else { break false };
            let (k, v) = item.storage()?;
            let id = decode_id_key(k.value())?;
            rows.push(codec::decode(id, *region, v.value())?);
        }
    };
    let mut any_behind = false;
    if let Some(behind) = behind {
        let back = match scan {
            Scan::Ascending => Scan::Descending,
            Scan::Descending => Scan::Ascending,
        };
        for (_, table) in &tables {
            if range(&**table, behind, back)?
                .next()
                .transpose()
                .storage()?
                .is_some()
            {
                any_behind = true;
                break;
            }
        }
    }
    // Counted on the tables already open (a write transaction cannot open a table twice).
    let mut total = 0;
    for (_, table) in &tables {
        total += table.len().storage()?;
    }
    let fetched = Fetched {
        rows,
        more_ahead,
        any_behind,
    };
    Ok((fetched, total))
}

/// The index of the source whose next key comes first in scan order (an error comes first, so
/// it surfaces), or `None` when all are exhausted.
fn next_source(
    iters: &mut [(Region, std::iter::Peekable<RowIter<'_>>)],
    scan: Scan,
) -> Option<usize> {
    let mut best: Option<(usize, &[u8])> = None;
    for (i, (_, it)) in iters.iter_mut().enumerate() {
        match it.peek() {
            None => {}
            Some(Err(_)) => return Some(i),
            Some(Ok((k, _))) => {
                let k = k.value();
                let better = best.is_none_or(|(_, b)| match scan {
                    Scan::Ascending => k < b,
                    Scan::Descending => k > b,
                });
                if better {
                    best = Some((i, k));
                }
            }
        }
    }
    best.map(|(i, _)| i)
}

/// Walks every record and index entry and checks that they agree: each record's unique values
/// are indexed in its region and point back at it; each index entry points at a live record
/// holding that value; no id or unique value appears in two regions. Returns the record count.
pub(crate) fn check_indexes<T: Tables>(t: &T) -> Result<u64> {
    let mut seen_ids = std::collections::HashSet::new();
    let mut seen_values: [std::collections::HashSet<Vec<u8>>; 2] = Default::default();
    let mut records = 0;
    for region in Region::ALL {
        let orgs = t.table(schema::orgs(region))?;
        let mut expected = [0u64; 2];
        for item in orgs.iter().storage()? {
            let (k, v) = item.storage()?;
            let id = decode_id_key(k.value())?;
            let org = codec::decode(id.clone(), region, v.value())?;
            if !seen_ids.insert(id.clone()) {
                return Err(Error::corrupted(format!(
                    "id {id} is stored in two regions"
                )));
            }
            records += 1;
            for (i, field) in UNIQUE.into_iter().enumerate() {
                let Some(held) = value(field, &org) else {
                    continue;
                };
                expected[i] += 1;
                let table = t.table(schema::keys(region))?;
                let entry = table.get(IndexKey::of(field, held).as_slice()).storage()?;
                if entry.as_ref().map(redb::AccessGuard::value) != Some(k.value()) {
                    return Err(Error::corrupted(format!(
                        "{id} holds {field} {held:?} but the index does not point at it"
                    )));
                }
            }
        }
        let table = t.table(schema::keys(region))?;
        let mut found = [0u64; 2];
        for item in table.iter().storage()? {
            let (indexed, _) = item.storage()?;
            let indexed = indexed.value();
            let Some((i, field)) = indexed
                .first()
                .and_then(|&k| schema::field_of(k))
                .and_then(|f| UNIQUE.into_iter().enumerate().find(|(_, u)| *u == f))
            else {
                return Err(Error::corrupted(format!(
                    "index {} holds a key of no known kind: {indexed:02x?}",
                    schema::keys(region).name()
                )));
            };
            found[i] += 1;
            if !seen_values[i].insert(indexed[1..].to_vec()) {
                return Err(Error::corrupted(format!(
                    "{field} {:?} is indexed in two regions",
                    String::from_utf8_lossy(&indexed[1..])
                )));
            }
        }
        for (i, field) in UNIQUE.into_iter().enumerate() {
            if found[i] != expected[i] {
                return Err(Error::corrupted(format!(
                    "index {} has {} {field} entries for {} holders",
                    schema::keys(region).name(),
                    found[i],
                    expected[i]
                )));
            }
        }
    }
    Ok(records)
}
