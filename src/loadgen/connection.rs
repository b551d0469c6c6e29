//! One connection: requests queued and written, replies read and parsed.

use super::pattern;
use crate::server::stream::Stream;
use crate::workload::trace::{Op, Record};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

/// Longest response line accepted (a VALUE header or a status line).
const MAX_LINE: usize = 2048;
/// Largest value accepted in a response.
const MAX_VALUE: usize = 64 << 20;

/// One request in flight.
pub(super) struct Pending {
    pub(super) op: Op,
    pub(super) key: Vec<u8>,
    pub(super) since: Instant,
    /// The record's position, and its value size (for a cache-aside set).
    pub(super) idx: usize,
    pub(super) value_size: u32,
}

/// Opens a run's connections: TCP, or TLS over it.
pub(super) struct Connector {
    addr: String,
    #[cfg(feature = "tls")]
    tls: Option<crate::server::tls::ClientTls>,
}

impl Connector {
    pub(super) fn new(cfg: &super::LoadConfig) -> Result<Connector, String> {
        #[cfg(feature = "tls")]
        let tls = cfg
            .tls_ca
            .as_deref()
            .map(crate::server::tls::client_config)
            .transpose()?;
        #[cfg(not(feature = "tls"))]
        if cfg.tls_ca.is_some() {
            return Err("--tls-ca: this hotset was built without the tls feature".into());
        }
        Ok(Connector {
            addr: cfg.server.clone(),
            #[cfg(feature = "tls")]
            tls,
        })
    }

    /// A connected, non-blocking stream.
    fn open(&self) -> Result<Stream, String> {
        let addr = &self.addr;
        let s = TcpStream::connect(addr).map_err(|e| format!("connect to {addr}: {e}"))?;
        s.set_nodelay(true).map_err(|e| format!("{addr}: {e}"))?;
        s.set_nonblocking(true)
            .map_err(|e| format!("{addr}: {e}"))?;
        #[cfg(feature = "tls")]
        if let Some(cfg) = &self.tls {
            let host = addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let t = crate::server::tls::TlsStream::client(s, cfg.clone(), host)
                .map_err(|e| format!("{addr}: TLS: {e}"))?;
            return Ok(Stream::Tls(Box::new(t)));
        }
        Ok(Stream::Tcp(s))
    }
}

/// A connection's state.
pub(super) struct Conn {
    pub(super) s: Stream,
    pub(super) out: Vec<u8>,
    pub(super) out_pos: usize,
    pub(super) inbuf: Vec<u8>,
    pub(super) in_pos: usize,
    pub(super) pending: VecDeque<Pending>,
    /// Next record to play, and the step between this connection's records.
    pub(super) cursor: usize,
    pub(super) stride: usize,
}

/// What a parsed response said.
pub(super) enum Reply {
    Value(Vec<u8>, Vec<u8>),
    Miss,
    Ok,
    Problem(String),
}

impl Conn {
    pub(super) fn open(to: &Connector, cursor: usize, stride: usize) -> Result<Conn, String> {
        Ok(Conn {
            s: to.open()?,
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
    pub(super) fn queue(&mut self, r: &Record, idx: usize, since: Instant) {
        let mut key = Vec::new();
        crate::workload::key_bytes(r.key, r.key_size, &mut key);
        self.queue_key(r.op, key, r.ttl, r.value_size, idx, since);
    }

    pub(super) fn queue_key(
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
    pub(super) fn flush(&mut self) -> Result<bool, String> {
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
            // What a TLS layer still holds goes when the socket takes it
            // (`Worker::wait` asks for writability meanwhile).
            match self.s.flush_tls() {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => {
                    return Err(format!("write: {e}"))
                }
                _ => {}
            }
        }
        Ok(moved)
    }

    /// Reads what is available, holding at most one largest reply unparsed.
    /// `true` if bytes came in.
    pub(super) fn fill(&mut self) -> Result<bool, String> {
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
    pub(super) fn line(&self, at: usize) -> Result<Option<(&[u8], usize)>, String> {
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
    pub(super) fn reply(&mut self) -> Result<Option<Reply>, String> {
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
