//! `orgstore compact`: store files only (a PostgreSQL store's space is its server's to
//! reclaim, with `VACUUM`).

use clap::Args;
use serde::Serialize;

use super::common::{file_size, print_json, CliResult, StoreArgs};

/// Examples shown by `orgstore compact --help`.
pub const EXAMPLES: &str = "Examples:
  orgstore compact --db orgs.redb
  orgstore compact --db orgs.redb | jq .reclaimed_bytes
A PostgreSQL store (--postgres) is refused: its server reclaims space itself (VACUUM).";

/// The flags of `orgstore compact`.
#[derive(Debug, Args)]
pub struct CompactArgs {
    /// The store file and how to open it.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// What `compact` did, printed on stdout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CompactReport {
    /// The store file.
    pub db: String,
    /// File size before, in bytes.
    pub size_before: u64,
    /// File size after, in bytes (measured once the store is closed).
    pub size_after: u64,
    /// By how much the file shrank, in bytes.
    pub reclaimed_bytes: u64,
    /// Compaction passes that reclaimed something.
    pub passes: u64,
}

/// Runs `orgstore compact`: compacts until nothing more is reclaimed; prints the report.
///
/// # Errors
///
/// `FAILED_PRECONDITION` for a PostgreSQL store, or when the store is in use elsewhere in a
/// way that stops compaction; storage errors; the errors of opening the store.
pub fn run(args: &CompactArgs) -> CliResult {
    args.store.require_file_store(
        "compact",
        "the PostgreSQL server reclaims space itself (autovacuum, VACUUM)",
    )?;
    let size_before = file_size(&args.store.db)?;
    let mut store = args.store.open_existing()?;
    let mut passes = 0;
    while store.compact()? {
        passes += 1;
    }
    drop(store);
    let size_after = file_size(&args.store.db)?;
    print_json(&CompactReport {
        db: args.store.db.display().to_string(),
        size_before,
        size_after,
        reclaimed_bytes: size_before.saturating_sub(size_after),
        passes,
    })
}
