//! Body limits, half and slow requests, the bound on store calls, and many clients at once.

use std::time::Duration;

use orgstore_server::limits::Limits;
use orgstore_server::proto::scalekit::v1::organizations as pb;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::Code;

use crate::common::{assert_error, hold_writer, TestServer};

#[tokio::test]
async fn bodies_over_64_kib_are_refused_on_both_surfaces() {
    let t = TestServer::start().await;
    let big = json!({"display_name": "Big", "metadata": {"blob": "x".repeat(70 * 1024)}});
    let (status, body) = t
        .call(Method::POST, "/api/v1/organizations", Some(big))
        .await;
    assert_eq!(status, 413);
    assert_error(&body, 8, "RESOURCE_EXHAUSTED", &[]);
    // Just under the cap reaches the library (which refuses the long value itself).
    let near = json!({"display_name": "Near", "metadata": {"blob": "x".repeat(60 * 1024)}});
    let (status, body) = t
        .call(Method::POST, "/api/v1/organizations", Some(near))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_error(&body, 3, "INVALID_ARGUMENT", &["metadata"]);

    let mut c = t.grpc().await;
    let mut request = crate::grpc::create_request("Big", None);
    request
        .organization
        .as_mut()
        .unwrap()
        .metadata
        .insert("blob".into(), "x".repeat(70 * 1024));
    let status = c.create_organization(request).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(
        crate::grpc::details(&status).error_code,
        "RESOURCE_EXHAUSTED"
    );
    // The server is fine afterwards, and nothing was written.
    let (status, body) = t.call(Method::GET, "/api/v1/organizations", None).await;
    assert_eq!((status, body["total_size"].clone()), (200, json!(0)));
}

#[tokio::test]
async fn a_client_that_sends_half_a_request_and_goes_away() {
    let t = TestServer::start().await;
    for cut in [
        // Headers promise 200 bytes, 10 arrive.
        format!(
            "POST /api/v1/organizations HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{{\"display_",
            t.auth()
        ),
        // Half a header block.
        "POST /api/v1/organizations HTTP/1.1\r\nhost: x\r\ncontent-le".to_owned(),
        // Half a chunked gRPC call.
        format!(
            "POST /scalekit.v1.organizations.OrganizationService/CreateOrganization HTTP/1.1\r\nhost: x\r\ncontent-type: application/grpc\r\nte: trailers\r\nauthorization: {}\r\ntransfer-encoding: chunked\r\n\r\n5\r\n\0\0\0",
            t.auth()
        ),
    ] {
        let mut stream = TcpStream::connect(t.addr()).await.unwrap();
        stream.write_all(cut.as_bytes()).await.unwrap();
        drop(stream);
    }
    // An HTTP/2 client that opens a stream and goes away mid-body.
    {
        let mut c = t.grpc().await;
        let call = c.create_organization(crate::grpc::create_request("Gone", None));
        let _ = tokio::time::timeout(Duration::from_micros(1), call).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) = t.call(Method::GET, "/api/v1/organizations", None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["display_name"].as_str().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| *n == "Gone"),
        "only a complete request may apply: {names:?}"
    );
}

#[tokio::test]
async fn a_body_that_never_arrives_times_out() {
    let t = TestServer::start_with(|c| {
        c.limits = Limits {
            body_timeout: Duration::from_millis(300),
            ..Limits::default()
        }
    })
    .await;
    let mut stream = TcpStream::connect(t.addr()).await.unwrap();
    let head = format!(
        "POST /api/v1/organizations HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\ncontent-length: 50\r\n\r\n{{",
        t.auth()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut reply))
        .await
        .expect("answered and closed in time")
        .unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("DEADLINE_EXCEEDED"), "{reply}");
}

#[tokio::test]
async fn store_calls_beyond_the_bound_get_429() {
    let t = TestServer::start_file_with(|c| {
        c.multi_process = true;
        c.limits = Limits {
            max_concurrent: 1,
            max_queued: 1,
            queue_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
    })
    .await;
    let (release, holder) = hold_writer(&t.db);
    // The first create runs (and waits for the write lock inside the store call)...
    let running = {
        let (http, url, auth) = (t.http.clone(), t.url("/api/v1/organizations"), t.auth());
        tokio::spawn(async move {
            http.post(url)
                .header("authorization", auth)
                .body(r#"{"display_name":"First"}"#)
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    // ...the second waits in the queue and gives up after 300 ms...
    let queued = {
        let (http, url, auth) = (t.http.clone(), t.url("/api/v1/organizations"), t.auth());
        tokio::spawn(async move {
            let r = http
                .get(url)
                .header("authorization", auth)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    // ...and the third finds the queue full at once.
    let (status, body) = t.call(Method::GET, "/api/v1/organizations", None).await;
    assert_eq!(status, 429, "{body}");
    assert_error(&body, 8, "RESOURCE_EXHAUSTED", &[]);
    let mut c = t.grpc().await;
    let status = c
        .list_organization(pb::ListOrganizationsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    let (status, body) = queued.await.unwrap();
    assert_eq!(status, 429);
    assert!(
        body["message"].as_str().unwrap().contains("300 ms"),
        "{body}"
    );
    // The started call is not abandoned: once the lock is free it completes.
    release.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(running.await.unwrap(), 201);
    let (_, body) = t.call(Method::GET, "/api/v1/organizations", None).await;
    assert_eq!(body["total_size"], 1);
}

#[tokio::test]
async fn sixty_four_clients_creating_and_listing() {
    let t = TestServer::start().await;
    let mut tasks = Vec::new();
    for client in 0..64 {
        let url = t.url("");
        let auth = t.auth();
        let grpc = if client % 2 == 1 {
            Some(t.grpc().await)
        } else {
            None
        };
        tasks.push(tokio::spawn(async move {
            // Each REST client has its own connection pool.
            let http = reqwest::Client::new();
            let mut grpc = grpc;
            let mut mine = Vec::new();
            for i in 0..5 {
                let name = format!("c{client}-{i}");
                let id = match &mut grpc {
                    Some(c) => {
                        c.create_organization(crate::grpc::create_request(&name, Some(&name)))
                            .await
                            .unwrap()
                            .into_inner()
                            .organization
                            .unwrap()
                            .id
                    }
                    None => {
                        let r = http
                            .post(format!("{url}/api/v1/organizations"))
                            .header("authorization", &auth)
                            .json(&json!({"display_name": name, "external_id": name}))
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(r.status(), 201);
                        let body: Value = r.json().await.unwrap();
                        body["organization"]["id"].as_str().unwrap().to_owned()
                    }
                };
                mine.push(id);
                let r = http
                    .get(format!("{url}/api/v1/organizations?page_size=7"))
                    .header("authorization", &auth)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                let page: Value = r.json().await.unwrap();
                assert!(page["total_size"].as_u64().unwrap() >= mine.len() as u64);
            }
            mine
        }));
    }
    let mut created = std::collections::HashSet::new();
    for task in tasks {
        for id in task.await.unwrap() {
            assert!(created.insert(id));
        }
    }
    assert_eq!(created.len(), 320);
    // A full traversal sees each exactly once.
    let mut seen = std::collections::HashSet::new();
    let mut token = String::new();
    loop {
        let (_, page) = t
            .call(
                Method::GET,
                &format!("/api/v1/organizations?page_size=100&page_token={token}"),
                None,
            )
            .await;
        assert_eq!(page["total_size"], 320);
        for o in page["organizations"].as_array().unwrap() {
            assert!(seen.insert(o["id"].as_str().unwrap().to_owned()));
        }
        token = page["next_page_token"].as_str().unwrap().to_owned();
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen, created);
}
