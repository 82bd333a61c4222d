//! The rows of the server benchmark's result file (`serverbench`), read back by the report.

use serde::{Deserialize, Serialize};

/// One figure of the server benchmark: a measured point (an operation on one surface at one
/// connection count, against the server and against the floor), or a note about the run
/// (`surface` = `"machine"`, the text in `note`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ServerRow {
    /// `get_by_id`, `list_page`, `create`; for notes, what the note is about.
    pub op: String,
    /// `rest`, `grpc`, or `machine` for notes.
    pub surface: String,
    /// Open connections, each with one request in flight at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<u32>,
    /// Length of the measured run, in seconds (after the warm-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Requests completed in the measured run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_s: Option<f64>,
    /// Median latency, in nanoseconds (the load generator's resolution is 1 µs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ns: Option<u64>,
    /// Requests that failed: socket errors, timeouts, an HTTP status other than 2xx/3xx, or
    /// (gRPC) an answer without the expected message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<u64>,
    /// The same load against the floor: the same requests, a fixed answer of the same size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_requests_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_p50_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_p99_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_errors: Option<u64>,
    /// Size of the answer's body (gRPC: the message, without its 5-byte frame header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_bytes: Option<u64>,
    /// How latencies were obtained, or the text of a note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
