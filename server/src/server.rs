//! The listener and the life of the server: start (open the store — a file, or a PostgreSQL
//! store — seed, settle credentials, bind), serve one port (HTTP/1.1 and h2c, or TLS with ALPN),
//! and shut down gracefully.
//!
//! Shutdown: stop accepting; ask every connection to finish (HTTP/1.1 closes after its
//! current request, HTTP/2 sends GOAWAY and finishes its streams); after a grace period cut
//! what is left; wait until no store call runs (a started call is never abandoned); then drop
//! the last handle of the store, which closes the file (or the connections to PostgreSQL).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use orgstore::OrgStore;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::auth::{self, Auth, Credentials};
use crate::error::{full_message, ApiError, Code};
use crate::limits::{Limiter, Limits};
use crate::ops::Ops;
use crate::postgres::PostgresConfig;
use crate::{body, grpc, logging, rest, seed, tls};

/// Longest TLS handshake accepted.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a request's headers on HTTP/1.1.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything `orgstore serve` is told.
///
/// The store is the file at [`db`](Self::db), or the PostgreSQL store of
/// [`postgres`](Self::postgres) when that is set. A PostgreSQL store is shared by every server
/// connected to it, and there is no file to keep generated state beside, so with it:
///
/// - [`credentials`](Self::credentials) and [`token_key`](Self::token_key) must be given (every
///   server of the store must accept the same client and each other's tokens);
/// - a [`seed`](Self::seed) needs a [`seed_record`](Self::seed_record) (see [`crate::seed`]);
/// - [`multi_process`](Self::multi_process), a file setting, is refused.
///
/// [`Server::start`] refuses any of these with a message naming the flag.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// The store file (created if missing); not used when [`postgres`](Self::postgres) is set.
    pub db: PathBuf,
    /// A PostgreSQL store instead of the file.
    pub postgres: Option<PostgresConfig>,
    /// The address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The client credentials; `None`: from the credentials file, generated the first time
    /// (store files only).
    pub credentials: Option<Credentials>,
    /// The token key; `None`: from the credentials file, generated the first time (store files
    /// only).
    pub token_key: Option<Vec<u8>>,
    /// How long a token lives.
    pub token_ttl: Duration,
    /// Certificate chain and private key (PEM) for TLS; `None`: cleartext.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// A JSON Lines file of organizations to import at start (see [`crate::seed`]).
    pub seed: Option<PathBuf>,
    /// Where the ids the seed applied are recorded; `None`: `<db>.seeded` beside the store
    /// file (required with a PostgreSQL store and a seed).
    pub seed_record: Option<PathBuf>,
    /// Open the store file so that other processes may use it too (store files only).
    pub multi_process: bool,
    /// Bounds on bodies and store calls.
    pub limits: Limits,
    /// How long shutdown waits for connections to finish before cutting them.
    pub shutdown_grace: Duration,
}

impl ServeConfig {
    /// The defaults for the store file at `db`: 127.0.0.1:8080, tokens for 24 hours, cleartext.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = orgstore_server::ServeConfig::new("orgs.redb");
    /// assert_eq!(config.listen.port(), 8080);
    /// assert_eq!(config.token_ttl.as_secs(), 24 * 3600);
    /// ```
    pub fn new(db: impl Into<PathBuf>) -> Self {
        ServeConfig {
            db: db.into(),
            postgres: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            credentials: None,
            token_key: None,
            token_ttl: Duration::from_secs(24 * 3600),
            tls: None,
            seed: None,
            seed_record: None,
            multi_process: false,
            limits: Limits::default(),
            shutdown_grace: Duration::from_secs(30),
        }
    }

    /// The defaults for the PostgreSQL store `postgres`; the credentials and the token key
    /// are still to be given.
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore_server::postgres::PostgresConfig;
    /// use orgstore_server::auth::Credentials;
    ///
    /// let mut config = orgstore_server::ServeConfig::postgres(PostgresConfig::new("postgres://app@db/t"));
    /// config.credentials = Some(Credentials { client_id: "skc_1".into(), client_secret: "s3cret".into() });
    /// config.token_key = Some(std::env::var("TOKEN_KEY").unwrap_or_default().into_bytes());
    /// assert!(config.postgres.is_some());
    /// ```
    pub fn postgres(postgres: PostgresConfig) -> Self {
        ServeConfig {
            postgres: Some(postgres),
            ..ServeConfig::new(PathBuf::new())
        }
    }

    /// The store, for people and logs: the file's path, or the PostgreSQL store without its
    /// password.
    pub fn store_name(&self) -> String {
        match &self.postgres {
            Some(pg) => pg.describe(),
            None => self.db.display().to_string(),
        }
    }

    /// What a PostgreSQL store needs and a file setting it refuses (see the type's docs).
    fn check(&self) -> Result<(), ServeError> {
        if self.postgres.is_none() {
            return Ok(());
        }
        let refuse = |what: &str| {
            Err(ServeError(format!(
                "with a PostgreSQL store (--postgres), {what}"
            )))
        };
        if self.multi_process {
            return refuse(
                "--multi-process does not apply: it lets processes share a store file, and a \
                 PostgreSQL store is shared by every server connected to it",
            );
        }
        if self.credentials.is_none() || self.token_key.is_none() {
            return refuse(
                "give --client-id, --client-secret and --token-key (or ORGSTORE_CLIENT_ID, \
                 ORGSTORE_CLIENT_SECRET, ORGSTORE_TOKEN_KEY): every server of a shared store must \
                 accept the same client and each other's tokens, and there is no store file to \
                 keep generated ones beside",
            );
        }
        if self.seed.is_some() && self.seed_record.is_none() {
            return refuse(
                "--seed needs --seed-record FILE, where the ids already seeded are recorded (on \
                 storage the servers of the store share, or seed from one server only)",
            );
        }
        Ok(())
    }
}

/// Why the server could not start or stopped badly.
#[derive(Debug)]
pub struct ServeError(pub String);

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ServeError {}

/// A running server.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> Result<(), orgstore_server::ServeError> {
/// let mut config = orgstore_server::ServeConfig::new("orgs.redb");
/// config.listen = "127.0.0.1:0".parse().unwrap();
/// let server = orgstore_server::Server::start(config).await?;
/// println!("serving on {}", server.local_addr());
/// server.stop().await?; // drains in-flight requests and closes the store
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    credentials: Credentials,
    generated: bool,
    credentials_path: Option<PathBuf>,
    seeded: Option<seed::SeedReport>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Opens the store, applies the seed, settles credentials, binds and starts serving.
    ///
    /// # Errors
    ///
    /// The configuration does not fit a PostgreSQL store (see [`ServeConfig`]), the store
    /// cannot be opened (e.g. another process holds the file without `--multi-process`, or the
    /// PostgreSQL server cannot be reached), the seed or credentials fail, TLS files are bad,
    /// or the address cannot be bound.
    pub async fn start(config: ServeConfig) -> Result<Server, ServeError> {
        config.check()?;
        let store_name = config.store_name();
        let ServeConfig {
            db,
            postgres,
            listen,
            credentials,
            token_key,
            token_ttl,
            tls,
            seed,
            seed_record,
            multi_process,
            limits,
            shutdown_grace,
        } = config;
        let target = match postgres {
            Some(pg) => Target::Postgres(pg),
            None => Target::File {
                db: db.clone(),
                multi_process,
            },
        };
        let record = seed_record.unwrap_or_else(|| seed::record_path(&db));
        let opened =
            tokio::task::spawn_blocking(move || open_and_seed(&target, seed.as_deref(), &record))
                .await
                .map_err(|e| ServeError(format!("opening the store failed: {e}")))??;
        let (store, seeded, on_postgres) = opened;
        let ready_to_serve = async {
            let settled = match (on_postgres, credentials, token_key) {
                (true, Some(credentials), Some(key)) => auth::given(credentials, &key, token_ttl),
                (_, credentials, key) => auth::settle(&db, credentials, key.as_deref(), token_ttl),
            }
            .map_err(|e| ServeError(e.to_string()))?;
            let acceptor = match &tls {
                Some((cert, key)) => {
                    Some(tls::acceptor(cert, key).map_err(|e| ServeError(format!("TLS: {e}")))?)
                }
                None => None,
            };
            let listener = TcpListener::bind(listen)
                .await
                .map_err(|e| ServeError(format!("cannot listen on {listen}: {e}")))?;
            let addr = listener
                .local_addr()
                .map_err(|e| ServeError(format!("cannot listen on {listen}: {e}")))?;
            Ok::<_, ServeError>((settled, acceptor, listener, addr))
        };
        let (settled, acceptor, listener, addr) = match ready_to_serve.await {
            Ok(ready) => ready,
            Err(err) => {
                close(store).await;
                return Err(err);
            }
        };
        let ops = Arc::new(Ops::new(store, Limiter::new(&limits)));
        let ready = Arc::new(AtomicBool::new(true));
        let app = app(
            Arc::clone(&ops),
            Arc::new(settled.auth),
            Arc::new(limits),
            Arc::clone(&ready),
        );
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(
            listener,
            app,
            acceptor,
            stopped,
            ops,
            ready,
            shutdown_grace,
        ));
        tracing::info!(%addr, store = %store_name, tls = tls.is_some(), "serving");
        Ok(Server {
            addr,
            credentials: settled.credentials,
            generated: settled.generated,
            credentials_path: settled.path,
            seeded,
            stop,
            task,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The client credentials in force.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Whether the credentials were generated at this start.
    pub fn generated_credentials(&self) -> bool {
        self.generated
    }

    /// Where the credentials and token key are kept; `None` when they were given (a
    /// PostgreSQL store).
    pub fn credentials_path(&self) -> Option<&std::path::Path> {
        self.credentials_path.as_deref()
    }

    /// What the seed did, if one was given.
    pub fn seed_report(&self) -> Option<seed::SeedReport> {
        self.seeded
    }

    /// Begins a graceful shutdown; [`wait`](Self::wait) tells when it is complete.
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
    }

    /// Waits until the server has shut down and closed the store.
    ///
    /// # Errors
    ///
    /// When the serving task failed unexpectedly.
    pub async fn wait(self) -> Result<(), ServeError> {
        self.task
            .await
            .map_err(|e| ServeError(format!("the server task failed: {e}")))
    }

    /// Shuts down gracefully and waits for it.
    ///
    /// # Errors
    ///
    /// As for [`wait`](Self::wait).
    pub async fn stop(self) -> Result<(), ServeError> {
        self.shutdown();
        self.wait().await
    }
}

/// Serves until `signal` completes, then shuts down gracefully.
///
/// # Errors
///
/// As for [`Server::start`] and [`Server::wait`].
pub async fn serve_until(
    config: ServeConfig,
    signal: impl Future<Output = ()>,
    on_start: impl FnOnce(&Server),
) -> Result<(), ServeError> {
    let server = Server::start(config).await?;
    on_start(&server);
    signal.await;
    tracing::info!("shutting down");
    server.stop().await
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// The store to open.
enum Target {
    File { db: PathBuf, multi_process: bool },
    Postgres(PostgresConfig),
}

/// Opens the store and applies the seed; says whether the store is on PostgreSQL.
fn open_and_seed(
    target: &Target,
    seed: Option<&std::path::Path>,
    record: &std::path::Path,
) -> Result<(OrgStore, Option<seed::SeedReport>, bool), ServeError> {
    let (store, on_postgres) = match target {
        Target::File { db, multi_process } => {
            let store = OrgStore::builder()
                .multi_process(*multi_process)
                .open(db)
                .map_err(|e| {
                    ServeError(format!(
                        "cannot open the store {}: {}",
                        db.display(),
                        full_message(&e)
                    ))
                })?;
            (store, false)
        }
        Target::Postgres(pg) => {
            let store = crate::postgres::connect(pg).map_err(|e| {
                ServeError(format!(
                    "cannot open the store {}: {}",
                    pg.describe(),
                    full_message(&e)
                ))
            })?;
            (store, true)
        }
    };
    let report = match seed {
        Some(file) => {
            Some(seed::apply(&store, file, record).map_err(|e| ServeError(e.to_string()))?)
        }
        None => None,
    };
    Ok((store, report, on_postgres))
}

/// The one router of both surfaces.
fn app(ops: Arc<Ops>, auth: Arc<Auth>, limits: Arc<Limits>, ready: Arc<AtomicBool>) -> Router {
    let token = Router::new()
        .route("/oauth/token", post(auth::token_endpoint))
        .with_state(Arc::clone(&auth));
    let health = Router::new()
        .route("/health", get(health))
        .with_state(ready)
        .route("/openapi.yaml", get(openapi));
    rest::router(Arc::clone(&ops), Arc::clone(&auth))
        .merge(token)
        .merge(health)
        .merge(grpc::router(ops, auth))
        // After the merge: tonic's router brings a fallback of its own.
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(limits, body::buffer))
        .layer(middleware::from_fn(logging::log))
}

/// The REST contract as this server answers it: Scalekit's organization OpenAPI with the
/// error responses (400, 401, 404, 409, 413, 429) and the bearer scheme documented.
pub const OPENAPI: &str = include_str!("../openapi.yaml");

/// `GET /openapi.yaml` (no token needed): [`OPENAPI`].
async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/yaml")],
        OPENAPI,
    )
        .into_response()
}

/// `GET /health`: 200 while serving, 503 once shutdown has begun.
async fn health(State(ready): State<Arc<AtomicBool>>) -> Response {
    if ready.load(Ordering::Acquire) {
        Json(serde_json::json!({"status": "ok"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "shutting down"})),
        )
            .into_response()
    }
}

async fn fallback(method: Method, request: Request) -> Response {
    if body::is_grpc(request.headers()) {
        let err = ApiError::new(
            Code::Unimplemented,
            format!("unknown method {}", request.uri().path()),
        );
        return grpc::error::response(&err);
    }
    ApiError::new(
        Code::Store(orgstore::ErrorCode::NotFound),
        format!("no such endpoint: {method} {}", request.uri().path()),
    )
    .into_response()
}

async fn method_not_allowed(method: Method, request: Request) -> Response {
    if body::is_grpc(request.headers()) {
        let err = ApiError::new(Code::Unimplemented, "gRPC calls must be POST");
        return grpc::error::response(&err);
    }
    ApiError::new(
        Code::Unimplemented,
        format!("method {method} is not allowed on {}", request.uri().path()),
    )
    .into_response()
}

/// Accepts connections until told to stop, then shuts down (see the module docs).
async fn run(
    listener: TcpListener,
    app: Router,
    acceptor: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
    ops: Arc<Ops>,
    ready: Arc<AtomicBool>,
    grace: Duration,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let mut connections = JoinSet::new();
    let stopping = async move {
        let _ = stop.wait_for(|stop| *stop).await;
    };
    tokio::pin!(stopping);
    loop {
        tokio::select! {
            () = &mut stopping => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        // Out of file descriptors and the like: wait a little, go on.
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let service = TowerToHyperService::new(app.clone());
                let builder = Arc::clone(&builder);
                let watcher = graceful.watcher();
                let acceptor = acceptor.clone();
                connections.spawn(async move {
                    let outcome = match acceptor {
                        None => {
                            let conn = builder.serve_connection(TokioIo::new(tcp), service);
                            watcher.watch(conn).await
                        }
                        Some(acceptor) => {
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                                Ok(Ok(stream)) => {
                                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                                    watcher.watch(conn).await
                                }
                                Ok(Err(err)) => {
                                    tracing::debug!(%peer, error = %err, "TLS handshake failed");
                                    Ok(())
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                    Ok(())
                                }
                            }
                        }
                    };
                    if let Err(err) = outcome {
                        tracing::debug!(%peer, error = %err, "connection ended with an error");
                    }
                });
            }
        }
    }
    ready.store(false, Ordering::Release);
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!(grace_s = grace.as_secs(), "connections still open after the grace period; closing them");
        }
    }
    connections.shutdown().await;
    drop(app);
    // A store call whose client went away still runs to its end.
    ops.limiter().drain().await;
    if let Ok(ops) = Arc::try_unwrap(ops) {
        close(ops).await;
    } else {
        tracing::error!("the store is still referenced at shutdown");
    }
    tracing::info!("stopped; store closed");
}

/// Drops the last handle of the store on a blocking thread: closing a PostgreSQL store's
/// connections blocks, which an async worker thread must not do.
async fn close(store: impl Send + 'static) {
    if let Err(err) = tokio::task::spawn_blocking(move || drop(store)).await {
        tracing::error!(error = %err, "closing the store failed");
    }
}
