//! The REST surface's one error mapping: [`ApiError`] → HTTP status and the JSON body of
//! Scalekit's gateway, `{"code", "message", "details": [ErrorInfo]}`. The status and code are the
//! library's own ([`orgstore::ErrorCode`]): `OUTCOME_UNKNOWN` is 500 with code 2 and the
//! organization in `resource_info.resource_name`, `ABORTED` 409 with code 10.

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
    resource_info: Option<ResourceInfo<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    validation_error_info: Option<ValidationInfo<'a>>,
}

#[derive(Serialize)]
struct ResourceInfo<'a> {
    resource_name: &'a str,
    description: &'a str,
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
                resource_info: self.resource.as_deref().map(|id| ResourceInfo {
                    resource_name: id,
                    description: &self.message,
                }),
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

#[cfg(test)]
mod tests {
    use orgstore::{Error, OrgId};
    use serde_json::Value;

    use super::*;

    const ID: &str = "org_01JD8Z3V7W8Q2M4N6P8R0T2V4X";

    async fn answer(err: ApiError) -> (u16, Value) {
        let response = err.into_response();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, serde_json::from_slice(&bytes).expect("JSON"))
    }

    #[tokio::test]
    async fn an_unknown_outcome_is_500_with_the_id() {
        let err = Error::OutcomeUnknown {
            id: Some(OrgId::parse(ID).expect("id")),
            message: "the commit outlived its deadline".into(),
        };
        let (status, body) = answer(err.into()).await;
        assert_eq!(status, 500);
        assert_eq!(body["code"], 2, "{body}");
        let message = body["message"].as_str().expect("message");
        assert!(
            message.contains(ID) && message.contains("deadline"),
            "{body}"
        );
        let detail = &body["details"][0];
        assert_eq!(detail["@type"], ERROR_INFO_TYPE);
        assert_eq!(detail["error_code"], "OUTCOME_UNKNOWN");
        assert_eq!(detail["resource_info"]["resource_name"], ID, "{body}");
        assert_eq!(detail["resource_info"]["description"], message, "{body}");
        assert!(detail.get("validation_error_info").is_none(), "{body}");
    }

    #[tokio::test]
    async fn an_aborted_write_is_409_with_code_10() {
        let err = Error::Aborted {
            message: "a concurrent write took the same key; retry".into(),
        };
        let (status, body) = answer(err.into()).await;
        assert_eq!(status, 409);
        assert_eq!(body["code"], 10, "{body}");
        assert_eq!(body["details"][0]["error_code"], "ABORTED", "{body}");
        assert!(body["details"][0].get("resource_info").is_none(), "{body}");
    }

    #[tokio::test]
    async fn other_errors_name_no_resource() {
        let (status, body) = answer(ApiError::invalid("display_name", "is empty")).await;
        assert_eq!(status, 400);
        assert!(body["details"][0].get("resource_info").is_none(), "{body}");
        assert_eq!(
            body["details"][0]["validation_error_info"]["field_violations"][0]["field"],
            "display_name"
        );
    }
}
