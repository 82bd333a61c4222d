//! The server's one error type, shared by both surfaces.
//!
//! Every failure a request can meet, from the library or from the server itself (auth, limits,
//! bad wire input), becomes an [`ApiError`]: a [`Code`], a message and the field violations.
//! Each surface maps it in exactly one place: `grpc::error` to a `tonic::Status` with Scalekit's
//! `ErrorInfo` detail, `rest::error` to the JSON body `{"code", "message", "details"}`. The
//! statuses of the library's errors are the library's own ([`orgstore::ErrorCode`]); this module
//! never decides them again.
//!
//! Two codes come only from a store shared by several writers (PostgreSQL):
//!
//! - `ABORTED` (HTTP 409, gRPC 10): the write lost a race with a concurrent one and did nothing;
//!   sending it again is safe. (The store has already retried a one-shot write a few times.)
//! - `OUTCOME_UNKNOWN` (HTTP 500, gRPC 2 `UNKNOWN`): the write was sent but whether it took
//!   effect is not known (the connection was lost while it committed, or its commit was cut
//!   short waiting for replication). The organization it was about is named in the message and
//!   in the `ErrorInfo`'s `resource_info.resource_name`: read it back to learn the outcome. It is
//!   never `UNAVAILABLE` (14), which clients retry blindly: a blind retry of a create could make
//!   a second organization.

use std::fmt;

use orgstore::{Error, ErrorCode};

/// What kind of failure an [`ApiError`] is; decides the gRPC code and the HTTP status.
///
/// # Examples
///
/// ```
/// use orgstore_server::error::Code;
///
/// assert_eq!(Code::Store(orgstore::ErrorCode::NotFound).http_status(), 404);
/// assert_eq!(Code::Unauthenticated.grpc_code(), 16);
/// assert_eq!(Code::TooLarge.as_str(), "RESOURCE_EXHAUSTED");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Code {
    /// A code of the library's errors; status and name exactly as the library maps them.
    Store(ErrorCode),
    /// No bearer token, or one that is malformed, forged or expired: gRPC 16, HTTP 401.
    Unauthenticated,
    /// The request body is larger than the server accepts: gRPC 8, HTTP 413.
    TooLarge,
    /// Too many store calls are running and waiting: gRPC 8, HTTP 429.
    Overloaded,
    /// The request body did not arrive in time: gRPC 4, HTTP 408.
    RequestTimeout,
    /// The method or path is not served: gRPC 12, HTTP 405 (REST) or 501.
    Unimplemented,
}

impl Code {
    /// The numeric gRPC status code (also the `code` of REST error bodies).
    pub fn grpc_code(self) -> i32 {
        match self {
            Code::Store(code) => code.grpc_code(),
            Code::Unauthenticated => 16,
            Code::TooLarge | Code::Overloaded => 8,
            Code::RequestTimeout => 4,
            Code::Unimplemented => 12,
        }
    }

    /// The HTTP status of the REST surface.
    pub fn http_status(self) -> u16 {
        match self {
            Code::Store(code) => code.http_status(),
            Code::Unauthenticated => 401,
            Code::TooLarge => 413,
            Code::Overloaded => 429,
            Code::RequestTimeout => 408,
            Code::Unimplemented => 405,
        }
    }

    /// The gRPC status name, e.g. `"NOT_FOUND"`: the `error_code` of Scalekit's `ErrorInfo`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Store(code) => code.as_str(),
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::TooLarge | Code::Overloaded => "RESOURCE_EXHAUSTED",
            Code::RequestTimeout => "DEADLINE_EXCEEDED",
            Code::Unimplemented => "UNIMPLEMENTED",
        }
    }
}

/// One broken input rule: the field as named in the wire JSON, and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The field, e.g. `display_name`.
    pub field: String,
    /// What is wrong, in lowercase words.
    pub description: String,
}

/// A failed request, ready to be mapped by either surface.
///
/// # Examples
///
/// ```
/// use orgstore::{NewOrganization, OrgStore};
/// use orgstore_server::error::{ApiError, Code};
///
/// let store = OrgStore::in_memory()?;
/// store.create(NewOrganization::new("Acme").external_id("acme-1"))?;
/// let err: ApiError = store.create(NewOrganization::new("B").external_id("acme-1")).unwrap_err().into();
/// assert_eq!(err.code, Code::Store(orgstore::ErrorCode::AlreadyExists));
/// assert!(err.message.contains("already exists"));
/// assert!(err.message.contains("external_id"));
/// # Ok::<(), orgstore::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The kind of failure.
    pub code: Code,
    /// What happened, for people; carried as `grpc-message` and as the REST `message`.
    pub message: String,
    /// Every broken input rule (empty unless the input was invalid).
    pub violations: Vec<Violation>,
    /// The organization the error is about, when the client needs its id to act: the
    /// organization of a write whose outcome is unknown (for a create, the id it was given).
    /// Carried in `ErrorInfo.resource_info.resource_name`.
    pub resource: Option<String>,
}

impl ApiError {
    /// An error of `code` with `message` and no violations.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            violations: Vec::new(),
            resource: None,
        }
    }

    /// An `INVALID_ARGUMENT` about one field.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = orgstore_server::error::ApiError::invalid("page_size", "must be a non-negative integer");
    /// assert_eq!(err.message, "invalid argument: page_size: must be a non-negative integer");
    /// assert_eq!(err.violations.len(), 1);
    /// ```
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        let violation = Violation {
            field: field.into(),
            description: description.into(),
        };
        ApiError {
            code: Code::Store(ErrorCode::InvalidArgument),
            message: format!(
                "invalid argument: {}: {}",
                violation.field, violation.description
            ),
            violations: vec![violation],
            resource: None,
        }
    }

    /// An `INVALID_ARGUMENT` about the request as a whole (e.g. a body that is not JSON).
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(Code::Store(ErrorCode::InvalidArgument), message)
    }

    /// `UNAUTHENTICATED` with a reason.
    pub fn unauthenticated(reason: &str) -> Self {
        ApiError::new(Code::Unauthenticated, format!("unauthenticated: {reason}"))
    }

    /// An `INTERNAL` error whose cause is logged, not sent.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(Code::Store(ErrorCode::Internal), message)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code.as_str())
    }
}

impl std::error::Error for ApiError {}

/// An error's message followed by those of its sources that it does not already contain (a
/// storage error says only "storage failure"; its sources say what failed): for logs and
/// operators, never for API clients.
///
/// # Examples
///
/// ```
/// let err = orgstore::OrgStore::open("/nonexistent/dir/orgs.redb").unwrap_err();
/// let text = orgstore_server::error::full_message(&err);
/// assert!(text.starts_with("storage failure: "), "{text}");
/// ```
pub fn full_message(err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = inner.source();
    }
    message
}

impl From<Error> for ApiError {
    /// The library's error as the server reports it: the library's code (so its status on both
    /// surfaces), its message, its field violations, and for `OUTCOME_UNKNOWN` the
    /// organization's id, in the message and in [`resource`](ApiError::resource).
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{Error, ErrorCode, OrgId};
    /// use orgstore_server::error::{ApiError, Code};
    ///
    /// let id = OrgId::parse("org_01JD8Z3V7W8Q2M4N6P8R0T2V4X").unwrap();
    /// let err = ApiError::from(Error::OutcomeUnknown { id: Some(id), message: "cut short".into() });
    /// assert_eq!(err.code, Code::Store(ErrorCode::OutcomeUnknown));
    /// assert_eq!((err.code.http_status(), err.code.grpc_code()), (500, 2));
    /// assert!(err.message.contains("org_01JD8Z3V7W8Q2M4N6P8R0T2V4X"));
    /// assert_eq!(err.resource.as_deref(), Some("org_01JD8Z3V7W8Q2M4N6P8R0T2V4X"));
    /// ```
    fn from(err: Error) -> Self {
        let code = Code::Store(err.code());
        let mut resource = None;
        // The library's messages say what the SDKs' tests look for ("already exists", "not
        // found", the field).
        let message = match &err {
            Error::Storage(inner) => {
                tracing::error!(error = %inner, source = ?std::error::Error::source(inner), "storage failure");
                "internal error: storage failure".to_owned()
            }
            Error::Corrupted { .. } => {
                tracing::error!(error = %err, "corrupted data");
                err.to_string()
            }
            Error::OutcomeUnknown { id, .. } => {
                let message = match id {
                    Some(id) => format!(
                        "{err}; organization {id}: read it back to learn whether the write took \
                         effect before sending it again"
                    ),
                    None => format!(
                        "{err}; read the organization back to learn whether the write took \
                         effect before sending it again"
                    ),
                };
                tracing::warn!(id = ?id.as_ref().map(orgstore::OrgId::as_str), error = %err, "write outcome unknown");
                resource = id.as_ref().map(|id| id.as_str().to_owned());
                message
            }
            _ => err.to_string(),
        };
        let violations = err
            .violations()
            .iter()
            .map(|v| Violation {
                field: v.field().to_owned(),
                description: v.description().to_owned(),
            })
            .collect();
        ApiError {
            code,
            message,
            violations,
            resource,
        }
    }
}
