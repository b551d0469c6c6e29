//! One connection: read, parse every complete request in the buffer, write
//! the replies in one go, repeat.
//!
//! Bounds: the input buffer holds at most one request line (2 KiB, or
//! 256 KiB for a multi-get) plus one data block no larger than the largest
//! item; a larger block is read and dropped as it arrives, never buffered.
//! Replies are flushed whenever the output buffer passes `OUT_FLUSH`, so a
//! client that never reads blocks its own thread in `write`, with bounded
//! memory, and nobody else.

use super::Shared;
use crate::protocol::{self, data_end, frame, parse, reply, Frame, ParseError, Request, StoreCmd};
use crate::{Error, Stored};
use std::io::{self, Read, Write};
use std::net::TcpStream;

/// Read this much at a time.
const READ_CHUNK: usize = 16 << 10;
/// Flush replies once this much is pending, even mid-batch.
const OUT_FLUSH: usize = 256 << 10;

/// What the bytes after the current position are.
enum State {
    /// A request line. A storage command's line stays unconsumed until its
    /// whole data block has arrived, so nothing is copied.
    Line,
    /// An oversized data block being dropped as it arrives: this many bytes,
    /// then the rest of the line.
    Swallow(u64),
    /// The rest of a line after a bad or dropped data block.
    SkipLine,
}

pub(super) fn run(sh: &Shared, mut s: TcpStream) -> io::Result<()> {
    s.set_nodelay(true)?;
    // An idle client's read times out; the connection then closes.
    s.set_read_timeout(sh.cfg.idle_timeout)?;
    // `inbuf[..filled]` holds unparsed input. The buffer stays initialized
    // between reads, so a read never pays to zero the space it reads into.
    let mut inbuf: Vec<u8> = vec![0; READ_CHUNK];
    let mut filled = 0;
    let mut out: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut state = State::Line;
    // With --auth-file, nothing but a `set` carrying "user pass" is served
    // until one succeeds (memcached's ASCII authentication).
    let mut authed = sh.cfg.auth.is_none();
    loop {
        let mut pos = 0;
        // Bytes a pending request needs in all, from `pos`.
        let mut need = 0;
        let mut quit = false;
        // Parse every complete request in the buffer.
        loop {
            let avail = &inbuf[pos..filled];
            match &mut state {
                State::Line => match frame(avail) {
                    Frame::Need => break,
                    Frame::Binary => {
                        out.extend_from_slice(reply::BINARY_UNSUPPORTED);
                        flush(&mut s, &mut out)?;
                        return Ok(());
                    }
                    Frame::TooLong => {
                        flush(&mut s, &mut out)?;
                        return Ok(());
                    }
                    // An empty line is skipped: `echo -e "…\r\n" | nc` sends
                    // one after the data (memcached would answer ERROR).
                    Frame::Line { len: 0, consumed } => pos += consumed,
                    Frame::Line { len, consumed } => match parse(&avail[..len]) {
                        Ok(
                            req @ Request::Store {
                                cmd,
                                key,
                                flags,
                                bytes,
                                ..
                            },
                        ) => {
                            if !authed && cmd != StoreCmd::Set {
                                out.extend_from_slice(reply::UNAUTHENTICATED);
                                pos += consumed;
                                state = State::Swallow(bytes);
                                continue;
                            }
                            let size = crate::item::footprint(key.len(), bytes as usize, flags);
                            if bytes as usize > crate::item::MAX_VALUE_LEN
                                || size > sh.cache.max_item_size()
                            {
                                out.extend_from_slice(reply::TOO_LARGE);
                                if cmd == StoreCmd::Set && authed {
                                    // memcached drops the old value.
                                    sh.cache.delete(key);
                                }
                                pos += consumed;
                                state = State::Swallow(bytes);
                                continue;
                            }
                            let bytes = bytes as usize;
                            match data_end(&avail[consumed..], bytes) {
                                Ok(None) => {
                                    need = consumed + bytes + 2;
                                    break;
                                }
                                Ok(Some(dc)) => {
                                    let data = &avail[consumed..consumed + bytes];
                                    if authed {
                                        execute(sh, req, data, &mut out);
                                    } else {
                                        authed = authenticate(sh, data, &mut out);
                                    }
                                    pos += consumed + dc;
                                }
                                Err(()) => {
                                    out.extend_from_slice(reply::BAD_DATA_CHUNK);
                                    pos += consumed + bytes;
                                    state = State::SkipLine;
                                }
                            }
                        }
                        Ok(Request::Quit) => {
                            quit = true;
                            break;
                        }
                        Ok(req) => {
                            if authed {
                                execute(sh, req, &[], &mut out);
                            } else {
                                out.extend_from_slice(reply::UNAUTHENTICATED);
                            }
                            pos += consumed;
                        }
                        Err(e) => {
                            pos += consumed;
                            match e {
                                ParseError::Unknown => out.extend_from_slice(reply::ERROR),
                                ParseError::Client(r) => reply::client_error(&mut out, r),
                                ParseError::Http => {
                                    flush(&mut s, &mut out)?;
                                    return Ok(());
                                }
                            }
                        }
                    },
                },
                State::Swallow(left) => {
                    let take = (*left).min(avail.len() as u64) as usize;
                    pos += take;
                    *left -= take as u64;
                    if *left > 0 {
                        break;
                    }
                    state = State::SkipLine;
                }
                State::SkipLine => match avail.iter().position(|&b| b == b'\n') {
                    Some(nl) => {
                        pos += nl + 1;
                        state = State::Line;
                    }
                    None => {
                        pos += avail.len();
                        break;
                    }
                },
            }
            if out.len() >= OUT_FLUSH {
                flush(&mut s, &mut out)?;
            }
        }
        flush(&mut s, &mut out)?;
        if quit {
            return Ok(());
        }
        inbuf.copy_within(pos..filled, 0);
        filled -= pos;
        // Read at least a chunk, or all a pending data block still needs.
        let want = need.saturating_sub(filled).max(READ_CHUNK);
        if inbuf.len() < filled + want {
            inbuf.resize(filled + want, 0);
        } else if inbuf.len() > 4 * READ_CHUNK && filled + want <= READ_CHUNK {
            // A large value has passed: give its buffer back.
            inbuf.truncate(READ_CHUNK);
            inbuf.shrink_to_fit();
        }
        let n = loop {
            match s.read(&mut inbuf[filled..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    sh.idle_kicks
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Ok(());
                }
                r => break r?,
            }
        };
        filled += n;
        if n == 0 {
            return Ok(()); // EOF
        }
    }
}

/// Checks a `set`'s data, "user pass", against the auth file. Replies
/// `STORED` and returns `true` on a match.
fn authenticate(sh: &Shared, data: &[u8], out: &mut Vec<u8>) -> bool {
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

fn flush(s: &mut TcpStream, out: &mut Vec<u8>) -> io::Result<()> {
    if !out.is_empty() {
        s.write_all(out)?;
        out.clear();
    }
    Ok(())
}

fn store_reply(out: &mut Vec<u8>, r: Result<Stored, Error>, noreply: bool) {
    let msg: &[u8] = match r {
        Ok(Stored::Stored) => reply::STORED,
        Ok(Stored::NotStored) => reply::NOT_STORED,
        Ok(Stored::Exists) => reply::EXISTS,
        Ok(Stored::NotFound) => reply::NOT_FOUND,
        // Errors are sent even with noreply, as memcached does.
        Err(e) => return error_reply(out, e),
    };
    if !noreply {
        out.extend_from_slice(msg);
    }
}

fn error_reply(out: &mut Vec<u8>, e: Error) {
    match e {
        Error::TooLarge => out.extend_from_slice(reply::TOO_LARGE),
        Error::OutOfMemory => out.extend_from_slice(reply::OUT_OF_MEMORY),
        Error::BadKey => reply::client_error(out, protocol::BAD_FORMAT),
        Error::NonNumeric => {
            reply::client_error(out, "cannot increment or decrement non-numeric value")
        }
    }
}

fn execute(sh: &Shared, req: Request<'_>, data: &[u8], out: &mut Vec<u8>) {
    let c = &sh.cache;
    match req {
        Request::Get {
            keys,
            with_cas,
            seed,
        } => {
            for k in keys.iter() {
                c.get_with(k, |r| {
                    reply::value(out, k, r.flags, r.value, with_cas.then_some(r.cas), seed)
                });
            }
            out.extend_from_slice(reply::END);
        }
        Request::Gat {
            exptime,
            keys,
            with_cas,
        } => {
            for k in keys.iter() {
                c.get_and_touch_with(k, exptime, |r| {
                    reply::value(out, k, r.flags, r.value, with_cas.then_some(r.cas), false)
                });
            }
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
            let r = match cmd {
                StoreCmd::Set => c.set(key, data, flags, exptime),
                StoreCmd::Add => c.add(key, data, flags, exptime),
                StoreCmd::Replace => c.replace(key, data, flags, exptime),
                StoreCmd::Append => c.append(key, data),
                StoreCmd::Prepend => c.prepend(key, data),
                StoreCmd::Cas => c.cas(key, data, flags, exptime, cas),
            };
            store_reply(out, r, noreply);
        }
        Request::Delete { key, noreply } => {
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
                Err(e) => error_reply(out, e),
            }
        }
        Request::Touch {
            key,
            exptime,
            noreply,
        } => {
            let hit = c.touch(key, exptime);
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
        Request::Verbosity { noreply } => {
            if !noreply {
                out.extend_from_slice(reply::OK);
            }
        }
        Request::Quit => {}
    }
}
