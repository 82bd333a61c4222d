//! The request log: one `tracing` event per request with method, path, protocol, status
//! (and the gRPC status when the answer carries it in its headers) and latency.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

/// Where the log goes until [`init`]'s guard drops: lines are handed to a thread of their own
/// that writes them to stderr, so no request waits for a write to the terminal or a pipe (none
/// is dropped: a full queue makes the logger wait instead).
#[must_use = "dropping the guard stops the log (and flushes what is queued)"]
pub struct LogGuard(#[allow(dead_code)] Option<tracing_appender::non_blocking::WorkerGuard>);

/// Sets up the `tracing` subscriber for the binary: `RUST_LOG` filters (default `info`). Keep
/// the guard for as long as the process logs; dropping it flushes the log.
pub fn init() -> LogGuard {
    init_to(
        std::io::stderr(),
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
    )
}

/// As [`init`], writing to `out` (colours only with `ansi`).
pub fn init_to(out: impl std::io::Write + Send + 'static, ansi: bool) -> LogGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(out);
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer)
        .with_ansi(ansi)
        .try_init();
    LogGuard(installed.is_ok().then_some(guard))
}

/// The middleware: logs each request when its response is ready.
pub async fn log(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let version = request.version();
    let response = next.run(request).await;
    let grpc_status = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    tracing::info!(
        target: "orgstore::request",
        %method,
        %path,
        version = ?version,
        status = response.status().as_u16(),
        grpc_status = %grpc_status,
        latency_us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    response
}
