//! `orgstore check`: the file's checksums and the indexes' agreement with the records.
//!
//! On a PostgreSQL store only the indexes are audited (the unique keys and counts against the
//! records, from one snapshot): its files are its server's, checked by the server's own means
//! (data checksums, `amcheck`).

use clap::Args;
use orgstore::{ErrorCode, OrgStore};
use serde::Serialize;

use super::common::{print_json, CliError, CliResult, StoreArgs};

/// Examples shown by `orgstore check --help`.
pub const EXAMPLES: &str = "Examples:
  orgstore check --db orgs.redb
  orgstore check --db orgs.redb --multi-process   # beside a serve --multi-process
  orgstore check || echo \"store needs attention: exit $?\"
  orgstore check --postgres \"$URL\"   # the index audit only: integrity is \"not applicable\"";

/// The flags of `orgstore check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The store file and how to open it (`--no-verify` has no effect: checking is the point).
    #[command(flatten)]
    pub store: StoreArgs,
}

/// What `check` found, printed on stdout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// The store file, or the PostgreSQL store (without its password).
    pub db: String,
    /// Whether no problem was found.
    pub ok: bool,
    /// `"intact"` (every checksum verified), `"repaired"` (damage found and repaired: the
    /// latest commit may have been rolled back), `"damaged"` (beyond repair), or
    /// `"not applicable"` (a PostgreSQL store, whose files are its server's to check).
    pub integrity: &'static str,
    /// `"consistent"` (every record and index entry agree), `"inconsistent"`, or
    /// `"not checked"` (the file is damaged).
    pub indexes: &'static str,
    /// Organizations checked against the indexes.
    pub organizations: Option<u64>,
    /// Each problem found, in words.
    pub problems: Vec<String>,
}

impl CheckReport {
    fn new(db: String) -> Self {
        CheckReport {
            db,
            ok: true,
            integrity: "intact",
            indexes: "not checked",
            organizations: None,
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, what: String) {
        self.ok = false;
        self.problems.push(what);
    }
}

/// Checks `store` (which must be its only handle): integrity first, then the indexes.
///
/// # Errors
///
/// Errors that are not findings about the file, such as other handles being open.
///
/// # Examples
///
/// ```
/// use orgstore::OrgStore;
/// use orgstore_server::cli::check::check;
///
/// let mut store = OrgStore::in_memory()?;
/// store.create(orgstore::NewOrganization::new("Acme"))?;
/// let report = check(&mut store, "memory".into()).unwrap();
/// assert!(report.ok);
/// assert_eq!(report.organizations, Some(1));
/// # Ok::<(), orgstore::Error>(())
/// ```
pub fn check(store: &mut OrgStore, db: String) -> Result<CheckReport, CliError> {
    let mut report = CheckReport::new(db);
    match store.check_integrity() {
        Ok(true) => {}
        Ok(false) => {
            report.integrity = "repaired";
            report.problem(
                "the file was damaged and has been repaired; the latest commit may have been rolled back"
                    .to_owned(),
            );
        }
        Err(e) if e.code() == ErrorCode::DataLoss => {
            report.integrity = "damaged";
            report.problem(CliError::from(e).message);
            return Ok(report);
        }
        Err(e) => return Err(e.into()),
    }
    audit(store, &mut report)?;
    Ok(report)
}

/// Checks a store whose files are not OrgStore's to verify (a PostgreSQL store): the indexes
/// only; `integrity` is `"not applicable"`.
///
/// # Errors
///
/// Errors that are not findings about the store (e.g. a lost connection).
///
/// # Examples
///
/// ```
/// use orgstore::OrgStore;
/// use orgstore_server::cli::check::check_indexes;
///
/// let store = OrgStore::in_memory()?;
/// let report = check_indexes(&store, "memory".into()).unwrap();
/// assert_eq!((report.ok, report.integrity, report.indexes), (true, "not applicable", "consistent"));
/// # Ok::<(), orgstore::Error>(())
/// ```
pub fn check_indexes(store: &OrgStore, db: String) -> Result<CheckReport, CliError> {
    let mut report = CheckReport::new(db);
    report.integrity = "not applicable";
    audit(store, &mut report)?;
    Ok(report)
}

/// The index audit, into `report`.
fn audit(store: &OrgStore, report: &mut CheckReport) -> Result<(), CliError> {
    match store.check_indexes() {
        Ok(n) => {
            report.indexes = "consistent";
            report.organizations = Some(n);
        }
        Err(e) if e.code() == ErrorCode::DataLoss => {
            report.indexes = "inconsistent";
            report.problem(CliError::from(e).message);
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Runs `orgstore check`: prints the report; a problem is `DATA_LOSS` (exit code 10).
///
/// # Errors
///
/// `DATA_LOSS` when the report lists a problem; the errors of opening the store.
pub fn run(args: &CheckArgs) -> CliResult {
    let db = args.store.name();
    let report = match args.store.open_unverified() {
        Ok(store) if args.store.postgres.is_some() => check_indexes(&store, db)?,
        Ok(mut store) => check(&mut store, db)?,
        Err(e) if e.code == ErrorCode::DataLoss => {
            let mut report = CheckReport::new(db);
            report.integrity = "damaged";
            report.problem(e.message);
            report
        }
        Err(e) => return Err(e),
    };
    print_json(&report)?;
    if report.ok {
        Ok(())
    } else {
        Err(CliError::new(
            ErrorCode::DataLoss,
            format!("check found a problem: {}", report.problems.join("; ")),
        ))
    }
}
