//! Executing meta commands (`protocol::meta`) against the cache, and their
//! replies as memcached 1.6.18 writes them.

use super::Shared;
use crate::protocol::meta::{self, Cmd, Meta};
use crate::protocol::reply;
use crate::{ArithOp, GetOpts, MetaArith, MetaHit, SetMode, Stored};

/// ` <c>`: a returned flag's character.
fn flag(out: &mut Vec<u8>, c: u8) {
    out.push(b' ');
    out.push(c);
}

fn num(out: &mut Vec<u8>, c: u8, n: u64) {
    flag(out, c);
    reply::decimal(out, n);
}

/// `t`: the TTL remaining, -1 for none.
fn ttl(out: &mut Vec<u8>, t: Option<i64>) {
    flag(out, b't');
    match t {
        None => out.extend_from_slice(b"-1"),
        Some(s) => reply::decimal(out, s.max(0) as u64),
    }
}

/// ` k<key>`, base64 and ` b` after it when the key came so.
fn key(out: &mut Vec<u8>, m: &Meta<'_>) {
    flag(out, b'k');
    if m.binary {
        meta::encode_key(out, m.key());
        flag(out, b'b');
    } else {
        out.extend_from_slice(m.key());
    }
}

/// The flags every reply echoes: `O` (the whole token) and `k`.
fn echo(out: &mut Vec<u8>, m: &Meta<'_>, t: &[u8]) {
    match t[0] {
        b'O' => {
            out.push(b' ');
            out.extend_from_slice(t);
        }
        b'k' => key(out, m),
        _ => {}
    }
}

/// A code and the echoed flags: `EN`, `NF`, `NS`, `EX`, or an `HD` without
/// item fields.
fn code_line(out: &mut Vec<u8>, code: &[u8], m: &Meta<'_>) {
    out.extend_from_slice(code);
    for t in m.flags() {
        echo(out, m, t);
    }
    out.extend_from_slice(b"\r\n");
}

/// Runs a meta command (`ms` with its data block in `data`).
pub(super) fn execute(sh: &Shared, m: &Meta<'_>, data: &[u8], out: &mut Vec<u8>) {
    let c = &sh.cache;
    match m.cmd {
        Cmd::Noop => out.extend_from_slice(b"MN\r\n"),
        Cmd::Debug => match c.meta_debug(m.key()) {
            Some(d) => {
                out.extend_from_slice(b"ME ");
                if m.binary {
                    meta::encode_key(out, m.key());
                } else {
                    out.extend_from_slice(m.key());
                }
                let exp = d.ttl.map_or(-1, |t| -t);
                let _ = std::io::Write::write_fmt(
                    out,
                    format_args!(
                        " exp={exp} la={} cas={} fetch={} cls={} size={}\r\n",
                        d.idle_secs,
                        sh.shown_cas(d.cas),
                        if d.fetched { "yes" } else { "no" },
                        d.class,
                        d.footprint
                    ),
                );
            }
            None => out.extend_from_slice(b"EN\r\n"),
        },
        Cmd::Get => get(sh, m, out),
        Cmd::Set => set(sh, m, data, out),
        Cmd::Delete => {
            let r = if m.invalidate {
                c.invalidate(m.key(), sh.asked_meta_cas(m.cas), m.ttl)
            } else {
                c.delete_if(m.key(), sh.asked_meta_cas(m.cas))
            };
            let code: &[u8] = match r {
                Stored::Stored if m.quiet => return,
                Stored::Stored => b"HD",
                Stored::Exists => b"EX",
                _ => b"NF",
            };
            code_line(out, code, m);
        }
        Cmd::Arith => arith(sh, m, out),
    }
}

fn get(sh: &Shared, m: &Meta<'_>, out: &mut Vec<u8>) {
    let opts = GetOpts {
        touch: m.ttl,
        bump: !m.no_bump,
        vivify: m.vivify,
        recache: m.recache,
    };
    let hit = sh.cache.meta_get_with(m.key(), opts, |h: MetaHit<'_>| {
        if m.value {
            out.extend_from_slice(b"VA ");
            reply::decimal(out, h.value.len() as u64);
        } else {
            out.extend_from_slice(b"HD");
        }
        // Until the request's `T` is passed, `t` reports the TTL before it.
        let mut t_now = h.ttl_before;
        for t in m.flags() {
            match t[0] {
                b'T' => t_now = h.ttl,
                b's' => num(out, b's', h.value.len() as u64),
                b't' => ttl(out, t_now),
                b'c' => num(out, b'c', sh.shown_cas(h.cas)),
                b'f' => num(out, b'f', h.flags as u64),
                b'l' => num(out, b'l', h.idle_secs),
                b'h' => num(out, b'h', h.fetched as u64),
                _ => echo(out, m, t),
            }
        }
        // After the requested flags, as memcached: Z, X, then W.
        if h.token_taken {
            flag(out, b'Z');
        }
        if h.stale {
            flag(out, b'X');
        }
        if h.won {
            flag(out, b'W');
        }
        out.extend_from_slice(b"\r\n");
        if m.value {
            out.extend_from_slice(h.value);
            out.extend_from_slice(b"\r\n");
        }
    });
    sh.detail
        .record(m.key(), super::detail::Op::Get(hit.is_some()));
    if hit.is_none() && !m.quiet {
        code_line(out, b"EN", m);
    }
}

fn set(sh: &Shared, m: &Meta<'_>, data: &[u8], out: &mut Vec<u8>) {
    sh.detail.record(m.key(), super::detail::Op::Set);
    let mode = match m.set_mode() {
        meta::SetMode::Set => SetMode::Set,
        meta::SetMode::Add => SetMode::Add,
        meta::SetMode::Replace => SetMode::Replace,
        meta::SetMode::Append => SetMode::Append,
        meta::SetMode::Prepend => SetMode::Prepend,
    };
    let exptime = m.ttl.unwrap_or(0);
    let (code, cas): (&[u8], u64) = match sh.cache.meta_set(
        m.key(),
        data,
        m.client_flags,
        exptime,
        mode,
        sh.asked_meta_cas(m.cas),
        m.invalidate,
    ) {
        Ok((Stored::Stored, _)) if m.quiet => return,
        Ok((Stored::Stored, cas)) => (b"HD", cas),
        Ok((Stored::NotStored, _)) => (b"NS", 0),
        Ok((Stored::Exists, _)) => (b"EX", 0),
        Ok((Stored::NotFound, _)) => (b"NF", 0),
        Err(e) => {
            // Errors are sent even under q, as memcached's out_errstring.
            reply::engine_error(out, e);
            return;
        }
    };
    out.extend_from_slice(code);
    for t in m.flags() {
        match t[0] {
            b'c' => num(out, b'c', sh.shown_cas(cas)),
            _ => echo(out, m, t),
        }
    }
    out.extend_from_slice(b"\r\n");
}

fn arith(sh: &Shared, m: &Meta<'_>, out: &mut Vec<u8>) {
    let op = ArithOp {
        incr: m.incr(),
        delta: m.delta,
        cas: sh.asked_meta_cas(m.cas),
        vivify: m.vivify.map(|exp| (m.initial, exp)),
        touch: m.ttl,
    };
    match sh.cache.meta_arith(m.key(), op) {
        Ok(MetaArith::Hit(_)) if m.quiet => {}
        Ok(MetaArith::Hit(a)) => {
            let mut digits = Vec::with_capacity(20);
            reply::decimal(&mut digits, a.value);
            if m.value {
                out.extend_from_slice(b"VA ");
                reply::decimal(out, digits.len() as u64);
            } else {
                out.extend_from_slice(b"HD");
            }
            let mut t_now = a.ttl_before;
            for t in m.flags() {
                match t[0] {
                    b'c' => num(out, b'c', sh.shown_cas(a.cas)),
                    b't' => ttl(out, t_now),
                    b'T' => t_now = a.ttl,
                    b'N' if a.created => t_now = a.ttl,
                    _ => echo(out, m, t),
                }
            }
            out.extend_from_slice(b"\r\n");
            if m.value {
                out.extend_from_slice(&digits);
                out.extend_from_slice(b"\r\n");
            }
        }
        Ok(MetaArith::NotFound) => code_line(out, b"NF", m),
        Ok(MetaArith::NotStored) => code_line(out, b"NS", m),
        Ok(MetaArith::Exists) => code_line(out, b"EX", m),
        Err(e) => reply::engine_error(out, e),
    }
}
