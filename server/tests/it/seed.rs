//! `--seed`: pinned ids imported once; restarts change nothing and undo nothing.

use reqwest::Method;
use serde_json::json;

use crate::common::{self, TestServer};

#[tokio::test]
async fn seed_once_and_keep_the_applications_changes() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.jsonl");
    let mut lines = String::new();
    for i in 1..=11 {
        lines.push_str(&json!({"id": format!("org_{i}"), "display_name": format!("Seeded {i}"), "external_id": format!("seed-{i}")}).to_string());
        lines.push('\n');
    }
    std::fs::write(&seed, lines).unwrap();
    let mut config = common::config(&dir);
    config.seed = Some(seed.clone());
    let mut t = TestServer::start_config(dir, config.clone()).await;
    assert_eq!(t.server().seed_report().unwrap().imported, 11);
    let (_, body) = t.call(Method::GET, "/api/v1/organizations", None).await;
    assert_eq!(body["total_size"], 11);
    assert_eq!(
        body["organizations"][0]["id"], "org_11",
        "newest (highest) id first"
    );
    assert_eq!(
        t.call(Method::DELETE, "/api/v1/organizations/org_3", None)
            .await
            .0,
        200
    );
    let (status, _) = t
        .call(
            Method::PATCH,
            "/api/v1/organizations/org_4",
            Some(json!({"display_name": "Renamed"})),
        )
        .await;
    assert_eq!(status, 200);
    t.stop().await;

    let dir = std::mem::replace(&mut t.dir, tempfile::tempdir().unwrap());
    let t = TestServer::start_config(dir, config).await;
    let report = t.server().seed_report().unwrap();
    assert_eq!((report.imported, report.skipped), (0, 11));
    let (_, body) = t.call(Method::GET, "/api/v1/organizations", None).await;
    assert_eq!(body["total_size"], 10);
    assert_eq!(
        t.call(Method::GET, "/api/v1/organizations/org_3", None)
            .await
            .0,
        404
    );
    let (_, body) = t
        .call(Method::GET, "/api/v1/organizations/org_4", None)
        .await;
    assert_eq!(body["organization"]["display_name"], "Renamed");
}

#[tokio::test]
async fn a_bad_seed_fails_the_start_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.jsonl");
    std::fs::write(
        &seed,
        "{\"id\":\"org_1\",\"display_name\":\"A\"}\nnot json\n",
    )
    .unwrap();
    let mut config = common::config(&dir);
    config.seed = Some(seed);
    let err = orgstore_server::Server::start(config).await.unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
}
