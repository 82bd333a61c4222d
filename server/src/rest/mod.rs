//! The REST surface: Scalekit's organization endpoints (`/api/v1/organizations…`), each
//! behind a bearer token.

pub mod error;
pub mod organizations;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::auth::Auth;
use crate::ops::Ops;

/// The organization routes, each requiring `Authorization: Bearer <token>`.
pub fn router(ops: Arc<Ops>, auth: Arc<Auth>) -> Router {
    Router::new()
        .route(
            "/api/v1/organizations",
            get(organizations::list).post(organizations::create),
        )
        .route(
            "/api/v1/organizations/{id}",
            get(organizations::get)
                .patch(organizations::update)
                .delete(organizations::delete),
        )
        .route(
            "/api/v1/organizations:external/{external_id}",
            get(organizations::get_by_external_id),
        )
        .route(
            "/api/v1/organizations/{id}/settings",
            axum::routing::patch(organizations::update_settings),
        )
        .with_state(ops)
        .route_layer(middleware::from_fn_with_state(auth, require_token))
}

/// Refuses a request without a live bearer token: 401 in the error body shape.
async fn require_token(State(auth): State<Arc<Auth>>, request: Request, next: Next) -> Response {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(axum::http::HeaderValue::as_bytes);
    match auth.check_header(value) {
        Ok(()) => next.run(request).await,
        Err(err) => err.into_response(),
    }
}
