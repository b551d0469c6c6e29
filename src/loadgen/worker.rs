//! One thread's share of the run: its connections, paced (closed or open
//! loop), every reply verified against the key it answers.

use super::connection::{Conn, Reply};
use super::{pattern, OpResult};
use crate::workload::trace::{Op, Record};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// How long in-flight requests may take to answer after the run ends.
const DRAIN: Duration = Duration::from_secs(5);

/// One thread's share of the run.
pub(super) struct Worker {
    pub(super) conns: Vec<Conn>,
    pub(super) per_op: [OpResult; 3],
    pub(super) ops: u64,
    pub(super) errors: u64,
    pub(super) verify_failures: u64,
    pub(super) first_problem: Option<String>,
    /// Play each record once (see [`LoadConfig::once`]).
    pub(super) once: bool,
    /// Follow a get miss with a set of the key (the spec's `cache_aside`).
    pub(super) cache_aside: bool,
    /// Window size and, per window, (gets, hits) by record position.
    pub(super) series: Option<usize>,
    pub(super) windows: Vec<[u64; 2]>,
}

impl Worker {
    pub(super) fn note(&mut self, what: String) {
        if self.first_problem.is_none() {
            self.first_problem = Some(what);
        }
    }

    /// Parses every complete reply; records latencies if `measure`.
    pub(super) fn collect(
        &mut self,
        c: usize,
        now: Instant,
        measure: bool,
    ) -> Result<usize, String> {
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
    pub(super) fn wait(&self, wait: Duration) {
        let mut fds: Vec<libc::pollfd> = self
            .conns
            .iter()
            .map(|c| libc::pollfd {
                fd: c.s.as_raw_fd(),
                events: libc::POLLIN
                    | if c.out.is_empty() && !c.s.hidden_work() {
                        0
                    } else {
                        libc::POLLOUT
                    },
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
    pub(super) fn drive(
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

pub(super) fn new_worker(conns: Vec<Conn>) -> Worker {
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
