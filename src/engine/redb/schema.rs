//! The redb schema: table names, their places in a write transaction, the meta keys, the
//! format version, and the set-up of a new file. The only place that knows table names.
//!
//! | table | key | value |
//! |---|---|---|
//! | `orgstore/meta` | `b"format_version"`, `b"last_assigned_id"` | u32 LE; 16-byte ULID BE |
//! | `{us,eu}/orgs/v1` | id key | record bytes ([`crate::codec`]) |
//! | `{us,eu}/by_external_id/v1` | external id, UTF-8 | id key |
//! | `{us,eu}/by_slug/v1` | slug, ASCII | id key |

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::error::StorageResultExt;
use crate::error::{Error, Result, UniqueField};
use crate::id::Region;

/// The on-disk format version this build writes and reads.
pub(crate) const FORMAT_VERSION: u32 = 1;

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
pub(crate) const ORGS: [Tab; 2] = [tab("us/orgs/v1", 1), tab("eu/orgs/v1", 2)];
const BY_EXTERNAL_ID: [Tab; 2] = [
    tab("us/by_external_id/v1", 3),
    tab("eu/by_external_id/v1", 4),
];
const BY_SLUG: [Tab; 2] = [tab("us/by_slug/v1", 5), tab("eu/by_slug/v1", 6)];
/// How many tables the schema has.
pub(crate) const TABLES: usize = 7;

pub(crate) const META_FORMAT_VERSION: &[u8] = b"format_version";
pub(crate) const META_LAST_ID: &[u8] = b"last_assigned_id";

/// The unique fields, each with an index table per region.
pub(crate) const UNIQUE: [UniqueField; 2] = [UniqueField::ExternalId, UniqueField::Slug];

/// The records of `region`.
pub(crate) fn orgs(region: Region) -> Tab {
    ORGS[region.index()]
}

/// The index of `field` in `region`.
pub(crate) fn index(field: UniqueField, region: Region) -> Tab {
    match field {
        UniqueField::ExternalId => BY_EXTERNAL_ID[region.index()],
        UniqueField::Slug => BY_SLUG[region.index()],
    }
}

/// Every table, in slot order.
pub(crate) fn all() -> [Tab; TABLES] {
    [
        META,
        ORGS[0],
        ORGS[1],
        BY_EXTERNAL_ID[0],
        BY_EXTERNAL_ID[1],
        BY_SLUG[0],
        BY_SLUG[1],
    ]
}

impl Tab {
    pub(crate) fn name(&self) -> &str {
        redb::TableHandle::name(&self.def)
    }
}

/// Checks the format version, creating every table on a new file.
pub(crate) fn init(db: &redb::Database) -> Result<()> {
    let read = db.begin_read().storage()?;
    let ready = match read.open_table(META.def) {
        Ok(meta) => {
            check_version(meta.get(META_FORMAT_VERSION).storage()?.as_ref())?;
            true
        }
        Err(redb::TableError::TableDoesNotExist(_)) => false,
        Err(e) => return Err(e).storage(),
    };
    drop(read);
    if ready {
        return Ok(());
    }
    let w = db.begin_write().storage()?;
    // Another process may have initialised the file meanwhile (multi-process mode).
    let existing: Vec<String> = w
        .list_tables()
        .storage()?
        .map(|t| redb::TableHandle::name(&t).to_owned())
        .collect();
    if existing.iter().any(|n| n == META.name()) {
        let meta = w.open_table(META.def).storage()?;
        check_version(meta.get(META_FORMAT_VERSION).storage()?.as_ref())?;
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

fn check_version(stored: Option<&redb::AccessGuard<'_, &'static [u8]>>) -> Result<()> {
    let Some(guard) = stored else {
        return Err(Error::corrupted("format version is missing"));
    };
    let bytes: [u8; 4] = guard
        .value()
        .try_into()
        .map_err(|_| Error::corrupted("format version is malformed"))?;
    let found = u32::from_le_bytes(bytes);
    if found == FORMAT_VERSION {
        Ok(())
    } else {
        Err(Error::UnsupportedFormat {
            found,
            supported: FORMAT_VERSION,
        })
    }
}
