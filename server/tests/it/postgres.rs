//! `serve --postgres`: what a PostgreSQL store needs and refuses (always tested), and, when
//! `ORGSTORE_TEST_POSTGRES` is set, the answers only a shared store gives — OUTCOME_UNKNOWN
//! and ABORTED on both surfaces, provoked by triggers the test puts under the store — a seed
//! with its record, and two servers sharing one store.

use std::time::Duration;

use orgstore_server::auth::Credentials;
use orgstore_server::{ServeConfig, Server};
use reqwest::Method;
use serde_json::{json, Value};
use tonic::Code;

use crate::common::{self, postgres_store, postgres_url, TestServer, TOKEN_KEY};
use crate::grpc::{create_request, details};

/// A server on PostgreSQL with everything it needs; the URL need not lead anywhere.
fn pg_config(url: &str) -> ServeConfig {
    let mut config = ServeConfig::postgres(postgres_store(url));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.credentials = Some(Credentials {
        client_id: common::CLIENT_ID.into(),
        client_secret: common::CLIENT_SECRET.into(),
    });
    config.token_key = Some(TOKEN_KEY.to_vec());
    config.shutdown_grace = Duration::from_secs(10);
    config
}

/// A URL where no server listens, with a password that must never be shown.
const NOWHERE: &str = "postgres://app:hunter2@127.0.0.1:1/none?sslmode=disable";

#[tokio::test]
async fn a_postgres_store_needs_given_credentials_and_refuses_file_settings() {
    let start = |change: fn(&mut ServeConfig)| async move {
        let mut config = pg_config(NOWHERE);
        change(&mut config);
        Server::start(config).await.unwrap_err().to_string()
    };
    let err = start(|c| c.multi_process = true).await;
    assert!(err.contains("--multi-process does not apply"), "{err}");
    let err = start(|c| c.credentials = None).await;
    assert!(
        err.contains("--client-id, --client-secret and --token-key"),
        "{err}"
    );
    let err = start(|c| c.token_key = None).await;
    assert!(err.contains("--token-key"), "{err}");
    let err = start(|c| c.seed = Some("seed.jsonl".into())).await;
    assert!(err.contains("--seed needs --seed-record"), "{err}");
    // With everything given, the start gets as far as connecting, and says where it failed
    // without the password.
    let err = start(|_| {}).await;
    assert!(
        err.contains("cannot open the store postgres://app:***@127.0.0.1:1/none"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

/// Runs SQL on the test database, off the async threads (the client is synchronous).
async fn sql(text: String) {
    let url = postgres_url().unwrap();
    tokio::task::spawn_blocking(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client.batch_execute(&text).unwrap();
    })
    .await
    .unwrap();
}

/// A trigger on every table of the store's schema: `timing` (before `ON table`) and `deferral`
/// (after it) say when it runs, `body` what it does (PL/pgSQL).
fn on_every_table(schema: &str, name: &str, timing: &str, deferral: &str, body: &str) -> String {
    format!(
        "CREATE FUNCTION {schema}.{name}() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN {body} END $f$;
         DO $d$ DECLARE t record; BEGIN
             FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = '{schema}' LOOP
                 EXECUTE format('CREATE {timing} ON %I.%I {deferral} FOR EACH ROW EXECUTE FUNCTION %I.{name}()',
                     '{schema}', t.tablename, '{schema}');
             END LOOP;
         END $d$;"
    )
}

/// Makes every commit in the store's schema take 5 s: a deferred trigger that sleeps.
fn slow_commits(schema: &str) -> String {
    on_every_table(
        schema,
        "slow_commit",
        "CONSTRAINT TRIGGER slow_commit AFTER INSERT OR UPDATE OR DELETE",
        "DEFERRABLE INITIALLY DEFERRED",
        "PERFORM pg_sleep(5); RETURN NULL;",
    )
}

/// Makes every write in the store's schema fail as a serialization conflict.
fn conflicting_writes(schema: &str) -> String {
    on_every_table(
        schema,
        "conflict",
        "TRIGGER conflict BEFORE INSERT OR UPDATE OR DELETE",
        "",
        "RAISE EXCEPTION 'a conflict made by the test' USING ERRCODE = 'serialization_failure';",
    )
}

/// The organization id an OUTCOME_UNKNOWN REST body names, checked on the way.
#[track_caller]
fn unknown_outcome_id(status: u16, body: &Value) -> String {
    assert_eq!(status, 500, "{body}");
    common::assert_error(body, 2, "OUTCOME_UNKNOWN", &[]);
    let id = body["details"][0]["resource_info"]["resource_name"]
        .as_str()
        .unwrap_or_else(|| panic!("resource_info.resource_name: {body}"))
        .to_owned();
    assert!(id.starts_with("org_"), "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(&id) && message.contains("read it back"),
        "{body}"
    );
    id
}

#[tokio::test]
async fn a_commit_cut_short_is_outcome_unknown_with_the_id_on_both_surfaces() {
    let Some(url) = postgres_url() else {
        eprintln!("skipped: ORGSTORE_TEST_POSTGRES is not set");
        return;
    };
    let mut config = pg_config(&url);
    config.postgres.as_mut().unwrap().commit_deadline = Some(Duration::from_millis(300));
    let schema = config.postgres.as_ref().unwrap().schema.clone();
    let t = TestServer::start_config(tempfile::tempdir().unwrap(), config).await;
    let (status, body) = t
        .call(
            Method::POST,
            "/api/v1/organizations",
            Some(json!({"display_name": "Before", "external_id": "before"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let before = body["organization"]["id"].as_str().unwrap().to_owned();
    sql(slow_commits(&schema)).await;

    // REST create: 500, code 2, the id it was given.
    let (status, body) = t
        .call(
            Method::POST,
            "/api/v1/organizations",
            Some(json!({"display_name": "Slow", "external_id": "slow"})),
        )
        .await;
    let id = unknown_outcome_id(status, &body);
    // REST update: the organization updated.
    let (status, body) = t
        .call(
            Method::PATCH,
            &format!("/api/v1/organizations/{before}"),
            Some(json!({"display_name": "Renamed"})),
        )
        .await;
    assert_eq!(unknown_outcome_id(status, &body), before);
    // gRPC: UNKNOWN (2), never UNAVAILABLE, with the id in ErrorInfo.resource_info.
    let mut c = t.grpc().await;
    let status = c
        .create_organization(create_request("Slow too", Some("slow-2")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unknown, "{status:?}");
    let info = details(&status);
    assert_eq!(info.error_code, "OUTCOME_UNKNOWN");
    let grpc_id = info.resource_info.expect("resource_info").resource_name;
    assert!(grpc_id.starts_with("org_") && status.message().contains(&grpc_id));

    // Reading back tells the outcome: here the cancelled commits did not take effect.
    sql(format!("DROP FUNCTION {schema}.slow_commit() CASCADE")).await;
    for gone in [&id, &grpc_id] {
        let (status, _) = t
            .call(Method::GET, &format!("/api/v1/organizations/{gone}"), None)
            .await;
        assert_eq!(status, 404, "{gone}");
    }
    let (_, body) = t
        .call(
            Method::GET,
            &format!("/api/v1/organizations/{before}"),
            None,
        )
        .await;
    assert_eq!(body["organization"]["display_name"], "Before");
}

#[tokio::test]
async fn a_write_that_keeps_conflicting_is_aborted_on_both_surfaces_and_safe_to_resend() {
    let Some(url) = postgres_url() else {
        eprintln!("skipped: ORGSTORE_TEST_POSTGRES is not set");
        return;
    };
    let config = pg_config(&url);
    let schema = config.postgres.as_ref().unwrap().schema.clone();
    let t = TestServer::start_config(tempfile::tempdir().unwrap(), config).await;
    let (_, body) = t
        .call(
            Method::POST,
            "/api/v1/organizations",
            Some(json!({"display_name": "Kept"})),
        )
        .await;
    let kept = body["organization"]["id"].as_str().unwrap().to_owned();
    sql(conflicting_writes(&schema)).await;

    let create = json!({"display_name": "Contested", "external_id": "contested"});
    let (status, body) = t
        .call(Method::POST, "/api/v1/organizations", Some(create.clone()))
        .await;
    assert_eq!(status, 409, "{body}");
    common::assert_error(&body, 10, "ABORTED", &[]);
    assert!(body["details"][0].get("resource_info").is_none(), "{body}");
    let (status, body) = t
        .call(
            Method::PATCH,
            &format!("/api/v1/organizations/{kept}"),
            Some(json!({"display_name": "Changed"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    common::assert_error(&body, 10, "ABORTED", &[]);
    let mut c = t.grpc().await;
    let status = c
        .create_organization(create_request("Contested", Some("contested")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted, "{status:?}");
    assert_eq!(details(&status).error_code, "ABORTED");

    // Nothing was written: once the conflict is gone, the same requests succeed.
    sql(format!("DROP FUNCTION {schema}.conflict() CASCADE")).await;
    let (_, body) = t.call(Method::GET, "/api/v1/organizations", None).await;
    assert_eq!(body["total_size"], 1, "{body}");
    let (status, body) = t
        .call(Method::POST, "/api/v1/organizations", Some(create))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = t
        .call(
            Method::PATCH,
            &format!("/api/v1/organizations/{kept}"),
            Some(json!({"display_name": "Changed"})),
        )
        .await;
    assert_eq!(
        (status, &body["organization"]["display_name"]),
        (200, &json!("Changed"))
    );
}

#[tokio::test]
async fn servers_on_one_postgres_store_share_it_and_its_tokens_and_seed_once() {
    let Some(url) = postgres_url() else {
        eprintln!("skipped: ORGSTORE_TEST_POSTGRES is not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.jsonl");
    std::fs::write(
        &seed,
        "{\"id\":\"org_1\",\"display_name\":\"Seeded 1\",\"external_id\":\"seed-1\"}\n\
         {\"id\":\"org_2\",\"display_name\":\"Seeded 2\",\"region_code\":\"EU\"}\n",
    )
    .unwrap();
    let record = dir.path().join("shared.seeded");
    let mut first_config = pg_config(&url);
    first_config.seed = Some(seed.clone());
    first_config.seed_record = Some(record.clone());
    // The same schema, seed and record.
    let second_config = first_config.clone();
    let first = TestServer::start_config(tempfile::tempdir().unwrap(), first_config).await;
    assert_eq!(first.server().seed_report().unwrap().imported, 2);
    assert_eq!(
        first.server().credentials_path(),
        None,
        "no credentials file"
    );
    assert!(std::fs::read_to_string(&record).unwrap().contains("org_1"));
    let (status, _) = first
        .call(Method::DELETE, "/api/v1/organizations/org_1", None)
        .await;
    assert_eq!(status, 200);

    // A second server on the same schema, with the same seed and record: nothing seeded
    // again (org_1 stays deleted), the same store, and the first server's token works here.
    let second = Server::start(second_config).await.unwrap();
    let report = second.seed_report().unwrap();
    assert_eq!((report.imported, report.skipped), (0, 2));
    let (status, body) = first
        .call(
            Method::POST,
            "/api/v1/organizations",
            Some(json!({"display_name": "Via first", "slug": "via-first"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let response = first
        .http
        .get(format!(
            "http://{}/api/v1/organizations?page_size=5",
            second.local_addr()
        ))
        .header("authorization", first.auth())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["total_size"], 2, "{page}");
    let names: Vec<&str> = page["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Via first", "Seeded 2"]);
    // A clash across servers is the store's: the slug is taken for both.
    let response = first
        .http
        .post(format!(
            "http://{}/api/v1/organizations",
            second.local_addr()
        ))
        .header("authorization", first.auth())
        .json(&json!({"display_name": "Copy", "slug": "via-first"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    second.stop().await.unwrap();
}
