//! The text protocol, with no I/O: framing, a parser for both dialects, and a
//! reply writer (`reply`). The server feeds it bytes; fuzzers can too.
//!
//! # Dialects on one port
//! - **memcached** (lower case, as its `protocol.txt` states): `get gets gat
//!   gats set add replace append prepend cas delete incr decr touch flush_all
//!   stats version verbosity quit`, with `noreply`; `stats reset`, `stats
//!   detail on|off|dump` and `slabs automove 0|1|2`. Malformed lines get
//!   memcached 1.6.18's replies (see [`parse`]).
//! - **DynamiDB** (the seed): `SET <key> <expire_seconds> <value_size>`,
//!   `GET <key>`, `DELETE <key>`, `QUIT`, in any letter case.
//!
//! A retrieval spelled `get`/`gets` answers in memcached's form (`VALUE <key>
//! <flags> <bytes> [<cas>]`); in any other case it answers in the seed's
//! (`VALUE <key> <bytes>`). A storage command with three arguments is the
//! seed's; with four or five, memcached's. Lines end in `\r\n` or a bare `\n`.

pub mod meta;
pub mod reply;

use crate::MAX_KEY_LEN;

/// The longest request line without a newline; a longer one closes the
/// connection (memcached's limit).
pub const MAX_LINE: usize = 2048;
/// The longest retrieval line (many keys): 256 KiB.
pub const MAX_GET_LINE: usize = 256 << 10;
/// The largest data block a storage command may announce; larger is a bad
/// command line (memcached refuses lengths beyond a signed 32-bit int).
pub const MAX_DATA_LEN: u64 = i32::MAX as u64 - 2;

/// Where the next request line ends.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A line of `len` bytes (without its `\r\n` or `\n`); the whole line
    /// takes `consumed` bytes of the buffer.
    Line {
        /// Bytes of the line proper.
        len: usize,
        /// Bytes including the terminator.
        consumed: usize,
    },
    /// No newline yet; read more.
    Need,
    /// No newline within the limit: close the connection.
    TooLong,
    /// A binary-protocol request (magic byte 0x80), which has no newline to
    /// wait for: answer once and close the connection.
    Binary,
}

/// The first byte of a memcached binary-protocol request.
const BINARY_REQUEST_MAGIC: u8 = 0x80;

/// Finds the first request line in `buf`.
pub fn frame(buf: &[u8]) -> Frame {
    if buf.first() == Some(&BINARY_REQUEST_MAGIC) {
        return Frame::Binary;
    }
    let limit = if is_retrieval(buf) {
        MAX_GET_LINE
    } else {
        MAX_LINE
    };
    let window = &buf[..buf.len().min(limit + 2)];
    match window.iter().position(|&b| b == b'\n') {
        Some(nl) => {
            let len = if nl > 0 && buf[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            if len > limit {
                Frame::TooLong
            } else {
                Frame::Line {
                    len,
                    consumed: nl + 1,
                }
            }
        }
        None if buf.len() > limit => Frame::TooLong,
        None => Frame::Need,
    }
}

fn is_retrieval(buf: &[u8]) -> bool {
    let head = &buf[..buf.len().min(5)];
    head.starts_with(b"get ")
        || head.starts_with(b"gets ")
        || head.starts_with(b"gat ")
        || head.starts_with(b"gats ")
}

/// Where a storage command's data block ends: `Ok(Some(consumed))` when
/// `bytes` of data and a terminator (`\r\n`, or a bare `\n`) are in `buf`;
/// `Ok(None)` when more is needed; `Err(())` when the terminator is wrong
/// ("bad data chunk").
#[allow(clippy::result_unit_err)]
pub fn data_end(buf: &[u8], bytes: usize) -> Result<Option<usize>, ()> {
    match (buf.get(bytes), buf.get(bytes + 1)) {
        (Some(b'\r'), Some(b'\n')) => Ok(Some(bytes + 2)),
        (Some(b'\n'), _) => Ok(Some(bytes + 1)),
        (Some(b'\r'), None) | (None, _) => Ok(None),
        _ => Err(()),
    }
}

/// Storage commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreCmd {
    /// set
    Set,
    /// add
    Add,
    /// replace
    Replace,
    /// append
    Append,
    /// prepend
    Prepend,
    /// cas
    Cas,
}

/// Space-separated keys of a retrieval, already checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keys<'a>(&'a [u8]);

impl<'a> Keys<'a> {
    /// The keys in order.
    pub fn iter(self) -> impl Iterator<Item = &'a [u8]> {
        tokens(self.0)
    }
}

/// A parsed request line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// A meta request carries its decoded key and flag tokens (about 600
// bytes) so that parsing allocates nothing; a request lives on the stack
// for one command.
#[allow(clippy::large_enum_variant)]
pub enum Request<'a> {
    /// get/gets (memcached) or GET (seed).
    Get {
        /// The keys.
        keys: Keys<'a>,
        /// gets: include the CAS unique.
        with_cas: bool,
        /// Answer in the seed's form.
        seed: bool,
    },
    /// gat/gats.
    Gat {
        /// New exptime.
        exptime: i64,
        /// The keys.
        keys: Keys<'a>,
        /// gats: include the CAS unique.
        with_cas: bool,
    },
    /// A storage command; a data block of `bytes` follows.
    Store {
        /// Which one.
        cmd: StoreCmd,
        /// The key.
        key: &'a [u8],
        /// Client flags.
        flags: u32,
        /// exptime.
        exptime: i64,
        /// Length of the data block.
        bytes: u64,
        /// cas: the unique to compare.
        cas: u64,
        /// Send no reply.
        noreply: bool,
    },
    /// delete / DELETE.
    Delete {
        /// The key.
        key: &'a [u8],
        /// Send no reply.
        noreply: bool,
    },
    /// incr/decr.
    Arith {
        /// incr (else decr).
        incr: bool,
        /// The key.
        key: &'a [u8],
        /// The amount.
        delta: u64,
        /// Send no reply.
        noreply: bool,
    },
    /// touch.
    Touch {
        /// The key.
        key: &'a [u8],
        /// New exptime.
        exptime: i64,
        /// Send no reply.
        noreply: bool,
    },
    /// flush_all [delay].
    FlushAll {
        /// Seconds until it takes effect.
        delay: i64,
        /// Send no reply.
        noreply: bool,
    },
    /// stats [group].
    Stats {
        /// `settings`, `slabs`, `items`, or None.
        group: Option<&'a [u8]>,
    },
    /// stats detail on|off|dump (anything else is answered with its usage).
    StatsDetail {
        /// The subcommand, if any.
        what: Option<&'a [u8]>,
    },
    /// stats reset.
    StatsReset,
    /// stats cachedump <class> <limit>.
    CacheDump {
        /// memcached's class id (1-based).
        class: u32,
        /// Most items listed; 0 lists all that fit 2 MiB.
        limit: u32,
    },
    /// shutdown [mode]: refused, as memcached does without `-A`.
    Shutdown,
    /// version.
    Version,
    /// refresh_certs [noreply]: reload the TLS certificates.
    RefreshCerts {
        /// Send no reply.
        noreply: bool,
    },
    /// verbosity <level> [noreply].
    Verbosity {
        /// The level.
        level: u32,
        /// Send no reply.
        noreply: bool,
    },
    /// slabs automove <0|1|2> [noreply].
    SlabsAutomove {
        /// 0 off, 1 the default, 2 aggressive.
        level: u8,
        /// Send no reply.
        noreply: bool,
    },
    /// slabs reassign <src> <dst>.
    SlabsReassign {
        /// Source class id (1-based; 0 the spare pool, -1 any).
        src: i64,
        /// Destination class id (0 the spare pool).
        dst: i64,
    },
    /// cache_memlimit <megabytes> [noreply]. The value is checked when
    /// applied, as memcached does.
    MemLimit {
        /// The new budget in MiB.
        megabytes: u64,
        /// Send no reply.
        noreply: bool,
    },
    /// quit / QUIT.
    Quit,
    /// A meta command (`mg ms md ma mn me`); `ms` is followed by a data
    /// block of `datalen` bytes.
    Meta(meta::Meta<'a>),
}

/// What a connection needs to read a storage request's data block.
#[derive(Clone, Copy, Debug)]
pub struct Block<'r> {
    /// The key.
    pub key: &'r [u8],
    /// Client flags (for the item's size).
    pub flags: u32,
    /// Length of the data block.
    pub bytes: u64,
    /// Errors about the block are not sent (classic `noreply`).
    pub silent: bool,
    /// A block too large removes the key's old value, as memcached does
    /// for `set` and `ms`.
    pub drops_old: bool,
    /// A `set`, which is how a client authenticates.
    pub authenticates: bool,
}

impl Request<'_> {
    /// The data block a storage request (`set`, …, `ms`) announces.
    pub fn block(&self) -> Option<Block<'_>> {
        match self {
            Request::Store {
                cmd,
                key,
                flags,
                bytes,
                noreply,
                ..
            } => Some(Block {
                key,
                flags: *flags,
                bytes: *bytes,
                silent: *noreply,
                drops_old: *cmd == StoreCmd::Set,
                authenticates: *cmd == StoreCmd::Set,
            }),
            Request::Meta(m) if m.cmd == meta::Cmd::Set => Some(Block {
                key: m.key(),
                flags: m.client_flags,
                bytes: m.datalen as u64,
                // Meta errors are always returned.
                silent: false,
                drops_old: true,
                authenticates: false,
            }),
            _ => None,
        }
    }
}

/// Why a line was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Unknown command, or a known one with the wrong number of tokens:
    /// `ERROR`.
    Unknown,
    /// Bad arguments: `CLIENT_ERROR <reason>`.
    Client(&'static str),
    /// `CLIENT_ERROR <reason>`, and this many bytes (an `ms` data block
    /// and its terminator) are dropped.
    ClientThenDrop(&'static str, usize),
    /// Bad arguments on a line that ends in `noreply`: memcached reads the
    /// flag before it checks the rest, and then refuses without a word.
    Silent,
    /// The line looks like HTTP: close the connection.
    Http,
}

pub use reply::BAD_FORMAT;
/// memcached's reason for a malformed delete.
pub const DELETE_USAGE: &str = "bad command line format.  Usage: delete <key> [noreply]";
/// memcached's reason for a bad exptime in touch and gat.
pub const BAD_EXPTIME: &str = "invalid exptime argument";
/// memcached's reason for a bad `stats detail` subcommand.
pub const DETAIL_USAGE: &str = "usage: stats detail on|off|dump";

/// memcached splits a line into at most this many tokens, the last holding
/// whatever is left, and counts an empty terminal token after the words:
/// its commands check their arity in those terms.
pub(crate) const MAX_TOKENS: usize = 24;

fn tokens(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b' ').filter(|t| !t.is_empty())
}

fn num<T: std::str::FromStr>(t: &[u8]) -> Result<T, ParseError> {
    std::str::from_utf8(t)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(ParseError::Client(BAD_FORMAT))
}

/// memcached's `safe_strtoul` on a 64-bit machine: decimal digits after an
/// optional `+`, up to `u64::MAX`; a negative number is refused, as is
/// anything after the digits.
fn strtoul(t: &[u8]) -> Option<u64> {
    let d = t.strip_prefix(b"+").unwrap_or(t);
    if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(d).ok()?.parse().ok()
}

fn exptime(t: &[u8]) -> Result<i64, ParseError> {
    let v: i64 = num(t)?;
    if v < i32::MIN as i64 || v > u32::MAX as i64 {
        return Err(ParseError::Client(BAD_FORMAT));
    }
    Ok(v)
}

/// A key: 1..=250 bytes, no control characters.
fn key(t: &[u8]) -> Result<&[u8], ParseError> {
    if t.is_empty() || t.len() > MAX_KEY_LEN || t.iter().any(|&b| b < 0x21 || b == 0x7f) {
        return Err(ParseError::Client(BAD_FORMAT));
    }
    Ok(t)
}

fn looks_like_http(first: &[u8], toks: &[&[u8]]) -> bool {
    const METHODS: [&[u8]; 7] = [
        b"POST", b"PUT", b"HEAD", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE",
    ];
    toks.last().is_some_and(|t| t.starts_with(b"HTTP/"))
        || (METHODS.contains(&first) && toks.len() >= 2)
}

/// Parses one request line (without its terminator).
///
/// memcached's rules, as its `proto_text.c` applies them: a command with
/// the wrong number of tokens is `ERROR`; then each command reads a
/// trailing `noreply` before it checks its arguments, so that a bad one
/// on a `noreply` line is refused silently ([`ParseError::Silent`]). The
/// seed's dialect (any letter case, a three-argument `SET`) is the one
/// deliberate addition.
pub fn parse(line: &[u8]) -> Result<Request<'_>, ParseError> {
    let mut toks: [&[u8]; 8] = [&[]; 8];
    let mut n = 0;
    let mut last: &[u8] = &[];
    for t in tokens(line) {
        if n < toks.len() {
            toks[n] = t;
        }
        last = t;
        n += 1;
    }
    if n == 0 {
        return Err(ParseError::Unknown);
    }
    let cmd = toks[0];
    let args = &toks[1..n.min(toks.len())];
    if looks_like_http(cmd, &toks[..n.min(toks.len())]) {
        return Err(ParseError::Http);
    }
    // memcached's token count: the words (at most MAX_TOKENS - 1 of them)
    // and the terminal token.
    let nt = n.min(MAX_TOKENS - 1) + 1;
    let want = |ok: bool| if ok { Ok(()) } else { Err(ParseError::Unknown) };
    // memcached's set_noreply_maybe: the last word, whatever it is meant
    // to be, and before anything else is checked.
    let noreply = n < MAX_TOKENS && last == b"noreply";
    let bad = |reason: &'static str| {
        if noreply {
            ParseError::Silent
        } else {
            ParseError::Client(reason)
        }
    };
    let long_key = |t: &[u8]| t.len() > MAX_KEY_LEN;
    let rest = || {
        // Everything after the command word.
        let start = line.iter().position(|&b| b != b' ').unwrap_or(0) + cmd.len();
        &line[start..]
    };
    let retrieval = |keys: &'_ [u8]| -> Result<(), ParseError> {
        for k in tokens(keys) {
            key(k)?;
        }
        Ok(())
    };
    if cmd.len() < 2 {
        return Err(ParseError::Unknown);
    }
    if meta::is_meta(cmd) {
        let mut words: [&[u8]; MAX_TOKENS - 1] = [&[]; MAX_TOKENS - 1];
        let mut k = 0;
        for t in tokens(line).take(words.len()) {
            words[k] = t;
            k += 1;
        }
        return meta::parse(&words[..k])
            .map(Request::Meta)
            .map_err(|e| match e {
                meta::MetaError::Unknown => ParseError::Unknown,
                meta::MetaError::Client {
                    reason,
                    swallow: None,
                } => ParseError::Client(reason),
                meta::MetaError::Client {
                    reason,
                    swallow: Some(n),
                } => ParseError::ClientThenDrop(reason, n),
            });
    }
    match cmd {
        b"get" | b"gets" => {
            want(nt >= 3)?;
            let keys = rest();
            retrieval(keys)?;
            Ok(Request::Get {
                keys: Keys(keys),
                with_cas: cmd == b"gets",
                seed: false,
            })
        }
        c if c.eq_ignore_ascii_case(b"get") => {
            want(nt >= 3)?;
            let keys = rest();
            retrieval(keys)?;
            Ok(Request::Get {
                keys: Keys(keys),
                with_cas: false,
                seed: true,
            })
        }
        b"gat" | b"gats" => {
            want(nt >= 3)?;
            let exp = exptime(args[0]).map_err(|_| ParseError::Client(BAD_EXPTIME))?;
            let after = rest();
            let start = after.iter().position(|&b| b != b' ').unwrap_or(0) + args[0].len();
            let keys = &after[start..];
            retrieval(keys)?;
            Ok(Request::Gat {
                exptime: exp,
                keys: Keys(keys),
                with_cas: cmd == b"gats",
            })
        }
        c if c.eq_ignore_ascii_case(b"set") && n == 4 => {
            // The seed's SET <key> <expire_seconds> <value_size>.
            let bytes: u64 = num(args[2])?;
            if bytes > MAX_DATA_LEN {
                return Err(ParseError::Client(BAD_FORMAT));
            }
            Ok(Request::Store {
                cmd: StoreCmd::Set,
                key: key(args[0])?,
                flags: 0,
                exptime: exptime(args[1])?,
                bytes,
                cas: 0,
                noreply: false,
            })
        }
        b"set" | b"add" | b"replace" | b"append" | b"prepend" | b"cas" => {
            let cmd = match cmd {
                b"set" => StoreCmd::Set,
                b"add" => StoreCmd::Add,
                b"replace" => StoreCmd::Replace,
                b"append" => StoreCmd::Append,
                b"prepend" => StoreCmd::Prepend,
                _ => StoreCmd::Cas,
            };
            // cmd key flags exptime bytes [cas] [noreply]; memcached ignores
            // a last token that is not `noreply`.
            let need = if cmd == StoreCmd::Cas { 7 } else { 6 };
            want(nt == need || nt == need + 1)?;
            if long_key(args[0]) {
                return Err(bad(BAD_FORMAT));
            }
            let flags = num(args[1]).map_err(|_| bad(BAD_FORMAT))?;
            let exp = exptime(args[2]).map_err(|_| bad(BAD_FORMAT))?;
            let cas = if cmd == StoreCmd::Cas {
                num(args[4]).map_err(|_| bad(BAD_FORMAT))?
            } else {
                0
            };
            let bytes: i64 = num(args[3]).map_err(|_| bad(BAD_FORMAT))?;
            if !(0..=MAX_DATA_LEN as i64).contains(&bytes) {
                return Err(bad(BAD_FORMAT));
            }
            Ok(Request::Store {
                cmd,
                key: key(args[0]).map_err(|_| bad(BAD_FORMAT))?,
                flags,
                exptime: exp,
                bytes: bytes as u64,
                cas,
                noreply,
            })
        }
        c if c.eq_ignore_ascii_case(b"delete") && cmd != b"delete" => {
            // The seed's DELETE <key>.
            if n != 2 {
                return Err(ParseError::Client(BAD_FORMAT));
            }
            Ok(Request::Delete {
                key: key(args[0])?,
                noreply: false,
            })
        }
        b"delete" => {
            want((3..=5).contains(&nt))?;
            if nt > 3 {
                // memcached still accepts a legacy hold time of 0.
                let hold_is_zero = args[1] == b"0";
                let valid =
                    (nt == 4 && (hold_is_zero || noreply)) || (nt == 5 && hold_is_zero && noreply);
                if !valid {
                    return Err(bad(DELETE_USAGE));
                }
            }
            if long_key(args[0]) {
                return Err(bad(BAD_FORMAT));
            }
            Ok(Request::Delete {
                key: key(args[0]).map_err(|_| bad(BAD_FORMAT))?,
                noreply,
            })
        }
        b"incr" | b"decr" => {
            want(nt == 4 || nt == 5)?;
            if long_key(args[0]) {
                return Err(bad(BAD_FORMAT));
            }
            let delta = std::str::from_utf8(args[1])
                .ok()
                .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("invalid numeric delta argument"))?;
            Ok(Request::Arith {
                incr: cmd == b"incr",
                key: key(args[0]).map_err(|_| bad(BAD_FORMAT))?,
                delta,
                noreply,
            })
        }
        b"touch" => {
            want(nt == 4 || nt == 5)?;
            if long_key(args[0]) {
                return Err(bad(BAD_FORMAT));
            }
            Ok(Request::Touch {
                key: key(args[0]).map_err(|_| bad(BAD_FORMAT))?,
                exptime: exptime(args[1]).map_err(|_| bad(BAD_EXPTIME))?,
                noreply,
            })
        }
        b"flush_all" => {
            want((2..=4).contains(&nt))?;
            // A delay unless the only argument is `noreply`; one of 0 or
            // less takes effect at once, as in memcached.
            let delay = if nt != if noreply { 3 } else { 2 } {
                exptime(args[0]).map_err(|_| bad(BAD_EXPTIME))?.max(0)
            } else {
                0
            };
            Ok(Request::FlushAll { delay, noreply })
        }
        b"stats" => match args.first() {
            None => Ok(Request::Stats { group: None }),
            Some(&b"reset") => Ok(Request::StatsReset),
            Some(&b"cachedump") => {
                // `stats` reads no noreply; memcached's checks, in order.
                if nt < 5 {
                    return Err(ParseError::Client("bad command line"));
                }
                // safe_strtoul keeps the low 32 bits, as memcached stores it.
                let n = |t| {
                    strtoul(t)
                        .map(|v| v as u32)
                        .ok_or(ParseError::Client(BAD_FORMAT))
                };
                let (class, limit) = (n(args[1])?, n(args[2])?);
                if class >= 64 {
                    return Err(ParseError::Client("Illegal slab id"));
                }
                Ok(Request::CacheDump { class, limit })
            }
            Some(&b"detail") => Ok(Request::StatsDetail {
                what: args.get(1).copied(),
            }),
            Some(g) => Ok(Request::Stats { group: Some(g) }),
        },
        // memcached 1.6 ignores arguments here, but memccapable, reading
        // hotset's version number as an old memcached's, wants `ERROR`
        // for `version foo bar` (and syncs its noreply tests on it).
        b"version" if n == 1 => Ok(Request::Version),
        b"verbosity" => {
            want(nt == 3 || nt == 4)?;
            Ok(Request::Verbosity {
                level: num(args[0]).map_err(|_| bad(BAD_FORMAT))?,
                noreply,
            })
        }
        b"slabs" if nt >= 4 && args[0] == b"automove" => {
            let level: u32 = num(args[1]).map_err(|_| bad(BAD_FORMAT))?;
            match level {
                0..=2 => Ok(Request::SlabsAutomove {
                    level: level as u8,
                    noreply,
                }),
                _ if noreply => Err(ParseError::Silent),
                _ => Err(ParseError::Unknown),
            }
        }
        b"slabs" if nt == 5 && args[0] == b"reassign" => {
            // memcached reads no noreply here, and refuses what strtol
            // cannot read whole; a number past 32 bits is no class.
            let id = |t: &[u8]| -> Result<i64, ParseError> {
                let v: i64 = num(t).map_err(|_| ParseError::Client(BAD_FORMAT))?;
                Ok(v.clamp(i32::MIN as i64 - 1, i32::MAX as i64 + 1))
            };
            Ok(Request::SlabsReassign {
                src: id(args[1])?,
                dst: id(args[2])?,
            })
        }
        b"shutdown" => Ok(Request::Shutdown),
        // memcached takes any arguments, and reads a last `noreply`.
        b"refresh_certs" => Ok(Request::RefreshCerts { noreply }),
        b"cache_memlimit" => {
            want(nt == 3 || nt == 4)?;
            match strtoul(args[0]) {
                Some(megabytes) => Ok(Request::MemLimit { megabytes, noreply }),
                None if noreply => Err(ParseError::Silent),
                // memcached answers a bad number here with `ERROR`.
                None => Err(ParseError::Unknown),
            }
        }
        // `quit` with arguments too, for memccapable, as `version` above.
        c if c.eq_ignore_ascii_case(b"quit") && n == 1 => Ok(Request::Quit),
        _ => Err(ParseError::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing() {
        assert_eq!(
            frame(b"get a\r\nx"),
            Frame::Line {
                len: 5,
                consumed: 7
            }
        );
        assert_eq!(
            frame(b"get a\nx"),
            Frame::Line {
                len: 5,
                consumed: 6
            }
        );
        assert_eq!(frame(b"get a"), Frame::Need);
        assert_eq!(frame(b"\x80\x00\x00\x05"), Frame::Binary);
        assert_eq!(
            frame(b"x\x80\r\n"),
            Frame::Line {
                len: 2,
                consumed: 4
            }
        );
        assert_eq!(frame(&[b'x'; MAX_LINE + 3]), Frame::TooLong);
        let mut long_get = b"get ".to_vec();
        long_get.extend(std::iter::repeat_n(b'k', 10_000));
        assert_eq!(frame(&long_get), Frame::Need, "multi-get lines may be long");
    }

    #[test]
    fn data_blocks() {
        assert_eq!(data_end(b"hello\r\n", 5), Ok(Some(7)));
        assert_eq!(data_end(b"hello\n", 5), Ok(Some(6)));
        assert_eq!(data_end(b"hello\r", 5), Ok(None));
        assert_eq!(data_end(b"hel", 5), Ok(None));
        assert_eq!(data_end(b"helloXY", 5), Err(()));
        assert_eq!(data_end(b"hello\rX", 5), Err(()));
    }

    #[test]
    fn dialects() {
        match parse(b"SET key1 30 5").unwrap() {
            Request::Store {
                cmd: StoreCmd::Set,
                key,
                flags: 0,
                exptime: 30,
                bytes: 5,
                ..
            } => assert_eq!(key, b"key1"),
            r => panic!("{r:?}"),
        }
        assert!(
            matches!(
                parse(b"set k 0 5").unwrap(),
                Request::Store {
                    exptime: 0,
                    bytes: 5,
                    ..
                }
            ),
            "the seed's own lower-case client"
        );
        assert!(matches!(
            parse(b"set k 7 0 5").unwrap(),
            Request::Store {
                flags: 7,
                bytes: 5,
                noreply: false,
                ..
            }
        ));
        assert!(matches!(
            parse(b"set k 7 0 5 noreply").unwrap(),
            Request::Store { noreply: true, .. }
        ));
        assert!(matches!(
            parse(b"get a b").unwrap(),
            Request::Get {
                seed: false,
                with_cas: false,
                ..
            }
        ));
        assert!(matches!(
            parse(b"GET a").unwrap(),
            Request::Get { seed: true, .. }
        ));
        assert!(matches!(
            parse(b"Get a").unwrap(),
            Request::Get { seed: true, .. }
        ));
        assert!(matches!(
            parse(b"gets a").unwrap(),
            Request::Get { with_cas: true, .. }
        ));
        assert!(matches!(
            parse(b"DELETE a").unwrap(),
            Request::Delete { noreply: false, .. }
        ));
        assert!(matches!(
            parse(b"delete a 0 noreply").unwrap(),
            Request::Delete { noreply: true, .. }
        ));
        assert_eq!(parse(b"QUIT").unwrap(), Request::Quit);
        assert_eq!(parse(b"quit").unwrap(), Request::Quit);
        if let Request::Get { keys, .. } = parse(b"get  a   bb c").unwrap() {
            assert_eq!(
                keys.iter().collect::<Vec<_>>(),
                vec![&b"a"[..], b"bb", b"c"]
            );
        }
        if let Request::Gat {
            exptime,
            keys,
            with_cas,
        } = parse(b"gats 10 a b").unwrap()
        {
            assert_eq!((exptime, with_cas), (10, true));
            assert_eq!(keys.iter().count(), 2);
        }
    }

    #[test]
    fn errors() {
        assert_eq!(parse(b"bogus"), Err(ParseError::Unknown));
        assert_eq!(parse(b""), Err(ParseError::Unknown));
        assert_eq!(
            parse(b"STATS"),
            Err(ParseError::Unknown),
            "only the seed's commands ignore case"
        );
        assert_eq!(parse(b"set k 0 0 -1"), Err(ParseError::Client(BAD_FORMAT)));
        assert_eq!(parse(b"set k x 0 1"), Err(ParseError::Client(BAD_FORMAT)));
        assert_eq!(
            parse(b"set k 0 0 99999999999"),
            Err(ParseError::Client(BAD_FORMAT))
        );
        assert!(
            matches!(
                parse(b"set k 0 0 1 maybe"),
                Ok(Request::Store { noreply: false, .. })
            ),
            "memcached ignores a last token that is not noreply"
        );
        let long = [b'k'; 251];
        let mut line = b"get ".to_vec();
        line.extend_from_slice(&long);
        assert_eq!(parse(&line), Err(ParseError::Client(BAD_FORMAT)));
        assert_eq!(parse(b"get a\x01b"), Err(ParseError::Client(BAD_FORMAT)));
        assert_eq!(
            parse(b"incr k abc"),
            Err(ParseError::Client("invalid numeric delta argument"))
        );
        assert_eq!(
            parse(b"incr k -1"),
            Err(ParseError::Client("invalid numeric delta argument"))
        );
        assert_eq!(parse(b"GET / HTTP/1.1"), Err(ParseError::Http));
        assert_eq!(parse(b"POST /x HTTP/1.0"), Err(ParseError::Http));
        assert_eq!(parse(b"get"), Err(ParseError::Unknown));
        assert_eq!(
            parse(b"flush_all -1"),
            Ok(Request::FlushAll {
                delay: 0,
                noreply: false
            }),
            "a delay of 0 or less flushes at once"
        );
        assert_eq!(parse(b"flush_all x"), Err(ParseError::Client(BAD_EXPTIME)));
        assert_eq!(parse(b"verbosity noreply"), Err(ParseError::Silent));
        assert_eq!(
            parse(b"verbosity invalid"),
            Err(ParseError::Client(BAD_FORMAT))
        );
        assert_eq!(parse(b"verbosity"), Err(ParseError::Unknown));
        assert_eq!(parse(b"verbosity foo bar my"), Err(ParseError::Unknown));
        assert_eq!(
            parse(b"verbosity 1 noreply"),
            Ok(Request::Verbosity {
                level: 1,
                noreply: true
            })
        );
        assert_eq!(parse(b"version noreply"), Err(ParseError::Unknown));
    }

    #[test]
    fn memcached_token_counts() {
        // memcached t/cas.t: a cas without its unique has too few tokens.
        assert_eq!(parse(b"cas foo 0 0 6 "), Err(ParseError::Unknown));
        assert_eq!(parse(b"set foo 0"), Err(ParseError::Unknown));
        assert_eq!(parse(b"add foo 0 0"), Err(ParseError::Unknown));
        assert_eq!(parse(b"set foo 0 0 1 noreply x"), Err(ParseError::Unknown));
        assert_eq!(parse(b"incr foo"), Err(ParseError::Unknown));
        assert_eq!(parse(b"touch foo"), Err(ParseError::Unknown));
        assert_eq!(parse(b"delete"), Err(ParseError::Unknown));
        assert_eq!(parse(b"delete a 0 noreply x"), Err(ParseError::Unknown));
        assert_eq!(parse(b"flush_all 1 noreply x"), Err(ParseError::Unknown));
        assert_eq!(parse(b"x"), Err(ParseError::Unknown), "one-byte command");
        // A gat with no key answers END.
        assert!(matches!(
            parse(b"gat 10"),
            Ok(Request::Gat { exptime: 10, .. })
        ));
        assert_eq!(parse(b"gat x k"), Err(ParseError::Client(BAD_EXPTIME)));
        assert_eq!(parse(b"touch k x"), Err(ParseError::Client(BAD_EXPTIME)));
    }

    #[test]
    fn memcached_delete_and_noreply_rules() {
        // memcached t/issue_3.t.
        assert_eq!(parse(b"delete k 10"), Err(ParseError::Client(DELETE_USAGE)));
        assert_eq!(parse(b"delete k 10 noreply"), Err(ParseError::Silent));
        assert_eq!(
            parse(b"delete k 0 x"),
            Err(ParseError::Client(DELETE_USAGE))
        );
        assert_eq!(
            parse(b"delete k noreply"),
            Ok(Request::Delete {
                key: b"k",
                noreply: true
            })
        );
        assert_eq!(
            parse(b"delete k 0"),
            Ok(Request::Delete {
                key: b"k",
                noreply: false
            })
        );
        // A bad argument on a noreply line gets no answer at all.
        assert_eq!(parse(b"set k x 0 1 noreply"), Err(ParseError::Silent));
        assert_eq!(parse(b"incr k x noreply"), Err(ParseError::Silent));
        assert_eq!(parse(b"touch k x noreply"), Err(ParseError::Silent));
        let long = vec![b'k'; 251];
        let mut line = b"delete ".to_vec();
        line.extend_from_slice(&long);
        assert_eq!(parse(&line), Err(ParseError::Client(BAD_FORMAT)));
        line.extend_from_slice(b" noreply");
        assert_eq!(parse(&line), Err(ParseError::Silent));
    }

    #[test]
    fn stats_and_slabs_subcommands() {
        assert_eq!(parse(b"stats reset"), Ok(Request::StatsReset));
        assert_eq!(
            parse(b"stats detail dump"),
            Ok(Request::StatsDetail {
                what: Some(b"dump")
            })
        );
        assert_eq!(
            parse(b"stats detail"),
            Ok(Request::StatsDetail { what: None })
        );
        assert_eq!(
            parse(b"slabs automove 2"),
            Ok(Request::SlabsAutomove {
                level: 2,
                noreply: false
            })
        );
        // memcached t/strtol-testing.t.
        assert_eq!(
            parse(b"slabs automove invalid"),
            Err(ParseError::Client(BAD_FORMAT))
        );
        assert_eq!(parse(b"slabs automove 3"), Err(ParseError::Unknown));
        assert_eq!(parse(b"slabs automove"), Err(ParseError::Unknown));
        assert_eq!(parse(b"slabs"), Err(ParseError::Unknown));
    }
}
