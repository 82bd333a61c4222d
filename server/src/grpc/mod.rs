//! The gRPC surface: Scalekit's `OrganizationService`, served as axum routes so that it shares
//! the port, the body limits and the request log with REST.

pub mod error;
pub mod organizations;

use std::sync::Arc;

use axum::Router;

use crate::auth::Auth;
use crate::ops::Ops;
use crate::proto::scalekit::v1::organizations::organization_service_server::OrganizationServiceServer;

/// The service's routes (`/scalekit.v1.organizations.OrganizationService/*`); every call
/// needs `authorization: Bearer <token>` metadata, else UNAUTHENTICATED.
pub fn router(ops: Arc<Ops>, auth: Arc<Auth>) -> Router {
    let check = move |request: tonic::Request<()>| {
        let value = request
            .metadata()
            .get("authorization")
            .map(tonic::metadata::MetadataValue::as_bytes);
        match auth.check_header(value) {
            Ok(()) => Ok(request),
            Err(err) => Err(error::status(&err)),
        }
    };
    let service = OrganizationServiceServer::with_interceptor(
        organizations::OrganizationApi::new(ops),
        check,
    );
    tonic::service::Routes::new(service).into_axum_router()
}
