//! Server benchmark: `orgstore serve`'s REST and gRPC surfaces under load, each beside the floor
//! of the HTTP stack it runs on, in one run.
//!
//! ```text
//! apt-get install -y wrk nghttp2-client        # the load generators (Debian packages)
//! cargo run --release -p bench-compare --bin serverbench -- --json bench-compare/results/server.json
//! cargo run --release -p bench-compare -- report ... --server-json bench-compare/results/server.json
//! cargo run --release -p bench-compare --bin serverbench -- --smoke    # a few seconds, for CI
//! ```
//!
//! What runs, in this one process:
//!
//! - **The server**: `orgstore_server::Server`, exactly as `orgstore serve` starts it (default
//!   limits, cleartext, bearer-token auth, the request log written to a file in the temp
//!   directory as `orgstore serve 2> file` would), over a fresh store seeded with `--seed`
//!   organizations (10,000 by default) of one fixed shape, so that every answer of an
//!   operation has the same size. Creates are durable: the store is opened with the library's
//!   default durability, `Immediate`, so every create is fsync'd before it is answered.
//! - **The floor**: a bare axum router served by the same accept loop (hyper-util's auto
//!   builder for HTTP/1.1 and h2c, `TCP_NODELAY`, the same timers) on another port, answering
//!   the same paths with a fixed body captured from the server (same status, content type and
//!   size), with no auth, request log, body buffering or store. Its gRPC part is a bare tonic
//!   `OrganizationService` whose `GetOrganization` answers a fixed `GetOrganizationResponse`
//!   (the server's own answer for the same id), merged into the router as the server merges
//!   its service: it still decodes the request and encodes the answer, so its cost is the
//!   HTTP/2 and gRPC framing stack alone.
//! - Both on one tokio runtime built as `orgstore serve` builds its own (multi-thread, one
//!   worker per core, `enable_all`).
//!
//! The load generators are separate processes: `wrk` for REST (HTTP/1.1 keep-alive) and
//! `h2load` for gRPC (h2c, prior knowledge), each connection with one request in flight at a
//! time, at each of `--connections` (1, 8, 64), for `--duration` seconds after a `--warmup`
//! run. Operations: REST `GET /api/v1/organizations/{id}` (ids rotating over the seeded set),
//! REST `GET /api/v1/organizations?page_size=10` (the first page, newest first), gRPC
//! `GetOrganization` by id (h2load sends one body, so one id), REST `POST
//! /api/v1/organizations` (a unique external id per request). Latencies: wrk's own histogram
//! (its Lua `done` hook, 1 µs resolution); for h2load, the nearest-rank percentiles of the
//! per-request times in its `--log-file`.
//!
//! The load generators share the machine's cores with the server: on a small machine the
//! figures are those of the pair, not of the server alone. Compare the server with the floor
//! of the same run.
//!
//! Flags: `--json PATH` (default: standard output), `--seed N`, `--duration S`, `--warmup S`,
//! `--connections 1,8,64`, `--load-threads N` (threads of each load generator, default 1),
//! `--ops rest_get,rest_list,grpc_get,rest_create`, `--request-log file|off`, `--smoke` (200
//! organizations, 1 s points, no warm-up, 1 and 64 connections; skips with a message and
//! exit code 0 when wrk or h2load is missing). `BENCH_DIR` chooses the temp directory's disk;
//! `BENCH_KEEP` keeps it (the store, the request log, the wrk scripts, h2load's logs).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use orgstore::{NewOrganization, OrgStore, Organization};
use orgstore_server::auth::Credentials;
use orgstore_server::proto::scalekit::v1::organizations as pb;
use orgstore_server::proto::scalekit::v1::organizations::organization_service_server::{
    OrganizationService, OrganizationServiceServer,
};
use orgstore_server::{ServeConfig, Server};
use prost::Message as _;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

#[path = "../server_rows.rs"]
mod server_rows;
#[path = "../workload.rs"]
#[allow(dead_code)]
mod workload;

use server_rows::ServerRow;

const INSTALL: &str = "install the load generators with `apt-get install -y wrk nghttp2-client`";
const GRPC_GET: &str = "/scalekit.v1.organizations.OrganizationService/GetOrganization";
const LIST_PATH: &str = "/api/v1/organizations?page_size=10";
/// As the server's accept loop.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    RestGet,
    RestList,
    GrpcGet,
    RestCreate,
}

impl Op {
    const ALL: [Op; 4] = [Op::RestGet, Op::RestList, Op::GrpcGet, Op::RestCreate];

    fn flag(self) -> &'static str {
        match self {
            Op::RestGet => "rest_get",
            Op::RestList => "rest_list",
            Op::GrpcGet => "grpc_get",
            Op::RestCreate => "rest_create",
        }
    }

    fn op(self) -> &'static str {
        match self {
            Op::RestGet | Op::GrpcGet => "get_by_id",
            Op::RestList => "list_page",
            Op::RestCreate => "create",
        }
    }

    fn surface(self) -> &'static str {
        match self {
            Op::GrpcGet => "grpc",
            _ => "rest",
        }
    }

    fn tool(self) -> &'static str {
        match self {
            Op::GrpcGet => "h2load",
            _ => "wrk",
        }
    }
}

struct Settings {
    seed: usize,
    duration: u64,
    warmup: u64,
    connections: Vec<u32>,
    load_threads: u32,
    ops: Vec<Op>,
    json: Option<PathBuf>,
    request_log: bool,
    smoke: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: serverbench [--json PATH] [--seed N] [--duration S] [--warmup S] \
         [--connections 1,8,64]\n                   [--load-threads N] \
         [--ops rest_get,rest_list,grpc_get,rest_create] [--request-log file|off] [--smoke]"
    );
    std::process::exit(2);
}

fn settings() -> Settings {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut s = Settings {
        seed: 10_000,
        duration: 5,
        warmup: 1,
        connections: vec![1, 8, 64],
        load_threads: 1,
        ops: Op::ALL.to_vec(),
        json: None,
        request_log: true,
        smoke: false,
    };
    // `--smoke` sets small sizes first; flags given with it still win.
    if args.iter().any(|a| a == "--smoke") {
        s.smoke = true;
        s.seed = 200;
        s.duration = 1;
        s.warmup = 0;
        s.connections = vec![1, 64];
    }
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_else(|| usage());
        let number = |v: String| -> u64 { v.replace('_', "").parse().unwrap_or_else(|_| usage()) };
        match a.as_str() {
            "--smoke" => {}
            "--json" => s.json = Some(value().into()),
            "--seed" => s.seed = number(value()) as usize,
            "--duration" => s.duration = number(value()),
            "--warmup" => s.warmup = number(value()),
            "--load-threads" => s.load_threads = number(value()).max(1) as u32,
            "--connections" => {
                s.connections = value()
                    .split(',')
                    .map(|c| c.parse().unwrap_or_else(|_| usage()))
                    .collect();
            }
            "--ops" => {
                s.ops = value()
                    .split(',')
                    .map(|name| {
                        Op::ALL
                            .into_iter()
                            .find(|op| op.flag() == name)
                            .unwrap_or_else(|| usage())
                    })
                    .collect();
            }
            "--request-log" => {
                s.request_log = match value().as_str() {
                    "file" => true,
                    "off" => false,
                    _ => usage(),
                }
            }
            _ => usage(),
        }
    }
    if s.seed == 0 || s.duration == 0 || s.connections.contains(&0) {
        usage();
    }
    s
}

/// The first line a tool prints of its version, or `None` when it is not installed.
fn tool_version(tool: &str) -> Option<String> {
    let out = Command::new(tool).arg("--version").output().ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        text.lines()
            .next()
            .unwrap_or(tool)
            .split(" Copyright")
            .next()
            .unwrap_or(tool)
            .trim()
            .to_string(),
    )
}

/// Every seeded organization has this shape, so that all answers of an operation have one size.
fn seed_org(i: usize) -> NewOrganization {
    NewOrganization::new(format!("Benchmark Organization {:06}", i % 1_000_000))
        .external_id(format!("seed-{i:015}"))
        .metadata("plan", "enterprise")
        .metadata("tier", "gold")
}

/// The REST create body of the benchmark: the seed's shape, a unique 20-character external id.
const CREATE_BODY_LUA: &str = r#"'{"display_name":"Benchmark Organization 000000","external_id":"c%04d-%02d-%011d","metadata":{"plan":"enterprise","tier":"gold"}}'"#;

fn create_body(run: u32, thread: u32, n: u64) -> String {
    format!(
        r#"{{"display_name":"Benchmark Organization 000000","external_id":"c{run:04}-{thread:02}-{n:011}","metadata":{{"plan":"enterprise","tier":"gold"}}}}"#
    )
}

fn seed(path: &Path, n: usize) -> Vec<Organization> {
    let store = OrgStore::open(path).expect("open the store");
    let mut orgs = Vec::with_capacity(n);
    let mut next = 0;
    while next < n {
        let end = (next + 1000).min(n);
        let mut txn = store.begin_write().expect("begin a write");
        for i in next..end {
            orgs.push(txn.create(seed_org(i)).expect("seed create"));
        }
        txn.commit().expect("seed commit");
        next = end;
    }
    orgs
}

/// The fixed answers of the floor, captured from the server.
struct Fixed {
    get: Bytes,
    list: Bytes,
    create: Bytes,
    grpc: pb::GetOrganizationResponse,
}

fn json_answer(status: StatusCode, body: Bytes) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// The floor's gRPC service: `GetOrganization` answers a fixed message; the other methods keep
/// the generated UNIMPLEMENTED stubs.
struct FloorGrpc {
    answer: pb::GetOrganizationResponse,
}

#[tonic::async_trait]
impl OrganizationService for FloorGrpc {
    async fn get_organization(
        &self,
        _request: tonic::Request<pb::GetOrganizationRequest>,
    ) -> Result<tonic::Response<pb::GetOrganizationResponse>, tonic::Status> {
        Ok(tonic::Response::new(self.answer.clone()))
    }
}

/// The floor's router: the server's paths, fixed answers, nothing else.
fn floor_router(fixed: &Fixed) -> Router {
    let (get_body, list_body, create_body) =
        (fixed.get.clone(), fixed.list.clone(), fixed.create.clone());
    let grpc = OrganizationServiceServer::new(FloorGrpc {
        answer: fixed.grpc.clone(),
    });
    Router::new()
        .route(
            "/api/v1/organizations/{id}",
            get(move || {
                let body = get_body.clone();
                async move { json_answer(StatusCode::OK, body) }
            }),
        )
        .route(
            "/api/v1/organizations",
            get(move || {
                let body = list_body.clone();
                async move { json_answer(StatusCode::OK, body) }
            })
            .post(move |_request: Bytes| {
                let body = create_body.clone();
                async move { json_answer(StatusCode::CREATED, body) }
            }),
        )
        .merge(tonic::service::Routes::new(grpc).into_axum_router())
}

/// The server's accept loop (`orgstore_server::server`, cleartext), for the floor.
async fn serve_floor(listener: TcpListener, app: Router) {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let Ok((tcp, _peer)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let service = TowerToHyperService::new(app.clone());
                let builder = Arc::clone(&builder);
                let watcher = graceful.watcher();
                connections.spawn(async move {
                    let conn = builder.serve_connection(TokioIo::new(tcp), service);
                    let _ = watcher.watch(conn).await;
                });
            }
        }
    }
}

/// One load run's outcome.
#[derive(Clone, Copy, Debug, Default)]
struct Measured {
    duration_s: f64,
    requests: u64,
    requests_per_s: f64,
    p50_ns: u64,
    p99_ns: u64,
    errors: u64,
}

fn run_tool(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        panic!(
            "{command:?} failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    stdout
}

/// The fields `key=value` of the line wrk's `done` hook prints.
fn wrk_field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or_else(|| panic!("wrk printed no {key}: {line}"), |v| v as u64)
}

fn wrk(script: &Path, base: &str, connections: u32, threads: u32, seconds: u64) -> Measured {
    let out = run_tool(Command::new("wrk").args([
        "-t",
        &threads.min(connections).to_string(),
        "-c",
        &connections.to_string(),
        "-d",
        &format!("{seconds}s"),
        "--timeout",
        "10s",
        "-s",
        &script.display().to_string(),
        base,
    ]));
    let line = out
        .lines()
        .find(|l| l.starts_with("SERVERBENCH "))
        .unwrap_or_else(|| panic!("wrk printed no result line:\n{out}"));
    let requests = wrk_field(line, "requests");
    let duration_s = wrk_field(line, "duration_us") as f64 / 1e6;
    let errors = ["connect", "read", "write", "status", "timeout"]
        .iter()
        .map(|k| wrk_field(line, k))
        .sum();
    Measured {
        duration_s,
        requests,
        requests_per_s: requests as f64 / duration_s,
        p50_ns: wrk_field(line, "p50_us") * 1000,
        p99_ns: wrk_field(line, "p99_us") * 1000,
        errors,
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The number in parentheses before `what` on h2load's `traffic:` line (bytes).
fn h2load_traffic(out: &str, what: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with("traffic:"))
        .unwrap_or_else(|| panic!("h2load printed no traffic line:\n{out}"));
    line.split(',')
        .find(|part| part.trim_end().ends_with(what) || part.contains(&format!(") {what}")))
        .and_then(|part| part.split('(').nth(1)?.split(')').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {what} bytes in: {line}"))
}

#[derive(Clone, Copy)]
struct Grpc<'a> {
    body: &'a Path,
    token: &'a str,
    /// Bytes of one answer's DATA: the 5-byte frame header and the message.
    framed: u64,
}

fn h2load(
    grpc: &Grpc<'_>,
    url: &str,
    connections: u32,
    threads: u32,
    seconds: Option<u64>,
    log: &Path,
) -> Measured {
    let mut command = Command::new("h2load");
    command.args([
        "-c",
        &connections.to_string(),
        "-t",
        &threads.min(connections).to_string(),
        "-m",
        "1",
    ]);
    match seconds {
        Some(s) => command.args(["-D", &s.to_string()]),
        None => command.args(["-n", "1"]),
    };
    command.args([
        "--log-file",
        &log.display().to_string(),
        "-d",
        &grpc.body.display().to_string(),
        "-H",
        "content-type: application/grpc",
        "-H",
        "te: trailers",
        "-H",
        &format!("authorization: Bearer {}", grpc.token),
        url,
    ]);
    let out = run_tool(&mut command);
    let finished = out
        .lines()
        .find(|l| l.starts_with("finished in "))
        .unwrap_or_else(|| panic!("h2load printed no result:\n{out}"));
    let mut parts = finished.trim_start_matches("finished in ").split(", ");
    let duration_s = parse_h2load_time(parts.next().unwrap_or(""));
    let requests_per_s: f64 = parts
        .next()
        .and_then(|p| p.strip_suffix(" req/s"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("h2load result not understood: {finished}"));
    let counts = out
        .lines()
        .find(|l| l.starts_with("requests: "))
        .unwrap_or_else(|| panic!("h2load printed no request counts:\n{out}"));
    let count = |what: &str| -> u64 {
        counts
            .trim_start_matches("requests: ")
            .split(", ")
            .find_map(|p| p.strip_suffix(what)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {what} count in: {counts}"))
    };
    let succeeded = count("succeeded");
    // An HTTP 200 is no gRPC success: an error travels as a status without a message. Every
    // successful call carries one framed message of the expected size.
    let data = h2load_traffic(&out, "data");
    let with_message = (data / grpc.framed).min(succeeded);
    let errors = count("failed") + count("errored") + count("timeout") + succeeded - with_message;
    let log_text = std::fs::read_to_string(log).expect("read h2load's log");
    let mut times: Vec<u64> = log_text
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let _start = f.next()?;
            let status: i32 = f.next()?.trim().parse().ok()?;
            let us: u64 = f.next()?.trim().parse().ok()?;
            (status == 200).then_some(us * 1000)
        })
        .collect();
    times.sort_unstable();
    Measured {
        duration_s,
        requests: succeeded,
        requests_per_s,
        p50_ns: percentile(&times, 50.0),
        p99_ns: percentile(&times, 99.0),
        errors,
    }
}

/// h2load's elapsed time: `5.00s`, `834.12ms`, `12.3us`.
fn parse_h2load_time(text: &str) -> f64 {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(split);
    let n: f64 = n.parse().unwrap_or(0.0);
    match unit {
        "s" => n,
        "ms" => n / 1e3,
        "us" => n / 1e6,
        _ => n,
    }
}

/// The wrk scripts of one run: the token, a `done` hook printing the figures, and per
/// operation the requests.
fn wrk_script(op: Op, token: &str, ids_file: &Path, run: u32) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "wrk.headers[\"Authorization\"] = \"Bearer {token}\"");
    // Each thread learns its number from `setup`; requests of threads never collide.
    s.push_str(
        "local threads = 0\n\
         function setup(thread)\n  thread:set(\"tid\", threads)\n  threads = threads + 1\nend\n",
    );
    match op {
        Op::RestGet => {
            let _ = writeln!(
                s,
                "local ids = {{}}\nfor line in io.lines({:?}) do ids[#ids + 1] = line end\n\
                 local n = #ids\nlocal i = 0\n\
                 function request()\n  i = i + 1\n  \
                 local k = ((tid or 0) * 1009 + i * 7919) % n + 1\n  \
                 return wrk.format(\"GET\", \"/api/v1/organizations/\" .. ids[k])\nend",
                ids_file.display().to_string()
            );
        }
        Op::RestList => {
            let _ = writeln!(s, "wrk.path = {LIST_PATH:?}");
        }
        Op::RestCreate => {
            let _ = writeln!(
                s,
                "wrk.headers[\"Content-Type\"] = \"application/json\"\nlocal i = 0\n\
                 function request()\n  i = i + 1\n  \
                 local body = string.format({CREATE_BODY_LUA}, {run}, tid or 0, i)\n  \
                 return wrk.format(\"POST\", \"/api/v1/organizations\", nil, body)\nend"
            );
        }
        Op::GrpcGet => unreachable!("gRPC runs on h2load"),
    }
    s.push_str(
        "function done(summary, latency, requests)\n  local e = summary.errors\n  \
         io.write(string.format(\"SERVERBENCH requests=%d duration_us=%d connect=%d read=%d \
         write=%d status=%d timeout=%d p50_us=%.0f p99_us=%.0f\\n\", summary.requests, \
         summary.duration, e.connect, e.read, e.write, e.status, e.timeout, \
         latency:percentile(50.0), latency:percentile(99.0)))\nend\n",
    );
    s
}

/// Reads an HTTP answer: status and body.
async fn fetch(request: reqwest::RequestBuilder) -> (u16, Bytes) {
    let response = request.send().await.expect("request to the server");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("answer body"))
}

fn read_file(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn loadavg() -> String {
    read_file("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn note(op: &str, text: String) -> ServerRow {
    ServerRow {
        op: op.into(),
        surface: "machine".into(),
        note: Some(text),
        ..ServerRow::default()
    }
}

/// The run's folder: removed at the end, or kept (`BENCH_KEEP`).
enum Kept {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

impl Kept {
    fn path(&self) -> &Path {
        match self {
            Kept::Temp(dir) => dir.path(),
            Kept::Kept(path) => path,
        }
    }
}

fn main() {
    let s = settings();
    let mut versions = Vec::new();
    for tool in ["wrk", "h2load"] {
        if !s.ops.iter().any(|op| op.tool() == tool) {
            continue;
        }
        let package = if tool == "wrk" {
            "wrk"
        } else {
            "nghttp2-client"
        };
        match tool_version(tool) {
            Some(v) => versions.push(v),
            None if s.smoke => {
                eprintln!(
                    "serverbench: skipped: {tool} (Debian package {package}) is not installed; {INSTALL}"
                );
                return;
            }
            None => {
                eprintln!(
                    "serverbench: {tool} (Debian package {package}) is not installed; {INSTALL}"
                );
                std::process::exit(2);
            }
        }
    }
    let load_before = loadavg();
    let dir = tempfile::Builder::new()
        .prefix("serverbench-")
        .tempdir_in(workload::bench_dir())
        .expect("temp dir");
    // Diagnostic: keep the store, the scripts and h2load's logs.
    let dir = if std::env::var_os("BENCH_KEEP").is_some() {
        let kept = dir.keep();
        eprintln!("keeping {}", kept.display());
        Kept::Kept(kept)
    } else {
        Kept::Temp(dir)
    };
    let db = dir.path().join("orgs.redb");
    eprintln!("seeding {} organizations", s.seed);
    let orgs = seed(&db, s.seed);
    let ids_file = dir.path().join("ids.txt");
    std::fs::write(
        &ids_file,
        orgs.iter()
            .map(|o| format!("{}\n", o.id))
            .collect::<String>(),
    )
    .expect("write the ids");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let workers = runtime.metrics().num_workers();
    // The request log as `orgstore serve 2> file` writes it (the same subscriber and writer).
    let _log = s.request_log.then(|| {
        let log = std::fs::File::create(dir.path().join("requests.log")).expect("request log");
        orgstore_server::logging::init_to(log, false)
    });
    let mut config = ServeConfig::new(&db);
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.credentials = Some(Credentials {
        client_id: "serverbench".into(),
        client_secret: "serverbench-secret".into(),
    });
    config.shutdown_grace = Duration::from_secs(10);
    let server = runtime
        .block_on(Server::start(config))
        .expect("start the server");
    let server_base = format!("http://{}", server.local_addr());

    // A token, and the answers the floor will give, from the server itself.
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client");
    let (token, fixed) = runtime.block_on(async {
        let (status, body) = fetch(
            http.post(format!("{server_base}/oauth/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials&client_id=serverbench&client_secret=serverbench-secret"),
        )
        .await;
        assert_eq!(status, 200, "token: {}", String::from_utf8_lossy(&body));
        let json: serde_json::Value = serde_json::from_slice(&body).expect("token JSON");
        let token = json["access_token"].as_str().expect("access_token").to_owned();
        let auth = format!("Bearer {token}");
        let (status, get) = fetch(
            http.get(format!("{server_base}/api/v1/organizations/{}", orgs[0].id))
                .header("authorization", &auth),
        )
        .await;
        assert_eq!(status, 200, "get: {}", String::from_utf8_lossy(&get));
        // Created before the list is read: the list page of the run has it first.
        let (status, create) = fetch(
            http.post(format!("{server_base}/api/v1/organizations"))
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(create_body(9999, 0, 0)),
        )
        .await;
        assert_eq!(status, 201, "create: {}", String::from_utf8_lossy(&create));
        let (status, list) = fetch(
            http.get(format!("{server_base}{LIST_PATH}"))
                .header("authorization", &auth),
        )
        .await;
        assert_eq!(status, 200, "list: {}", String::from_utf8_lossy(&list));
        let grpc = pb::GetOrganizationResponse {
            organization: Some(orgstore_server::convert::organization_to_proto(
                orgs[0].clone(),
            )),
        };
        (token, Fixed { get, list, create, grpc })
    });

    let floor_listener = runtime
        .block_on(TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))))
        .expect("floor listener");
    let floor_base = format!(
        "http://{}",
        floor_listener.local_addr().expect("floor address")
    );
    let floor = runtime.spawn(serve_floor(floor_listener, floor_router(&fixed)));

    // The gRPC request: one framed GetOrganizationRequest by id.
    let request = pb::GetOrganizationRequest {
        identities: Some(pb::get_organization_request::Identities::Id(
            orgs[0].id.to_string(),
        )),
    }
    .encode_to_vec();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(request.len() as u32).to_be_bytes());
    framed.extend_from_slice(&request);
    let grpc_body = dir.path().join("get.grpc");
    std::fs::write(&grpc_body, framed).expect("write the gRPC body");
    let grpc_message = fixed.grpc.encoded_len() as u64;
    let grpc = Grpc {
        body: &grpc_body,
        token: &token,
        framed: 5 + grpc_message,
    };
    let h2log = |run: u32| dir.path().join(format!("run{run}.h2load.log"));
    if s.ops.contains(&Op::GrpcGet) {
        // One call each: the token works and the answer is the expected message.
        for base in [&server_base, &floor_base] {
            let m = h2load(&grpc, &format!("{base}{GRPC_GET}"), 1, 1, None, &h2log(0));
            assert!(
                m.requests == 1 && m.errors == 0,
                "the gRPC call to {base} failed"
            );
        }
        // And the check itself: a call without a valid token (an HTTP 200 carrying
        // UNAUTHENTICATED) is counted as an error.
        let bad = Grpc {
            token: "not-a-token",
            ..grpc
        };
        let m = h2load(
            &bad,
            &format!("{server_base}{GRPC_GET}"),
            1,
            1,
            None,
            &h2log(0),
        );
        assert_eq!(m.errors, 1, "a failed gRPC call went unnoticed");
    }

    let mut rows = Vec::new();
    let mut run = 0u32;
    let mut point = 0usize;
    for &op in &s.ops {
        for &c in &s.connections {
            let mut measure = |base: &str| -> Measured {
                let mut once = |seconds: u64| -> Measured {
                    run += 1;
                    match op {
                        Op::GrpcGet => h2load(
                            &grpc,
                            &format!("{base}{GRPC_GET}"),
                            c,
                            s.load_threads,
                            Some(seconds),
                            &h2log(run),
                        ),
                        _ => {
                            let script = dir.path().join(format!("run{run}.lua"));
                            std::fs::write(&script, wrk_script(op, &token, &ids_file, run))
                                .expect("write the wrk script");
                            wrk(&script, base, c, s.load_threads, seconds)
                        }
                    }
                };
                if s.warmup > 0 {
                    once(s.warmup);
                }
                once(s.duration)
            };
            // Alternate which goes first, so that neither always runs on a warmer machine.
            let (server_m, floor_m) = if point.is_multiple_of(2) {
                let f = measure(&floor_base);
                (measure(&server_base), f)
            } else {
                let m = measure(&server_base);
                (m, measure(&floor_base))
            };
            point += 1;
            let response_bytes = match op {
                Op::RestGet => fixed.get.len() as u64,
                Op::RestList => fixed.list.len() as u64,
                Op::RestCreate => fixed.create.len() as u64,
                Op::GrpcGet => grpc_message,
            };
            eprintln!(
                "  {:<4} {:<9} c={c:<3} server {:>8.0} req/s p50 {:>7.1} µs p99 {:>8.1} µs err {} | \
                 floor {:>8.0} req/s p50 {:>7.1} µs p99 {:>8.1} µs err {}",
                op.surface(),
                op.op(),
                server_m.requests_per_s,
                server_m.p50_ns as f64 / 1e3,
                server_m.p99_ns as f64 / 1e3,
                server_m.errors,
                floor_m.requests_per_s,
                floor_m.p50_ns as f64 / 1e3,
                floor_m.p99_ns as f64 / 1e3,
                floor_m.errors,
            );
            rows.push(ServerRow {
                op: op.op().into(),
                surface: op.surface().into(),
                connections: Some(c),
                duration_s: Some((server_m.duration_s * 1000.0).round() / 1000.0),
                requests: Some(server_m.requests),
                requests_per_s: Some(server_m.requests_per_s.round()),
                p50_ns: Some(server_m.p50_ns),
                p99_ns: Some(server_m.p99_ns),
                errors: Some(server_m.errors),
                floor_requests_per_s: Some(floor_m.requests_per_s.round()),
                floor_p50_ns: Some(floor_m.p50_ns),
                floor_p99_ns: Some(floor_m.p99_ns),
                floor_errors: Some(floor_m.errors),
                response_bytes: Some(response_bytes),
                note: Some(match op {
                    Op::GrpcGet => "h2load --log-file, nearest rank".into(),
                    _ => "wrk latency histogram".into(),
                }),
            });
        }
    }
    let load_after = loadavg();
    runtime.block_on(server.stop()).expect("stop the server");
    floor.abort();
    drop(runtime);

    let cpu = read_file("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown".into(), |s| s.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    rows.push(note("cpu", format!("{cpu}, {cores} cores available")));
    rows.push(note(
        "kernel",
        format!("Linux {}", read_file("/proc/sys/kernel/osrelease").trim()),
    ));
    rows.push(note(
        "load",
        format!("load average (1, 5, 15 min) {load_before} before the run, {load_after} after"),
    ));
    let busy = load_before
        .split_whitespace()
        .next()
        .and_then(|l| l.parse::<f64>().ok())
        .filter(|&l| l >= 0.5);
    rows.push(note(
        "idle",
        match busy {
            None => "yes: 1-minute load average below 0.5 before the run".into(),
            Some(l) => format!(
                "no: 1-minute load average {l:.2} before the run, on {cores} cores; \
                 other work shared the cores, re-measure on an idle machine"
            ),
        },
    ));
    rows.push(note("tools", versions.join("; ")));
    rows.push(note(
        "runtime",
        format!(
            "tokio multi-thread runtime with {workers} worker threads (one per core, as `orgstore serve`), \
             server and floor on it; the load generator in its own process with {} thread(s), \
             on the same cores",
            s.load_threads
        ),
    ));
    rows.push(note(
        "run",
        format!(
            "{} organizations seeded; each point {} s after a {} s warm-up, against the floor and the server in turn",
            s.seed, s.duration, s.warmup
        ),
    ));
    rows.push(note(
        "durability",
        "creates: the library's default durability, Immediate (each create is fsync'd before it is answered)".into(),
    ));
    rows.push(note(
        "request_log",
        if s.request_log {
            "the server's request log (tracing, level info) written to a file".into()
        } else {
            "the server's request log off (no subscriber)".into()
        },
    ));
    if let Some(fsync) = workload::fsync_note(dir.path()) {
        rows.push(note("fsync", fsync));
    }
    let errors: u64 = rows.iter().filter_map(|r| r.errors).sum();
    if errors > 0 {
        eprintln!("serverbench: warning: {errors} requests to the server failed (see `errors`)");
    }
    workload::write_json(&rows, s.json.as_deref());
}
