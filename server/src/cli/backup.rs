//! `orgstore backup`: store files only (a PostgreSQL store is backed up by its server's own
//! means, e.g. `pg_dump` or base backups; `export` writes its organizations as JSON Lines).

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::common::{file_size, print_json, CliResult, StoreArgs};

/// Examples shown by `orgstore backup --help`.
pub const EXAMPLES: &str = "Examples:
  orgstore backup --db orgs.redb backups/orgs-$(date +%F).redb
  orgstore backup --db orgs.redb --multi-process /tmp/copy.redb   # beside a running server
A PostgreSQL store (--postgres) is refused: back it up with the server's own tools (pg_dump,
base backups), or copy its organizations with `orgstore export --postgres URL > orgs.jsonl`.";

/// The flags of `orgstore backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The store file and how to open it.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The new store file to write; must not exist.
    pub dest: PathBuf,
}

/// What `backup` wrote, printed on stdout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BackupReport {
    /// The store file copied.
    pub db: String,
    /// The copy.
    pub backup: String,
    /// Organizations in the copy.
    pub organizations: u64,
    /// Size of the copy, in bytes.
    pub size: u64,
}

/// Runs `orgstore backup`: a consistent, verified copy of the store as of now.
///
/// # Errors
///
/// `FAILED_PRECONDITION` for a PostgreSQL store, or when `DEST` exists; `DATA_LOSS` if the
/// copy does not verify; storage errors; the errors of opening the store.
pub fn run(args: &BackupArgs) -> CliResult {
    args.store.require_file_store(
        "backup",
        "back it up with the server's own tools (pg_dump, base backups), or copy its \
         organizations with `orgstore export --postgres URL > orgs.jsonl`",
    )?;
    let store = args.store.open_existing()?;
    let organizations = store.backup_to(&args.dest)?;
    drop(store);
    print_json(&BackupReport {
        db: args.store.db.display().to_string(),
        backup: args.dest.display().to_string(),
        organizations,
        size: file_size(&args.dest)?,
    })
}
