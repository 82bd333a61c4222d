//! The rows of the PostgreSQL benchmark (`pgbench`), shared by the harness and the report.

use serde::{Deserialize, Serialize};

/// One measured figure of `pgbench`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PgRow {
    /// `orgstore-postgres`, `handwritten-postgres` or `orgstore-redb`.
    pub engine: String,
    /// The operation, e.g. `get_by_id`, `durable_create`, `list_deep_page`, `count`,
    /// `concurrent_create`.
    pub op: String,
    /// Organizations in the store when measured.
    pub orgs: u64,
    /// Writer threads (concurrent rows only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u64>,
    pub median_ns: u64,
    pub p99_ns: u64,
    /// Operations timed.
    pub ops: u64,
    /// Throughput (concurrent rows only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops_per_s: Option<u64>,
    /// Machine and settings (on the first row).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
