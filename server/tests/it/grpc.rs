//! Every gRPC method through a tonic client, and the details of every error.

use std::collections::HashMap;

use orgstore_server::proto::google::rpc;
use orgstore_server::proto::scalekit::v1::errdetails::ErrorInfo;
use orgstore_server::proto::scalekit::v1::organizations as pb;
use pb::{delete_organization_request, get_organization_request, update_organization_request};
use prost::Message as _;
use tonic::Code;

use crate::common::{Grpc, TestServer};

pub fn create_request(name: &str, external_id: Option<&str>) -> pb::CreateOrganizationRequest {
    pb::CreateOrganizationRequest {
        organization: Some(pb::CreateOrganization {
            display_name: name.into(),
            external_id: external_id.map(Into::into),
            ..Default::default()
        }),
    }
}

fn by_id(id: &str) -> pb::GetOrganizationRequest {
    pb::GetOrganizationRequest {
        identities: Some(get_organization_request::Identities::Id(id.into())),
    }
}

fn by_external(e: &str) -> pb::GetOrganizationRequest {
    pb::GetOrganizationRequest {
        identities: Some(get_organization_request::Identities::ExternalId(e.into())),
    }
}

/// The decoded `grpc-status-details-bin` of a status: its `google.rpc.Status` must repeat
/// the code and message; returns the ErrorInfo.
pub fn details(status: &tonic::Status) -> ErrorInfo {
    let rpc = rpc::Status::decode(status.details()).expect("google.rpc.Status");
    assert_eq!(rpc.code, status.code() as i32);
    assert_eq!(rpc.message, status.message());
    assert_eq!(rpc.details.len(), 1);
    assert_eq!(
        rpc.details[0].type_url,
        "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo"
    );
    ErrorInfo::decode(rpc.details[0].value.as_slice()).expect("ErrorInfo")
}

fn fields(info: &ErrorInfo) -> Vec<String> {
    info.validation_error_info
        .as_ref()
        .map(|v| v.field_violations.iter().map(|f| f.field.clone()).collect())
        .unwrap_or_default()
}

async fn get(
    client: &mut Grpc,
    request: pb::GetOrganizationRequest,
) -> Result<pb::Organization, tonic::Status> {
    Ok(client
        .get_organization(request)
        .await?
        .into_inner()
        .organization
        .unwrap())
}

#[tokio::test]
async fn every_method() {
    let t = TestServer::start().await;
    let mut c = t.grpc().await;
    let created = c
        .create_organization(pb::CreateOrganizationRequest {
            organization: Some(pb::CreateOrganization {
                display_name: "Acme".into(),
                region_code: 2,
                external_id: Some("acme-1".into()),
                metadata: HashMap::from([("plan".into(), "pro".into())]),
                slug: Some("acme".into()),
                logo_url: Some("https://cdn.example.com/a.png".into()),
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert!(created.id.starts_with("org_"));
    assert_eq!(created.region_code, 2);
    assert_eq!(created.slug.as_deref(), Some("acme"));
    assert_eq!(created.create_time, created.update_time);
    assert!(created.create_time.unwrap().seconds > 1_700_000_000);
    // The same record over REST.
    let (_, rest) = t
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/organizations/{}", created.id),
            None,
        )
        .await;
    assert_eq!(rest["organization"]["external_id"], "acme-1");

    assert_eq!(get(&mut c, by_id(&created.id)).await.unwrap(), created);
    assert_eq!(get(&mut c, by_external("acme-1")).await.unwrap(), created);
    let again = c
        .get_organization_by_external_id(by_external("acme-1"))
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(again, created);

    // A name-only update sends an empty map: the metadata stays.
    let update =
        |identities, organization, mask: Option<Vec<&str>>| pb::UpdateOrganizationRequest {
            identities: Some(identities),
            organization: Some(organization),
            update_mask: mask.map(|paths| prost_types::FieldMask {
                paths: paths.into_iter().map(Into::into).collect(),
            }),
        };
    let renamed = c
        .update_organization(update(
            update_organization_request::Identities::Id(created.id.clone()),
            pb::UpdateOrganization {
                display_name: Some("Acme Inc".into()),
                ..Default::default()
            },
            None,
        ))
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(renamed.display_name, "Acme Inc");
    assert_eq!(renamed.metadata, created.metadata);
    // By external id: a non-empty map replaces; "" clears the slug.
    let replaced = c
        .update_organization(update(
            update_organization_request::Identities::ExternalId("acme-1".into()),
            pb::UpdateOrganization {
                metadata: HashMap::from([("tier".into(), "gold".into())]),
                slug: Some(String::new()),
                ..Default::default()
            },
            None,
        ))
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(
        replaced.metadata,
        HashMap::from([("tier".into(), "gold".into())])
    );
    assert_eq!(replaced.slug, None);
    assert_eq!(replaced.display_name, "Acme Inc");
    // An update mask naming metadata clears with an empty map.
    let cleared = c
        .update_organization(update(
            update_organization_request::Identities::Id(created.id.clone()),
            pb::UpdateOrganization::default(),
            Some(vec!["metadata"]),
        ))
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert!(cleared.metadata.is_empty());
    // Persisted: a fresh read agrees.
    assert_eq!(get(&mut c, by_id(&created.id)).await.unwrap(), cleared);

    // Settings: order kept, disabled toggles stay listed.
    let settings = |features: &[(&str, bool)]| pb::UpdateOrganizationSettingsRequest {
        id: created.id.clone(),
        settings: Some(pb::OrganizationSettings {
            features: features
                .iter()
                .map(|(n, e)| pb::OrganizationSettingsFeature {
                    name: (*n).into(),
                    enabled: *e,
                })
                .collect(),
        }),
    };
    c.update_organization_settings(settings(&[("sso", true), ("dir_sync", true)]))
        .await
        .unwrap();
    let org = c
        .update_organization_settings(settings(&[("sso", false)]))
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    let features: Vec<(String, bool)> = org
        .settings
        .unwrap()
        .features
        .into_iter()
        .map(|f| (f.name, f.enabled))
        .collect();
    assert_eq!(features, [("sso".into(), false), ("dir_sync".into(), true)]);

    // Delete by id and by external id; then NOT_FOUND.
    let other = c
        .create_organization(create_request("Other", Some("other-1")))
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    c.delete_organization(pb::DeleteOrganizationRequest {
        identities: Some(delete_organization_request::Identities::Id(
            created.id.clone(),
        )),
    })
    .await
    .unwrap();
    c.delete_organization(pb::DeleteOrganizationRequest {
        identities: Some(delete_organization_request::Identities::ExternalId(
            "other-1".into(),
        )),
    })
    .await
    .unwrap();
    for key in [by_id(&created.id), by_id(&other.id), by_external("acme-1")] {
        let status = get(&mut c, key).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
        assert!(
            status.message().contains("not found"),
            "{}",
            status.message()
        );
        assert_eq!(details(&status).error_code, "NOT_FOUND");
    }
    // The external id is free again.
    c.create_organization(create_request("Again", Some("acme-1")))
        .await
        .unwrap();
}

#[tokio::test]
async fn list_pages() {
    let t = TestServer::start().await;
    let mut c = t.grpc().await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let org = c
            .create_organization(create_request(&format!("Org {i}"), None))
            .await
            .unwrap()
            .into_inner()
            .organization
            .unwrap();
        ids.push(org.id);
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = c
            .list_organization(pb::ListOrganizationsRequest {
                page_size: 5,
                page_token: token.clone(),
                external_id: None,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total_size, 12);
        pages += 1;
        seen.extend(page.organizations.into_iter().map(|o| o.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!((pages, seen), (3, ids));
    for n in 0..=9u32 {
        let page = c
            .list_organization(pb::ListOrganizationsRequest {
                page_size: n,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let expected = if n == 0 { 10 } else { n as usize };
        assert_eq!(page.organizations.len(), expected);
    }
    let status = c
        .list_organization(pb::ListOrganizationsRequest {
            page_token: "garbage".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn errors_carry_status_details() {
    let t = TestServer::start().await;
    let mut c = t.grpc().await;
    c.create_organization(create_request("A", Some("dup")))
        .await
        .unwrap();

    let status = c
        .create_organization(create_request("B", Some("dup")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(
        status.message().contains("already exists"),
        "{}",
        status.message()
    );
    assert!(status.message().contains("external_id"));
    let info = details(&status);
    assert_eq!(info.error_code, "ALREADY_EXISTS");
    assert!(fields(&info).is_empty());

    let mut bad = create_request("", None);
    bad.organization.as_mut().unwrap().slug = Some("Not A Slug".into());
    let status = c.create_organization(bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let info = details(&status);
    assert_eq!(info.error_code, "INVALID_ARGUMENT");
    assert_eq!(fields(&info), ["display_name", "slug"]);
    let violation = &info.validation_error_info.unwrap().field_violations[0];
    assert!(
        violation.description.contains("200 characters"),
        "{violation:?}"
    );

    let mut bad = create_request("Region", None);
    bad.organization.as_mut().unwrap().region_code = 7;
    let status = c.create_organization(bad).await.unwrap_err();
    assert_eq!(fields(&details(&status)), ["region_code"]);

    // No identity in the oneof; an empty one.
    let status = c
        .get_organization(pb::GetOrganizationRequest { identities: None })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&details(&status)), ["id"]);
    let status = get(&mut c, by_external("")).await.unwrap_err();
    assert_eq!(fields(&details(&status)), ["external_id"]);
    let status = c
        .delete_organization(pb::DeleteOrganizationRequest { identities: None })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = c
        .update_organization(pb::UpdateOrganizationRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);

    // Update: "" display name, unknown id.
    let org = c
        .create_organization(create_request("C", None))
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    let status = c
        .update_organization(pb::UpdateOrganizationRequest {
            identities: Some(update_organization_request::Identities::Id(org.id.clone())),
            organization: Some(pb::UpdateOrganization {
                display_name: Some(String::new()),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&details(&status)), ["display_name"]);
    let status = c
        .update_organization(pb::UpdateOrganizationRequest {
            identities: Some(update_organization_request::Identities::ExternalId(
                "nobody".into(),
            )),
            organization: None,
            update_mask: None,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = c
        .delete_organization(pb::DeleteOrganizationRequest {
            identities: Some(delete_organization_request::Identities::Id(
                "org_404".into(),
            )),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    // Settings: a name twice is refused and nothing is written.
    let status = c
        .update_organization_settings(pb::UpdateOrganizationSettingsRequest {
            id: org.id.clone(),
            settings: Some(pb::OrganizationSettings {
                features: vec![
                    pb::OrganizationSettingsFeature {
                        name: "sso".into(),
                        enabled: true,
                    },
                    pb::OrganizationSettingsFeature {
                        name: "sso".into(),
                        enabled: false,
                    },
                ],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&details(&status)), ["settings"]);
    let after = get(&mut c, by_id(&org.id)).await.unwrap();
    assert!(after.settings.unwrap().features.is_empty());

    // Methods out of scope.
    let status = c
        .search_organization(pb::SearchOrganizationsRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    let status = c
        .get_portal_links(pb::GetPortalLinkRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
}

#[tokio::test]
async fn unauthenticated_without_a_live_token() {
    let t = TestServer::start().await;
    for token in [None, Some("ost1.forged.token"), Some("garbage")] {
        let mut c = t.grpc_with(token).await;
        let status = c.get_organization(by_id("org_1")).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{token:?}");
        assert_eq!(details(&status).error_code, "UNAUTHENTICATED");
        let status = c
            .create_organization(create_request("X", None))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    assert_eq!(
        t.call(reqwest::Method::GET, "/api/v1/organizations", None)
            .await
            .1["total_size"],
        0,
        "nothing was created"
    );
}
