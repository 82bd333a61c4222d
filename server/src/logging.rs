//! The request log: one `tracing` event per request with method, path, protocol, status
//! (and the gRPC status when the answer carries it in its headers) and latency.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

/// Sets up the `tracing` subscriber for the binary: `RUST_LOG` filters (default `info`).
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
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
