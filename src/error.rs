//! The one error type of the crate, its stable codes, and field violations.
//!
//! Nothing here knows about redb: storage errors arrive already wrapped in [`StorageError`]
//! by the engine module.

use std::fmt;

use crate::id::OrgId;

/// The result type of every fallible operation in this crate.
///
/// # Examples
///
/// ```
/// fn open() -> orgstore::Result<orgstore::OrgStore> {
///     orgstore::OrgStore::in_memory()
/// }
/// # open()?;
/// # Ok::<(), orgstore::Error>(())
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in OrgStore.
///
/// Match on the variants for domain outcomes (absent record, clash, bad input); use
/// [`Error::code`] for a stable machine-readable code and its HTTP/gRPC status.
///
/// # Examples
///
/// ```
/// use orgstore::{Error, NewOrganization, OrgStore};
///
/// let store = OrgStore::in_memory()?;
/// store.create(NewOrganization::new("Acme").external_id("acme-1"))?;
/// let err = store.create(NewOrganization::new("Other").external_id("acme-1")).unwrap_err();
/// assert!(matches!(err, Error::AlreadyExists { .. }));
/// assert_eq!(err.code().http_status(), 409);
/// # Ok::<(), orgstore::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The organization addressed by an update or delete does not exist.
    #[error("organization not found: {key}")]
    NotFound {
        /// How the organization was addressed.
        key: LookupKey,
    },
    /// A unique value (external id or slug) is already held by another live organization.
    #[error("organization with {field} {value:?} already exists (held by {holder})")]
    AlreadyExists {
        /// The unique field that clashed.
        field: UniqueField,
        /// The value that is taken.
        value: String,
        /// The organization that holds it.
        holder: OrgId,
    },
    /// One or more inputs break the rules; every violation is listed and nothing was written.
    #[error("invalid argument: {}", Violations(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// A page token that does not decode or does not belong to this request.
    #[error("invalid page token: {reason}")]
    InvalidPageToken {
        /// Why the token was refused.
        reason: &'static str,
    },
    /// The request is well formed but cannot be carried out in the current state.
    #[error("failed precondition: {message}")]
    FailedPrecondition {
        /// What stands in the way.
        message: String,
    },
    /// The file was written by a newer format of OrgStore, or is not an OrgStore file.
    #[error(
        "unsupported store format: found version {found}, this build reads version {supported}"
    )]
    UnsupportedFormat {
        /// The format version recorded in the file.
        found: u32,
        /// The newest format version this build understands.
        supported: u32,
    },
    /// The operation lost a race with a concurrent writer and did nothing; running it again is
    /// safe. Only a store shared by several writers produces it: with the embedded engine,
    /// writers are serialized and never conflict.
    #[error("aborted: {message}")]
    Aborted {
        /// What conflicted.
        message: String,
    },
    /// A write was sent but whether it took effect is not known: the connection to a shared
    /// store was lost while it committed, or the commit was cut short (its deadline passed while
    /// it waited for replication; it may be committed on the primary but not on a standby).
    /// Never reported for a write that is known to have failed or succeeded. Read back `id` (the
    /// organization the write was about, when known) to learn the outcome; retrying a create
    /// blindly could make a second organization.
    #[error("outcome unknown: {message}")]
    OutcomeUnknown {
        /// The organization the write was about, when known (for a create, its assigned id).
        id: Option<OrgId>,
        /// What happened.
        message: String,
    },
    /// Stored bytes failed verification or could not be decoded.
    #[error("corrupted data: {detail}")]
    Corrupted {
        /// What was found damaged.
        detail: String,
    },
    /// The storage layer failed (I/O error, lock, closed database, ...).
    #[error("storage failure")]
    Storage(#[source] StorageError),
}

impl Error {
    /// The stable code of this error, which maps onto Scalekit's HTTP and gRPC statuses.
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{ErrorCode, OrgStore};
    ///
    /// let store = OrgStore::in_memory()?;
    /// let err = store.get_by_external_id("").unwrap_err();
    /// assert_eq!(err.code(), ErrorCode::InvalidArgument);
    /// assert_eq!(err.code().as_str(), "INVALID_ARGUMENT");
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::NotFound { .. } => ErrorCode::NotFound,
            Error::AlreadyExists { .. } => ErrorCode::AlreadyExists,
            Error::InvalidArgument(_) | Error::InvalidPageToken { .. } => {
                ErrorCode::InvalidArgument
            }
            Error::FailedPrecondition { .. } | Error::UnsupportedFormat { .. } => {
                ErrorCode::FailedPrecondition
            }
            Error::Aborted { .. } => ErrorCode::Aborted,
            Error::OutcomeUnknown { .. } => ErrorCode::OutcomeUnknown,
            Error::Corrupted { .. } => ErrorCode::DataLoss,
            Error::Storage(_) => ErrorCode::Internal,
        }
    }

    /// The field violations of an [`Error::InvalidArgument`]; empty for every other variant.
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{NewOrganization, OrgStore};
    ///
    /// let store = OrgStore::in_memory()?;
    /// let err = store.create(NewOrganization::new("").slug("Not A Slug")).unwrap_err();
    /// let fields: Vec<&str> = err.violations().iter().map(|v| v.field()).collect();
    /// assert_eq!(fields, ["display_name", "slug"]);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn violations(&self) -> &[FieldViolation] {
        match self {
            Error::InvalidArgument(v) => v,
            _ => &[],
        }
    }

    pub(crate) fn invalid(
        field: &str,
        constraint: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Error::InvalidArgument(vec![FieldViolation::new(field, constraint, description)])
    }

    pub(crate) fn corrupted(detail: impl Into<String>) -> Self {
        Error::Corrupted {
            detail: detail.into(),
        }
    }

    pub(crate) fn precondition(message: impl Into<String>) -> Self {
        Error::FailedPrecondition {
            message: message.into(),
        }
    }
}

struct Violations<'a>(&'a [FieldViolation]);

impl fmt::Display for Violations<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

/// The stable, machine-readable code of an [`Error`], named after the gRPC status it maps to.
///
/// # Examples
///
/// ```
/// use orgstore::ErrorCode;
///
/// assert_eq!(ErrorCode::NotFound.http_status(), 404);
/// assert_eq!(ErrorCode::NotFound.grpc_code(), 5);
/// assert_eq!(ErrorCode::NotFound.to_string(), "NOT_FOUND");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `NOT_FOUND`: HTTP 404, gRPC 5.
    NotFound,
    /// `ALREADY_EXISTS`: HTTP 409, gRPC 6.
    AlreadyExists,
    /// `INVALID_ARGUMENT`: HTTP 400, gRPC 3.
    InvalidArgument,
    /// `FAILED_PRECONDITION`: HTTP 400, gRPC 9.
    FailedPrecondition,
    /// `ABORTED`: HTTP 409, gRPC 10. Safe to retry.
    Aborted,
    /// `INTERNAL`: HTTP 500, gRPC 13.
    Internal,
    /// `OUTCOME_UNKNOWN`: HTTP 500, gRPC 2 (`UNKNOWN`). Not `UNAVAILABLE`, which clients retry
    /// blindly: the write may have taken effect.
    OutcomeUnknown,
    /// `DATA_LOSS`: HTTP 500, gRPC 15.
    DataLoss,
}

impl ErrorCode {
    /// The gRPC status name, e.g. `"NOT_FOUND"`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(orgstore::ErrorCode::DataLoss.as_str(), "DATA_LOSS");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::AlreadyExists => "ALREADY_EXISTS",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::FailedPrecondition => "FAILED_PRECONDITION",
            ErrorCode::Aborted => "ABORTED",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::OutcomeUnknown => "OUTCOME_UNKNOWN",
            ErrorCode::DataLoss => "DATA_LOSS",
        }
    }

    /// The HTTP status Scalekit answers with for this code.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(orgstore::ErrorCode::AlreadyExists.http_status(), 409);
    /// ```
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::NotFound => 404,
            ErrorCode::AlreadyExists | ErrorCode::Aborted => 409,
            ErrorCode::InvalidArgument | ErrorCode::FailedPrecondition => 400,
            ErrorCode::Internal | ErrorCode::DataLoss | ErrorCode::OutcomeUnknown => 500,
        }
    }

    /// The numeric gRPC status code (as in the `code` field of Scalekit's error bodies).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(orgstore::ErrorCode::InvalidArgument.grpc_code(), 3);
    /// ```
    pub fn grpc_code(self) -> i32 {
        match self {
            ErrorCode::OutcomeUnknown => 2,
            ErrorCode::InvalidArgument => 3,
            ErrorCode::NotFound => 5,
            ErrorCode::AlreadyExists => 6,
            ErrorCode::FailedPrecondition => 9,
            ErrorCode::Aborted => 10,
            ErrorCode::Internal => 13,
            ErrorCode::DataLoss => 15,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken rule: which field, which rule, and what is wrong with it.
///
/// # Examples
///
/// ```
/// use orgstore::{NewOrganization, OrgStore};
///
/// let store = OrgStore::in_memory()?;
/// let err = store.create(NewOrganization::new("Acme").logo_url("http://x")).unwrap_err();
/// let v = &err.violations()[0];
/// assert_eq!(v.field(), "logo_url");
/// assert_eq!(v.constraint(), "string.prefix");
/// assert!(v.description().contains("https://"));
/// # Ok::<(), orgstore::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldViolation {
    field: String,
    constraint: &'static str,
    description: String,
}

impl FieldViolation {
    /// A violation of your own, to report beside the store's in one
    /// [`Error::InvalidArgument`] (a front end checking a field the store does not see).
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{Error, FieldViolation, NewOrganization};
    ///
    /// let new = NewOrganization::new("");
    /// let mut violations = vec![FieldViolation::new("region_code", "enum.defined_only", "must be US or EU")];
    /// violations.extend(new.validate().err().iter().flat_map(|e| e.violations().to_vec()));
    /// let err = Error::InvalidArgument(violations);
    /// assert_eq!(err.violations().len(), 2);
    /// ```
    pub fn new(
        field: impl Into<String>,
        constraint: &'static str,
        description: impl Into<String>,
    ) -> Self {
        FieldViolation {
            field: field.into(),
            constraint,
            description: description.into(),
        }
    }

    /// The field name as in the wire JSON (`display_name`, `metadata`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let err = store.create(orgstore::NewOrganization::new("")).unwrap_err();
    /// assert_eq!(err.violations()[0].field(), "display_name");
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The rule that was broken, as a stable machine-readable name in the style of
    /// protovalidate (which Scalekit's own field violations use). One of:
    ///
    /// | constraint | rule |
    /// |---|---|
    /// | `string.min_len`, `string.max_len` | length of a text field, in characters |
    /// | `string.printable` | no control or bidirectional override characters |
    /// | `string.pattern` | the form of a slug or id; no whitespace in a logo URL |
    /// | `string.prefix` | the `https://` of a logo URL |
    /// | `map.max_pairs` | at most 10 metadata pairs |
    /// | `map.keys.string.min_len`, `map.keys.string.max_len`, `map.keys.string.printable` | metadata keys |
    /// | `map.values.string.min_len`, `map.values.string.max_len` | metadata values |
    /// | `repeated.max_items` | at most 100 feature toggles |
    /// | `repeated.items.string.min_len`, `repeated.items.string.max_len`, `repeated.items.string.printable` | feature names |
    /// | `repeated.unique` | a feature named twice |
    /// | `timestamp.range` | years 0001 to 9999 (import) |
    /// | `timestamp.order` | `update_time` not before `create_time` (import) |
    /// | `enum.defined_only` | a region code other than `US` or `EU` |
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let err = store.create(orgstore::NewOrganization::new("")).unwrap_err();
    /// assert_eq!(err.violations()[0].constraint(), "string.min_len");
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn constraint(&self) -> &str {
        self.constraint
    }

    /// A lowercase description of what is wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let err = store.create(orgstore::NewOrganization::new("")).unwrap_err();
    /// assert_eq!(err.violations()[0].description(), "must be 1 to 200 characters, got 0");
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn description(&self) -> &str {
        &self.description
    }
}

impl fmt::Display for FieldViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.description)
    }
}

/// Which unique field an [`Error::AlreadyExists`] is about.
///
/// # Examples
///
/// ```
/// assert_eq!(orgstore::UniqueField::Slug.to_string(), "slug");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UniqueField {
    /// The `external_id` field.
    ExternalId,
    /// The `slug` field.
    Slug,
}

impl fmt::Display for UniqueField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UniqueField::ExternalId => "external_id",
            UniqueField::Slug => "slug",
        })
    }
}

/// How an operation addressed an organization (carried by [`Error::NotFound`]).
///
/// # Examples
///
/// ```
/// use orgstore::{Error, LookupKey, OrgStore};
///
/// let store = OrgStore::in_memory()?;
/// match store.delete_by_external_id("nobody") {
///     Err(Error::NotFound { key: LookupKey::ExternalId(e) }) => assert_eq!(e, "nobody"),
///     other => panic!("unexpected {other:?}"),
/// }
/// # Ok::<(), orgstore::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LookupKey {
    /// By organization id.
    Id(OrgId),
    /// By external id.
    ExternalId(String),
}

impl fmt::Display for LookupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupKey::Id(id) => write!(f, "id {id}"),
            LookupKey::ExternalId(e) => write!(f, "external_id {e:?}"),
        }
    }
}

/// An opaque storage failure; its [`source`](std::error::Error::source) tells more.
///
/// The storage engine's own error types never appear in this crate's API, so they can change
/// without breaking callers. After a storage failure in a commit, the store refuses further
/// writes until it is reopened.
///
/// # Examples
///
/// ```
/// use std::error::Error as _;
/// # fn show(err: &orgstore::Error) {
/// if let orgstore::Error::Storage(inner) = err {
///     eprintln!("storage failed: {inner} ({:?})", inner.source());
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct StorageError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StorageError {
    pub(crate) fn new(
        message: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StorageError {
            message: message.into(),
            source,
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
