//! memcached's meta protocol (`mg ms md ma mn me`), as memcached 1.6.18's
//! `doc/protocol.txt` and `proto_text.c` state it: parsing, with no I/O.
//!
//! A meta request is `<cm> <key> [<datalen>] <flag>*`. Each flag is one
//! character, some with a token after it (`T30`, `Oopaque`). The reply's
//! flags come back in the order the request gave them, so a parsed request
//! keeps its flag tokens to walk again when the reply is written.

use super::reply::BAD_FORMAT;
use super::MAX_TOKENS;
use crate::MAX_KEY_LEN;

/// memcached refuses a meta line of more tokens than this (counting the
/// terminal one).
const MAX_META_TOKENS: usize = 20;
/// The longest opaque (`O`) token, flag character included.
pub const MAX_OPAQUE: usize = 32;

/// Which meta command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    /// `mg`: get, with touch, vivify and recache options.
    Get,
    /// `ms`: set, in any storage mode; a data block follows.
    Set,
    /// `md`: delete, or mark stale.
    Delete,
    /// `ma`: increment or decrement.
    Arith,
    /// `mn`: answers `MN`.
    Noop,
    /// `me`: the item's metadata.
    Debug,
}

/// `ms`'s storage modes (`M` flag).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetMode {
    /// `S`, the default.
    Set,
    /// `E`: store only if absent (add).
    Add,
    /// `R`: store only if present.
    Replace,
    /// `A`: append to a present value.
    Append,
    /// `P`: prepend to a present value.
    Prepend,
}

/// A parsed meta request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta<'a> {
    /// The command.
    pub cmd: Cmd,
    key: [u8; MAX_KEY_LEN],
    key_len: usize,
    /// The key was sent in base64 (`b`), and goes back so with `k`.
    pub binary: bool,
    /// `ms`: the length of the data block.
    pub datalen: usize,
    /// The flag tokens as sent, in order (`flags()` walks them).
    flags: [&'a [u8]; MAX_META_TOKENS],
    nflags: usize,
    /// `T`: a new exptime.
    pub ttl: Option<i64>,
    /// `N`: vivify on a miss with this exptime.
    pub vivify: Option<i64>,
    /// `R`: win the recache if the remaining TTL is below this.
    pub recache: Option<i64>,
    /// `F`: client flags for `ms`.
    pub client_flags: u32,
    /// `C`: compare this CAS unique.
    pub cas: Option<u64>,
    /// `M`: the mode character.
    pub mode: Option<u8>,
    /// `J`: `ma`'s initial value on a vivified miss.
    pub initial: u64,
    /// `D`: `ma`'s delta.
    pub delta: u64,
    /// `I`: invalidate (mark stale) rather than delete, or accept a lower
    /// CAS as a stale store.
    pub invalidate: bool,
    /// `q`: suppress the nominal reply.
    pub quiet: bool,
    /// `u`: do not count this access.
    pub no_bump: bool,
    /// `v`: return the value.
    pub value: bool,
}

/// Why a meta line was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaError {
    /// Too few tokens for the command: `ERROR`.
    Unknown,
    /// `CLIENT_ERROR <reason>`, sent even under `q`. For `ms`, `swallow`
    /// is the data block (and its terminator) to drop, when its length was
    /// read before the error.
    Client {
        /// memcached's reason.
        reason: &'static str,
        /// Bytes to drop after the line.
        swallow: Option<usize>,
    },
}

fn client(reason: &'static str) -> MetaError {
    MetaError::Client {
        reason,
        swallow: None,
    }
}

impl<'a> Meta<'a> {
    /// The key, decoded.
    pub fn key(&self) -> &[u8] {
        &self.key[..self.key_len]
    }

    /// The flag tokens, in the order sent.
    pub fn flags(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.flags[..self.nflags].iter().copied()
    }

    /// `ms`'s mode (checked by [`parse`]).
    pub fn set_mode(&self) -> SetMode {
        match self.mode {
            Some(b'E') => SetMode::Add,
            Some(b'R') => SetMode::Replace,
            Some(b'A') => SetMode::Append,
            Some(b'P') => SetMode::Prepend,
            _ => SetMode::Set,
        }
    }

    /// `ma`'s mode: increment unless `M` says `D` or `-`.
    pub fn incr(&self) -> bool {
        !matches!(self.mode, Some(b'D') | Some(b'-'))
    }
}

/// Whether `line` is a meta command (two characters, the first `m`).
pub fn is_meta(cmd: &[u8]) -> bool {
    cmd.len() == 2 && cmd[0] == b'm'
}

fn num<T: std::str::FromStr>(t: &[u8]) -> Option<T> {
    std::str::from_utf8(t).ok()?.parse().ok()
}

/// Parses a meta line whose command token is `toks[0]` (two characters,
/// `m` first); `toks` are the line's space-separated tokens.
pub fn parse<'a>(toks: &[&'a [u8]]) -> Result<Meta<'a>, MetaError> {
    let cmd = match toks[0] {
        b"mg" => Cmd::Get,
        b"ms" => Cmd::Set,
        b"md" => Cmd::Delete,
        b"ma" => Cmd::Arith,
        b"mn" => Cmd::Noop,
        b"me" => Cmd::Debug,
        _ => return Err(MetaError::Unknown),
    };
    // memcached's token count: the words (at most MAX_TOKENS - 1) and the
    // terminal one.
    let nt = toks.len().min(MAX_TOKENS - 1) + 1;
    let mut m = Meta {
        cmd,
        key: [0; MAX_KEY_LEN],
        key_len: 0,
        binary: false,
        datalen: 0,
        flags: [&[]; MAX_META_TOKENS],
        nflags: 0,
        ttl: None,
        vivify: None,
        recache: None,
        client_flags: 0,
        cas: None,
        mode: None,
        initial: 0,
        delta: 1,
        invalidate: false,
        quiet: false,
        no_bump: false,
        value: false,
    };
    if cmd == Cmd::Noop {
        return Ok(m);
    }
    if cmd == Cmd::Debug {
        if nt < 3 || toks[1].len() > MAX_KEY_LEN {
            return Err(client(BAD_FORMAT));
        }
        m.key_len = toks[1].len();
        m.key[..m.key_len].copy_from_slice(toks[1]);
        if nt >= 4 && toks[2] == b"b" {
            m.binary = true;
            m.key_len = decode_key(toks[1], &mut m.key).ok_or(client(BAD_FORMAT))?;
        }
        return Ok(m);
    }
    if nt < 3 {
        return Err(MetaError::Unknown);
    }
    let key = toks[1];
    if key.len() > MAX_KEY_LEN {
        return Err(client(BAD_FORMAT));
    }
    let too_long = if cmd == Cmd::Get {
        "options flags are too long"
    } else {
        "options flags too long"
    };
    let mut first_flag = 2;
    let mut swallow = None;
    if cmd == Cmd::Set {
        if nt == 3 {
            return Err(client(BAD_FORMAT));
        }
        if nt > MAX_META_TOKENS {
            return Err(client(too_long));
        }
        let len: i64 = num(toks[2]).ok_or(client(BAD_FORMAT))?;
        if !(0..=i32::MAX as i64 - 2).contains(&len) {
            return Err(client(BAD_FORMAT));
        }
        m.datalen = len as usize;
        swallow = Some(m.datalen + 2);
        first_flag = 3;
    } else if nt > MAX_META_TOKENS {
        return Err(client(too_long));
    }
    let fail = |reason| MetaError::Client { reason, swallow };
    m.key_len = key.len();
    m.key[..key.len()].copy_from_slice(key);
    // memcached's _meta_flag_preparse: a duplicate or unknown flag stops
    // at once; a bad token is noted (the last one's reason wins) and the
    // rest still parsed.
    let mut seen = [false; 128];
    let mut err: Option<&'static str> = None;
    for &t in &toks[first_flag..] {
        let o = t[0];
        if o >= 127 || seen[o as usize] {
            return Err(fail(flag_error(cmd, "duplicate flag")));
        }
        seen[o as usize] = true;
        let arg = &t[1..];
        match o {
            b'b' => match decode_key(key, &mut m.key) {
                Some(n) => {
                    m.key_len = n;
                    m.binary = true;
                }
                None => err = Some("error decoding key"),
            },
            b'N' => match num::<i32>(arg) {
                Some(v) => m.vivify = Some(v as i64),
                None => err = Some("bad token in command line format"),
            },
            b'T' => match num::<i32>(arg) {
                Some(v) => m.ttl = Some(v as i64),
                None => err = Some("bad token in command line format"),
            },
            b'R' => match num::<i32>(arg) {
                Some(v) => m.recache = Some(v as i64),
                None => err = Some("bad token in command line format"),
            },
            b'F' => match num::<u32>(arg) {
                Some(v) => m.client_flags = v,
                None => err = err.or(Some(BAD_FORMAT)),
            },
            b'C' => match num::<u64>(arg) {
                Some(v) => m.cas = Some(v),
                None => err = Some("bad token in command line format"),
            },
            b'M' => {
                if t.len() != 2 {
                    err = Some("incorrect length for M token");
                } else {
                    m.mode = Some(t[1]);
                }
            }
            b'J' => match num::<u64>(arg) {
                Some(v) => m.initial = v,
                None => err = Some("invalid numeric initial value"),
            },
            b'D' => match num::<u64>(arg) {
                Some(v) => m.delta = v,
                None => err = Some("invalid numeric delta value"),
            },
            b'I' => m.invalidate = true,
            b'q' => m.quiet = true,
            b'u' => m.no_bump = true,
            b'v' => m.value = true,
            b'O' if t.len() > MAX_OPAQUE => err = Some("opaque token too long"),
            b'O' | b'P' | b'L' | b'k' | b's' | b't' | b'c' | b'f' | b'l' | b'h' => {}
            _ => return Err(fail(flag_error(cmd, "invalid flag"))),
        }
        m.flags[m.nflags] = t;
        m.nflags += 1;
    }
    if let Some(reason) = err {
        return Err(fail(flag_error(cmd, reason)));
    }
    match (cmd, m.mode) {
        (_, None) => {}
        (Cmd::Set, Some(b'E' | b'A' | b'P' | b'R' | b'S')) => {}
        (Cmd::Set, Some(_)) => return Err(fail("invalid mode for ms M token")),
        (Cmd::Arith, Some(b'I' | b'+' | b'D' | b'-')) => {}
        (Cmd::Arith, Some(_)) => return Err(fail("invalid mode for ma M token")),
        _ => {}
    }
    Ok(m)
}

/// md and ma report every flag error as one.
fn flag_error(cmd: Cmd, reason: &'static str) -> &'static str {
    match cmd {
        Cmd::Delete | Cmd::Arith => "invalid or duplicate flag",
        _ => reason,
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Decodes standard base64 (with padding) into `out`; `None` if it is not
/// valid or decodes to nothing.
fn decode_key(src: &[u8], out: &mut [u8; MAX_KEY_LEN]) -> Option<usize> {
    let val = |c: u8| B64.iter().position(|&b| b == c).map(|v| v as u32);
    if src.is_empty() || src.len() % 4 != 0 {
        return None;
    }
    let mut n = 0;
    for quad in src.chunks(4) {
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || quad[..4 - pad].contains(&b'=') {
            return None;
        }
        let mut acc = 0u32;
        for &c in &quad[..4 - pad] {
            acc = acc << 6 | val(c)?;
        }
        acc <<= 6 * pad as u32;
        for i in 0..3 - pad {
            out[n] = (acc >> (16 - 8 * i)) as u8;
            n += 1;
        }
    }
    (n > 0).then_some(n)
}

/// Appends `src` in standard base64, with padding.
pub fn encode_key(out: &mut Vec<u8>, src: &[u8]) {
    for chunk in src.chunks(3) {
        let mut acc = 0u32;
        for (i, &b) in chunk.iter().enumerate() {
            acc |= (b as u32) << (16 - 8 * i);
        }
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(acc >> (18 - 6 * i) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(line: &[u8]) -> Vec<&[u8]> {
        line.split(|&b| b == b' ')
            .filter(|t| !t.is_empty())
            .collect()
    }

    fn p(line: &[u8]) -> Result<Meta<'_>, MetaError> {
        parse(&toks(line))
    }

    #[test]
    fn flags_and_tokens() {
        let m = p(b"mg foo v f t T30 Oabc q").unwrap();
        assert_eq!(m.cmd, Cmd::Get);
        assert_eq!(m.key(), b"foo");
        assert!(m.value && m.quiet);
        assert_eq!(m.ttl, Some(30));
        let f: Vec<&[u8]> = m.flags().collect();
        assert_eq!(f, vec![&b"v"[..], b"f", b"t", b"T30", b"Oabc", b"q"]);
        let s = p(b"ms foo 2 T0 F5 MA C99").unwrap();
        assert_eq!(
            (s.datalen, s.ttl, s.client_flags, s.cas),
            (2, Some(0), 5, Some(99))
        );
        assert_eq!(s.set_mode(), SetMode::Append);
        let a = p(b"ma n D5 MD N0 J10").unwrap();
        assert!(!a.incr());
        assert_eq!((a.delta, a.initial, a.vivify), (5, 10, Some(0)));
        assert_eq!(p(b"mn").unwrap().cmd, Cmd::Noop);
    }

    #[test]
    fn memcacheds_errors() {
        let c = |reason| MetaError::Client {
            reason,
            swallow: None,
        };
        assert_eq!(p(b"mg").unwrap_err(), MetaError::Unknown);
        assert_eq!(p(b"mz foo").unwrap_err(), MetaError::Unknown);
        assert_eq!(p(b"mg foo v v").unwrap_err(), c("duplicate flag"));
        assert_eq!(p(b"mg foo !").unwrap_err(), c("invalid flag"));
        assert_eq!(p(b"md foo !").unwrap_err(), c("invalid or duplicate flag"));
        assert_eq!(
            p(b"mg foo Tx").unwrap_err(),
            c("bad token in command line format")
        );
        assert_eq!(p(b"ms foo").unwrap_err(), c(BAD_FORMAT));
        assert_eq!(p(b"ms foo x").unwrap_err(), c(BAD_FORMAT));
        assert_eq!(
            p(b"ms foo 2 MX").unwrap_err(),
            MetaError::Client {
                reason: "invalid mode for ms M token",
                swallow: Some(4)
            }
        );
        assert_eq!(
            p(b"ma foo MX").unwrap_err(),
            c("invalid mode for ma M token")
        );
        assert_eq!(p(b"mg foo N30").unwrap().vivify, Some(30));
        assert!(p(b"md foo I T30").unwrap().invalidate);
        let long = format!("mg {} v", "k".repeat(251));
        assert_eq!(p(long.as_bytes()).unwrap_err(), c(BAD_FORMAT));
        let opaque = format!("mg foo O{}", "x".repeat(32));
        assert_eq!(
            p(opaque.as_bytes()).unwrap_err(),
            c("opaque token too long")
        );
        let many = format!("mg foo {}", "v ".repeat(18));
        assert_eq!(
            p(many.as_bytes()).unwrap_err(),
            c("options flags are too long")
        );
    }

    #[test]
    fn base64_keys() {
        let m = p(b"mg Zm9vYmFy b v").unwrap();
        assert_eq!(m.key(), b"foobar");
        assert!(m.binary);
        assert_eq!(p(b"mg Zm9v b").unwrap().key(), b"foo");
        assert_eq!(p(b"mg Zm8= b").unwrap().key(), b"fo");
        assert_eq!(p(b"mg Zg== b").unwrap().key(), b"f");
        assert_eq!(p(b"mg !!!! b").unwrap_err(), c_err("error decoding key"));
        let mut out = Vec::new();
        encode_key(&mut out, b"foobar\x00\xff");
        assert_eq!(out, b"Zm9vYmFyAP8=");
        for len in 0..40u8 {
            let key: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37)).collect();
            let mut enc = Vec::new();
            encode_key(&mut enc, &key);
            let mut buf = [0; MAX_KEY_LEN];
            let n = decode_key(&enc, &mut buf);
            assert_eq!(n.map(|n| &buf[..n]), (len > 0).then_some(&key[..]));
        }
    }

    fn c_err(reason: &'static str) -> MetaError {
        MetaError::Client {
            reason,
            swallow: None,
        }
    }
}
