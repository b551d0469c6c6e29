//! `hotset loadgen`: a load generator for memcached's text protocol.
//!
//! - **Requests** come from a workload spec ([`crate::workload::spec`]):
//!   keys, value sizes and the get/set/delete mix. Up to [`MAX_RECORDS`]
//!   records are generated up front; each connection starts at its own offset
//!   and cycles through them.
//! - **Closed loop** (no `--rate`): each connection keeps `--pipeline`
//!   requests in flight; a request's latency runs from when it was queued.
//! - **Open loop** (`--rate R`): requests are due at fixed intervals (R/s over
//!   all threads). A request's latency runs from when it was *due*, not sent,
//!   so a server that stalls is charged for the requests that queued behind
//!   the stall (no coordinated omission). A request waits while its
//!   connection already has `--pipeline` in flight, and that wait counts.
//! - **Verification**: every value written encodes its key (byte `i` is
//!   `key[i % key.len()]`), and every value read is checked against the key
//!   it came back for, and that key against the one asked for. Protocol
//!   errors and verification failures are counted and reported, never
//!   ignored.
//! - **Report**: HDR histograms per operation, in the layout of replay's
//!   reports (`summary.json`, `summary.md`, one `.hgrm` per operation).
//!
//! Each thread drives its share of the connections with non-blocking sockets
//! and `ppoll`, so a few threads can hold many connections.
//!
//! The code is split by role: [`connection`] (one socket: requests out,
//! replies parsed), [`worker`] (one thread's connections, paced and
//! verified), [`run`] (threads, prefill, merged results) and [`report`]
//! (the files written).

mod connection;
mod report;
mod run;
mod worker;

pub use report::write_report;
pub use run::run;

use crate::workload::spec::Spec;
use hdrhistogram::Histogram;
use std::time::Duration;

/// Most records generated for a run (each connection cycles through them).
pub const MAX_RECORDS: u64 = 1 << 20;

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// `HOST:PORT` of the server.
    pub server: String,
    /// Connections in all.
    pub conns: usize,
    /// Threads driving them.
    pub threads: usize,
    /// Requests in flight per connection.
    pub pipeline: usize,
    /// Length of the measured run.
    pub duration: Duration,
    /// Open-loop target rate in requests per second; `None` is closed loop.
    pub rate: Option<f64>,
    /// Store every key once before the measured run.
    pub prefill: bool,
    /// Play the records once, in order (connection `c` takes records `c`,
    /// `c + conns`, …), and stop when all are answered or at `duration`:
    /// the workload's phases then happen at their place in time.
    pub once: bool,
    /// Count get hits per window of this many records (by position in the
    /// workload), for hit-ratio curves.
    pub series: Option<usize>,
    /// The workload.
    pub spec: Spec,
    /// Speak TLS, trusting the CA certificates in this PEM file; the
    /// server's name is `server`'s host part (needs the `tls` feature).
    pub tls_ca: Option<std::path::PathBuf>,
}

/// Per-operation results.
#[derive(Clone)]
pub struct OpResult {
    /// Latency in nanoseconds.
    pub hist: Histogram<u64>,
    /// Hits (get found a value, delete found the key).
    pub hits: u64,
    /// Misses.
    pub misses: u64,
}

impl OpResult {
    fn new() -> OpResult {
        OpResult {
            hist: crate::latency::new_histogram(),
            hits: 0,
            misses: 0,
        }
    }
}

/// A run's results.
pub struct LoadReport {
    /// Requests answered during the measured run.
    pub ops: u64,
    /// Length of the measured run in seconds.
    pub secs: f64,
    /// get, set, delete.
    pub per_op: [OpResult; 3],
    /// Error replies (`SERVER_ERROR`, `NOT_STORED`, …).
    pub errors: u64,
    /// Values that did not encode their key, or came back for another key.
    pub verify_failures: u64,
    /// The first error or verification failure, for the report.
    pub first_problem: Option<String>,
    /// Per window of records (see [`LoadConfig::series`]): gets and hits.
    pub windows: Vec<[u64; 2]>,
}

/// Byte `i` of a value for `key`.
#[inline]
pub(crate) fn pattern(key: &[u8], i: usize) -> u8 {
    key[i % key.len()]
}

/// A run length from the command line's seconds: in (0, 86400].
pub fn duration(secs: f64) -> Result<Duration, String> {
    if secs > 0.0 && secs <= 86_400.0 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(format!(
            "--duration must be in (0, 86400] seconds, got {secs}"
        ))
    }
}
