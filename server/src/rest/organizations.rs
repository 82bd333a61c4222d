//! The organization endpoints of the REST surface. Each handler converts the wire form,
//! calls the shared operation and maps the error; nothing else.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use orgstore::{ListRequest, Organization};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::convert::{self, Key};
use crate::error::ApiError;
use crate::ops::Ops;

#[derive(Serialize)]
struct Envelope {
    organization: Organization,
}

fn envelope(status: StatusCode, organization: Organization) -> Response {
    (status, Json(Envelope { organization })).into_response()
}

/// A JSON object body; an empty body reads as `{}`.
fn json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let text: &[u8] = match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => b"{}",
        Some(b'{') => body,
        // serde would read a struct from an array too.
        Some(_) => return Err(ApiError::bad_request("the body must be a JSON object")),
    };
    serde_json::from_slice(text)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

fn path(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(p)| p)
        .map_err(|e| ApiError::bad_request(format!("invalid path: {e}")))
}

/// `GET /api/v1/organizations?page_size&page_token&external_id`
pub async fn list(
    State(ops): State<Arc<Ops>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))?;
    let mut request = ListRequest::new();
    for (name, value) in pairs {
        request = match name.as_str() {
            "page_size" => request.page_size(convert::page_size(&value)?),
            "page_token" => request.page_token(value),
            "external_id" => request.external_id(value),
            _ => request,
        };
    }
    let page = ops.list(request).await?;
    Ok(Json(page).into_response())
}

/// `POST /api/v1/organizations` → 201
pub async fn create(State(ops): State<Arc<Ops>>, body: Bytes) -> Result<Response, ApiError> {
    let new = convert::rest_create(json(&body)?)?;
    let org = ops.create(new).await?;
    Ok(envelope(StatusCode::CREATED, org))
}

/// `GET /api/v1/organizations/{id}`
pub async fn get(
    State(ops): State<Arc<Ops>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let org = ops.get(Key::Id(path(id)?)).await?;
    Ok(envelope(StatusCode::OK, org))
}

/// `GET /api/v1/organizations:external/{external_id}`
pub async fn get_by_external_id(
    State(ops): State<Arc<Ops>>,
    external_id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let org = ops.get(Key::ExternalId(path(external_id)?)).await?;
    Ok(envelope(StatusCode::OK, org))
}

/// `PATCH /api/v1/organizations/{id}`
pub async fn update(
    State(ops): State<Arc<Ops>>,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = path(id)?;
    let fields = convert::rest_update(json(&body)?);
    let org = ops.update(Key::Id(id), fields.into_update()).await?;
    Ok(envelope(StatusCode::OK, org))
}

/// `DELETE /api/v1/organizations/{id}` → 200 `{}`
pub async fn delete(
    State(ops): State<Arc<Ops>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    ops.delete(Key::Id(path(id)?)).await?;
    Ok(Json(serde_json::json!({})).into_response())
}

/// `PATCH /api/v1/organizations/{id}/settings`
pub async fn update_settings(
    State(ops): State<Arc<Ops>>,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = path(id)?;
    let features = convert::rest_features(json(&body)?);
    let org = ops.update_settings(id, features).await?;
    Ok(envelope(StatusCode::OK, org))
}
