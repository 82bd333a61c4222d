//! `orgstore check`: the file's checksums and the indexes' agreement with the records.

use clap::Args;
use orgstore::{ErrorCode, OrgStore};
use serde::Serialize;

use super::common::{print_json, CliError, CliResult, StoreArgs};

/// Examples shown by `orgstore check --help`.
pub const EXAMPLES: &str = "Examples:
  orgstore check --db orgs.redb
  orgstore check --db orgs.redb --multi-process   # beside a serve --multi-process
  orgstore check || echo \"store needs attention: exit $?\"";

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
    /// The store file.
    pub db: String,
    /// Whether no problem was found.
    pub ok: bool,
    /// `"intact"` (every checksum verified), `"repaired"` (damage found and repaired: the
    /// latest commit may have been rolled back) or `"damaged"` (beyond repair).
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
    Ok(report)
}

/// Runs `orgstore check`: prints the report; a problem is `DATA_LOSS` (exit code 10).
///
/// # Errors
///
/// `DATA_LOSS` when the report lists a problem; the errors of opening the store.
pub fn run(args: &CheckArgs) -> CliResult {
    let db = args.store.db.display().to_string();
    let report = match args.store.open_unverified() {
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
