//! Reads every request body before any handler runs, within a size cap and a time limit, and
//! makes gRPC over HTTP/1.1 work.
//!
//! Buffering the body first serves three ends at once:
//! - the size cap (413 / RESOURCE_EXHAUSTED) and the time limit (408 / DEADLINE_EXCEEDED)
//!   hold for both surfaces, in one place;
//! - over HTTP/1.1, an answer sent before the request body was read (an early
//!   UNAUTHENTICATED, an unknown method) would break the connection of a client that streams
//!   its body; with the body read first, every answer comes after it;
//! - handlers never wait on a slow client while holding anything.
//!
//! gRPC over HTTP/1.1 also needs the response to announce its trailers: hyper's HTTP/1.1
//! encoder writes only the trailer fields named in a `trailer` header, and tonic sets none.
//! When the request carried `te: trailers` (without it hyper sends no trailers at all), the
//! `trailer` header is added here, and a trailers-only answer is rewritten so that its status
//! travels in trailers too.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Version};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;

use crate::error::{ApiError, Code};
use crate::limits::Limits;

/// Whether a request speaks gRPC (`content-type: application/grpc…`).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// An error answered before the service ran, in the request's own protocol.
pub fn early_error(grpc: bool, err: &ApiError) -> Response {
    if grpc {
        crate::grpc::error::response(err)
    } else {
        err.clone().into_response()
    }
}

/// The outcome of reading a body.
enum Read {
    Done(Vec<u8>),
    TooLarge,
    Failed(axum::Error),
}

/// How much more of an oversized HTTP/1.1 body is read and dropped before the 413, so that
/// the client, still writing, sees the answer instead of a reset connection.
const DRAIN_LIMIT: usize = 1 << 20;

/// The middleware: buffers the body, then calls the router.
pub async fn buffer(State(limits): State<Arc<Limits>>, request: Request, next: Next) -> Response {
    let grpc = is_grpc(request.headers());
    let http1 = request.version() < Version::HTTP_2;
    let wants_trailers = request
        .headers()
        .get(header::TE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
        });
    let response = read_then_run(&limits, request, next, grpc, http1).await;
    if grpc && http1 && wants_trailers {
        announce_trailers(response)
    } else {
        response
    }
}

async fn read_then_run(
    limits: &Limits,
    request: Request,
    next: Next,
    grpc: bool,
    http1: bool,
) -> Response {
    let (parts, mut body) = request.into_parts();
    let max = limits.max_body_bytes;
    let read = tokio::time::timeout(limits.body_timeout, async {
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            match frame.map(http_body::Frame::into_data) {
                Ok(Ok(data)) => {
                    if bytes.len() + data.len() > max {
                        return Read::TooLarge;
                    }
                    bytes.extend_from_slice(&data);
                }
                Ok(Err(_trailers)) => {}
                Err(err) => return Read::Failed(err),
            }
        }
        Read::Done(bytes)
    })
    .await;
    let bytes = match read {
        Ok(Read::Done(bytes)) => bytes,
        Ok(Read::TooLarge) => {
            if http1 {
                drain(body, limits.body_timeout).await;
            }
            let err = ApiError::new(
                Code::TooLarge,
                format!("request body larger than {} bytes", limits.max_body_bytes),
            );
            return early_error(grpc, &err);
        }
        Ok(Read::Failed(err)) => {
            // Most often the client went away mid-body; the answer is for the log.
            tracing::debug!(error = %err, "request body could not be read");
            return early_error(
                grpc,
                &ApiError::bad_request("the request body could not be read"),
            );
        }
        Err(_) => {
            let err = ApiError::new(
                Code::RequestTimeout,
                format!(
                    "the request body did not arrive within {} s",
                    limits.body_timeout.as_secs()
                ),
            );
            let mut response = early_error(grpc, &err);
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The gRPC status fields, which travel in trailers.
const STATUS_FIELDS: [&str; 3] = ["grpc-status", "grpc-message", "grpc-status-details-bin"];

/// Makes an HTTP/1.1 gRPC response carry its status in trailers, announced in a `trailer`
/// header. A trailers-only answer (status in the headers, empty body, as tonic sends errors)
/// becomes headers, an empty chunked body and the status as trailers: the form an HTTP/1.1
/// gRPC client reads, whatever it makes of trailers-only answers.
fn announce_trailers(mut response: Response) -> Response {
    let announce = HeaderValue::from_static("grpc-status, grpc-message, grpc-status-details-bin");
    if !response.headers().contains_key("grpc-status") {
        response.headers_mut().insert(header::TRAILER, announce);
        return response;
    }
    let (mut parts, _empty) = response.into_parts();
    let mut trailers = HeaderMap::new();
    for name in STATUS_FIELDS {
        if let Some(value) = parts.headers.remove(name) {
            trailers.insert(name, value);
        }
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::TRAILER, announce);
    Response::from_parts(parts, Body::new(TrailersOnly(Some(trailers))))
}

/// A body of no data and one trailers frame.
struct TrailersOnly(Option<HeaderMap>);

impl http_body::Body for TrailersOnly {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(self.0.take().map(|t| Ok(http_body::Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }
}

/// Reads and drops up to [`DRAIN_LIMIT`] more bytes, within `timeout`.
async fn drain(mut body: Body, timeout: std::time::Duration) {
    let _ = tokio::time::timeout(timeout, async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                seen += data.len();
                if seen > DRAIN_LIMIT {
                    break;
                }
            }
        }
    })
    .await;
}
