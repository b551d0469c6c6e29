//! One connection as a state machine that a worker's event loop drives:
//! flush pending replies, parse every complete request in the input buffer,
//! read more, until the socket would block.
//!
//! Bounds: the input buffer holds at most one request line (2 KiB, or
//! 256 KiB for a multi-get) plus one data block no larger than the largest
//! item; a larger block is read and dropped as it arrives, never buffered.
//! Parsing stops once `OUT_FLUSH` bytes of replies are pending (even in the
//! middle of a multi-get, which resumes at its next key), and nothing more
//! is read until they are written. So a client that never reads costs its
//! own buffers and nothing else: the worker goes on serving the others.

use super::detail::Op;
use super::poll::Interest;
use super::stream::Stream;
use super::Shared;
use crate::protocol::{self, data_end, frame, parse, reply, Frame, ParseError, Request, StoreCmd};
use crate::{Error, Stored};
use std::io::{self, Read, Write};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Read this much at a time.
const READ_CHUNK: usize = 16 << 10;
/// Stop parsing once this much output is pending, until it is written.
const OUT_FLUSH: usize = 256 << 10;
/// Reads per wakeup before a busy pipelining connection yields the worker
/// to the others (level-triggered epoll brings it back at once).
const READS_PER_WAKE: usize = 16;

/// What the bytes at the start of the input buffer are.
enum State {
    /// A request line. A storage command's line stays unconsumed until its
    /// whole data block has arrived, so nothing is copied.
    Line,
    /// Bytes being dropped as they arrive: an oversized data block (then
    /// the rest of its line, `skip_line`), or what should have ended a bad
    /// one (then what follows is read as requests, as memcached does).
    Drop {
        /// Bytes still to drop.
        left: u64,
        /// Then skip to the end of the line.
        skip_line: bool,
    },
    /// The rest of a line after a dropped data block.
    SkipLine,
}

impl State {
    /// Drops an oversized data block, then the rest of its line.
    fn drop_block(bytes: u64) -> State {
        State::Drop {
            left: bytes,
            skip_line: true,
        }
    }

    /// Drops `n` bytes, then reads requests again.
    fn drop_bytes(n: u64) -> State {
        State::Drop {
            left: n,
            skip_line: false,
        }
    }
}

/// Why parsing stopped.
enum Parsed {
    /// Every complete request is answered; more input is needed.
    NeedInput,
    /// `OUT_FLUSH` bytes of replies are pending: write them, then go on.
    OutFull,
    /// The wakeup's request budget is spent: write the replies, then yield.
    Yield,
    /// Close once the pending replies are written (quit, a line too long,
    /// HTTP, the binary protocol).
    Close,
}

/// What the worker does with a connection after [`Conn::drive`].
pub(super) enum Step {
    /// Wait for this readiness, then drive again.
    Wait(Interest),
    /// Close it (`Err`: why, for the log).
    Close(io::Result<()>),
}

/// A client connection and its buffers.
pub(super) struct Conn {
    pub(super) s: Stream,
    /// `inbuf[..filled]` holds unparsed input, starting with a request line
    /// (or what `state` says). The buffer stays initialized between reads,
    /// so a read never pays to zero the space it reads into.
    inbuf: Vec<u8>,
    filled: usize,
    /// Bytes a pending request needs in all, from the start of `inbuf`.
    need: usize,
    state: State,
    /// Keys of the multi-get at the start of `inbuf` already answered: a
    /// multi-get whose replies passed `OUT_FLUSH` resumes after them.
    resume: usize,
    /// Replies; `out[sent..]` is still to be written.
    out: Vec<u8>,
    sent: usize,
    /// Close once `out` is written.
    closing: bool,
    /// With --auth-file, nothing but a `set` carrying "user pass" is served
    /// until one succeeds (memcached's ASCII authentication).
    authed: bool,
    /// When the client last sent a byte (for --idle-timeout).
    pub(super) last_read: Instant,
    /// The serving worker's number (its counters in `Shared::per_worker`).
    worker: usize,
    /// Requests this connection may still be served in this wakeup
    /// (memcached's `-R`, renewed at each [`Conn::drive`]).
    budget: u32,
    /// The budget ran out: once the replies are written, let the worker's
    /// other connections go first.
    yield_due: bool,
    /// A data block just failed its `\r\n` check: an empty line next is
    /// the rest of its line, answered `ERROR` as memcached does.
    after_bad_chunk: bool,
}

impl Conn {
    /// A connection on a socket that is already non-blocking.
    pub(super) fn new(sh: &Shared, s: Stream, worker: usize) -> Conn {
        Conn {
            s,
            inbuf: vec![0; READ_CHUNK],
            filled: 0,
            need: 0,
            state: State::Line,
            resume: 0,
            out: Vec::with_capacity(READ_CHUNK),
            sent: 0,
            closing: false,
            authed: sh.cfg.auth.is_none(),
            last_read: Instant::now(),
            worker,
            budget: 0,
            yield_due: false,
            after_bad_chunk: false,
        }
    }

    /// Makes all the progress the socket allows: writes pending replies,
    /// answers complete requests, reads more. Returns what to wait for.
    pub(super) fn drive(&mut self, sh: &Shared) -> Step {
        let ctr = &sh.per_worker[self.worker];
        self.budget = sh.cfg.reqs_per_event;
        self.yield_due = false;
        let mut reads = 0;
        // The last read did not fill the space offered: the socket is most
        // likely drained, so skip the read that would only say so. Level-
        // triggered epoll reports anything that arrives after it.
        let mut drained = false;
        loop {
            if self.sent < self.out.len() {
                match self.s.write(&self.out[self.sent..]) {
                    Ok(0) => return Step::Close(Err(io::ErrorKind::WriteZero.into())),
                    Ok(n) => {
                        self.sent += n;
                        ctr.bytes_written.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return Step::Wait(Interest::Write)
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Step::Close(Err(e)),
                }
                continue;
            }
            self.out.clear();
            self.sent = 0;
            // What a TLS layer still holds of the replies.
            match self.s.flush_tls() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Step::Wait(Interest::Write)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Step::Close(Err(e)),
            }
            if self.closing {
                return Step::Close(Ok(()));
            }
            if self.yield_due {
                // Input is waiting in the buffer, where epoll cannot see
                // it: wait for the socket to be writable, which it is at
                // once, so the connection comes round again after the
                // worker's others (memcached's yield, the same trick).
                ctr.conn_yields.fetch_add(1, Ordering::Relaxed);
                return Step::Wait(Interest::Write);
            }
            match self.parse(sh) {
                Parsed::OutFull => continue,
                Parsed::Yield => {
                    self.yield_due = true;
                    continue;
                }
                Parsed::Close => {
                    self.closing = true;
                    continue;
                }
                Parsed::NeedInput if !self.out.is_empty() => continue,
                Parsed::NeedInput => {}
            }
            if drained {
                return self.wait_for_input();
            }
            if reads == READS_PER_WAKE {
                // Input may be waiting in the socket: the worker's other
                // connections go first, and epoll reports it after them.
                // (Not a conn_yield: memcached counts only -R's.)
                return self.wait_for_input();
            }
            // Read at least a chunk, or all a pending data block still needs.
            let want = self.need.saturating_sub(self.filled).max(READ_CHUNK);
            if self.inbuf.len() < self.filled + want {
                self.inbuf.resize(self.filled + want, 0);
            } else if self.inbuf.len() > 4 * READ_CHUNK && self.filled + want <= READ_CHUNK {
                // A large value has passed: give its buffer back.
                self.inbuf.truncate(READ_CHUNK);
                self.inbuf.shrink_to_fit();
            }
            let space = self.inbuf.len() - self.filled;
            match self.s.read(&mut self.inbuf[self.filled..]) {
                Ok(0) => return Step::Close(Ok(())), // end of file
                Ok(n) => {
                    ctr.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
                    self.filled += n;
                    self.last_read = Instant::now();
                    reads += 1;
                    drained = n < space;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return self.wait_for_input(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Step::Close(Err(e)),
            }
        }
    }

    /// Waits for input: readability, unless a TLS layer holds work the
    /// socket will not announce (then writability, which comes at once).
    #[inline]
    fn wait_for_input(&self) -> Step {
        if self.s.hidden_work() {
            Step::Wait(Interest::Write)
        } else {
            Step::Wait(Interest::Read)
        }
    }

    /// Answers every complete request in the input buffer, into `out`, and
    /// moves what is left to the buffer's start.
    fn parse(&mut self, sh: &Shared) -> Parsed {
        let mut pos = 0;
        self.need = 0;
        let out = &mut self.out;
        let why = loop {
            if out.len() >= OUT_FLUSH {
                break Parsed::OutFull;
            }
            let avail = &self.inbuf[pos..self.filled];
            match &mut self.state {
                State::Line => match frame(avail) {
                    Frame::Need => break Parsed::NeedInput,
                    Frame::Binary => {
                        out.extend_from_slice(reply::BINARY_UNSUPPORTED);
                        break Parsed::Close;
                    }
                    Frame::TooLong => break Parsed::Close,
                    // An empty line is skipped: `echo -e "…\r\n" | nc` sends
                    // one after the data (memcached would answer ERROR).
                    // Right after a bad data chunk it is what is left of the
                    // chunk's line, which memcached parses as a command, and
                    // so answers ERROR, noreply or not.
                    Frame::Line { len: 0, consumed } => {
                        pos += consumed;
                        if std::mem::take(&mut self.after_bad_chunk) {
                            out.extend_from_slice(reply::ERROR);
                        }
                    }
                    Frame::Line { .. } if self.budget == 0 => break Parsed::Yield,
                    Frame::Line { len, consumed } => {
                        self.budget -= 1;
                        self.after_bad_chunk = false;
                        match parse(&avail[..len]) {
                            Ok(req) if req.block().is_some() => {
                                let Some(b) = req.block() else {
                                    break Parsed::Close;
                                };
                                let (key, bytes) = (b.key, b.bytes);
                                if !self.authed && !b.authenticates {
                                    out.extend_from_slice(reply::UNAUTHENTICATED);
                                    pos += consumed;
                                    self.state = State::drop_block(bytes);
                                    continue;
                                }
                                let size = crate::footprint(key.len(), bytes as usize, b.flags);
                                if bytes as usize > crate::MAX_VALUE_LEN
                                    || size > sh.cache.max_item_size()
                                {
                                    sh.per_worker[self.worker]
                                        .too_large
                                        .fetch_add(1, Ordering::Relaxed);
                                    if !b.silent {
                                        out.extend_from_slice(reply::TOO_LARGE);
                                    }
                                    if b.drops_old && self.authed {
                                        // memcached drops the old value.
                                        sh.cache.delete(key);
                                    }
                                    pos += consumed;
                                    self.state = State::drop_block(bytes);
                                    continue;
                                }
                                let bytes = bytes as usize;
                                match data_end(&avail[consumed..], bytes) {
                                    Ok(None) => {
                                        self.need = consumed + bytes + 2;
                                        break Parsed::NeedInput;
                                    }
                                    Ok(Some(dc)) => {
                                        let data = &avail[consumed..consumed + bytes];
                                        if self.authed {
                                            execute(sh, req, data, out, &mut 0);
                                        } else {
                                            self.authed = authenticate(sh, self.worker, data, out);
                                        }
                                        pos += consumed + dc;
                                    }
                                    Err(()) => {
                                        // memcached reads the block and the two
                                        // bytes after it, refuses it (silently
                                        // under noreply), and goes on from there.
                                        if !b.silent {
                                            out.extend_from_slice(reply::BAD_DATA_CHUNK);
                                        }
                                        pos += consumed + bytes;
                                        self.state = State::drop_bytes(2);
                                        self.after_bad_chunk = true;
                                    }
                                }
                            }
                            Ok(Request::Quit) => break Parsed::Close,
                            // `-A`: memcached closes the connection and stops.
                            Ok(Request::Shutdown) if self.authed && sh.cfg.shutdown_command => {
                                if sh.cfg.verbosity > 0 {
                                    log!("hotset: shutdown command received");
                                }
                                sh.stop();
                                break Parsed::Close;
                            }
                            Ok(req) => {
                                if !self.authed {
                                    out.extend_from_slice(reply::UNAUTHENTICATED);
                                } else if !execute(sh, req, &[], out, &mut self.resume) {
                                    // A multi-get stopped at OUT_FLUSH: keep its
                                    // line, and resume after the keys answered.
                                    break Parsed::OutFull;
                                }
                                pos += consumed;
                            }
                            Err(e) => {
                                pos += consumed;
                                match e {
                                    ParseError::Unknown => out.extend_from_slice(reply::ERROR),
                                    ParseError::Client(r) => reply::client_error(out, r),
                                    ParseError::ClientThenDrop(r, n) => {
                                        reply::client_error(out, r);
                                        self.state = State::drop_bytes(n as u64);
                                    }
                                    ParseError::Silent => {}
                                    ParseError::Http => break Parsed::Close,
                                }
                            }
                        }
                    }
                },
                State::Drop { left, skip_line } => {
                    let take = (*left).min(avail.len() as u64) as usize;
                    pos += take;
                    *left -= take as u64;
                    if *left > 0 {
                        break Parsed::NeedInput;
                    }
                    self.state = if *skip_line {
                        State::SkipLine
                    } else {
                        State::Line
                    };
                }
                State::SkipLine => match avail.iter().position(|&b| b == b'\n') {
                    Some(nl) => {
                        pos += nl + 1;
                        self.state = State::Line;
                    }
                    None => {
                        pos += avail.len();
                        break Parsed::NeedInput;
                    }
                },
            }
        };
        self.inbuf.copy_within(pos..self.filled, 0);
        self.filled -= pos;
        why
    }
}

/// Checks a `set`'s data, "user pass", against the auth file. Replies
/// `STORED` and returns `true` on a match.
fn authenticate(sh: &Shared, worker: usize, data: &[u8], out: &mut Vec<u8>) -> bool {
    let ok = sh.cfg.auth.as_ref().is_some_and(|users| {
        let data = data.strip_suffix(b"\r").unwrap_or(data);
        let Some(sp) = data.iter().position(|&b| b == b' ') else {
            return false;
        };
        let (user, pass) = (&data[..sp], &data[sp + 1..]);
        // Compare every entry, in time independent of where they differ.
        users
            .iter()
            .fold(false, |hit, (u, p)| hit | (ct_eq(u, user) & ct_eq(p, pass)))
    });
    let ctr = &sh.per_worker[worker];
    ctr.auth_cmds.fetch_add(1, Ordering::Relaxed);
    if !ok {
        ctr.auth_errors.fetch_add(1, Ordering::Relaxed);
    }
    out.extend_from_slice(if ok {
        reply::STORED
    } else {
        reply::AUTH_FAILED
    });
    ok
}

/// Equality whose time depends on the lengths only.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

fn store_reply(out: &mut Vec<u8>, r: Result<Stored, Error>, noreply: bool) {
    let msg: &[u8] = match r {
        Ok(Stored::Stored) => reply::STORED,
        Ok(Stored::NotStored) => reply::NOT_STORED,
        Ok(Stored::Exists) => reply::EXISTS,
        Ok(Stored::NotFound) => reply::NOT_FOUND,
        // memcached sends nothing at all under noreply, errors included.
        Err(e) if !noreply => return reply::engine_error(out, e),
        Err(_) => return,
    };
    if !noreply {
        out.extend_from_slice(msg);
    }
}

/// Runs one request, replies into `out`. A multi-get stops before a key
/// once `OUT_FLUSH` bytes are pending and returns `false`; `resume` counts
/// the keys answered so far, and the next call with the same request goes
/// on from there.
fn execute(
    sh: &Shared,
    req: Request<'_>,
    data: &[u8],
    out: &mut Vec<u8>,
    resume: &mut usize,
) -> bool {
    let c = &sh.cache;
    match req {
        Request::Meta(m) => super::meta::execute(sh, &m, data, out),
        Request::Get {
            keys,
            with_cas,
            seed,
        } => {
            for (i, k) in keys.iter().enumerate().skip(*resume) {
                if out.len() >= OUT_FLUSH {
                    *resume = i;
                    return false;
                }
                let hit = c.get_with(k, |r| {
                    reply::value(
                        out,
                        k,
                        r.flags,
                        r.value,
                        with_cas.then(|| sh.shown_cas(r.cas)),
                        seed,
                    )
                });
                sh.detail.record(k, Op::Get(hit.is_some()));
            }
            *resume = 0;
            out.extend_from_slice(reply::END);
        }
        Request::Gat {
            exptime,
            keys,
            with_cas,
        } => {
            for (i, k) in keys.iter().enumerate().skip(*resume) {
                if out.len() >= OUT_FLUSH {
                    *resume = i;
                    return false;
                }
                let hit = c.get_and_touch_with(k, exptime, |r| {
                    reply::value(
                        out,
                        k,
                        r.flags,
                        r.value,
                        with_cas.then(|| sh.shown_cas(r.cas)),
                        false,
                    )
                });
                sh.detail.record(k, Op::Get(hit.is_some()));
            }
            *resume = 0;
            out.extend_from_slice(reply::END);
        }
        Request::Store {
            cmd,
            key,
            flags,
            exptime,
            cas,
            noreply,
            ..
        } => {
            sh.detail.record(key, Op::Set);
            let r = match cmd {
                StoreCmd::Set => c.set(key, data, flags, exptime),
                StoreCmd::Add => c.add(key, data, flags, exptime),
                StoreCmd::Replace => c.replace(key, data, flags, exptime),
                StoreCmd::Append => c.append(key, data),
                StoreCmd::Prepend => c.prepend(key, data),
                StoreCmd::Cas => c.cas(key, data, flags, exptime, sh.asked_cas(cas)),
            };
            store_reply(out, r, noreply);
        }
        Request::Delete { key, noreply } => {
            sh.detail.record(key, Op::Delete);
            let hit = c.delete(key);
            if !noreply {
                out.extend_from_slice(if hit {
                    reply::DELETED
                } else {
                    reply::NOT_FOUND
                });
            }
        }
        Request::Arith {
            incr,
            key,
            delta,
            noreply,
        } => {
            let r = if incr {
                c.incr(key, delta)
            } else {
                c.decr(key, delta)
            };
            match r {
                Ok(Some(n)) if !noreply => reply::number(out, n),
                Ok(None) if !noreply => out.extend_from_slice(reply::NOT_FOUND),
                Ok(_) => {}
                Err(e) if !noreply => reply::engine_error(out, e),
                Err(_) => {}
            }
        }
        Request::Touch {
            key,
            exptime,
            noreply,
        } => {
            let hit = c.touch(key, exptime);
            sh.detail.record(key, Op::Get(hit));
            if !noreply {
                out.extend_from_slice(if hit {
                    reply::TOUCHED
                } else {
                    reply::NOT_FOUND
                });
            }
        }
        Request::FlushAll { delay, noreply } => {
            c.flush_all(delay.clamp(0, u32::MAX as i64) as u32);
            if !noreply {
                out.extend_from_slice(reply::OK);
            }
        }
        Request::Stats { group } => super::stats::write(sh, group, out),
        Request::Version => reply::version(out, env!("CARGO_PKG_VERSION")),
        Request::Verbosity { level, noreply } => {
            sh.verbosity.store(level, Ordering::Relaxed);
            if !noreply {
                out.extend_from_slice(reply::OK);
            }
        }
        Request::SlabsAutomove { level, noreply } => {
            c.set_automove(level);
            if !noreply {
                out.extend_from_slice(reply::OK);
            }
        }
        Request::Shutdown => {
            // Without -A (with it, the connection loop stops the server).
            out.extend_from_slice(b"ERROR: shutdown not enabled\r\n");
        }
        Request::RefreshCerts { noreply } => {
            // memcached's replies: OK, or its error line, noreply or not.
            match sh.refresh_certs() {
                Ok(()) if noreply => {}
                Ok(()) => out.extend_from_slice(reply::OK),
                Err(e) => {
                    if sh.cfg.verbosity > 0 {
                        log!("hotset: refresh_certs: {e}");
                    }
                    out.extend_from_slice(e.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        Request::CacheDump { class, limit } => {
            // memcached's layout and its 2 MiB bound on the reply.
            const MAX_REPLY: usize = 2 << 20;
            let start = out.len();
            let items = match class.checked_sub(1) {
                Some(k) => c.dump_class(k as usize, limit as usize, MAX_REPLY),
                None => Vec::new(),
            };
            for (key, vlen, exptime) in items {
                let line_start = out.len();
                out.extend_from_slice(b"ITEM ");
                out.extend_from_slice(&key);
                let abs = if exptime == 0 {
                    0
                } else {
                    exptime as u64 + sh.started_unix
                };
                out.extend_from_slice(format!(" [{vlen} b; {abs} s]\r\n").as_bytes());
                if out.len() - start + 5 > MAX_REPLY {
                    out.truncate(line_start);
                    break;
                }
            }
            out.extend_from_slice(reply::END);
        }
        Request::SlabsReassign { src, dst } => {
            out.extend_from_slice(match c.reassign(src, dst) {
                crate::Reassign::Ok => reply::OK,
                crate::Reassign::Busy => b"BUSY currently processing reassign request\r\n",
                crate::Reassign::BadClass => b"BADCLASS invalid src or dst class id\r\n",
                crate::Reassign::NoSpare => b"NOSPARE source class has no spare pages\r\n",
                crate::Reassign::Same => b"SAME src and dst class are identical\r\n",
            });
        }
        Request::MemLimit { megabytes, noreply } => {
            // memcached's limits and replies; a budget past what hotset
            // reserved (`--memory-max`) cannot be adjusted to.
            let r: &[u8] = if megabytes < 8 {
                b"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n"
            } else if megabytes > 1_000_000_000 {
                b"MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n"
            } else if c.set_memory_limit((megabytes as usize) << 20).is_ok() {
                reply::OK
            } else {
                b"MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust\r\n"
            };
            if !noreply {
                out.extend_from_slice(r);
            }
        }
        Request::StatsDetail { what } => match what {
            Some(b"on") => {
                sh.detail.set_on(true);
                out.extend_from_slice(reply::OK);
            }
            Some(b"off") => {
                sh.detail.set_on(false);
                out.extend_from_slice(reply::OK);
            }
            Some(b"dump") => sh.detail.dump(out),
            _ => reply::client_error(out, protocol::DETAIL_USAGE),
        },
        Request::StatsReset => {
            *sh.stats_base.lock().unwrap_or_else(|p| p.into_inner()) = Some(c.stats());
            *sh.server_base.lock().unwrap_or_else(|p| p.into_inner()) =
                super::ServerCounts::now(sh);
            sh.detail.clear();
            out.extend_from_slice(b"RESET\r\n");
        }
        Request::Quit => {}
    }
    true
}
