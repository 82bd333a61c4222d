//! `scalekit.v1.organizations.OrganizationService`: the seven methods OrgStore serves. Each
//! converts the message, calls the shared operation and maps the error; the other methods of
//! the service answer UNIMPLEMENTED.

use std::sync::Arc;

use orgstore::ListRequest;
use tonic::{Request, Response, Status};

use crate::convert::{self, Key};
use crate::error::ApiError;
use crate::grpc::error::status;
use crate::ops::Ops;
use crate::proto::scalekit::v1::organizations as pb;
use crate::proto::scalekit::v1::organizations::organization_service_server::OrganizationService;

/// The service, over the shared operations.
#[derive(Debug, Clone)]
pub struct OrganizationApi {
    ops: Arc<Ops>,
}

impl OrganizationApi {
    /// The service over `ops`.
    pub fn new(ops: Arc<Ops>) -> Self {
        OrganizationApi { ops }
    }
}

fn fail(err: &ApiError) -> Status {
    status(err)
}

fn get_key(identities: Option<pb::get_organization_request::Identities>) -> Result<Key, Status> {
    use pb::get_organization_request::Identities;
    match identities {
        Some(Identities::Id(id)) => Ok(Key::Id(id)),
        Some(Identities::ExternalId(e)) => Ok(Key::ExternalId(e)),
        None => Err(fail(&ApiError::invalid(
            "id",
            "id or external_id is required",
        ))),
    }
}

#[tonic::async_trait]
impl OrganizationService for OrganizationApi {
    async fn create_organization(
        &self,
        request: Request<pb::CreateOrganizationRequest>,
    ) -> Result<Response<pb::CreateOrganizationResponse>, Status> {
        let org = request.into_inner().organization.unwrap_or_default();
        let new = convert::grpc_create(org).map_err(|e| fail(&e))?;
        let org = self.ops.create(new).await.map_err(|e| fail(&e))?;
        Ok(Response::new(pb::CreateOrganizationResponse {
            organization: Some(convert::organization_to_proto(org)),
        }))
    }

    async fn update_organization(
        &self,
        request: Request<pb::UpdateOrganizationRequest>,
    ) -> Result<Response<pb::UpdateOrganizationResponse>, Status> {
        use pb::update_organization_request::Identities;
        let request = request.into_inner();
        let key = match request.identities {
            Some(Identities::Id(id)) => Key::Id(id),
            Some(Identities::ExternalId(e)) => Key::ExternalId(e),
            None => {
                return Err(fail(&ApiError::invalid(
                    "id",
                    "id or external_id is required",
                )))
            }
        };
        let fields = convert::grpc_update(request.organization, request.update_mask.as_ref());
        let org = self
            .ops
            .update(key, fields.into_update())
            .await
            .map_err(|e| fail(&e))?;
        Ok(Response::new(pb::UpdateOrganizationResponse {
            organization: Some(convert::organization_to_proto(org)),
        }))
    }

    async fn get_organization(
        &self,
        request: Request<pb::GetOrganizationRequest>,
    ) -> Result<Response<pb::GetOrganizationResponse>, Status> {
        let key = get_key(request.into_inner().identities)?;
        let org = self.ops.get(key).await.map_err(|e| fail(&e))?;
        Ok(Response::new(pb::GetOrganizationResponse {
            organization: Some(convert::organization_to_proto(org)),
        }))
    }

    async fn get_organization_by_external_id(
        &self,
        request: Request<pb::GetOrganizationRequest>,
    ) -> Result<Response<pb::GetOrganizationResponse>, Status> {
        // The same request message; it may carry either identity.
        self.get_organization(request).await
    }

    async fn list_organization(
        &self,
        request: Request<pb::ListOrganizationsRequest>,
    ) -> Result<Response<pb::ListOrganizationsResponse>, Status> {
        let request = request.into_inner();
        let mut list = ListRequest::new()
            .page_size(request.page_size)
            .page_token(request.page_token);
        if let Some(external_id) = request.external_id {
            list = list.external_id(external_id);
        }
        let page = self.ops.list(list).await.map_err(|e| fail(&e))?;
        Ok(Response::new(pb::ListOrganizationsResponse {
            next_page_token: page.next_page_token,
            total_size: u32::try_from(page.total_size).unwrap_or(u32::MAX),
            organizations: page
                .organizations
                .into_iter()
                .map(convert::organization_to_proto)
                .collect(),
            prev_page_token: page.prev_page_token,
        }))
    }

    async fn delete_organization(
        &self,
        request: Request<pb::DeleteOrganizationRequest>,
    ) -> Result<Response<()>, Status> {
        use pb::delete_organization_request::Identities;
        let key = match request.into_inner().identities {
            Some(Identities::Id(id)) => Key::Id(id),
            Some(Identities::ExternalId(e)) => Key::ExternalId(e),
            None => {
                return Err(fail(&ApiError::invalid(
                    "id",
                    "id or external_id is required",
                )))
            }
        };
        self.ops.delete(key).await.map_err(|e| fail(&e))?;
        Ok(Response::new(()))
    }

    async fn update_organization_settings(
        &self,
        request: Request<pb::UpdateOrganizationSettingsRequest>,
    ) -> Result<Response<pb::GetOrganizationResponse>, Status> {
        let request = request.into_inner();
        let features = convert::grpc_features(request.settings);
        let org = self
            .ops
            .update_settings(request.id, features)
            .await
            .map_err(|e| fail(&e))?;
        Ok(Response::new(pb::GetOrganizationResponse {
            organization: Some(convert::organization_to_proto(org)),
        }))
    }
}
