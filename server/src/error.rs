//! The server's one error type, shared by both surfaces.
//!
//! Every failure a request can meet, from the library or from the server itself (auth, limits,
//! bad wire input), becomes an [`ApiError`]: a [`Code`], a message and the field violations.
//! Each surface maps it in exactly one place: `grpc::error` to a `tonic::Status` with Scalekit's
//! `ErrorInfo` detail, `rest::error` to the JSON body `{"code", "message", "details"}`. The
//! statuses of the library's errors are the library's own ([`orgstore::ErrorCode`]); this module
//! never decides them again.

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
}

impl ApiError {
    /// An error of `code` with `message` and no violations.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            violations: Vec::new(),
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

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let code = Code::Store(err.code());
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
        }
    }
}
