//! Every REST endpoint, its success shape and its error statuses and bodies.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{assert_error, TestServer};

#[tokio::test]
async fn create_get_update_settings_delete() {
    let t = TestServer::start().await;
    let (status, body) = t
        .call(
            Method::POST,
            "/api/v1/organizations",
            Some(json!({
                "display_name": "Acme",
                "external_id": "acme-1",
                "slug": "acme",
                "logo_url": "https://cdn.example.com/acme.png",
                "region_code": "EU",
                "metadata": {"plan": "pro", "seats": "10"}
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let org = body["organization"].clone();
    let id = org["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("org_"));
    assert_eq!(org["display_name"], "Acme");
    assert_eq!(org["region_code"], "EU");
    assert_eq!(org["slug"], "acme");
    assert_eq!(org["metadata"], json!({"plan": "pro", "seats": "10"}));
    assert!(
        org.get("settings").is_none(),
        "no toggles: omitted as the library does"
    );
    // The wire JSON is exactly the library's serde form.
    let stored: orgstore::Organization = serde_json::from_value(org.clone()).unwrap();
    assert_eq!(serde_json::to_value(&stored).unwrap(), org);

    let (status, body) = t
        .call(Method::GET, &format!("/api/v1/organizations/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["organization"], org);
    let (status, body) = t
        .call(Method::GET, "/api/v1/organizations:external/acme-1", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["organization"], org);

    // Absent fields are unchanged; "" clears slug and logo; a map replaces the metadata.
    let path = format!("/api/v1/organizations/{id}");
    let (status, body) = t
        .call(
            Method::PATCH,
            &path,
            Some(json!({"display_name": "Acme Inc", "slug": "", "logo_url": "", "metadata": {"tier": "gold"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let o = &body["organization"];
    assert_eq!(o["display_name"], "Acme Inc");
    assert_eq!(o["external_id"], "acme-1");
    assert!(
        o.get("slug").is_none() && o.get("logo_url").is_none(),
        "{o}"
    );
    assert_eq!(o["metadata"], json!({"tier": "gold"}));
    assert_eq!(o["create_time"], org["create_time"]);
    assert_ne!(o["update_time"], org["update_time"]);
    // No metadata key: kept. `{}`: cleared. `null`: cleared too.
    let (_, body) = t
        .call(Method::PATCH, &path, Some(json!({"external_id": "acme-2"})))
        .await;
    assert_eq!(body["organization"]["metadata"], json!({"tier": "gold"}));
    assert_eq!(body["organization"]["external_id"], "acme-2");
    let (_, body) = t
        .call(Method::PATCH, &path, Some(json!({"metadata": {}})))
        .await;
    assert_eq!(body["organization"]["metadata"], json!({}));
    t.call(
        Method::PATCH,
        &path,
        Some(json!({"metadata": {"plan": "x1"}})),
    )
    .await;
    let (_, body) = t
        .call(Method::PATCH, &path, Some(json!({"metadata": null})))
        .await;
    assert_eq!(body["organization"]["metadata"], json!({}));
    // The old external id is free, the new one is taken.
    let (status, _) = t
        .call(Method::GET, "/api/v1/organizations:external/acme-1", None)
        .await;
    assert_eq!(status, 404);

    // Settings: new names appended in order; existing ones keep their place.
    let settings = format!("{path}/settings");
    let (status, body) = t
        .call(
            Method::PATCH,
            &settings,
            Some(json!({"features": [{"name": "sso", "enabled": true}, {"name": "dir_sync", "enabled": true}]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = t
        .call(
            Method::PATCH,
            &settings,
            Some(json!({"features": [{"name": "audit", "enabled": true}, {"name": "sso", "enabled": false}]})),
        )
        .await;
    assert_eq!(
        body["organization"]["settings"]["features"],
        json!([
            {"name": "sso", "enabled": false},
            {"name": "dir_sync", "enabled": true},
            {"name": "audit", "enabled": true}
        ])
    );
    // A name twice in one request: refused, nothing written.
    let (status, body) = t
        .call(
            Method::PATCH,
            &settings,
            Some(json!({"features": [{"name": "x1", "enabled": true}, {"name": "x1", "enabled": false}]})),
        )
        .await;
    assert_eq!(status, 400);
    assert_error(&body, 3, "INVALID_ARGUMENT", &["settings"]);
    let (_, body) = t.call(Method::GET, &path, None).await;
    assert_eq!(
        body["organization"]["settings"]["features"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let (status, body) = t.call(Method::DELETE, &path, None).await;
    assert_eq!((status, body), (200, json!({})));
    let (status, body) = t.call(Method::GET, &path, None).await;
    assert_eq!(status, 404);
    assert_error(&body, 5, "NOT_FOUND", &[]);
    assert!(body["message"].as_str().unwrap().contains("not found"));
    let (status, body) = t.call(Method::DELETE, &path, None).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = t
        .call(Method::PATCH, &path, Some(json!({"display_name": "x"})))
        .await;
    assert_eq!(status, 404);
    let (status, _) = t
        .call(Method::PATCH, &settings, Some(json!({"features": []})))
        .await;
    assert_eq!(status, 404);
    // The freed external id can be used again at once.
    let (status, _) = t
        .call(
            Method::POST,
            "/api/v1/organizations",
            Some(json!({"display_name": "Again", "external_id": "acme-2"})),
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn error_statuses_and_bodies() {
    let t = TestServer::start().await;
    let create = |body: Value| t.call(Method::POST, "/api/v1/organizations", Some(body));
    assert_eq!(
        create(json!({"display_name": "A", "external_id": "dup", "slug": "dup"}))
            .await
            .0,
        201
    );

    let (status, body) = create(json!({"display_name": "B", "external_id": "dup"})).await;
    assert_eq!(status, 409);
    assert_error(&body, 6, "ALREADY_EXISTS", &[]);
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("already exists") && message.contains("external_id"),
        "{message}"
    );
    let (status, body) = create(json!({"display_name": "B", "slug": "dup"})).await;
    assert_eq!(status, 409);
    assert!(body["message"].as_str().unwrap().contains("slug"));

    // Every violation is listed.
    let (status, body) =
        create(json!({"display_name": "", "slug": "Not A Slug", "logo_url": "http://x"})).await;
    assert_eq!(status, 400);
    assert_error(
        &body,
        3,
        "INVALID_ARGUMENT",
        &["display_name", "slug", "logo_url"],
    );
    let (status, body) = create(json!({"external_id": "x"})).await;
    assert_eq!(status, 400);
    assert_error(&body, 3, "INVALID_ARGUMENT", &["display_name"]);
    let (status, body) = create(json!({"display_name": "A", "region_code": "MARS"})).await;
    assert_eq!(status, 400);
    assert_error(&body, 3, "INVALID_ARGUMENT", &["region_code"]);

    // Bodies that are not the right JSON.
    for raw in [
        "{",
        "[]",
        "{\"display_name\": 5}",
        "{\"metadata\": {\"k\": 1}}",
    ] {
        let response = t
            .http
            .post(t.url("/api/v1/organizations"))
            .header("authorization", t.auth())
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{raw}");
        let body: Value = response.json().await.unwrap();
        assert_error(&body, 3, "INVALID_ARGUMENT", &[]);
    }

    // Update: "" is no display name; a taken external id clashes.
    let (_, body) = create(json!({"display_name": "C"})).await;
    let id = body["organization"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/organizations/{id}");
    let (status, body) = t
        .call(Method::PATCH, &path, Some(json!({"display_name": ""})))
        .await;
    assert_eq!(status, 400);
    assert_error(&body, 3, "INVALID_ARGUMENT", &["display_name"]);
    let (status, _) = t
        .call(Method::PATCH, &path, Some(json!({"external_id": "dup"})))
        .await;
    assert_eq!(status, 409);

    // Unknown and malformed ids.
    let (status, body) = t
        .call(Method::GET, "/api/v1/organizations/org_0123456789", None)
        .await;
    assert_eq!(status, 404);
    assert_error(&body, 5, "NOT_FOUND", &[]);
    let (status, body) = t
        .call(Method::GET, "/api/v1/organizations/not-an-id", None)
        .await;
    assert_eq!(status, 400);
    assert_error(&body, 3, "INVALID_ARGUMENT", &["id"]);
    let (status, _) = t
        .call(Method::GET, "/api/v1/organizations:external/nobody", None)
        .await;
    assert_eq!(status, 404);

    // page_size must be a non-negative integer; tokens are checked.
    for bad in ["-1", "abc", "1.5", "", "%2B3"] {
        let (status, body) = t
            .call(
                Method::GET,
                &format!("/api/v1/organizations?page_size={bad}"),
                None,
            )
            .await;
        assert_eq!(status, 400, "page_size={bad}");
        assert_error(&body, 3, "INVALID_ARGUMENT", &["page_size"]);
    }
    let (status, body) = t
        .call(
            Method::GET,
            "/api/v1/organizations?page_token=garbage",
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert_error(&body, 3, "INVALID_ARGUMENT", &[]);

    // Unknown paths and methods answer in the same shape.
    let (status, body) = t.call(Method::GET, "/api/v2/nothing", None).await;
    assert_eq!(status, 404);
    assert_error(&body, 5, "NOT_FOUND", &[]);
    let (status, body) = t.call(Method::PUT, "/api/v1/organizations", None).await;
    assert_eq!(status, 405);
    assert_error(&body, 12, "UNIMPLEMENTED", &[]);
}

#[tokio::test]
async fn list_pages_newest_first_with_tokens() {
    let t = TestServer::start().await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let (_, body) = t
            .call(
                Method::POST,
                "/api/v1/organizations",
                Some(json!({"display_name": format!("Org {i}")})),
            )
            .await;
        ids.push(body["organization"]["id"].as_str().unwrap().to_owned());
    }
    ids.reverse(); // newest first
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let (status, body) = t
            .call(
                Method::GET,
                &format!("/api/v1/organizations?page_size=5&page_token={token}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["total_size"], 12);
        pages += 1;
        for o in body["organizations"].as_array().unwrap() {
            seen.push(o["id"].as_str().unwrap().to_owned());
        }
        token = body["next_page_token"].as_str().unwrap().to_owned();
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);
    // No page size: 10. Sizes 1 to 9 are honoured.
    let (_, body) = t.call(Method::GET, "/api/v1/organizations", None).await;
    assert_eq!(body["organizations"].as_array().unwrap().len(), 10);
    assert_ne!(body["next_page_token"], "");
    for n in 1..=9 {
        let (_, body) = t
            .call(
                Method::GET,
                &format!("/api/v1/organizations?page_size={n}"),
                None,
            )
            .await;
        assert_eq!(body["organizations"].as_array().unwrap().len(), n);
    }
    // A filter on external id.
    t.call(
        Method::POST,
        "/api/v1/organizations",
        Some(json!({"display_name": "E", "external_id": "e/1 x"})),
    )
    .await;
    let (_, body) = t
        .call(
            Method::GET,
            "/api/v1/organizations?external_id=e%2F1%20x",
            None,
        )
        .await;
    assert_eq!(body["total_size"], 1);
    // Path segments are percent-decoded: an external id with a slash and a space.
    let (status, body) = t
        .call(
            Method::GET,
            "/api/v1/organizations:external/e%2F1%20x",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["organization"]["display_name"], "E");
}

#[tokio::test]
async fn health_needs_no_token() {
    let t = TestServer::start().await;
    let response = t.http.get(t.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn the_openapi_contract_is_served_without_a_token() {
    let t = TestServer::start().await;
    let response = t.http.get(t.url("/openapi.yaml")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/yaml"
    );
    let text = response.text().await.unwrap();
    assert!(text.contains("openapi: 3.1"), "an OpenAPI 3.1 document");
    for path in [
        "/api/v1/organizations:",
        "/api/v1/organizations/{id}:",
        "/api/v1/organizations:external/{external_id}:",
        "/api/v1/organizations/{id}/settings:",
    ] {
        assert!(text.contains(path), "documents {path}");
    }
    assert!(text.contains("bearerAuth"), "documents the bearer scheme");
    assert!(
        text.contains("rpcStatusServerError") && text.contains("resource_info.resource_name"),
        "documents the 500 answers, OUTCOME_UNKNOWN's organization among them"
    );
}
