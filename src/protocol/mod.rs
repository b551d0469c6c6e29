//! The text protocol, with no I/O: framing, a parser for both dialects, and a
//! reply writer (`reply`). The server feeds it bytes; fuzzers can too.
//!
//! # Dialects on one port
//! - **memcached** (lower case, as its `protocol.txt` states): `get gets gat
//!   gats set add replace append prepend cas delete incr decr touch flush_all
//!   stats version verbosity quit`, with `noreply`.
//! - **DynamiDB** (the seed): `SET <key> <expire_seconds> <value_size>`,
//!   `GET <key>`, `DELETE <key>`, `QUIT`, in any letter case.
//!
//! A retrieval spelled `get`/`gets` answers in memcached's form (`VALUE <key>
//! <flags> <bytes> [<cas>]`); in any other case it answers in the seed's
//! (`VALUE <key> <bytes>`). A storage command with three arguments is the
//! seed's; with four or five, memcached's. Lines end in `\r\n` or a bare `\n`.

pub mod reply;

use crate::item::MAX_KEY_LEN;

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
    /// version.
    Version,
    /// verbosity.
    Verbosity {
        /// Send no reply.
        noreply: bool,
    },
    /// quit / QUIT.
    Quit,
}

/// Why a line was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Unknown command: `ERROR`.
    Unknown,
    /// Bad arguments: `CLIENT_ERROR <reason>`.
    Client(&'static str),
    /// The line looks like HTTP: close the connection.
    Http,
}

/// memcached's reason for malformed arguments.
pub const BAD_FORMAT: &str = "bad command line format";

fn tokens(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b' ').filter(|t| !t.is_empty())
}

fn num<T: std::str::FromStr>(t: &[u8]) -> Result<T, ParseError> {
    std::str::from_utf8(t)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(ParseError::Client(BAD_FORMAT))
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
pub fn parse(line: &[u8]) -> Result<Request<'_>, ParseError> {
    // At most 24 tokens outside retrievals, as memcached.
    let mut toks: [&[u8]; 8] = [&[]; 8];
    let mut n = 0;
    for t in tokens(line) {
        if n < toks.len() {
            toks[n] = t;
        }
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
    let rest = || {
        // Everything after the command word.
        let start = line.iter().position(|&b| b != b' ').unwrap_or(0) + cmd.len();
        &line[start..]
    };
    let noreply = |i: usize| -> Result<bool, ParseError> {
        match args.get(i) {
            None => Ok(false),
            Some(&t) if t == b"noreply" => Ok(true),
            Some(_) => Err(ParseError::Client(BAD_FORMAT)),
        }
    };
    let retrieval = |keys: &'_ [u8]| -> Result<(), ParseError> {
        let mut any = false;
        for k in tokens(keys) {
            key(k)?;
            any = true;
        }
        if any {
            Ok(())
        } else {
            Err(ParseError::Unknown)
        }
    };
    match cmd {
        b"get" | b"gets" => {
            let keys = rest();
            retrieval(keys)?;
            Ok(Request::Get {
                keys: Keys(keys),
                with_cas: cmd == b"gets",
                seed: false,
            })
        }
        c if c.eq_ignore_ascii_case(b"get") => {
            let keys = rest();
            retrieval(keys)?;
            Ok(Request::Get {
                keys: Keys(keys),
                with_cas: false,
                seed: true,
            })
        }
        b"gat" | b"gats" => {
            if n < 3 {
                return Err(ParseError::Unknown);
            }
            let exp = exptime(args[0])?;
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
            let need = if cmd == StoreCmd::Cas { 5 } else { 4 };
            if args.len() < need || args.len() > need + 1 || n > need + 2 {
                return Err(ParseError::Client(BAD_FORMAT));
            }
            let bytes: u64 = num(args[3])?;
            if bytes > MAX_DATA_LEN {
                return Err(ParseError::Client(BAD_FORMAT));
            }
            Ok(Request::Store {
                cmd,
                key: key(args[0])?,
                flags: num(args[1])?,
                exptime: exptime(args[2])?,
                bytes,
                cas: if cmd == StoreCmd::Cas {
                    num(args[4])?
                } else {
                    0
                },
                noreply: noreply(need)?,
            })
        }
        c if c.eq_ignore_ascii_case(b"delete") => {
            if args.is_empty() || n > 4 {
                return Err(ParseError::Client(BAD_FORMAT));
            }
            // memcached still accepts a legacy time argument of 0.
            let mut i = 1;
            if args.get(1).is_some_and(|&t| t == b"0") {
                i = 2;
            }
            if args.len() > i + 1 {
                return Err(ParseError::Client(BAD_FORMAT));
            }
            Ok(Request::Delete {
                key: key(args[0])?,
                noreply: noreply(i)?,
            })
        }
        b"incr" | b"decr" => {
            if args.len() < 2 || args.len() > 3 {
                return Err(ParseError::Client(BAD_FORMAT));
            }
            let delta = std::str::from_utf8(args[1])
                .ok()
                .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse().ok())
                .ok_or(ParseError::Client("invalid numeric delta argument"))?;
            Ok(Request::Arith {
                incr: cmd == b"incr",
                key: key(args[0])?,
                delta,
                noreply: noreply(2)?,
            })
        }
        b"touch" => {
            if args.len() < 2 || args.len() > 3 {
                return Err(ParseError::Client(BAD_FORMAT));
            }
            Ok(Request::Touch {
                key: key(args[0])?,
                exptime: exptime(args[1])?,
                noreply: noreply(2)?,
            })
        }
        b"flush_all" => {
            let (delay, nr) = match args {
                [] => (0, false),
                [t] if *t == b"noreply" => (0, true),
                [d] => (exptime(d)?, false),
                [d, _] => (exptime(d)?, noreply(1)?),
                _ => return Err(ParseError::Client(BAD_FORMAT)),
            };
            if delay < 0 {
                return Err(ParseError::Client(BAD_FORMAT));
            }
            Ok(Request::FlushAll { delay, noreply: nr })
        }
        b"stats" => match args {
            [] => Ok(Request::Stats { group: None }),
            [g] => Ok(Request::Stats { group: Some(g) }),
            _ => Err(ParseError::Client(BAD_FORMAT)),
        },
        b"version" if n == 1 => Ok(Request::Version),
        // As memcached: one or two arguments, a trailing `noreply` is the
        // flag (so `verbosity noreply` is silent), and the level is not
        // checked (this server has no verbosity levels to set).
        b"verbosity" => match args {
            [_] | [_, _] => Ok(Request::Verbosity {
                noreply: args.last().is_some_and(|&t| t == b"noreply"),
            }),
            _ => Err(ParseError::Unknown),
        },
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
        assert_eq!(
            parse(b"set k 0 0 1 maybe"),
            Err(ParseError::Client(BAD_FORMAT))
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
        assert_eq!(parse(b"flush_all -1"), Err(ParseError::Client(BAD_FORMAT)));
        assert_eq!(
            parse(b"verbosity noreply"),
            Ok(Request::Verbosity { noreply: true })
        );
        assert_eq!(parse(b"verbosity"), Err(ParseError::Unknown));
        assert_eq!(parse(b"verbosity foo bar my"), Err(ParseError::Unknown));
        assert_eq!(
            parse(b"verbosity 1 noreply"),
            Ok(Request::Verbosity { noreply: true })
        );
        assert_eq!(parse(b"version noreply"), Err(ParseError::Unknown));
    }
}
