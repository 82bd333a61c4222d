//! Starting a server for a test, and clients for it.
//!
//! A test server runs on a fresh store file, or, when `ORGSTORE_TEST_POSTGRES` holds a
//! connection URL, on a fresh schema of that PostgreSQL database ([`TestServer::start`] and
//! [`TestServer::start_with`]): the surfaces' tests then run against the PostgreSQL engine.
//! Tests about the file itself (multi-process sharing, the credentials file, a second server on
//! one file) use [`TestServer::start_file_with`] and [`config`], which are always on a file.

use std::path::PathBuf;
use std::time::Duration;

use orgstore_server::auth::Credentials;
use orgstore_server::postgres::PostgresConfig;
use orgstore_server::proto::scalekit::v1::organizations::organization_service_client::OrganizationServiceClient;
use orgstore_server::{ServeConfig, Server};
use serde_json::Value;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub const CLIENT_ID: &str = "skc_test";
pub const CLIENT_SECRET: &str = "test-secret";

/// A token key for servers on PostgreSQL, which must be given one.
pub const TOKEN_KEY: &[u8] = b"orgstore test token key, 32+ bytes long";

pub struct TestServer {
    pub server: Option<Server>,
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub http: reqwest::Client,
    pub token: String,
}

/// Adds `authorization: Bearer <token>` to every call (or nothing).
#[derive(Clone)]
pub struct Bearer(pub Option<MetadataValue<Ascii>>);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

pub type Grpc = OrganizationServiceClient<InterceptedService<Channel, Bearer>>;

/// A server on a store file in `dir`, on a free port, with the test credentials.
pub fn config(dir: &tempfile::TempDir) -> ServeConfig {
    let mut config = ServeConfig::new(dir.path().join("orgs.redb"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.credentials = Some(Credentials {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
    });
    config.shutdown_grace = Duration::from_secs(10);
    config
}

/// The PostgreSQL database the suite runs against, if any (`ORGSTORE_TEST_POSTGRES`).
pub fn postgres_url() -> Option<String> {
    std::env::var("ORGSTORE_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}

/// A schema name no other test of this run uses.
pub fn fresh_schema() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    format!("srv{stamp}_{}_{n}", std::process::id())
}

/// A fresh schema of the database at `url`, with a pool small enough for many test servers
/// side by side.
pub fn postgres_store(url: &str) -> PostgresConfig {
    let mut pg = PostgresConfig::new(url);
    pg.schema = fresh_schema();
    pg.pool_size = Some(8);
    pg
}

/// As [`config`], but on a fresh PostgreSQL schema when the suite runs against PostgreSQL.
pub fn engine_config(dir: &tempfile::TempDir) -> ServeConfig {
    let mut config = config(dir);
    if let Some(url) = postgres_url() {
        config.postgres = Some(postgres_store(&url));
        config.token_key = Some(TOKEN_KEY.to_vec());
    }
    config
}

impl TestServer {
    /// A server on the suite's engine (see the module docs).
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// As [`start`](Self::start), with the configuration changed first.
    pub async fn start_with(change: impl FnOnce(&mut ServeConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = engine_config(&dir);
        change(&mut config);
        Self::start_config(dir, config).await
    }

    /// A server on a store file, whatever the suite's engine.
    pub async fn start_file_with(change: impl FnOnce(&mut ServeConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(&dir);
        change(&mut config);
        Self::start_config(dir, config).await
    }

    pub async fn start_config(dir: tempfile::TempDir, config: ServeConfig) -> TestServer {
        let db = config.db.clone();
        let server = Server::start(config).await.unwrap();
        let mut t = TestServer {
            server: Some(server),
            dir,
            db,
            http: reqwest::Client::new(),
            token: String::new(),
        };
        t.token = t.new_token().await;
        t
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.server().local_addr()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr(), path)
    }

    pub async fn new_token(&self) -> String {
        let creds = self.server().credentials().clone();
        let response = self
            .http
            .post(self.url("/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", creds.client_id.as_str()),
                ("client_secret", creds.client_secret.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// A REST call with the token; returns status and JSON body (Null when empty).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .header("authorization", self.auth());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        (status, json)
    }

    pub async fn grpc(&self) -> Grpc {
        self.grpc_with(Some(&self.token)).await
    }

    pub async fn grpc_with(&self, token: Option<&str>) -> Grpc {
        let channel = Channel::from_shared(self.url(""))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let value = token.map(|t| format!("Bearer {t}").parse().unwrap());
        OrganizationServiceClient::with_interceptor(channel, Bearer(value))
    }

    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await.unwrap();
        }
    }
}

/// Asserts a REST error body: code, error_code, and the violated fields (in order).
pub fn assert_error(body: &Value, code: i64, error_code: &str, fields: &[&str]) {
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    let detail = &body["details"][0];
    assert_eq!(
        detail["@type"], "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo",
        "{body}"
    );
    assert_eq!(detail["error_code"], error_code, "{body}");
    let got: Vec<&str> = detail["validation_error_info"]["field_violations"]
        .as_array()
        .map(|v| v.iter().map(|f| f["field"].as_str().unwrap()).collect())
        .unwrap_or_default();
    assert_eq!(got, fields, "{body}");
}

/// Holds the store's write lock from another handle (the server must run with
/// `multi_process`) until the returned sender is used or dropped: the server's writes then
/// wait inside their store call, as a slow disk would make them.
pub fn hold_writer(
    db: &std::path::Path,
) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let db = db.to_owned();
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let store = orgstore::OrgStore::builder()
            .multi_process(true)
            .open(&db)
            .unwrap();
        let txn = store.begin_write().unwrap();
        held_tx.send(()).unwrap();
        let _ = release_rx.recv();
        txn.abort().unwrap();
    });
    held_rx.recv().unwrap();
    (release_tx, thread)
}
