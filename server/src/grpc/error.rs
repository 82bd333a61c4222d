//! The gRPC surface's one error mapping: [`ApiError`] → `tonic::Status` whose
//! `grpc-status-details-bin` is a `google.rpc.Status` with the same code and message and one
//! `Any` holding Scalekit's `ErrorInfo` (the status name, every field violation, and the
//! organization an `OUTCOME_UNKNOWN` is about in `resource_info`). The code is the library's own
//! ([`orgstore::ErrorCode::grpc_code`]): `OUTCOME_UNKNOWN` is 2 (`UNKNOWN`), `ABORTED` 10.

use axum::response::Response;
use prost::Message as _;

use crate::error::ApiError;
use crate::proto::google::rpc;
use crate::proto::scalekit::v1::errdetails::{
    validation_error_info, ErrorInfo, ResourceInfo, ValidationErrorInfo,
};
use crate::rest::error::ERROR_INFO_TYPE;

/// The status of an error, with its details.
///
/// # Examples
///
/// ```
/// use orgstore_server::error::ApiError;
///
/// let status = orgstore_server::grpc::error::status(&ApiError::invalid("display_name", "is empty"));
/// assert_eq!(status.code(), tonic::Code::InvalidArgument);
/// assert!(!status.details().is_empty());
/// ```
pub fn status(err: &ApiError) -> tonic::Status {
    let code = err.code.grpc_code();
    let validation_error_info = (!err.violations.is_empty()).then(|| ValidationErrorInfo {
        field_violations: err
            .violations
            .iter()
            .map(|v| validation_error_info::FieldViolation {
                field: v.field.clone(),
                description: v.description.clone(),
                constraint: String::new(),
            })
            .collect(),
    });
    let info = ErrorInfo {
        error_code: err.code.as_str().to_owned(),
        resource_info: err.resource.as_ref().map(|id| ResourceInfo {
            resource_name: id.clone(),
            description: err.message.clone(),
        }),
        validation_error_info,
    };
    let details = rpc::Status {
        code,
        message: err.message.clone(),
        details: vec![prost_types::Any {
            type_url: ERROR_INFO_TYPE.to_owned(),
            value: info.encode_to_vec(),
        }],
    };
    tonic::Status::with_details(
        tonic::Code::from(code),
        err.message.clone(),
        details.encode_to_vec().into(),
    )
}

/// A trailers-only gRPC response for an error met before the service ran (body limits,
/// unknown paths).
pub fn response(err: &ApiError) -> Response {
    status(err).into_http()
}

#[cfg(test)]
mod tests {
    use orgstore::{Error, ErrorCode, OrgId};
    use prost::Message as _;

    use super::*;
    use crate::error::Code;

    const ID: &str = "org_01JD8Z3V7W8Q2M4N6P8R0T2V4X";

    /// The status's details: a `google.rpc.Status` repeating code and message, and its
    /// `ErrorInfo`.
    fn info(status: &tonic::Status) -> ErrorInfo {
        let rpc = rpc::Status::decode(status.details()).expect("google.rpc.Status");
        assert_eq!(rpc.code, status.code() as i32);
        assert_eq!(rpc.message, status.message());
        assert_eq!(rpc.details.len(), 1);
        assert_eq!(rpc.details[0].type_url, ERROR_INFO_TYPE);
        ErrorInfo::decode(rpc.details[0].value.as_slice()).expect("ErrorInfo")
    }

    #[test]
    fn an_unknown_outcome_is_unknown_with_the_id() {
        let err = Error::OutcomeUnknown {
            id: Some(OrgId::parse(ID).expect("id")),
            message: "the connection was lost while committing".into(),
        };
        let status = status(&ApiError::from(err));
        assert_eq!(status.code(), tonic::Code::Unknown);
        assert_eq!(status.code() as i32, 2);
        assert!(status.message().contains(ID), "{}", status.message());
        assert!(
            status.message().contains("connection was lost"),
            "{}",
            status.message()
        );
        let info = info(&status);
        assert_eq!(info.error_code, "OUTCOME_UNKNOWN");
        let resource = info.resource_info.expect("resource_info");
        assert_eq!(resource.resource_name, ID);
        assert!(
            resource.description.contains("read it back"),
            "{resource:?}"
        );
        assert_eq!(info.validation_error_info, None);
    }

    #[test]
    fn an_unknown_outcome_without_an_id_says_so() {
        let err = Error::OutcomeUnknown {
            id: None,
            message: "cut short".into(),
        };
        let status = status(&ApiError::from(err));
        assert_eq!(status.code(), tonic::Code::Unknown);
        assert!(
            status.message().contains("read the organization back"),
            "{}",
            status.message()
        );
        let info = info(&status);
        assert_eq!(info.error_code, "OUTCOME_UNKNOWN");
        assert_eq!(info.resource_info, None);
    }

    #[test]
    fn an_aborted_write_is_aborted() {
        let err = Error::Aborted {
            message: "the transaction conflicted with a concurrent one; retry it".into(),
        };
        let status = status(&ApiError::from(err));
        assert_eq!(status.code(), tonic::Code::Aborted);
        assert_eq!(status.code() as i32, 10);
        assert!(
            status.message().starts_with("aborted: "),
            "{}",
            status.message()
        );
        let info = info(&status);
        assert_eq!(info.error_code, "ABORTED");
        assert_eq!(info.resource_info, None);
    }

    #[test]
    fn no_store_error_is_unavailable() {
        // UNAVAILABLE (14) is what clients retry blindly; no store outcome may become it.
        for code in [
            ErrorCode::NotFound,
            ErrorCode::AlreadyExists,
            ErrorCode::InvalidArgument,
            ErrorCode::FailedPrecondition,
            ErrorCode::Aborted,
            ErrorCode::Internal,
            ErrorCode::OutcomeUnknown,
            ErrorCode::DataLoss,
        ] {
            let status = status(&ApiError::new(Code::Store(code), "x"));
            assert_eq!(status.code() as i32, code.grpc_code(), "{code}");
            assert_ne!(status.code(), tonic::Code::Unavailable, "{code}");
            assert_eq!(info(&status).error_code, code.as_str());
        }
    }
}
