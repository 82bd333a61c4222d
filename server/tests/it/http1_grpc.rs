//! gRPC over HTTP/1.1, as the Go SDK sends it on `http://`: a chunked, streamed request body
//! with `te: trailers`, the status read from the trailers. A raw TCP client, so nothing
//! hides what is on the wire.

use std::collections::HashMap;
use std::time::Duration;

use orgstore_server::proto::scalekit::v1::organizations as pb;
use prost::Message;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::common::TestServer;

const SERVICE: &str = "/scalekit.v1.organizations.OrganizationService";

pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub trailers: HashMap<String, String>,
}

impl Reply {
    /// `grpc-status` from the trailers only.
    pub fn grpc_status(&self) -> Option<&str> {
        self.trailers.get("grpc-status").map(String::as_str)
    }
}

fn frame(message: &impl Message) -> Vec<u8> {
    let bytes = message.encode_to_vec();
    let mut out = vec![0u8];
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(&bytes);
    out
}

pub struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub async fn open(t: &TestServer) -> Conn {
        Conn {
            reader: BufReader::new(TcpStream::connect(t.addr()).await.unwrap()),
        }
    }

    /// Sends one call with the body in two chunks (the second after a short pause, so the
    /// server sees a body still streaming), then reads the whole reply.
    pub async fn call(
        &mut self,
        method: &str,
        token: Option<&str>,
        message: &impl Message,
    ) -> Reply {
        let body = frame(message);
        let mut head = format!(
            "POST {SERVICE}/{method} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/grpc+proto\r\nte: trailers\r\ntransfer-encoding: chunked\r\nuser-agent: raw-h1-test\r\n"
        );
        if let Some(token) = token {
            head.push_str(&format!("authorization: Bearer {token}\r\n"));
        }
        head.push_str("\r\n");
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes()).await.unwrap();
        let (first, second) = body.split_at(body.len() / 2);
        for (i, part) in [first, second].into_iter().enumerate() {
            if part.is_empty() {
                continue;
            }
            stream
                .write_all(format!("{:x}\r\n", part.len()).as_bytes())
                .await
                .unwrap();
            stream.write_all(part).await.unwrap();
            stream.write_all(b"\r\n").await.unwrap();
            stream.flush().await.unwrap();
            if i == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        stream.write_all(b"0\r\n\r\n").await.unwrap();
        stream.flush().await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.read_reply())
            .await
            .expect("a reply in time")
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).await.unwrap();
        assert!(n > 0, "connection closed by the server");
        line.trim_end_matches(['\r', '\n']).to_owned()
    }

    async fn fields(&mut self) -> HashMap<String, String> {
        let mut map = HashMap::new();
        loop {
            let line = self.line().await;
            if line.is_empty() {
                return map;
            }
            let (k, v) = line.split_once(':').unwrap();
            map.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }

    async fn read_reply(&mut self) -> Reply {
        let status_line = self.line().await;
        let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
        let headers = self.fields().await;
        let mut body = Vec::new();
        let mut trailers = HashMap::new();
        if headers
            .get("transfer-encoding")
            .is_some_and(|v| v == "chunked")
        {
            loop {
                let size = usize::from_str_radix(&self.line().await, 16).unwrap();
                if size == 0 {
                    trailers = self.fields().await;
                    break;
                }
                let mut chunk = vec![0u8; size];
                self.reader.read_exact(&mut chunk).await.unwrap();
                body.extend_from_slice(&chunk);
                assert_eq!(self.line().await, "");
            }
        } else {
            let len: usize = headers
                .get("content-length")
                .map_or(0, |v| v.parse().unwrap());
            body.resize(len, 0);
            self.reader.read_exact(&mut body).await.unwrap();
        }
        Reply {
            status,
            headers,
            body,
            trailers,
        }
    }
}

fn decode<M: Message + Default>(reply: &Reply) -> M {
    assert!(reply.body.len() >= 5, "no message frame");
    let len = u32::from_be_bytes(reply.body[1..5].try_into().unwrap()) as usize;
    assert_eq!(reply.body.len(), 5 + len);
    M::decode(&reply.body[5..]).unwrap()
}

fn create(name: &str, external_id: &str) -> pb::CreateOrganizationRequest {
    crate::grpc::create_request(name, Some(external_id))
}

#[tokio::test]
async fn status_in_trailers_for_success_error_and_unauthenticated() {
    let t = TestServer::start().await;
    let mut conn = Conn::open(&t).await;

    let ok = conn
        .call(
            "CreateOrganization",
            Some(&t.token),
            &create("Acme", "h1-acme"),
        )
        .await;
    assert_eq!(ok.status, 200);
    assert!(ok.headers["content-type"].starts_with("application/grpc"));
    assert_eq!(ok.grpc_status(), Some("0"), "trailers {:?}", ok.trailers);
    let created: pb::CreateOrganizationResponse = decode(&ok);
    assert_eq!(
        created.organization.unwrap().external_id.as_deref(),
        Some("h1-acme")
    );

    let dup = conn
        .call(
            "CreateOrganization",
            Some(&t.token),
            &create("Copy", "h1-acme"),
        )
        .await;
    assert_eq!(dup.status, 200);
    assert_eq!(dup.grpc_status(), Some("6"), "trailers {:?}", dup.trailers);
    assert!(dup.trailers["grpc-message"].contains("already%20exists"));
    let details = &dup.trailers["grpc-status-details-bin"];
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(details.trim_end_matches('='))
        .unwrap();
    let rpc = orgstore_server::proto::google::rpc::Status::decode(bytes.as_slice()).unwrap();
    assert_eq!(rpc.code, 6);
    assert!(
        !dup.headers.contains_key("grpc-status"),
        "status only in the trailers"
    );

    let unauth = conn
        .call(
            "GetOrganization",
            None,
            &pb::GetOrganizationRequest::default(),
        )
        .await;
    assert_eq!(
        unauth.grpc_status(),
        Some("16"),
        "trailers {:?}",
        unauth.trailers
    );
    let unknown = conn
        .call(
            "SearchOrganization",
            Some(&t.token),
            &pb::SearchOrganizationsRequest {},
        )
        .await;
    assert_eq!(unknown.grpc_status(), Some("12"));
    // The connection is still good after all of them.
    let ok = conn
        .call(
            "GetOrganization",
            Some(&t.token),
            &pb::GetOrganizationRequest {
                identities: Some(pb::get_organization_request::Identities::ExternalId(
                    "h1-acme".into(),
                )),
            },
        )
        .await;
    assert_eq!(ok.grpc_status(), Some("0"));
}

#[tokio::test]
async fn hundreds_of_calls_on_kept_alive_connections() {
    let t = TestServer::start().await;
    let mut tasks = Vec::new();
    for c in 0..4 {
        let token = t.token.clone();
        let mut conn = Conn::open(&t).await;
        tasks.push(tokio::spawn(async move {
            let mut counts = [0usize; 3];
            for i in 0..100 {
                let external_id = format!("ka-{c}-{}", i / 3);
                let (reply, expected, slot) = match i % 3 {
                    // A create (success the first time of each id)...
                    0 => (
                        conn.call(
                            "CreateOrganization",
                            Some(&token),
                            &create("K", &external_id),
                        )
                        .await,
                        "0",
                        0,
                    ),
                    // ...the same again (ALREADY_EXISTS)...
                    1 => (
                        conn.call(
                            "CreateOrganization",
                            Some(&token),
                            &create("K", &external_id),
                        )
                        .await,
                        "6",
                        1,
                    ),
                    // ...and an early UNAUTHENTICATED, answered after the body was read.
                    _ => (
                        conn.call(
                            "ListOrganization",
                            None,
                            &pb::ListOrganizationsRequest::default(),
                        )
                        .await,
                        "16",
                        2,
                    ),
                };
                assert_eq!(
                    reply.grpc_status(),
                    Some(expected),
                    "call {i} on connection {c}"
                );
                counts[slot] += 1;
            }
            counts
        }));
    }
    let mut total = 0;
    for task in tasks {
        let counts = task.await.unwrap();
        assert_eq!(counts, [34, 33, 33]);
        total += counts.iter().sum::<usize>();
    }
    assert_eq!(total, 400);
    let (_, body) = t
        .call(reqwest::Method::GET, "/api/v1/organizations", None)
        .await;
    assert_eq!(body["total_size"], 4 * 34);
}
