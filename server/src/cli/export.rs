//! `orgstore export`: every organization as one JSON line, from one snapshot.
//!
//! The export reads one snapshot ([`orgstore::OrgStore::begin_read`]), so it is consistent: it holds
//! exactly the organizations committed when it began, each once, whatever is written
//! meanwhile. A long export pins that snapshot, which keeps the pages it reads from being
//! reused until it ends (the file may grow under writes meanwhile; `compact` reclaims it).
//! Organizations come oldest first (by id), each line exactly as the library serializes it, so
//! `import` of the output into an empty store and a new `export` give the same bytes.

use std::io::BufWriter;
use std::time::Instant;

use clap::Args;
use orgstore::{ErrorCode, ListRequest, Order, ReadTransaction, Readable as _, Region};
use serde::Serialize;

use super::common::{millis, note, progress, CliError, CliResult, RegionArg, StoreArgs};

/// Organizations read per page of the snapshot.
pub const PAGE_SIZE: u32 = 100;

/// Examples shown by `orgstore export --help`.
pub const EXAMPLES: &str = "Examples:
  orgstore export --db orgs.redb > orgs.jsonl
  orgstore export --region EU > eu.jsonl
  orgstore export --db old.redb | orgstore import --db new.redb -
  orgstore export --postgres \"$URL\" | orgstore import --db copy.redb -   # PostgreSQL to a file";

/// The flags of `orgstore export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The store file and how to open it.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only organizations of this region.
    #[arg(long, value_enum)]
    pub region: Option<RegionArg>,
    /// Print the summary on stderr as one JSON line.
    #[arg(long)]
    pub json: bool,
}

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// Organizations written.
    pub exported: u64,
    /// The region exported, or `null` for all.
    pub region: Option<Region>,
    /// Time taken, in milliseconds.
    pub elapsed_ms: u64,
}

/// Writes every organization of `region` (or all) in the snapshot `snap`, one JSON line
/// each, to `out`, oldest first; calls `progress` after each. Returns how many it wrote.
///
/// # Errors
///
/// Storage errors; `INTERNAL` when `out` cannot be written.
///
/// # Examples
///
/// ```
/// use orgstore::{NewOrganization, OrgStore};
/// use orgstore_server::cli::export::write_all;
///
/// let store = OrgStore::in_memory()?;
/// store.create(NewOrganization::new("Acme"))?;
/// let mut out = Vec::new();
/// assert_eq!(write_all(&store.begin_read()?, None, &mut out, |_| {}).unwrap(), 1);
/// assert!(out.ends_with(b"}\n"));
/// # Ok::<(), orgstore::Error>(())
/// ```
pub fn write_all(
    snap: &ReadTransaction,
    region: Option<Region>,
    out: &mut impl std::io::Write,
    mut progress: impl FnMut(u64),
) -> Result<u64, CliError> {
    let mut request = ListRequest::new()
        .page_size(PAGE_SIZE)
        .order(Order::OldestFirst);
    if let Some(region) = region {
        request = request.region(region);
    }
    let mut written = 0u64;
    let write_error = |e: &std::io::Error, written: u64| {
        CliError::io(
            format!("cannot write the export after {written} organizations"),
            e,
        )
    };
    let mut line = Vec::with_capacity(1024);
    loop {
        let page = snap.list(&request)?;
        for org in &page.organizations {
            line.clear();
            serde_json::to_writer(&mut line, org).map_err(|e| {
                CliError::new(
                    ErrorCode::Internal,
                    format!("cannot encode {}: {e}", org.id),
                )
            })?;
            line.push(b'\n');
            out.write_all(&line).map_err(|e| write_error(&e, written))?;
            written += 1;
            progress(written);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        request = request.page_token(page.next_page_token);
    }
    out.flush().map_err(|e| write_error(&e, written))?;
    Ok(written)
}

/// Runs `orgstore export`: the organizations on stdout, the summary on stderr.
///
/// # Errors
///
/// Storage errors, a closed stdout, and the errors of opening the store.
pub fn run(args: &ExportArgs) -> CliResult {
    let started = Instant::now();
    let store = args.store.open_existing()?;
    let region = args.region.map(Region::from);
    let snap = store.begin_read()?;
    let total = snap.count(region)?;
    let bar = progress(Some(total), false);
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let result = write_all(&snap, region, &mut out, |n| bar.set_position(n));
    bar.finish_and_clear();
    let exported = result?;
    let summary = ExportSummary {
        exported,
        region,
        elapsed_ms: millis(started.elapsed()),
    };
    if args.json {
        note(&serde_json::to_string(&summary).unwrap_or_default());
    } else {
        let scope = region.map_or_else(|| "all regions".to_owned(), |r| format!("region {r}"));
        note(&format!(
            "exported {exported} organizations ({scope}) in {} ms",
            summary.elapsed_ms
        ));
    }
    Ok(())
}
