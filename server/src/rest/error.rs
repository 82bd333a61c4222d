//! The REST surface's one error mapping: [`ApiError`] → HTTP status and the JSON body of
//! Scalekit's gateway, `{"code", "message", "details": [ErrorInfo]}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::{ApiError, Code};

/// The `@type` of the `ErrorInfo` detail.
pub const ERROR_INFO_TYPE: &str = "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo";

#[derive(Serialize)]
struct Body<'a> {
    code: i32,
    message: &'a str,
    details: [Detail<'a>; 1],
}

#[derive(Serialize)]
struct Detail<'a> {
    #[serde(rename = "@type")]
    type_url: &'static str,
    error_code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    validation_error_info: Option<ValidationInfo<'a>>,
}

#[derive(Serialize)]
struct ValidationInfo<'a> {
    field_violations: Vec<FieldViolation<'a>>,
}

#[derive(Serialize)]
struct FieldViolation<'a> {
    field: &'a str,
    description: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let validation_error_info = (!self.violations.is_empty()).then(|| ValidationInfo {
            field_violations: self
                .violations
                .iter()
                .map(|v| FieldViolation {
                    field: &v.field,
                    description: &v.description,
                })
                .collect(),
        });
        let body = Body {
            code: self.code.grpc_code(),
            message: &self.message,
            details: [Detail {
                type_url: ERROR_INFO_TYPE,
                error_code: self.code.as_str(),
                validation_error_info,
            }],
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match self.code {
            Code::Unauthenticated => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Code::TooLarge => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}
