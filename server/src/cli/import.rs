//! `orgstore import`: JSON Lines in, one organization per line, in batched transactions.
//!
//! # The rules
//!
//! - Each non-blank line is one complete organization in the library's JSON form (what
//!   `export` and `get` print): `id`, `create_time`, `update_time`, `display_name` and
//!   `region_code` are required, and a field the form does not have is refused. It is
//!   imported with [`WriteTransaction::import`]: inserted, or replacing the record with its
//!   id, keeping its id and timestamps. A line equal to the stored record is counted as
//!   unchanged and not written. Blank lines are skipped. A later line with the id of an
//!   earlier one replaces it.
//! - The input is read line by line (at most [`MAX_LINE_BYTES`] a line), never whole.
//! - Lines are written in batches of `--batch` good lines (default 1000), one transaction
//!   each; a batch is the only part of the input held in memory.
//! - **A bad line stops the import.** A bad line is one that is not UTF-8, not JSON, not an
//!   organization, or a record the store refuses (a broken rule, an external id or slug held
//!   by another organization, an id living in the other region). Its batch is rolled back
//!   whole: nothing of it is written. The batches before it stay committed; nothing after it
//!   is read. The error names the line and says how far the import got; the exit code is the
//!   code of the line's error (3 for an invalid line, 5 for a clash, 6 for a region
//!   conflict). Running the same file again after fixing the line is safe: the lines already
//!   imported count as unchanged.
//! - An import that is interrupted (Ctrl-C, a kill, a crash) keeps the batches it committed;
//!   the one in flight is not written. A batch is read and parsed first, then written in one
//!   transaction, so the store's write lock is held only while a batch is written, never
//!   while the input is slow to arrive; beside a `serve --multi-process`, the server's
//!   writes wait for that (choose `--batch` accordingly).
//! - On a PostgreSQL store (`--postgres`), a batch that conflicts with a concurrent writer
//!   (`ABORTED`: it wrote nothing) is written again, up to [`CONFLICT_ATTEMPTS`] times, before
//!   the import stops with exit code 7. A batch whose commit cannot be confirmed
//!   (`OUTCOME_UNKNOWN`, exit code 8) may or may not be written; running the same import again
//!   is safe either way.
//! - An input that cannot be opened is `INVALID_ARGUMENT` (exit code 3); a read error part
//!   way through is `INTERNAL` (11) and stops the import like a bad line.
//! - `--dry-run` reads the whole file and checks every line as the import would, in
//!   transactions that are aborted, reporting **every** bad line (not only the first); it
//!   commits nothing, so the store's contents are unchanged (opening and closing a store
//!   file lets the storage engine rewrite its own bookkeeping and resize the file, as any
//!   command's open does). Without a store file, it checks against an empty store and
//!   creates no file.
//! - A progress bar is drawn on stderr only when stderr is a terminal. A summary is printed
//!   on stderr at the end, in words, or as one JSON line with `--json`; on failure the last
//!   line of stderr is the JSON error.

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind};
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use indicatif::ProgressBar;
use orgstore::{ErrorCode, OrgStore, Organization, Readable as _, WriteTransaction};
use serde::Serialize;

use super::common::{millis, note, progress, CliError, CliResult, StoreArgs, Violation};

/// The longest line read, in bytes: far above the largest valid organization.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The fields of an organization's JSON form.
const FIELDS: [&str; 10] = [
    "id",
    "create_time",
    "update_time",
    "display_name",
    "region_code",
    "external_id",
    "metadata",
    "settings",
    "slug",
    "logo_url",
];

/// Examples shown by `orgstore import --help`.
pub const EXAMPLES: &str = "Examples:
  orgstore import --db orgs.redb orgs.jsonl
  orgstore import --dry-run orgs.jsonl          # check every line, write nothing
  orgstore export --db old.redb | orgstore import --db new.redb --batch 5000 -
  orgstore export --db orgs.redb | orgstore import --postgres \"$URL\" -   # onto PostgreSQL
  orgstore import --json orgs.jsonl 2> summary.json";

/// The flags of `orgstore import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The store file and how to open it (created if missing, except with --dry-run).
    #[command(flatten)]
    pub store: StoreArgs,
    /// The JSON Lines file to read; `-` for standard input.
    pub file: PathBuf,
    /// Lines per transaction.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub batch: u32,
    /// Check every line as the import would, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the summary (and, with --dry-run, each bad line) as JSON lines.
    #[arg(long)]
    pub json: bool,
}

/// What an import did (or, with `--dry-run`, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Lines read, blank ones included.
    pub lines: u64,
    /// Blank lines, skipped.
    pub blank: u64,
    /// Organizations written (new ones and replaced ones) in committed batches.
    pub imported: u64,
    /// Of `imported`, those that replaced a stored record with other content.
    pub replaced: u64,
    /// Lines equal to the stored record, not written.
    pub unchanged: u64,
    /// Bad lines.
    pub failed: u64,
    /// Good lines of a failed batch: rolled back with it, not written.
    pub rolled_back: u64,
    /// Transactions committed.
    pub batches: u64,
    /// Attempts at a batch that conflicted with a concurrent writer on a shared store, wrote
    /// nothing and were made again.
    pub retried: u64,
    /// Whether this was a `--dry-run` (then `imported`, `replaced` and `unchanged` say what
    /// would have been, and nothing was written).
    pub dry_run: bool,
    /// Whether the whole input was read and every line was good.
    pub complete: bool,
    /// Time taken, in milliseconds.
    pub elapsed_ms: u64,
}

impl ImportSummary {
    fn words(&self) -> String {
        if self.dry_run {
            return format!(
                "dry run {}, nothing written: {} lines read, {} would be imported ({} replacing), {} unchanged, {} bad, {} blank, in {} ms",
                if self.complete { "passed" } else { "found bad lines" },
                self.lines,
                self.imported,
                self.replaced,
                self.unchanged,
                self.failed,
                self.blank,
                self.elapsed_ms
            );
        }
        let retried = match self.retried {
            0 => String::new(),
            n => format!(" ({n} written again after a conflict with a concurrent writer)"),
        };
        format!(
            "import {}: {} lines read, {} imported ({} replacing), {} unchanged, {} failed, {} rolled back, {} blank; {} batches committed{retried} in {} ms",
            if self.complete { "done" } else { "stopped" },
            self.lines,
            self.imported,
            self.replaced,
            self.unchanged,
            self.failed,
            self.rolled_back,
            self.blank,
            self.batches,
            self.elapsed_ms
        )
    }
}

/// What one good line did inside its batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Created,
    Replaced,
    Unchanged,
}

/// The counts of the batch being written, added to the summary when it commits.
#[derive(Clone, Copy, Debug, Default)]
struct Pending {
    lines: u64,
    created: u64,
    replaced: u64,
    unchanged: u64,
    first_line: u64,
}

impl Pending {
    fn add(&mut self, outcome: Outcome) {
        self.lines += 1;
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Replaced => self.replaced += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
    }

    fn commit_into(self, summary: &mut ImportSummary) {
        summary.imported += self.created + self.replaced;
        summary.replaced += self.replaced;
        summary.unchanged += self.unchanged;
    }
}

/// One line read from the input.
enum Line {
    /// The bytes of the line, without its end (`\n` or `\r\n`).
    Bytes,
    /// A line longer than [`MAX_LINE_BYTES`] (skipped to its end, not kept).
    TooLong,
}

/// Reads lines of at most `max` bytes, keeping count of lines and bytes.
struct LineReader<R> {
    inner: R,
    max: usize,
    number: u64,
    bytes: u64,
}

impl<R: BufRead> LineReader<R> {
    /// The next line into `buf`; `None` at the end of the input.
    fn next(&mut self, buf: &mut Vec<u8>) -> std::io::Result<Option<Line>> {
        buf.clear();
        let mut any = false;
        let mut too_long = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match available.iter().position(|b| *b == b'\n') {
                Some(at) => (at + 1, true),
                None => (available.len(), false),
            };
            if !too_long {
                if buf.len() + take > self.max + 2 {
                    too_long = true;
                    buf.clear();
                } else {
                    buf.extend_from_slice(&available[..take]);
                }
            }
            self.inner.consume(take);
            self.bytes += take as u64;
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.number += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        if too_long || buf.len() > self.max {
            buf.clear();
            return Ok(Some(Line::TooLong));
        }
        Ok(Some(Line::Bytes))
    }
}

/// Parses one line into an organization.
///
/// # Errors
///
/// `INVALID_ARGUMENT` for text that is not UTF-8, not JSON, not an object, has a field the
/// form does not have, or does not make an organization (a missing field, a malformed id or
/// time, a region other than US or EU).
///
/// # Examples
///
/// ```
/// use orgstore_server::cli::import::parse_line;
///
/// let org = parse_line(br#"{"id":"org_1","create_time":"2025-01-01T00:00:00Z","update_time":"2025-01-01T00:00:00Z","display_name":"Acme","region_code":"EU"}"#).unwrap();
/// assert_eq!(org.display_name, "Acme");
/// assert!(parse_line(b"{\"id\": ").is_err());
/// assert!(parse_line(br#"{"id":"org_1","display_name":"Acme"}"#).is_err()); // incomplete
/// ```
pub fn parse_line(bytes: &[u8]) -> Result<Organization, CliError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        CliError::new(
            ErrorCode::InvalidArgument,
            format!("not UTF-8 (byte {})", e.valid_up_to() + 1),
        )
    })?;
    let keys: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| json_error(&e, "a JSON object"))?;
    let unknown: Vec<Violation> = keys
        .keys()
        .filter(|k| !FIELDS.contains(&k.as_str()))
        .map(|k| {
            Violation::new(
                k.as_str(),
                "field.known",
                "is not a field of an organization",
            )
        })
        .collect();
    if !unknown.is_empty() {
        return Err(CliError::invalid(unknown));
    }
    serde_json::from_str(text).map_err(|e| json_error(&e, "an organization"))
}

/// A serde error in words, with the column but without serde's "at line 1" (the line is the
/// file's, reported beside).
fn json_error(err: &serde_json::Error, expected: &str) -> CliError {
    let full = err.to_string();
    let words = full
        .rsplit_once(" at line ")
        .map_or(full.as_str(), |(words, _)| words);
    let message = if err.is_data() {
        format!("not {expected}: {words}")
    } else {
        format!("not {expected}: {words} at column {}", err.column())
    };
    CliError::new(ErrorCode::InvalidArgument, message)
}

/// Imports one organization in `txn`, saying what it did.
fn apply(txn: &mut WriteTransaction, org: Organization) -> Result<Outcome, CliError> {
    match txn.get(&org.id)? {
        Some(stored) if stored == org => Ok(Outcome::Unchanged),
        stored => {
            txn.import(org)?;
            Ok(if stored.is_some() {
                Outcome::Replaced
            } else {
                Outcome::Created
            })
        }
    }
}

/// How many times a batch that conflicts with a concurrent writer is written.
pub const CONFLICT_ATTEMPTS: u32 = 5;

/// One non-blank line, parsed (or not).
struct Item {
    number: u64,
    parsed: Result<Organization, CliError>,
}

/// Where a failed import stopped.
struct Failure {
    error: CliError,
}

/// Why an attempt at a batch ended.
enum Batch {
    /// It lost a race with a concurrent writer and wrote nothing: write it again.
    Conflict,
    /// The import stops.
    Stopped(Failure),
}

impl From<Failure> for Batch {
    fn from(failure: Failure) -> Self {
        Batch::Stopped(failure)
    }
}

/// The import loop over one input.
struct Importer<'a> {
    store: &'a OrgStore,
    batch: u64,
    dry_run: bool,
    json: bool,
    bar: &'a ProgressBar,
    summary: ImportSummary,
    /// The first bad line's error (a dry run goes on after it).
    first: Option<CliError>,
}

impl Importer<'_> {
    fn report_line(&self, err: &CliError) {
        let text = if self.json {
            err.to_json_line()
        } else {
            format!("{}: {}", err.code.as_str(), err.message)
        };
        self.bar.suspend(|| note(&text));
    }

    /// Reads and imports every line, batch by batch; on a bad line, rolls its batch back
    /// and stops (a dry run notes it and goes on).
    fn run(&mut self, reader: &mut LineReader<impl BufRead>) -> Result<(), Failure> {
        let mut buf = Vec::new();
        loop {
            let (items, more) = self.read_batch(reader, &mut buf)?;
            if !items.is_empty() {
                self.write_batch(&items)?;
            }
            if !more {
                break;
            }
        }
        self.summary.complete = self.first.is_none();
        Ok(())
    }

    /// Reads and parses lines until a batch of good ones is ready, the input ends, or (but in
    /// a dry run) a line is bad. Nothing is locked meanwhile: the store's write lock is taken
    /// only once the batch is in memory. Returns the lines and whether more may follow.
    fn read_batch(
        &mut self,
        reader: &mut LineReader<impl BufRead>,
        buf: &mut Vec<u8>,
    ) -> Result<(Vec<Item>, bool), Failure> {
        let mut items = Vec::new();
        let mut good = 0;
        while good < self.batch {
            let line = match reader.next(buf) {
                Ok(Some(line)) => line,
                Ok(None) => return Ok((items, false)),
                Err(e) => {
                    let mut err = CliError::io(format!("reading line {}", reader.number + 1), &e);
                    err.line = Some(reader.number + 1);
                    let pending = Pending {
                        lines: good,
                        first_line: items.first().map_or(0, |i: &Item| i.number),
                        ..Pending::default()
                    };
                    return Err(self.stop(err, pending));
                }
            };
            self.summary.lines = reader.number;
            self.bar.set_position(reader.bytes);
            let parsed = match line {
                Line::Bytes if buf.iter().all(u8::is_ascii_whitespace) => {
                    self.summary.blank += 1;
                    continue;
                }
                Line::Bytes => parse_line(buf),
                Line::TooLong => Err(CliError::new(
                    ErrorCode::InvalidArgument,
                    format!("longer than {MAX_LINE_BYTES} bytes"),
                )),
            };
            let bad = parsed.is_err();
            items.push(Item {
                number: reader.number,
                parsed,
            });
            if bad && !self.dry_run {
                // The lines before it are still checked against the store first: the error
                // reported is the first bad line's.
                return Ok((items, false));
            }
            if !bad {
                good += 1;
            }
        }
        Ok((items, true))
    }

    /// Imports one batch in one transaction: commits it, or rolls it back whole at its first
    /// bad line (a dry run notes every bad line and rolls back anyway). A batch that loses a
    /// race with a concurrent writer on a shared store (`ABORTED`: nothing of it was written)
    /// is written again from its first line, up to [`CONFLICT_ATTEMPTS`] times.
    fn write_batch(&mut self, items: &[Item]) -> Result<(), Failure> {
        let mut attempt = 1;
        loop {
            let retry = !self.dry_run && attempt < CONFLICT_ATTEMPTS;
            match self.try_batch(items, retry) {
                Err(Batch::Conflict) => {
                    attempt += 1;
                    self.summary.retried += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10 << attempt));
                }
                Err(Batch::Stopped(failure)) => return Err(failure),
                Ok(()) => return Ok(()),
            }
        }
    }

    /// One attempt at a batch; with `retry`, a conflict ends it as [`Batch::Conflict`] with
    /// nothing counted.
    fn try_batch(&mut self, items: &[Item], retry: bool) -> Result<(), Batch> {
        let mut txn = self
            .store
            .begin_write()
            .map_err(|e| Batch::from(fatal(e)))?;
        let mut pending = Pending {
            first_line: items.first().map_or(0, |i| i.number),
            ..Pending::default()
        };
        for item in items {
            match item.parsed.clone().and_then(|org| apply(&mut txn, org)) {
                Ok(outcome) => pending.add(outcome),
                Err(err) if retry && err.code == ErrorCode::Aborted => {
                    return Err(Batch::Conflict);
                }
                Err(err) => {
                    let mut err = err.context(format!("line {}", item.number));
                    err.line = Some(item.number);
                    self.summary.failed += 1;
                    if !self.dry_run {
                        drop(txn);
                        return Err(self.stop(err, pending).into());
                    }
                    self.report_line(&err);
                    self.first.get_or_insert(err);
                    // A failed import writes nothing and leaves the transaction usable.
                }
            }
        }
        self.end_batch(txn, pending, retry)
    }

    /// Commits (or, in a dry run, aborts) the batch.
    fn end_batch(
        &mut self,
        txn: WriteTransaction,
        pending: Pending,
        retry: bool,
    ) -> Result<(), Batch> {
        if self.dry_run {
            txn.abort().map_err(|e| Batch::from(fatal(e)))?;
            pending.commit_into(&mut self.summary);
            return Ok(());
        }
        if pending.lines == 0 {
            return txn.abort().map_err(|e| Batch::from(fatal(e)));
        }
        match txn.commit() {
            Ok(()) => {
                pending.commit_into(&mut self.summary);
                self.summary.batches += 1;
                self.bar
                    .set_message(format!("{} imported", self.summary.imported));
                Ok(())
            }
            Err(orgstore::Error::Aborted { .. }) if retry => Err(Batch::Conflict),
            Err(e) => {
                let unknown = e.code() == ErrorCode::OutcomeUnknown;
                let mut err = CliError::from(e).context(format!(
                    "committing lines {} to {}",
                    pending.first_line, self.summary.lines
                ));
                if unknown {
                    err = err.context_after(
                        "running the same import again is safe: the lines already imported \
                         count as unchanged",
                    );
                }
                Err(self.stop(err, pending).into())
            }
        }
    }

    /// The failure of a batch: its good lines are rolled back with it.
    fn stop(&mut self, error: CliError, pending: Pending) -> Failure {
        self.summary.rolled_back += pending.lines;
        let first = match pending.first_line {
            0 => error.line.unwrap_or(self.summary.lines),
            n => n,
        };
        let kept = match self.summary.batches {
            0 => "nothing was written".to_owned(),
            n => format!(
                "the {n} batches before it stay committed ({} imported, {} unchanged)",
                self.summary.imported, self.summary.unchanged
            ),
        };
        Failure {
            error: error.context_after(format!(
                "the import stopped: its batch, from line {first} on, is rolled back and {kept}"
            )),
        }
    }
}

fn fatal(err: orgstore::Error) -> Failure {
    Failure {
        error: CliError::from(err),
    }
}

/// Runs `orgstore import`.
///
/// # Errors
///
/// The first bad line's error (see the module docs); an unreadable input; the errors of
/// opening the store.
pub fn run(args: &ImportArgs) -> CliResult {
    let started = Instant::now();
    let stdin = args.file.as_os_str() == "-";
    let (input, len): (Box<dyn BufRead>, Option<u64>) = if stdin {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let file = File::open(&args.file).map_err(|e| {
            CliError::new(
                ErrorCode::InvalidArgument,
                format!("cannot read {}: {e}", args.file.display()),
            )
        })?;
        let len = file
            .metadata()
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map(|m| m.len());
        (Box::new(BufReader::with_capacity(1 << 16, file)), len)
    };
    let store = if args.dry_run && args.store.postgres.is_none() && !args.store.db.exists() {
        OrgStore::in_memory()?
    } else if args.dry_run {
        args.store.open_existing()?
    } else {
        args.store.open_or_create()?
    };
    let bar = progress(len, true);
    let mut importer = Importer {
        store: &store,
        batch: u64::from(args.batch),
        dry_run: args.dry_run,
        json: args.json,
        bar: &bar,
        summary: ImportSummary {
            dry_run: args.dry_run,
            ..ImportSummary::default()
        },
        first: None,
    };
    let mut reader = LineReader {
        inner: input,
        max: MAX_LINE_BYTES,
        number: 0,
        bytes: 0,
    };
    let outcome = importer.run(&mut reader);
    bar.finish_and_clear();
    let mut summary = importer.summary.clone();
    summary.elapsed_ms = millis(started.elapsed());
    if args.json {
        note(&serde_json::to_string(&summary).unwrap_or_default());
    } else {
        note(&summary.words());
    }
    match (outcome, importer.first) {
        (Err(failure), _) => Err(failure.error),
        (Ok(()), Some(first)) => {
            let mut err = first;
            err.message = format!(
                "{} bad lines in {}; the first: {}",
                summary.failed,
                args.file.display(),
                err.message
            );
            Err(err)
        }
        (Ok(()), None) => Ok(()),
    }
}
