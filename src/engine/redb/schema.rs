//! The redb schema: table names, their places in a write transaction, the meta keys, the
//! format version, the set-up of a new file and the upgrade of an older one. The only place
//! that knows table names.
//!
//! Format 2 (this build):
//!
//! | table | key | value |
//! |---|---|---|
//! | `orgstore/meta` | `b"format_version"`, `b"last_assigned_id"` | u32 LE; 16-byte ULID BE |
//! | `{us,eu}/orgs/v2` | id key | record bytes ([`crate::codec`]) |
//! | `{us,eu}/keys/v2` | index key: `[1]` + external id, or `[2]` + slug | id key |
//!
//! A region's two unique indexes share one table, so a write touches two tables, not three.
//! `last_assigned_id` is a floor written only by a delete that removes the newest assigned id:
//! the last assigned id is the larger of it and the newest assigned id stored (the highest
//! 26-character id key of either region), so a create does not write the meta table at all.
//!
//! Format 1 had `{us,eu}/orgs/v1`, `{us,eu}/by_external_id/v1` and `{us,eu}/by_slug/v1`
//! (value → id key) and wrote `last_assigned_id` with every transaction that created; it is
//! upgraded in place, in one transaction, when opened.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::error::StorageResultExt;
use crate::error::{Error, Result, UniqueField};
use crate::id::Region;

/// The on-disk format version this build writes and reads.
pub(crate) const FORMAT_VERSION: u32 = 2;

type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// A table of the schema: its definition and its place in a write transaction's set of open
/// tables.
#[derive(Clone, Copy)]
pub(crate) struct Tab {
    pub(crate) def: Def,
    pub(crate) slot: usize,
}

const fn tab(name: &'static str, slot: usize) -> Tab {
    Tab {
        def: TableDefinition::new(name),
        slot,
    }
}

pub(crate) const META: Tab = tab("orgstore/meta", 0);
pub(crate) const ORGS: [Tab; 2] = [tab("us/orgs/v2", 1), tab("eu/orgs/v2", 2)];
pub(crate) const KEYS: [Tab; 2] = [tab("us/keys/v2", 3), tab("eu/keys/v2", 4)];
/// How many tables the schema has.
pub(crate) const TABLES: usize = 5;

/// The tables of format 1, for the upgrade: records, then external-id and slug indexes.
const V1_ORGS: [&str; 2] = ["us/orgs/v1", "eu/orgs/v1"];
const V1_BY_EXTERNAL_ID: [&str; 2] = ["us/by_external_id/v1", "eu/by_external_id/v1"];
const V1_BY_SLUG: [&str; 2] = ["us/by_slug/v1", "eu/by_slug/v1"];

pub(crate) const META_FORMAT_VERSION: &[u8] = b"format_version";
pub(crate) const META_LAST_ID: &[u8] = b"last_assigned_id";

/// The unique fields, indexed in each region's keys table.
pub(crate) const UNIQUE: [UniqueField; 2] = [UniqueField::ExternalId, UniqueField::Slug];

/// The records of `region`.
pub(crate) fn orgs(region: Region) -> Tab {
    ORGS[region.index()]
}

/// The unique indexes of `region`.
pub(crate) fn keys(region: Region) -> Tab {
    KEYS[region.index()]
}

/// The first byte of an index key: which field it indexes.
pub(crate) fn kind(field: UniqueField) -> u8 {
    match field {
        UniqueField::ExternalId => 1,
        UniqueField::Slug => 2,
    }
}

/// The field an index key's first byte names.
pub(crate) fn field_of(kind: u8) -> Option<UniqueField> {
    match kind {
        1 => Some(UniqueField::ExternalId),
        2 => Some(UniqueField::Slug),
        _ => None,
    }
}

/// The longest value an index key holds: an external id of 255 characters of 4 bytes.
const MAX_VALUE: usize = 255 * 4;

/// An index key (`[kind]` + the value), kept on the stack (lookups make one each).
pub(crate) struct IndexKey {
    bytes: [u8; 1 + MAX_VALUE],
    len: usize,
}

impl IndexKey {
    /// The key of `value` in the index of `field`. Values come validated, so never longer than
    /// an index key holds; a longer one is cut (and then finds nothing).
    pub(crate) fn of(field: UniqueField, value: &str) -> IndexKey {
        let v = value.as_bytes();
        let n = v.len().min(MAX_VALUE);
        let mut bytes = [0u8; 1 + MAX_VALUE];
        bytes[0] = kind(field);
        bytes[1..=n].copy_from_slice(&v[..n]);
        IndexKey { bytes, len: 1 + n }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The ULID an id suffix stands for if it has the form assigned ids have (26 characters of
/// canonical, upper-case Crockford base 32); imported ids of other forms never count as
/// assigned.
pub(crate) fn assigned_form(suffix: &str) -> Option<ulid::Ulid> {
    let ulid = ulid::Ulid::from_string(suffix).ok()?;
    (ulid.to_string() == suffix).then_some(ulid)
}

/// The newest id of assigned form in a records table: the last key of 26 characters whose
/// suffix is canonical (id keys are a length byte and the suffix, and canonical suffixes sort
/// as their ULIDs do). Read by a write transaction at its first create or delete instead of
/// a stored last id, so that a create writes no meta table.
pub(crate) fn newest_assigned<T>(orgs: &T) -> Result<Option<ulid::Ulid>>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    const LEN: u8 = 26;
    let mut high = [b'Z'; 1 + LEN as usize];
    high[0] = LEN;
    high[1] = b'7';
    let low: &[u8] = &[LEN];
    for row in orgs.range::<&[u8]>(low..=&high[..]).storage()?.rev() {
        let (key, _) = row.storage()?;
        let suffix = key
            .value()
            .get(1..)
            .and_then(|s| std::str::from_utf8(s).ok());
        if let Some(ulid) = suffix.and_then(assigned_form) {
            return Ok(Some(ulid));
        }
    }
    Ok(None)
}

/// Every table, in slot order.
pub(crate) fn all() -> [Tab; TABLES] {
    [META, ORGS[0], ORGS[1], KEYS[0], KEYS[1]]
}

impl Tab {
    pub(crate) fn name(&self) -> &str {
        redb::TableHandle::name(&self.def)
    }
}

/// Checks the format version, creating every table on a new file and upgrading a file of
/// format 1 in place (in one transaction: an upgrade cut short leaves the file as it was).
pub(crate) fn init(db: &redb::Database) -> Result<()> {
    let read = db.begin_read().storage()?;
    let found = match read.open_table(META.def) {
        Ok(meta) => Some(version(meta.get(META_FORMAT_VERSION).storage()?.as_ref())?),
        Err(redb::TableError::TableDoesNotExist(_)) => None,
        Err(e) => return Err(e).storage(),
    };
    drop(read);
    if found == Some(FORMAT_VERSION) {
        return Ok(());
    }
    let w = db.begin_write().storage()?;
    // Another process may have initialised or upgraded the file meanwhile (multi-process mode).
    let existing: Vec<String> = w
        .list_tables()
        .storage()?
        .map(|t| redb::TableHandle::name(&t).to_owned())
        .collect();
    if existing.iter().any(|n| n == META.name()) {
        let found = {
            let meta = w.open_table(META.def).storage()?;
            let stored = meta.get(META_FORMAT_VERSION).storage()?;
            version(stored.as_ref())?
        };
        match found {
            FORMAT_VERSION => return Ok(()),
            1 => upgrade_from_v1(&w)?,
            found => {
                return Err(Error::UnsupportedFormat {
                    found,
                    supported: FORMAT_VERSION,
                })
            }
        }
    } else if !existing.is_empty() {
        return Err(Error::precondition(format!(
            "the file holds tables that are not OrgStore's ({})",
            existing.join(", ")
        )));
    } else {
        let mut meta = w.open_table(META.def).storage()?;
        meta.insert(META_FORMAT_VERSION, &FORMAT_VERSION.to_le_bytes()[..])
            .storage()?;
    }
    for tab in all() {
        w.open_table(tab.def).storage()?;
    }
    w.commit().storage()
}

/// The format version recorded in the meta table; a newer one than this build reads (or
/// older than format 1) is refused.
fn version(stored: Option<&redb::AccessGuard<'_, &'static [u8]>>) -> Result<u32> {
    let Some(guard) = stored else {
        return Err(Error::corrupted("format version is missing"));
    };
    let bytes: [u8; 4] = guard
        .value()
        .try_into()
        .map_err(|_| Error::corrupted("format version is malformed"))?;
    let found = u32::from_le_bytes(bytes);
    if found == FORMAT_VERSION || found == 1 {
        Ok(found)
    } else {
        Err(Error::UnsupportedFormat {
            found,
            supported: FORMAT_VERSION,
        })
    }
}

/// Rewrites a format-1 file as format 2 inside the write transaction `w`: the records are
/// copied as they are, the two indexes of each region merged into its keys table, the old
/// tables deleted, and the version set. The last assigned id stays in the meta table, where
/// it is the floor of format 2.
fn upgrade_from_v1(w: &redb::WriteTransaction) -> Result<()> {
    let def = |name: &'static str| -> Def { TableDefinition::new(name) };
    for region in Region::ALL {
        let i = region.index();
        {
            let old = w.open_table(def(V1_ORGS[i])).storage()?;
            let mut new = w.open_table(orgs(region).def).storage()?;
            for row in old.iter().storage()? {
                let (k, v) = row.storage()?;
                new.insert(k.value(), v.value()).storage()?;
            }
        }
        for (name, field) in [
            (V1_BY_EXTERNAL_ID[i], UniqueField::ExternalId),
            (V1_BY_SLUG[i], UniqueField::Slug),
        ] {
            let old = w.open_table(def(name)).storage()?;
            let mut new = w.open_table(keys(region).def).storage()?;
            for row in old.iter().storage()? {
                let (value, id_key) = row.storage()?;
                let mut key = Vec::with_capacity(1 + value.value().len());
                key.push(kind(field));
                key.extend_from_slice(value.value());
                new.insert(&key[..], id_key.value()).storage()?;
            }
        }
        for name in [V1_ORGS[i], V1_BY_EXTERNAL_ID[i], V1_BY_SLUG[i]] {
            w.delete_table(def(name)).storage()?;
        }
    }
    let mut meta = w.open_table(META.def).storage()?;
    meta.insert(META_FORMAT_VERSION, &FORMAT_VERSION.to_le_bytes()[..])
        .storage()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Format 2's index keys, byte for byte: a kind byte, then the value's bytes.
    #[test]
    fn golden_bytes_of_index_keys() {
        assert_eq!(
            IndexKey::of(UniqueField::ExternalId, "ext-é").as_slice(),
            b"\x01ext-\xc3\xa9"
        );
        assert_eq!(
            IndexKey::of(UniqueField::Slug, "acme").as_slice(),
            b"\x02acme"
        );
        for field in UNIQUE {
            assert_eq!(field_of(kind(field)), Some(field));
        }
        assert_eq!(field_of(0), None);
        assert_eq!(field_of(3), None);
        let longest = "\u{10ffff}".repeat(255);
        assert_eq!(
            IndexKey::of(UniqueField::ExternalId, &longest)
                .as_slice()
                .len(),
            1 + 1020
        );
    }

    #[test]
    fn table_names_and_slots_are_format_2s() {
        let tabs = all();
        let names: Vec<&str> = tabs.iter().map(Tab::name).collect();
        assert_eq!(
            names,
            [
                "orgstore/meta",
                "us/orgs/v2",
                "eu/orgs/v2",
                "us/keys/v2",
                "eu/keys/v2"
            ]
        );
        for (i, tab) in all().iter().enumerate() {
            assert_eq!(tab.slot, i);
        }
    }

    #[test]
    fn only_canonical_ulids_have_the_assigned_form() {
        let u = ulid::Ulid::from_parts(1_700_000_000_000, 42);
        assert_eq!(assigned_form(&u.to_string()), Some(u));
        assert_eq!(assigned_form(&u.to_string().to_lowercase()), None);
        assert_eq!(assigned_form("59615193906282635"), None);
        assert_eq!(assigned_form("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"), None);
    }

    /// The newest assigned id is found past keys of other forms that sort after it.
    #[test]
    fn the_newest_assigned_id_skips_other_forms() {
        let db = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .expect("db");
        let w = db.begin_write().expect("write");
        let older = ulid::Ulid::from_parts(1_000, 1);
        let newer = ulid::Ulid::from_parts(2_000, 1);
        {
            let mut t = w.open_table(ORGS[0].def).expect("table");
            assert_eq!(newest_assigned(&t).expect("newest"), None);
            for suffix in [
                older.to_string(),
                newer.to_string(),
                newer.to_string().to_lowercase(),
                "7ZZZZZZZZZZZZZZZZZZZZZZZZU".to_owned(),
                "z".repeat(26),
                "short".to_owned(),
                "9".repeat(27),
            ] {
                let mut key = vec![u8::try_from(suffix.len()).expect("len")];
                key.extend_from_slice(suffix.as_bytes());
                t.insert(&key[..], &b""[..]).expect("insert");
            }
            assert_eq!(newest_assigned(&t).expect("newest"), Some(newer));
        }
        w.abort().expect("abort");
    }
}
