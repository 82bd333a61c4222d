//! The rows of the concurrent-writer benchmark (`concurrent`), shared by the harness and the
//! report.

use serde::{Deserialize, Serialize};

/// One figure of `concurrent`: a measured point (one operation on one engine with a number of
/// writer threads), or a note about the run (`engine` = `"machine"`, `op` what the note is
/// about, the text in `note`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ConcurrentRow {
    /// `concurrent_durable_create` or `concurrent_durable_update`; for notes, what the note is
    /// about.
    pub op: String,
    /// `orgstore`, `redb`, `sqlite` (or `native_db`); `machine` for notes.
    pub engine: String,
    /// Writer threads, each with one operation in flight at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u64>,
    /// Organizations loaded into the fresh store before the point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orgs: Option<u64>,
    /// Length of the measured window, in seconds (after the warm-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// Operations started in the measured window, over all threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops: Option<u64>,
    /// `ops` divided by the wall time of the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops_per_s: Option<u64>,
    /// Median latency of one call, over the operations of every thread, in nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ns: Option<u64>,
    /// The slowest call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ns: Option<u64>,
    /// The fewest and the most calls one thread started in the window (how evenly the engine
    /// served its writers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fewest_thread_ops: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub most_thread_ops: Option<u64>,
    /// Bytes the process handed to write calls in the window (`wchar` of `/proc/self/io`),
    /// divided by `ops`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_op: Option<u64>,
    /// Syncs of the store's file per operation (OrgStore with `--count-syncs` only). With one
    /// thread it is the syncs of one commit; a smaller figure with more threads means that
    /// operations shared commits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syncs_per_op: Option<f64>,
    /// The text of a note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
