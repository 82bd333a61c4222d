//! `orgstore stats`.

use std::collections::BTreeMap;
use std::path::Path;

use clap::Args;
use orgstore::{Readable as _, Region};
use serde::Serialize;

use super::common::{print_json, CliResult, StoreArgs};

/// Examples shown by `orgstore stats --help`.
pub const EXAMPLES: &str = "Examples:
  orgstore stats --db orgs.redb
  orgstore stats --db orgs.redb --multi-process | jq .organizations.by_region.EU
  orgstore stats --postgres \"$URL\" --postgres-schema tenants   # file_size is null there";

/// The flags of `orgstore stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The store file and how to open it.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Organization counts, from one snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// All organizations.
    pub total: u64,
    /// Per region code (`US`, `EU`).
    pub by_region: BTreeMap<&'static str, u64>,
}

/// What `stats` prints on stdout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatsReport {
    /// The store file, or the PostgreSQL store (without its password).
    pub db: String,
    /// `"redb"` (a store file) or `"postgres"`.
    pub engine: &'static str,
    /// The file's size, in bytes (free pages inside it included), measured once the store is
    /// closed again, so it is the size the file keeps at rest; `null` for a PostgreSQL store.
    pub file_size: Option<u64>,
    /// Bytes still available to this user on the file system holding the store file (`null`
    /// where it cannot be told, and for a PostgreSQL store).
    pub filesystem_available: Option<u64>,
    /// Organization counts.
    pub organizations: Counts,
}

/// Bytes available to this user on the file system holding `path`.
#[cfg(unix)]
fn available(path: &Path) -> Option<u64> {
    let vfs = rustix::fs::statvfs(path).ok()?;
    vfs.f_bavail.checked_mul(vfs.f_frsize)
}

#[cfg(not(unix))]
fn available(_path: &Path) -> Option<u64> {
    None
}

/// Runs `orgstore stats`.
///
/// # Errors
///
/// Storage errors; the errors of opening the store.
pub fn run(args: &StatsArgs) -> CliResult {
    let store = args.store.open_existing()?;
    let snap = store.begin_read()?;
    let total = snap.count(None)?;
    let mut by_region = BTreeMap::new();
    for region in Region::ALL {
        by_region.insert(region.as_str(), snap.count(Some(region))?);
    }
    drop(snap);
    // Closing writes the allocator state and may move the file's end: measure the file as it
    // rests, not as it was while open.
    drop(store);
    let on_file = args.store.postgres.is_none();
    print_json(&StatsReport {
        db: args.store.name(),
        engine: if on_file { "redb" } else { "postgres" },
        file_size: args.store.file_size()?,
        filesystem_available: if on_file {
            available(&args.store.db)
        } else {
            None
        },
        organizations: Counts { total, by_region },
    })
}
