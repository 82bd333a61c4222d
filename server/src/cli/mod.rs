//! The `orgstore` command line: one sub-command per file in this folder.
//!
//! `serve` runs the server; the others are admin commands against a store file (`--db PATH`,
//! default `./orgstore.redb`) or a PostgreSQL store (`--postgres URL`, or `ORGSTORE_POSTGRES`,
//! with `--postgres-schema NAME`). Add `--multi-process` to share a file with a
//! `serve --multi-process` (or other processes) running meanwhile; without it, a file another
//! process holds is refused at once with a `FAILED_PRECONDITION` whose message says it is
//! "in use". A PostgreSQL store is always shared.
//!
//! Every command works on both engines but three: `compact` and `backup` are for store files
//! only (`FAILED_PRECONDITION` on PostgreSQL, whose server has its own), and `check` audits
//! only the indexes there (its `integrity` is `"not applicable"`). A store moves between
//! engines through JSON Lines, record for record:
//!
//! ```text
//! orgstore export --db orgs.redb | orgstore import --postgres "$URL" -
//! orgstore export --postgres "$URL" | orgstore import --db copy.redb -
//! ```
//!
//! # Output
//!
//! On success a command prints its result as one line of JSON on stdout: an organization
//! (`create`, `get`, `update`, and `delete`, which prints what it removed), a page exactly as
//! the library serializes it (`list`), a report (`check`, `compact`, `backup`, `stats`), or
//! one organization per line (`export`). `import` and `export` print a summary on stderr (one
//! JSON line with `--json`) and a progress bar there when stderr is a terminal.
//!
//! On failure the last line of stderr is one JSON object
//! `{"code": "NOT_FOUND", "message": "...", "violations": [...]}` (with `"line"` for an
//! import line, and `"id"` for a write whose outcome is unknown), and the exit code tells the
//! code:
//!
//! | exit | code | when |
//! |---|---|---|
//! | 0 | | success |
//! | 2 | | usage: unknown flag, missing or malformed argument (clap's message, not JSON) |
//! | 3 | `INVALID_ARGUMENT` | a field, id, page token or import line breaks a rule |
//! | 4 | `NOT_FOUND` | no organization under the key |
//! | 5 | `ALREADY_EXISTS` | the external id or slug is held by another organization |
//! | 6 | `FAILED_PRECONDITION` | the file is in use or missing; a backup destination exists; an imported id is in the other region; `compact` or `backup` on PostgreSQL |
//! | 7 | `ABORTED` | PostgreSQL: a write lost a race with a concurrent one and wrote nothing; run it again |
//! | 8 | `OUTCOME_UNKNOWN` | PostgreSQL: whether a write took effect is not known; read the organization (`"id"`) back first |
//! | 10 | `DATA_LOSS` | the file is damaged; `check` found a problem |
//! | 11 | `INTERNAL` | storage or I/O failure, including writing the output; a PostgreSQL server out of reach |

pub mod backup;
pub mod check;
pub mod common;
pub mod compact;
pub mod create;
pub mod delete;
pub mod export;
pub mod get;
pub mod import;
pub mod list;
pub mod serve;
pub mod stats;
pub mod update;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use self::common::finish;

/// Exit codes, as shown by `orgstore --help`.
const EXIT_CODES: &str =
    "Admin commands print JSON on stdout. On failure the last line of stderr is
{\"code\", \"message\", \"violations\"} and the exit code is:
  2  usage error                        3  INVALID_ARGUMENT
  4  NOT_FOUND                          5  ALREADY_EXISTS
  6  FAILED_PRECONDITION (file in use or missing, backup destination exists,
     compact or backup on PostgreSQL)
  7  ABORTED (PostgreSQL: lost a race with a concurrent write, nothing written; run again)
  8  OUTCOME_UNKNOWN (PostgreSQL: the write may or may not have taken effect; read back \"id\")
  10 DATA_LOSS (damaged file, check found a problem)
  11 INTERNAL (storage or I/O failure, PostgreSQL out of reach)
Every command takes --db FILE or --postgres URL (env ORGSTORE_POSTGRES) [--postgres-schema NAME];
compact and backup are for files only, and check audits only the indexes on PostgreSQL.";

/// `orgstore`: OrgStore's server and tools.
#[derive(Debug, Parser)]
#[command(
    name = "orgstore",
    version,
    about = "OrgStore: a Scalekit organization store and server, on a file or on PostgreSQL",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve Scalekit's organization API (gRPC and REST) over a store file or a PostgreSQL
    /// store (--postgres URL).
    #[command(after_help = serve::EXAMPLES)]
    Serve(serve::ServeArgs),
    /// Create an organization and print it.
    ///
    /// The store file is created if missing. Every rule is checked before anything is
    /// written; all broken rules are reported at once.
    #[command(after_help = create::EXAMPLES)]
    Create(create::CreateArgs),
    /// Print one organization, by id, external id or slug.
    #[command(after_help = get::EXAMPLES)]
    Get(get::GetArgs),
    /// Print one page of organizations, as the API's list call returns it.
    ///
    /// Follow `next_page_token` with `--page-token` (same region, order and external id)
    /// to read the next page; it is empty on the last page.
    #[command(after_help = list::EXAMPLES)]
    List(list::ListArgs),
    /// Change fields of one organization and print the result.
    ///
    /// Address it by id or `--external-id`; fields not named stay as they are. An update
    /// that changes nothing writes nothing.
    #[command(after_help = update::EXAMPLES)]
    Update(update::UpdateArgs),
    /// Delete one organization and print what was removed.
    #[command(after_help = delete::EXAMPLES)]
    Delete(delete::DeleteArgs),
    /// Import organizations from a JSON Lines file (one complete organization per line).
    ///
    /// Lines are read one at a time and written in batches, one transaction each. A bad line
    /// stops the import: its whole batch is rolled back, earlier batches stay, and the error
    /// names the line. Re-running the file after a fix is safe: lines already imported count
    /// as unchanged. --dry-run checks every line and writes nothing. A progress bar is shown
    /// when stderr is a terminal; a summary is printed on stderr at the end.
    #[command(after_help = import::EXAMPLES)]
    Import(import::ImportArgs),
    /// Write every organization to stdout, one JSON line each, oldest first.
    ///
    /// The export reads one snapshot: it is consistent whatever is written meanwhile, and a
    /// long export keeps that snapshot's pages from being reused until it ends. Importing the
    /// output into an empty store gives the same records, byte for byte.
    #[command(after_help = export::EXAMPLES)]
    Export(export::ExportArgs),
    /// Verify every checksum of the file and that the indexes agree with the records.
    ///
    /// Prints a JSON report; exits with 10 (DATA_LOSS) when it lists a problem. Damage that
    /// can be repaired is repaired (and still reported). On a PostgreSQL store only the
    /// indexes are audited: its files are its server's to check.
    #[command(after_help = check::EXAMPLES)]
    Check(check::CheckArgs),
    /// Reclaim free space inside the store file; prints the sizes before and after.
    ///
    /// Store files only: on PostgreSQL the server reclaims space itself (VACUUM).
    #[command(after_help = compact::EXAMPLES)]
    Compact(compact::CompactArgs),
    /// Write a consistent, verified copy of the store to a new file, while it stays in use.
    ///
    /// Store files only: back a PostgreSQL store up with its server's tools (pg_dump), or
    /// copy its organizations with `export`.
    #[command(after_help = backup::EXAMPLES)]
    Backup(backup::BackupArgs),
    /// Print organization counts (in all, per region), the file size and the space left
    /// (the sizes are null for a PostgreSQL store).
    #[command(after_help = stats::EXAMPLES)]
    Stats(stats::StatsArgs),
}

/// Runs the command line; the exit code is 0 on success (see the module docs for the rest).
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => serve::run(&args),
        Command::Create(args) => finish(create::run(&args)),
        Command::Get(args) => finish(get::run(&args)),
        Command::List(args) => finish(list::run(&args)),
        Command::Update(args) => finish(update::run(&args)),
        Command::Delete(args) => finish(delete::run(&args)),
        Command::Import(args) => finish(import::run(&args)),
        Command::Export(args) => finish(export::run(&args)),
        Command::Check(args) => finish(check::run(&args)),
        Command::Compact(args) => finish(compact::run(&args)),
        Command::Backup(args) => finish(backup::run(&args)),
        Command::Stats(args) => finish(stats::run(&args)),
    }
}
