//! `orgstore compact`.

use clap::Args;
use serde::Serialize;

use super::common::{print_json, CliResult, StoreArgs};

/// Examples shown by `orgstore compact --help`.
pub const EXAMPLES: &str = "Examples:
  orgstore compact --db orgs.redb
  orgstore compact --db orgs.redb | jq .reclaimed_bytes";

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
/// `FAILED_PRECONDITION` when the store is in use elsewhere in a way that stops compaction;
/// storage errors; the errors of opening the store.
pub fn run(args: &CompactArgs) -> CliResult {
    let size_before = args.store.file_size()?;
    let mut store = args.store.open_existing()?;
    let mut passes = 0;
    while store.compact()? {
        passes += 1;
    }
    drop(store);
    let size_after = args.store.file_size()?;
    print_json(&CompactReport {
        db: args.store.db.display().to_string(),
        size_before,
        size_after,
        reclaimed_bytes: size_before.saturating_sub(size_after),
        passes,
    })
}
