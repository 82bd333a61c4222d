//! Graceful shutdown: requests in flight finish and are applied whole; the store is closed.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::common::{hold_writer, TestServer};

#[tokio::test]
async fn requests_in_flight_finish_and_the_store_closes() {
    let mut t = TestServer::start_file_with(|c| c.multi_process = true).await;
    let (release, holder) = hold_writer(&t.db);
    // Ten creates, each stuck inside its store call behind the held write lock.
    let mut inflight = Vec::new();
    for i in 0..10 {
        let (http, url, auth) = (t.http.clone(), t.url("/api/v1/organizations"), t.auth());
        inflight.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .header("authorization", auth)
                .body(format!(
                    r#"{{"display_name":"In flight {i}","external_id":"f{i}"}}"#
                ))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }));
    }
    // Five over gRPC (HTTP/2), on one connection.
    let grpc = t.grpc().await;
    let mut inflight_grpc = Vec::new();
    for i in 0..5 {
        let mut c = grpc.clone();
        inflight_grpc.push(tokio::spawn(async move {
            c.create_organization(crate::grpc::create_request(
                &format!("gRPC {i}"),
                Some(&format!("g{i}")),
            ))
            .await
        }));
    }
    // One more whose client goes away once the request is sent.
    let mut gone = TcpStream::connect(t.addr()).await.unwrap();
    let body = r#"{"display_name":"Left early","external_id":"gone"}"#;
    let head = format!(
        "POST /api/v1/organizations HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\ncontent-length: {}\r\n\r\n{body}",
        t.auth(),
        body.len()
    );
    gone.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(gone);

    let server = t.server.take().unwrap();
    let addr = server.local_addr();
    server.shutdown();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // No new connections once shutdown has begun.
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
    release.send(()).unwrap();
    holder.join().unwrap();
    for task in inflight {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, 201, "{body}");
        assert!(body["organization"]["id"]
            .as_str()
            .unwrap()
            .starts_with("org_"));
    }
    for task in inflight_grpc {
        let org = task
            .await
            .unwrap()
            .unwrap()
            .into_inner()
            .organization
            .unwrap();
        assert!(org.display_name.starts_with("gRPC "));
    }
    drop(grpc);
    tokio::time::timeout(Duration::from_secs(15), server.wait())
        .await
        .expect("shutdown completes")
        .unwrap();
    // The store was closed: it opens again without multi-process mode, and holds every
    // request whole, including the one whose client left.
    let store = orgstore::OrgStore::open(&t.db).unwrap();
    assert_eq!(store.count(None).unwrap(), 16);
    for i in 0..10 {
        let org = store.get_by_external_id(&format!("f{i}")).unwrap().unwrap();
        assert_eq!(org.display_name, format!("In flight {i}"));
    }
    for i in 0..5 {
        assert!(store
            .get_by_external_id(&format!("g{i}"))
            .unwrap()
            .is_some());
    }
    assert!(store.get_by_external_id("gone").unwrap().is_some());
    assert_eq!(store.check_indexes().unwrap(), 16);
}

#[tokio::test]
async fn a_second_server_on_the_same_file_fails_clearly() {
    let t = TestServer::start_file_with(|_| {}).await;
    let mut config = crate::common::config(&t.dir);
    config.db = t.db.clone();
    let err = orgstore_server::Server::start(config).await.unwrap_err();
    assert!(err.to_string().contains("cannot open the store"), "{err}");
    // The running one is unaffected.
    assert_eq!(
        t.call(Method::GET, "/api/v1/organizations", None).await.0,
        200
    );
}

#[tokio::test]
async fn the_binary_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bin.redb");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_orgstore"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .env_remove("ORGSTORE_CLIENT_ID")
        .env_remove("ORGSTORE_CLIENT_SECRET")
        .env_remove("ORGSTORE_TOKEN_KEY")
        .env_remove("ORGSTORE_POSTGRES")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines: Vec<String> = {
        use std::io::BufRead as _;
        std::io::BufReader::new(stdout)
            .lines()
            .take(4)
            .map(Result::unwrap)
            .collect()
    };
    let addr = lines[0]
        .strip_prefix("orgstore serving http://")
        .unwrap()
        .to_owned();
    assert!(
        lines[1].starts_with("generated client credentials"),
        "{lines:?}"
    );
    let id = lines[2].split_whitespace().last().unwrap().to_owned();
    let secret = lines[3].split_whitespace().last().unwrap().to_owned();
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("http://{addr}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .post(format!("http://{addr}/api/v1/organizations"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .body(r#"{"display_name":"Acme"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    let store = orgstore::OrgStore::open(&db).unwrap();
    assert_eq!(store.count(None).unwrap(), 1);
    // The generated credentials were kept beside the store.
    let file: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("bin.redb.credentials")).unwrap())
            .unwrap();
    assert_eq!(file["client_id"], id);
}
