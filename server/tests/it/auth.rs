//! The token endpoint, token checks on both surfaces, expiry, restarts and shared keys.

use std::time::Duration;

use orgstore_server::Server;
use serde_json::Value;
use tonic::Code;

use crate::common::{self, assert_error, TestServer, CLIENT_ID, CLIENT_SECRET};

async fn token_call(t: &TestServer, form: &[(&str, &str)]) -> (u16, Value) {
    let response = t
        .http
        .post(t.url("/oauth/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn token_endpoint() {
    let t = TestServer::start().await;
    let good = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];
    let (status, body) = token_call(&t, &good).await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86_400);
    assert!(body["access_token"].as_str().unwrap().len() > 40);

    let (status, body) = token_call(
        &t,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = token_call(
        &t,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "someone"),
            ("client_secret", CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = token_call(&t, &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = token_call(
        &t,
        &[
            ("grant_type", "password"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, body) = token_call(&t, &[("client_id", CLIENT_ID)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    // HTTP Basic client authentication works too.
    let response = t
        .http
        .post(t.url("/oauth/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn api_calls_need_a_bearer_token() {
    let t = TestServer::start().await;
    for header in [
        None,
        Some("Bearer nope"),
        Some("Basic abc"),
        Some("Bearer ost1.AAAA.BBBB"),
    ] {
        let mut request = t.http.get(t.url("/api/v1/organizations"));
        if let Some(h) = header {
            request = request.header("authorization", h);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{header:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let body: Value = response.json().await.unwrap();
        assert_error(&body, 16, "UNAUTHENTICATED", &[]);
    }
    let response = t
        .http
        .post(t.url("/api/v1/organizations"))
        .body(r#"{"display_name":"X"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        t.call(reqwest::Method::GET, "/api/v1/organizations", None)
            .await
            .1["total_size"],
        0
    );
}

#[tokio::test]
async fn tokens_expire() {
    let t = TestServer::start_with(|c| c.token_ttl = Duration::from_secs(1)).await;
    let (status, _) = t
        .call(reqwest::Method::GET, "/api/v1/organizations", None)
        .await;
    assert_eq!(status, 200);
    let mut c = t.grpc().await;
    c.list_organization(
        orgstore_server::proto::scalekit::v1::organizations::ListOrganizationsRequest::default(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let (status, body) = t
        .call(reqwest::Method::GET, "/api/v1/organizations", None)
        .await;
    assert_eq!(status, 401);
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    let status = c
        .list_organization(
            orgstore_server::proto::scalekit::v1::organizations::ListOrganizationsRequest::default(
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("expired"));
    // A fresh token works again.
    let fresh = t.new_token().await;
    let mut c = t.grpc_with(Some(&fresh)).await;
    c.list_organization(
        orgstore_server::proto::scalekit::v1::organizations::ListOrganizationsRequest::default(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn tokens_survive_a_restart_and_work_on_servers_sharing_the_key() {
    let dir = tempfile::tempdir().unwrap();
    // No credentials given: generated, printed by the binary, kept beside the store.
    let mut config = common::config(&dir);
    config.credentials = None;
    let first = Server::start(config.clone()).await.unwrap();
    assert!(first.generated_credentials());
    let creds = first.credentials().clone();
    assert!(creds.client_id.starts_with("skc_"));
    let path = first.credentials_path().unwrap().to_owned();
    assert_eq!(path, dir.path().join("orgs.redb.credentials"));
    let http = reqwest::Client::new();
    let token_of = |addr: std::net::SocketAddr, id: String, secret: String| {
        let http = http.clone();
        async move {
            let response = http
                .post(format!("http://{addr}/oauth/token"))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.unwrap();
            body["access_token"].as_str().unwrap().to_owned()
        }
    };
    let token = token_of(
        first.local_addr(),
        creds.client_id.clone(),
        creds.client_secret.clone(),
    )
    .await;
    first.stop().await.unwrap();

    let status_with = |addr: std::net::SocketAddr, token: String| {
        let http = http.clone();
        async move {
            http.get(format!("http://{addr}/api/v1/organizations"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // Restart: same credentials (not regenerated), the old token still works.
    let second = Server::start(config.clone()).await.unwrap();
    assert!(!second.generated_credentials());
    assert_eq!(second.credentials(), &creds);
    assert_eq!(status_with(second.local_addr(), token.clone()).await, 200);

    // Another server on another store, given the same key, accepts it; one with another
    // key does not.
    let file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let key = base64_decode(file["token_key"].as_str().unwrap());
    let other_dir = tempfile::tempdir().unwrap();
    let mut other = common::config(&other_dir);
    other.token_key = Some(key);
    let other = Server::start(other).await.unwrap();
    assert_eq!(status_with(other.local_addr(), token.clone()).await, 200);
    let third_dir = tempfile::tempdir().unwrap();
    let third = Server::start(common::config(&third_dir)).await.unwrap();
    assert_eq!(status_with(third.local_addr(), token).await, 401);
    for s in [second, other, third] {
        s.stop().await.unwrap();
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}
