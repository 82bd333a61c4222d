//! The gRPC surface's one error mapping: [`ApiError`] → `tonic::Status` whose
//! `grpc-status-details-bin` is a `google.rpc.Status` with the same code and message and one
//! `Any` holding Scalekit's `ErrorInfo` (the status name and every field violation).

use axum::response::Response;
use prost::Message as _;

use crate::error::ApiError;
use crate::proto::google::rpc;
use crate::proto::scalekit::v1::errdetails::{
    validation_error_info, ErrorInfo, ValidationErrorInfo,
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
