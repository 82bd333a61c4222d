//! What the admin sub-commands share: the store flags (a file, or a PostgreSQL store), the
//! error type and its exit codes, JSON output, flag parsers and the progress bar.

use std::fmt::{self, Write as _};
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use orgstore::{ErrorCode, Order, OrgStore, Region};
use serde::Serialize;

use crate::postgres::PostgresConfig;

/// Exit code of a usage error (clap's own: unknown flag, missing argument, bad flag value).
pub const EXIT_USAGE: u8 = 2;
/// Exit code of `INVALID_ARGUMENT`: input that breaks a rule (field, id, page token, import line).
pub const EXIT_INVALID_ARGUMENT: u8 = 3;
/// Exit code of `NOT_FOUND`: no organization under the key given.
pub const EXIT_NOT_FOUND: u8 = 4;
/// Exit code of `ALREADY_EXISTS`: the external id or slug is held by another organization.
pub const EXIT_ALREADY_EXISTS: u8 = 5;
/// Exit code of `FAILED_PRECONDITION`: the store file is in use, missing, of a newer format;
/// a backup destination exists; an imported id lives in the other region; a file-only command
/// on a PostgreSQL store.
pub const EXIT_FAILED_PRECONDITION: u8 = 6;
/// Exit code of `ABORTED`: a write on a shared (PostgreSQL) store lost a race with a concurrent
/// one and wrote nothing; running the command again is safe.
pub const EXIT_ABORTED: u8 = 7;
/// Exit code of `OUTCOME_UNKNOWN`: a write on a PostgreSQL store was sent but whether it took
/// effect is not known (the connection was lost while it committed, or the commit was cut short
/// waiting for replication); read the organization back (its id is in the error) before
/// running the command again.
pub const EXIT_OUTCOME_UNKNOWN: u8 = 8;
/// Exit code of `DATA_LOSS`: the file is damaged, or `check` found a problem.
pub const EXIT_DATA_LOSS: u8 = 10;
/// Exit code of `INTERNAL`: a storage or I/O failure (including writing the output).
pub const EXIT_INTERNAL: u8 = 11;

/// The exit code of an error code.
///
/// # Examples
///
/// ```
/// use orgstore::ErrorCode;
/// use orgstore_server::cli::common::exit_code;
///
/// assert_eq!(exit_code(ErrorCode::NotFound), 4);
/// assert_eq!(exit_code(ErrorCode::Aborted), 7);
/// assert_eq!(exit_code(ErrorCode::OutcomeUnknown), 8);
/// assert_eq!(exit_code(ErrorCode::DataLoss), 10);
/// ```
pub fn exit_code(code: ErrorCode) -> u8 {
    match code {
        ErrorCode::InvalidArgument => EXIT_INVALID_ARGUMENT,
        ErrorCode::NotFound => EXIT_NOT_FOUND,
        ErrorCode::AlreadyExists => EXIT_ALREADY_EXISTS,
        ErrorCode::FailedPrecondition => EXIT_FAILED_PRECONDITION,
        ErrorCode::Aborted => EXIT_ABORTED,
        ErrorCode::OutcomeUnknown => EXIT_OUTCOME_UNKNOWN,
        ErrorCode::DataLoss => EXIT_DATA_LOSS,
        _ => EXIT_INTERNAL,
    }
}

/// One broken input rule, as printed in an error's `violations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The field as named in the wire JSON, e.g. `display_name`.
    pub field: String,
    /// The rule, e.g. `string.min_len` (the library's names; `repeated.unique` for a flag
    /// given twice, `field.known` for an unknown field of an imported line).
    pub constraint: String,
    /// What is wrong, in lowercase words.
    pub description: String,
}

impl Violation {
    /// A violation of `field`.
    pub fn new(
        field: impl Into<String>,
        constraint: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Violation {
            field: field.into(),
            constraint: constraint.into(),
            description: description.into(),
        }
    }
}

/// A failed command: printed on stderr as one JSON line
/// `{"code", "message", "violations"[, "line"][, "id"]}`, and mapped to an exit code.
///
/// # Examples
///
/// ```
/// use orgstore::{NewOrganization, OrgStore};
/// use orgstore_server::cli::common::CliError;
///
/// let store = OrgStore::in_memory()?;
/// let err = CliError::from(store.create(NewOrganization::new("")).unwrap_err());
/// assert_eq!(err.exit_code(), 3);
/// let json = err.to_json();
/// assert_eq!(json["code"], "INVALID_ARGUMENT");
/// assert_eq!(json["violations"][0]["field"], "display_name");
/// # Ok::<(), orgstore::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CliError {
    /// The error code (the library's codes).
    pub code: ErrorCode,
    /// What happened, for people.
    pub message: String,
    /// Every broken input rule (empty unless the input was invalid).
    pub violations: Vec<Violation>,
    /// The line of an import file the error is about.
    pub line: Option<u64>,
    /// The organization a write whose outcome is unknown was about (`OUTCOME_UNKNOWN`).
    pub id: Option<String>,
}

impl CliError {
    /// An error of `code` with `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
            violations: Vec::new(),
            line: None,
            id: None,
        }
    }

    /// An `INVALID_ARGUMENT` listing `violations`, with the library's message form.
    pub fn invalid(violations: Vec<Violation>) -> Self {
        let listed: Vec<String> = violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect();
        CliError {
            code: ErrorCode::InvalidArgument,
            message: format!("invalid argument: {}", listed.join("; ")),
            violations,
            line: None,
            id: None,
        }
    }

    /// An `INTERNAL` error for an I/O failure while doing `what`.
    pub fn io(what: impl fmt::Display, err: &std::io::Error) -> Self {
        CliError::new(ErrorCode::Internal, format!("{what}: {err}"))
    }

    /// The same error with `context: ` before its message.
    #[must_use]
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The same error with `; note` after its message.
    #[must_use]
    pub fn context_after(mut self, note: impl fmt::Display) -> Self {
        self.message = format!("{}; {note}", self.message);
        self
    }

    /// The exit code; see [`exit_code`].
    pub fn exit_code(&self) -> u8 {
        exit_code(self.code)
    }

    /// The JSON form printed on stderr.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.wire()).unwrap_or_default()
    }

    /// The JSON form as one line of text, its fields in the documented order.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(&self.wire()).unwrap_or_default()
    }

    fn wire(&self) -> WireError<'_> {
        WireError {
            code: self.code.as_str(),
            message: &self.message,
            violations: &self.violations,
            line: self.line,
            id: self.id.as_deref(),
        }
    }
}

/// The JSON form of a [`CliError`].
#[derive(Serialize)]
struct WireError<'a> {
    code: &'static str,
    message: &'a str,
    violations: &'a [Violation],
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for CliError {}

impl From<orgstore::Error> for CliError {
    fn from(err: orgstore::Error) -> Self {
        // A storage failure says only "storage failure"; its sources say what failed.
        let mut message = crate::error::full_message(&err);
        let id = match &err {
            orgstore::Error::OutcomeUnknown { id, .. } => {
                match id {
                    Some(id) => {
                        let _ = write!(
                            message,
                            "; organization {id}: read it back to learn whether the write took effect"
                        );
                    }
                    None => message.push_str(
                        "; read the organization back to learn whether the write took effect",
                    ),
                }
                id.as_ref().map(|id| id.as_str().to_owned())
            }
            _ => None,
        };
        CliError {
            code: err.code(),
            message,
            violations: err
                .violations()
                .iter()
                .map(|v| Violation::new(v.field(), v.constraint(), v.description()))
                .collect(),
            line: None,
            id,
        }
    }
}

/// What a command returns: its result is already printed on success.
pub type CliResult = Result<(), CliError>;

/// Prints `err` as one JSON line on stderr and returns its exit code.
pub fn fail(err: &CliError) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    // Nothing more can be done if stderr itself is gone; the exit code still tells.
    let _ = writeln!(stderr, "{}", err.to_json_line());
    ExitCode::from(err.exit_code())
}

/// Runs a command body: success is exit code 0, an error is printed by [`fail`].
pub fn finish(result: CliResult) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
}

/// Prints one line on stderr; a closed stderr is ignored (the exit code still tells).
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Prints `value` as one line of compact JSON on stdout.
///
/// # Errors
///
/// `INTERNAL` when stdout cannot be written (closed pipe, full disk).
pub fn print_json(value: &impl Serialize) -> CliResult {
    let text = serde_json::to_string(value)
        .map_err(|e| CliError::new(ErrorCode::Internal, format!("cannot encode JSON: {e}")))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .map_err(|e| CliError::io("cannot write to standard output", &e))
}

/// The flags naming the store, shared by every admin sub-command: a file (`--db`), or a
/// PostgreSQL store (`--postgres URL`, `--postgres-schema NAME`).
#[derive(Clone, Debug, Args)]
pub struct StoreArgs {
    /// The store file. Not with --postgres.
    #[arg(long, default_value = "./orgstore.redb")]
    pub db: PathBuf,
    /// A PostgreSQL store instead of a file: a libpq connection URL, e.g.
    /// `postgres://app:PASSWORD@db/tenants?sslmode=verify-full`. Its schema is created on
    /// first use. compact and backup work on store files only; check audits only the indexes.
    #[arg(
        long,
        env = "ORGSTORE_POSTGRES",
        hide_env_values = true,
        value_name = "URL",
        conflicts_with_all = ["db", "multi_process", "no_verify"]
    )]
    pub postgres: Option<String>,
    /// The PostgreSQL schema holding the store's tables (default: orgstore).
    #[arg(long, value_name = "NAME", requires = "postgres")]
    pub postgres_schema: Option<String>,
    /// Share the file with other processes (a `serve --multi-process`, other CLI runs).
    /// Without it, a file another process holds is refused at once ("in use"). Store files
    /// only: a PostgreSQL store is always shared.
    #[arg(long)]
    pub multi_process: bool,
    /// Skip the verification of every checksum at open (faster on big stores; a damaged
    /// file may then be found later, or not at all). Store files only.
    #[arg(long)]
    pub no_verify: bool,
}

impl StoreArgs {
    /// The store file at `db`, opened alone and verified (the flags' defaults).
    pub fn file(db: impl Into<PathBuf>) -> Self {
        StoreArgs {
            db: db.into(),
            postgres: None,
            postgres_schema: None,
            multi_process: false,
            no_verify: false,
        }
    }

    /// The PostgreSQL store named by `--postgres` and `--postgres-schema`, if any.
    pub fn postgres_config(&self) -> Option<PostgresConfig> {
        self.postgres.as_ref().map(|url| {
            let mut config = PostgresConfig::new(url.clone());
            if let Some(schema) = &self.postgres_schema {
                config.schema.clone_from(schema);
            }
            config
        })
    }

    /// The store, for reports and messages: the file's path, or the PostgreSQL store without
    /// its password.
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore_server::cli::common::StoreArgs;
    ///
    /// assert_eq!(StoreArgs::file("orgs.redb").name(), "orgs.redb");
    /// let mut pg = StoreArgs::file("unused");
    /// pg.postgres = Some("postgres://app:pw@db/t".into());
    /// assert_eq!(pg.name(), "postgres://app:***@db/t (schema orgstore)");
    /// ```
    pub fn name(&self) -> String {
        match self.postgres_config() {
            Some(config) => config.describe(),
            None => self.db.display().to_string(),
        }
    }

    /// Refuses a PostgreSQL store for `command`, which works on store files only: `instead`
    /// says what to use there.
    ///
    /// # Errors
    ///
    /// `FAILED_PRECONDITION` with `--postgres`.
    pub fn require_file_store(&self, command: &str, instead: &str) -> CliResult {
        match &self.postgres {
            None => Ok(()),
            Some(_) => Err(CliError::new(
                ErrorCode::FailedPrecondition,
                format!(
                    "`{command}` works on store files (--db) only, not on a PostgreSQL store \
                     ({}): {instead}",
                    self.name()
                ),
            )),
        }
    }

    fn builder(&self) -> orgstore::Builder {
        OrgStore::builder()
            .multi_process(self.multi_process)
            .verify_on_open(!self.no_verify)
    }

    /// Opens the store, which must exist (a PostgreSQL store's schema is created if missing).
    ///
    /// # Errors
    ///
    /// `FAILED_PRECONDITION` when there is no file at `--db` or it is in use; the library's
    /// open errors otherwise (an unreachable PostgreSQL server is `INTERNAL`).
    pub fn open_existing(&self) -> Result<OrgStore, CliError> {
        if let Some(config) = self.postgres_config() {
            return connect(&config);
        }
        self.require_file()?;
        self.open_with(self.builder())
    }

    /// Opens the store, creating it if missing (for the commands that write).
    ///
    /// # Errors
    ///
    /// As for [`open_existing`](Self::open_existing), but a missing file is created.
    pub fn open_or_create(&self) -> Result<OrgStore, CliError> {
        if let Some(config) = self.postgres_config() {
            return connect(&config);
        }
        self.open_with(self.builder())
    }

    /// Opens the store file (which must exist) with `verify_on_open` off, whatever
    /// `--no-verify` says: for `check`, which verifies by itself and reports what it finds.
    ///
    /// # Errors
    ///
    /// As for [`open_existing`](Self::open_existing).
    pub fn open_unverified(&self) -> Result<OrgStore, CliError> {
        if let Some(config) = self.postgres_config() {
            return connect(&config);
        }
        self.require_file()?;
        self.open_with(self.builder().verify_on_open(false))
    }

    fn require_file(&self) -> CliResult {
        match std::fs::metadata(&self.db) {
            Ok(meta) if meta.is_file() => Ok(()),
            Ok(_) => Err(CliError::new(
                ErrorCode::FailedPrecondition,
                format!("{} is not a store file", self.db.display()),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CliError::new(
                ErrorCode::FailedPrecondition,
                format!(
                    "no store file at {} (`create` or `import` makes one)",
                    self.db.display()
                ),
            )),
            Err(e) => Err(CliError::io(
                format!("store file {}", self.db.display()),
                &e,
            )),
        }
    }

    fn open_with(&self, builder: orgstore::Builder) -> Result<OrgStore, CliError> {
        builder.open(&self.db).map_err(|e| {
            let in_use = e.code() == ErrorCode::FailedPrecondition
                && e.to_string().contains("in use");
            let mut err = CliError::from(e).context(format!("cannot open {}", self.db.display()));
            if in_use && !self.multi_process {
                err.message.push_str(
                    " (a server started with --multi-process can share it: pass --multi-process here too)",
                );
            }
            err
        })
    }

    /// The size of the store file in bytes; `None` for a PostgreSQL store.
    ///
    /// # Errors
    ///
    /// `INTERNAL` when the file cannot be looked at.
    pub fn file_size(&self) -> Result<Option<u64>, CliError> {
        match self.postgres {
            Some(_) => Ok(None),
            None => file_size(&self.db).map(Some),
        }
    }
}

/// Connects to a PostgreSQL store, with the store named in the error.
fn connect(config: &PostgresConfig) -> Result<OrgStore, CliError> {
    crate::postgres::connect(config)
        .map_err(|e| CliError::from(e).context(format!("cannot open {}", config.describe())))
}

/// The size of the file at `path` in bytes.
///
/// # Errors
///
/// `INTERNAL` when the file cannot be looked at.
pub fn file_size(path: &Path) -> Result<u64, CliError> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| CliError::io(path.display(), &e))
}

/// A region flag value: `US` or `EU` (any case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RegionArg {
    /// The US region.
    #[value(name = "US", alias = "us")]
    Us,
    /// The EU region.
    #[value(name = "EU", alias = "eu")]
    Eu,
}

impl From<RegionArg> for Region {
    fn from(region: RegionArg) -> Region {
        match region {
            RegionArg::Us => Region::Us,
            RegionArg::Eu => Region::Eu,
        }
    }
}

/// A listing order flag value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OrderArg {
    /// Newest first (the API's default).
    #[default]
    Newest,
    /// Oldest first.
    Oldest,
}

impl From<OrderArg> for Order {
    fn from(order: OrderArg) -> Order {
        match order {
            OrderArg::Newest => Order::NewestFirst,
            OrderArg::Oldest => Order::OldestFirst,
        }
    }
}

/// Parses `KEY=VALUE` (split at the first `=`, so a value may hold `=`).
///
/// # Errors
///
/// Text without `=`.
///
/// # Examples
///
/// ```
/// use orgstore_server::cli::common::parse_pair;
///
/// assert_eq!(parse_pair("plan=pro"), Ok(("plan".into(), "pro".into())));
/// assert_eq!(parse_pair("q=a=b"), Ok(("q".into(), "a=b".into())));
/// assert!(parse_pair("plan").is_err());
/// ```
pub fn parse_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

/// Parses `NAME=true` or `NAME=false` (split at the last `=`, so a name may hold `=`).
///
/// # Errors
///
/// Text without `=`, or a value other than `true` or `false`.
///
/// # Examples
///
/// ```
/// use orgstore_server::cli::common::parse_setting;
///
/// assert_eq!(parse_setting("sso=true"), Ok(("sso".into(), true)));
/// assert_eq!(parse_setting("a=b=false"), Ok(("a=b".into(), false)));
/// assert!(parse_setting("sso=yes").is_err());
/// ```
pub fn parse_setting(text: &str) -> Result<(String, bool), String> {
    let (name, value) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=true or NAME=false"))?;
    let enabled = match value {
        "true" => true,
        "false" => false,
        _ => return Err(format!("{text:?}: the value must be true or false")),
    };
    Ok((name.to_owned(), enabled))
}

/// Violations for names given twice among `names` (each seen name is reported once), as
/// `field[name]` with the rule `repeated.unique`.
///
/// # Examples
///
/// ```
/// use orgstore_server::cli::common::repeated;
///
/// let v = repeated("metadata", ["a", "b", "a", "a"]);
/// assert_eq!(v.len(), 1);
/// assert_eq!(v[0].field, "metadata[a]");
/// ```
pub fn repeated<'a>(field: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<Violation> {
    let mut seen = std::collections::BTreeSet::new();
    let mut reported = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for name in names {
        if !seen.insert(name) && reported.insert(name) {
            out.push(Violation::new(
                format!("{field}[{name}]"),
                "repeated.unique",
                format!("{name:?} is given more than once"),
            ));
        }
    }
    out
}

/// Whether stderr is a terminal: progress is drawn only then.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A progress bar on stderr when it is a terminal, else a hidden one that draws nothing.
/// `total` is the length of the bar (a spinner without it); `bytes` says whether it counts
/// bytes or organizations.
pub fn progress(total: Option<u64>, bytes: bool) -> ProgressBar {
    if !stderr_is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total {
        Some(len) if bytes => (
            ProgressBar::new(len),
            "{elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} {msg}",
        ),
        Some(len) => (
            ProgressBar::new(len),
            "{elapsed_precise} [{wide_bar}] {pos}/{len} {msg}",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{elapsed_precise} {spinner} {msg}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    // Drawn once now: with the steady tick on, updates no longer draw, and the first tick
    // comes later, so work shorter than a tick would show no bar at all.
    bar.tick();
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Milliseconds in `elapsed`, for summaries.
pub fn millis(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use orgstore::{Error, OrgId};

    use super::*;

    #[test]
    fn an_unknown_outcome_exits_8_and_names_the_organization() {
        let id = OrgId::parse("org_01JD8Z3V7W8Q2M4N6P8R0T2V4X").expect("id");
        let err = CliError::from(Error::OutcomeUnknown {
            id: Some(id),
            message: "the connection was lost while committing".into(),
        });
        assert_eq!(err.exit_code(), 8);
        let json = err.to_json();
        assert_eq!(json["code"], "OUTCOME_UNKNOWN");
        assert_eq!(json["id"], "org_01JD8Z3V7W8Q2M4N6P8R0T2V4X");
        let message = json["message"].as_str().expect("message");
        assert!(
            message.contains("connection was lost")
                && message.contains("organization org_01JD8Z3V7W8Q2M4N6P8R0T2V4X: read it back"),
            "{json}"
        );
        let without = CliError::from(Error::OutcomeUnknown {
            id: None,
            message: "cut short".into(),
        });
        assert!(without.to_json().get("id").is_none());
        assert!(without.message.contains("read the organization back"));
    }

    #[test]
    fn an_aborted_write_exits_7_and_other_errors_name_no_id() {
        let err = CliError::from(Error::Aborted {
            message: "a concurrent write took the same key; retry".into(),
        });
        assert_eq!(err.exit_code(), 7);
        let json = err.to_json();
        assert_eq!(json["code"], "ABORTED");
        assert!(json.get("id").is_none(), "{json}");
        assert_eq!(
            CliError::new(ErrorCode::Internal, "x").to_json_line(),
            r#"{"code":"INTERNAL","message":"x","violations":[]}"#
        );
    }

    #[test]
    fn postgres_flags_name_a_store_without_its_password() {
        let mut args = StoreArgs::file("orgs.redb");
        assert_eq!(args.postgres_config(), None);
        assert!(args.require_file_store("compact", "x").is_ok());
        args.postgres = Some("host=db user=app password=secret".into());
        args.postgres_schema = Some("tenants".into());
        let config = args.postgres_config().expect("PostgreSQL");
        assert_eq!(config.schema, "tenants");
        assert_eq!(
            args.name(),
            "host=db user=app password=*** (schema tenants)"
        );
        let err = args
            .require_file_store("compact", "VACUUM")
            .expect_err("refused");
        assert_eq!(err.exit_code(), EXIT_FAILED_PRECONDITION);
        assert!(err.message.ends_with(": VACUUM"), "{err}");
        assert!(!err.message.contains("secret"), "{err}");
        assert_eq!(args.file_size().expect("no file"), None);
    }
}
