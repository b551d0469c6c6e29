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

use crate::report::{self, Provenance};
use crate::workload::spec::Spec;
use crate::workload::trace::{Op, Record};
use hdrhistogram::Histogram;
use serde_json::json;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

/// Most records generated for a run (each connection cycles through them).
pub const MAX_RECORDS: u64 = 1 << 20;
/// Longest response line accepted (a VALUE header or a status line).
const MAX_LINE: usize = 2048;
/// Largest value accepted in a response.
const MAX_VALUE: usize = 64 << 20;
/// How long in-flight requests may take to answer after the run ends.
const DRAIN: Duration = Duration::from_secs(5);

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
            hist: report::new_histogram(),
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
fn pattern(key: &[u8], i: usize) -> u8 {
    key[i % key.len()]
}

/// One request in flight.
struct Pending {
    op: Op,
    key: Vec<u8>,
    since: Instant,
    /// The record's position, and its value size (for a cache-aside set).
    idx: usize,
    value_size: u32,
}

/// A connection's state.
struct Conn {
    s: TcpStream,
    out: Vec<u8>,
    out_pos: usize,
    inbuf: Vec<u8>,
    in_pos: usize,
    pending: VecDeque<Pending>,
    /// Next record to play, and the step between this connection's records.
    cursor: usize,
    stride: usize,
}

/// What a parsed response said.
enum Reply {
    Value(Vec<u8>, Vec<u8>),
    Miss,
    Ok,
    Problem(String),
}

impl Conn {
    fn open(addr: &str, cursor: usize, stride: usize) -> Result<Conn, String> {
        let s = TcpStream::connect(addr).map_err(|e| format!("connect to {addr}: {e}"))?;
        s.set_nodelay(true).map_err(|e| format!("{addr}: {e}"))?;
        s.set_nonblocking(true)
            .map_err(|e| format!("{addr}: {e}"))?;
        Ok(Conn {
            s,
            out: Vec::new(),
            out_pos: 0,
            inbuf: Vec::new(),
            in_pos: 0,
            pending: VecDeque::new(),
            cursor,
            stride,
        })
    }

    /// Queues the request for record `r`, at position `idx`.
    fn queue(&mut self, r: &Record, idx: usize, since: Instant) {
        let mut key = Vec::new();
        crate::workload::key_bytes(r.key, r.key_size, &mut key);
        self.queue_key(r.op, key, r.ttl, r.value_size, idx, since);
    }

    fn queue_key(
        &mut self,
        op: Op,
        key: Vec<u8>,
        ttl: u32,
        value_size: u32,
        idx: usize,
        since: Instant,
    ) {
        let o = &mut self.out;
        match op {
            Op::Get => {
                o.extend_from_slice(b"get ");
                o.extend_from_slice(&key);
                o.extend_from_slice(b"\r\n");
            }
            Op::Set => {
                o.extend_from_slice(b"set ");
                o.extend_from_slice(&key);
                let _ = write!(o, " 0 {ttl} {value_size}\r\n");
                o.extend((0..value_size as usize).map(|i| pattern(&key, i)));
                o.extend_from_slice(b"\r\n");
            }
            Op::Delete => {
                o.extend_from_slice(b"delete ");
                o.extend_from_slice(&key);
                o.extend_from_slice(b"\r\n");
            }
        }
        self.pending.push_back(Pending {
            op,
            key,
            since,
            idx,
            value_size,
        });
    }

    /// Writes what it can. `true` if bytes moved.
    fn flush(&mut self) -> Result<bool, String> {
        let mut moved = false;
        while self.out_pos < self.out.len() {
            match self.s.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err("server closed the connection".into()),
                Ok(n) => {
                    self.out_pos += n;
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("write: {e}")),
            }
        }
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
        Ok(moved)
    }

    /// Reads what is available, holding at most one largest reply unparsed.
    /// `true` if bytes came in.
    fn fill(&mut self) -> Result<bool, String> {
        if self.in_pos > 0 && self.in_pos == self.inbuf.len() {
            self.inbuf.clear();
            self.in_pos = 0;
        }
        let mut moved = false;
        let mut buf = [0u8; 64 << 10];
        loop {
            match self.s.read(&mut buf) {
                Ok(0) => {
                    return if self.pending.is_empty() {
                        Ok(moved)
                    } else {
                        Err("server closed the connection with requests in flight".into())
                    }
                }
                Ok(n) => {
                    if self.pending.is_empty() {
                        return Err("the server sent data with no request in flight".into());
                    }
                    self.inbuf.extend_from_slice(&buf[..n]);
                    moved = true;
                    if self.inbuf.len() - self.in_pos > MAX_VALUE + 2 * MAX_LINE {
                        // Enough for any one reply: parse before reading on.
                        return Ok(true);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(moved),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    /// The next line of the input from `at`, without its CRLF, and the
    /// offset after it; `None` if incomplete.
    fn line(&self, at: usize) -> Result<Option<(&[u8], usize)>, String> {
        let rest = &self.inbuf[at..];
        match rest.windows(2).position(|w| w == b"\r\n") {
            Some(n) => Ok(Some((&rest[..n], at + n + 2))),
            None if rest.len() > MAX_LINE => Err(format!(
                "response line longer than {MAX_LINE} bytes: {:?}",
                String::from_utf8_lossy(&rest[..80])
            )),
            None => Ok(None),
        }
    }

    /// Parses the reply to the oldest request, if complete.
    fn reply(&mut self) -> Result<Option<Reply>, String> {
        let Some(p) = self.pending.front() else {
            return Ok(None);
        };
        let Some((line, next)) = self.line(self.in_pos)? else {
            return Ok(None);
        };
        let reply = match (p.op, line) {
            (Op::Get, b"END") => (Reply::Miss, next),
            (Op::Get, l) if l.starts_with(b"VALUE ") => {
                let text = String::from_utf8_lossy(l).into_owned();
                let mut parts = text.split(' ').skip(1);
                let key = parts.next().unwrap_or("").as_bytes().to_vec();
                let len: usize = parts
                    .nth(1)
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n <= MAX_VALUE)
                    .ok_or_else(|| format!("bad VALUE line {text:?}"))?;
                let end = next + len;
                if self.inbuf.len() < end + 2 {
                    return Ok(None);
                }
                if &self.inbuf[end..end + 2] != b"\r\n" {
                    return Err(format!("value for {text:?} not followed by CRLF"));
                }
                let Some((tail, after)) = self.line(end + 2)? else {
                    return Ok(None);
                };
                if tail != b"END" {
                    return Err(format!(
                        "expected END after one value, got {:?}",
                        String::from_utf8_lossy(tail)
                    ));
                }
                (Reply::Value(key, self.inbuf[next..end].to_vec()), after)
            }
            (Op::Set, b"STORED") | (Op::Delete, b"DELETED") => (Reply::Ok, next),
            (Op::Delete, b"NOT_FOUND") => (Reply::Miss, next),
            (_, l) => (
                Reply::Problem(String::from_utf8_lossy(l).into_owned()),
                next,
            ),
        };
        self.in_pos = reply.1;
        Ok(Some(reply.0))
    }
}

/// One thread's share of the run.
struct Worker {
    conns: Vec<Conn>,
    per_op: [OpResult; 3],
    ops: u64,
    errors: u64,
    verify_failures: u64,
    first_problem: Option<String>,
    /// Play each record once (see [`LoadConfig::once`]).
    once: bool,
    /// Follow a get miss with a set of the key (the spec's `cache_aside`).
    cache_aside: bool,
    /// Window size and, per window, (gets, hits) by record position.
    series: Option<usize>,
    windows: Vec<[u64; 2]>,
}

impl Worker {
    fn note(&mut self, what: String) {
        if self.first_problem.is_none() {
            self.first_problem = Some(what);
        }
    }

    /// Parses every complete reply; records latencies if `measure`.
    fn collect(&mut self, c: usize, now: Instant, measure: bool) -> Result<usize, String> {
        let mut n = 0;
        while let Some(reply) = self.conns[c].reply()? {
            let p = self.conns[c]
                .pending
                .pop_front()
                .expect("a reply answers a request");
            n += 1;
            let i = p.op as usize;
            if let (Some(w), true, Op::Get) = (self.series, measure, p.op) {
                let b = p.idx / w;
                if self.windows.len() <= b {
                    self.windows.resize(b + 1, [0, 0]);
                }
                self.windows[b][0] += 1;
                self.windows[b][1] += matches!(reply, Reply::Value(..)) as u64;
            }
            if self.cache_aside && p.op == Op::Get && matches!(reply, Reply::Miss) {
                let key = p.key.clone();
                self.conns[c].queue_key(Op::Set, key, 0, p.value_size, p.idx, now);
            }
            match reply {
                Reply::Value(key, value) => {
                    self.per_op[i].hits += measure as u64;
                    let ok = key == p.key
                        && value
                            .iter()
                            .enumerate()
                            .all(|(j, &b)| b == pattern(&key, j));
                    if !ok {
                        self.verify_failures += 1;
                        self.note(format!(
                            "get {} returned {} bytes for key {} that do not encode it",
                            String::from_utf8_lossy(&p.key),
                            value.len(),
                            String::from_utf8_lossy(&key)
                        ));
                    }
                }
                Reply::Miss => self.per_op[i].misses += measure as u64,
                Reply::Ok => self.per_op[i].hits += measure as u64,
                Reply::Problem(l) => {
                    self.errors += 1;
                    self.note(format!(
                        "{:?} {}: {l}",
                        p.op,
                        String::from_utf8_lossy(&p.key)
                    ));
                }
            }
            if measure {
                let ns = now.saturating_duration_since(p.since).as_nanos() as u64;
                let _ = self.per_op[i].hist.record(ns.max(1));
                self.ops += 1;
            }
        }
        Ok(n)
    }

    /// Sleeps in `ppoll` until a socket is ready or `wait` passes.
    fn wait(&self, wait: Duration) {
        let mut fds: Vec<libc::pollfd> = self
            .conns
            .iter()
            .map(|c| libc::pollfd {
                fd: c.s.as_raw_fd(),
                events: libc::POLLIN | if c.out.is_empty() { 0 } else { libc::POLLOUT },
                revents: 0,
            })
            .collect();
        let ts = libc::timespec {
            tv_sec: wait.as_secs() as libc::time_t,
            tv_nsec: wait.subsec_nanos() as libc::c_long,
        };
        // SAFETY: `fds` is a valid array of `fds.len()` pollfds that lives
        // across the call; `ts` is a valid timespec; a null sigmask is allowed.
        unsafe {
            libc::ppoll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                &ts,
                std::ptr::null(),
            );
        }
    }

    /// Runs requests from `records` until `end` (then drains), keeping
    /// `depth` in flight per connection, one due every `interval` if set.
    fn drive(
        &mut self,
        records: &[Record],
        depth: usize,
        interval: Option<Duration>,
        end: Instant,
        measure: bool,
        limit: Option<usize>,
    ) -> Result<(), String> {
        let mut next_due = Instant::now();
        let mut sent = 0usize;
        let mut rr = 0;
        loop {
            let now = Instant::now();
            let exhausted = self.once && self.conns.iter().all(|c| c.cursor >= records.len());
            let open = now < end && limit.is_none_or(|l| sent < l) && !exhausted;
            let busy = self.conns.iter().any(|c| !c.pending.is_empty());
            if !open && (!busy || now >= end + DRAIN) {
                if busy {
                    return Err(format!("requests unanswered {DRAIN:?} after the run"));
                }
                return Ok(());
            }
            let mut progress = false;
            if open {
                let n = self.conns.len();
                for k in 0..n {
                    let c = (rr + k) % n;
                    while self.conns[c].pending.len() < depth
                        && limit.is_none_or(|l| sent < l)
                        && interval.is_none_or(|_| next_due <= now)
                        && !(self.once && self.conns[c].cursor >= records.len())
                    {
                        let conn = &mut self.conns[c];
                        let idx = conn.cursor % records.len();
                        conn.cursor += conn.stride;
                        let since = if interval.is_some() { next_due } else { now };
                        conn.queue(&records[idx], idx, since);
                        if let Some(iv) = interval {
                            next_due += iv;
                        }
                        sent += 1;
                        progress = true;
                    }
                }
                rr += 1;
            }
            for c in 0..self.conns.len() {
                progress |= self.conns[c].flush()?;
                if self.conns[c].fill()? {
                    progress = true;
                    self.collect(c, Instant::now(), measure)?;
                }
            }
            if !progress {
                let until_due = match interval {
                    Some(_) if open => next_due.saturating_duration_since(Instant::now()),
                    _ => Duration::from_millis(1),
                };
                self.wait(until_due.min(Duration::from_millis(1)));
            }
        }
    }
}

/// Runs the load and returns what it measured.
pub fn run(cfg: &LoadConfig) -> Result<LoadReport, String> {
    if cfg.conns == 0 || cfg.threads == 0 || cfg.pipeline == 0 {
        return Err("--conns, --threads and --pipeline must be at least 1".into());
    }
    if cfg.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err("--rate must be a positive number of requests per second".into());
    }
    let threads = cfg.threads.min(cfg.conns);
    let mut spec = cfg.spec.clone();
    spec.ops = spec.ops.min(MAX_RECORDS);
    let records = crate::workload::gen::generate(&spec);
    if records.is_empty() {
        return Err("the workload has no operations".into());
    }
    if cfg.prefill {
        let (errors, first) = prefill(cfg, &records, threads)?;
        if errors > 0 {
            eprintln!(
                "hotset loadgen: prefill: {errors} stores refused, first: {}",
                first.unwrap_or_default()
            );
        }
    }
    let interval = cfg
        .rate
        .map(|r| Duration::from_secs_f64(threads as f64 / r));
    let start = Instant::now();
    let end = start + cfg.duration;
    let workers: Vec<Result<Worker, String>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let records = &records;
                s.spawn(move || {
                    let mine = (t..cfg.conns).step_by(threads);
                    let conns = mine
                        .map(|c| match cfg.once {
                            true => Conn::open(&cfg.server, c, cfg.conns),
                            false => Conn::open(&cfg.server, c * records.len() / cfg.conns, 1),
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let mut w = new_worker(conns);
                    w.once = cfg.once;
                    w.cache_aside = cfg.spec.mix.cache_aside;
                    w.series = cfg.series.filter(|&n| n > 0);
                    w.drive(records, cfg.pipeline, interval, end, true, None)?;
                    Ok(w)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a load thread panicked".into()))
            })
            .collect()
    });
    // A single pass may end early; its rate is over the time it took.
    let secs = match cfg.once {
        true => start.elapsed().min(cfg.duration).as_secs_f64(),
        false => cfg.duration.as_secs_f64(),
    };
    let mut total = LoadReport {
        ops: 0,
        secs,
        per_op: [OpResult::new(), OpResult::new(), OpResult::new()],
        errors: 0,
        verify_failures: 0,
        first_problem: None,
        windows: Vec::new(),
    };
    for w in workers {
        let w = w?;
        total.ops += w.ops;
        total.errors += w.errors;
        total.verify_failures += w.verify_failures;
        if total.first_problem.is_none() {
            total.first_problem = w.first_problem;
        }
        if total.windows.len() < w.windows.len() {
            total.windows.resize(w.windows.len(), [0, 0]);
        }
        for (a, b) in total.windows.iter_mut().zip(&w.windows) {
            a[0] += b[0];
            a[1] += b[1];
        }
        for (a, b) in total.per_op.iter_mut().zip(&w.per_op) {
            a.hist
                .add(&b.hist)
                .map_err(|e| format!("merging histograms: {e}"))?;
            a.hits += b.hits;
            a.misses += b.misses;
        }
    }
    Ok(total)
}

fn new_worker(conns: Vec<Conn>) -> Worker {
    Worker {
        conns,
        per_op: [OpResult::new(), OpResult::new(), OpResult::new()],
        ops: 0,
        errors: 0,
        verify_failures: 0,
        first_problem: None,
        once: false,
        cache_aside: false,
        series: None,
        windows: Vec::new(),
    }
}

/// Stores every key of `records` once (first occurrence's sizes), in
/// parallel, unmeasured. Error replies (a full server may refuse a store)
/// do not stop it: they are counted, and the first is kept. A broken
/// connection or a wrong value does.
fn prefill(
    cfg: &LoadConfig,
    records: &[Record],
    threads: usize,
) -> Result<(u64, Option<String>), String> {
    let mut seen = std::collections::HashSet::new();
    let sets: Vec<Record> = records
        .iter()
        .filter(|r| seen.insert(r.key))
        .map(|r| Record {
            op: Op::Set,
            ttl: 0,
            ..*r
        })
        .collect();
    let chunk = sets.len().div_ceil(threads);
    std::thread::scope(|s| {
        let hs: Vec<_> = sets
            .chunks(chunk.max(1))
            .map(|part| {
                s.spawn(move || -> Result<(u64, Option<String>), String> {
                    let mut w = new_worker(vec![Conn::open(&cfg.server, 0, 1)?]);
                    let far = Instant::now() + Duration::from_secs(3600);
                    w.drive(part, 64, None, far, false, Some(part.len()))?;
                    if w.verify_failures > 0 {
                        return Err(format!("prefill: {}", w.first_problem.unwrap_or_default()));
                    }
                    Ok((w.errors, w.first_problem))
                })
            })
            .collect();
        hs.into_iter().try_fold((0, None), |(n, first), h| {
            let (e, p) = h
                .join()
                .unwrap_or_else(|_| Err("a prefill thread panicked".into()))?;
            Ok((n + e, first.or(p)))
        })
    })
}

/// Writes `summary.json`, `summary.md` and `<op>.hgrm` into `dir`.
pub fn write_report(
    dir: &Path,
    prov: &Provenance,
    cfg: &LoadConfig,
    r: &LoadReport,
) -> io::Result<()> {
    const NAMES: [&str; 3] = ["get", "set", "delete"];
    std::fs::create_dir_all(dir)?;
    let ops_per_sec = r.ops as f64 / r.secs;
    let lat: serde_json::Map<String, serde_json::Value> = NAMES
        .iter()
        .zip(&r.per_op)
        .filter(|(_, o)| !o.hist.is_empty())
        .map(|(n, o)| (n.to_string(), report::latency_json(&o.hist)))
        .collect();
    let row = json!({
        "kind": "loadgen",
        "server": cfg.server,
        "mode": if cfg.rate.is_some() { "open" } else { "closed" },
        "target_rate": cfg.rate,
        "conns": cfg.conns,
        "threads": cfg.threads,
        "pipeline": cfg.pipeline,
        "duration_s": r.secs,
        "requests": r.ops,
        "ops_per_sec": ops_per_sec,
        "gets": r.per_op[0].hits + r.per_op[0].misses,
        "get_hits": r.per_op[0].hits,
        "get_misses": r.per_op[0].misses,
        "errors": r.errors,
        "verify_failures": r.verify_failures,
        "first_problem": r.first_problem,
        "latency": lat,
        "series": cfg.series.map(|w| json!({
            "window_records": w,
            "gets": r.windows.iter().map(|x| x[0]).collect::<Vec<_>>(),
            "hits": r.windows.iter().map(|x| x[1]).collect::<Vec<_>>(),
        })),
    });
    let mut md = report::summary_files(dir, prov, "Load", vec![row])?;
    let _ = writeln!(
        md,
        "{} loop, {} connections on {} threads, pipeline {}{}: **{:.0} ops/s** over {:.1} s; {} errors, {} verification failures.\n",
        if cfg.rate.is_some() { "Open" } else { "Closed" },
        cfg.conns,
        cfg.threads,
        cfg.pipeline,
        cfg.rate.map_or(String::new(), |r| format!(", target {r:.0}/s")),
        ops_per_sec,
        r.secs,
        r.errors,
        r.verify_failures
    );
    let _ = writeln!(
        md,
        "| op | count | hits | misses | p50 | p99 | p99.9 | max (µs) |"
    );
    let _ = writeln!(
        md,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (n, o) in NAMES.iter().zip(&r.per_op) {
        if o.hist.is_empty() {
            continue;
        }
        let h = &o.hist;
        let _ = writeln!(
            md,
            "| {n} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            h.len(),
            o.hits,
            o.misses,
            h.value_at_percentile(50.0) as f64 / 1e3,
            h.value_at_percentile(99.0) as f64 / 1e3,
            h.value_at_percentile(99.9) as f64 / 1e3,
            h.max() as f64 / 1e3
        );
        std::fs::write(dir.join(format!("{n}.hgrm")), report::hgrm(h))?;
    }
    if let Some(p) = &r.first_problem {
        let _ = writeln!(md, "\nFirst problem: `{p}`");
    }
    if let Some(w) = cfg.series {
        let pts: Vec<(f64, f64)> = r
            .windows
            .iter()
            .enumerate()
            .filter(|(_, x)| x[0] > 0)
            .map(|(i, x)| (((i + 1) * w) as f64, 1.0 - x[1] as f64 / x[0] as f64))
            .collect();
        report::plot::miss_ratio_curves(
            &dir.join("miss-ratio-over-time.svg"),
            &format!("{}: get miss ratio per {w} records", prov.workload),
            "records into the workload",
            &[report::plot::Series {
                name: cfg.server.clone(),
                group: cfg.server.clone(),
                line: 0,
                style: "live".to_string(),
                points: pts,
            }],
        )?;
        let _ = writeln!(
            md,
            "\nGet miss ratio per window of {w} records: `miss-ratio-over-time.svg`."
        );
    }
    std::fs::write(dir.join("summary.md"), md)
}
