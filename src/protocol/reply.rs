//! Reply writer: appends memcached's exact reply strings to an output buffer.

use std::fmt::Display;
use std::io::Write as _;

/// memcached's reason for malformed arguments.
pub const BAD_FORMAT: &str = "bad command line format";

/// `STORED`
pub const STORED: &[u8] = b"STORED\r\n";
/// `NOT_STORED`
pub const NOT_STORED: &[u8] = b"NOT_STORED\r\n";
/// `EXISTS`
pub const EXISTS: &[u8] = b"EXISTS\r\n";
/// `NOT_FOUND`
pub const NOT_FOUND: &[u8] = b"NOT_FOUND\r\n";
/// `DELETED`
pub const DELETED: &[u8] = b"DELETED\r\n";
/// `TOUCHED`
pub const TOUCHED: &[u8] = b"TOUCHED\r\n";
/// `OK`
pub const OK: &[u8] = b"OK\r\n";
/// `END`
pub const END: &[u8] = b"END\r\n";
/// `ERROR`: unknown command.
pub const ERROR: &[u8] = b"ERROR\r\n";
/// The reply to a data block not followed by `\r\n`.
pub const BAD_DATA_CHUNK: &[u8] = b"CLIENT_ERROR bad data chunk\r\n";
/// The reply to a value larger than the largest item.
pub const TOO_LARGE: &[u8] = b"SERVER_ERROR object too large for cache\r\n";
/// The reply when no memory could be freed.
pub const OUT_OF_MEMORY: &[u8] = b"SERVER_ERROR out of memory storing object\r\n";
/// The reply to a connection over `--max-conns`.
pub const TOO_MANY_CONNECTIONS: &[u8] = b"SERVER_ERROR too many open connections\r\n";
/// Any command but the authenticating `set`, before authentication.
pub const UNAUTHENTICATED: &[u8] = b"CLIENT_ERROR unauthenticated\r\n";
/// A `set` whose "user pass" data matches no line of the auth file.
pub const AUTH_FAILED: &[u8] = b"CLIENT_ERROR authentication failure\r\n";
/// A binary-protocol request, before the connection closes.
pub const BINARY_UNSUPPORTED: &[u8] = b"SERVER_ERROR binary protocol is not supported\r\n";

/// `VALUE <key> <flags> <bytes> [<cas>]`, the data, `\r\n` (memcached), or
/// `VALUE <key> <bytes>`, the data, `\r\n` (the seed's form).
pub fn value(out: &mut Vec<u8>, key: &[u8], flags: u32, data: &[u8], cas: Option<u64>, seed: bool) {
    out.reserve(key.len() + data.len() + 56);
    out.extend_from_slice(b"VALUE ");
    out.extend_from_slice(key);
    out.push(b' ');
    if !seed {
        decimal(out, flags as u64);
        out.push(b' ');
    }
    decimal(out, data.len() as u64);
    if let (Some(c), false) = (cas, seed) {
        out.push(b' ');
        decimal(out, c);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// A number line (incr/decr).
pub fn number(out: &mut Vec<u8>, n: u64) {
    decimal(out, n);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal. `write!` does the same through the formatting
/// machinery, which took a tenth of a get's instructions (callgrind,
/// `results/server-vs-memcached/profile.md`).
pub fn decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// `CLIENT_ERROR <reason>`
pub fn client_error(out: &mut Vec<u8>, reason: &str) {
    let _ = write!(out, "CLIENT_ERROR {reason}\r\n");
}

/// `SERVER_ERROR <reason>`
pub fn server_error(out: &mut Vec<u8>, reason: &str) {
    let _ = write!(out, "SERVER_ERROR {reason}\r\n");
}

/// `STAT <name> <value>`
pub fn stat(out: &mut Vec<u8>, name: impl Display, value: impl Display) {
    let _ = write!(out, "STAT {name} {value}\r\n");
}

/// `VERSION <v>`
pub fn version(out: &mut Vec<u8>, v: &str) {
    let _ = write!(out, "VERSION {v}\r\n");
}

/// An engine error as memcached words it.
pub fn engine_error(out: &mut Vec<u8>, e: crate::Error) {
    match e {
        crate::Error::TooLarge => out.extend_from_slice(TOO_LARGE),
        crate::Error::OutOfMemory => out.extend_from_slice(OUT_OF_MEMORY),
        crate::Error::BadKey => client_error(out, BAD_FORMAT),
        crate::Error::NonNumeric => {
            client_error(out, "cannot increment or decrement non-numeric value")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_forms() {
        let mut o = Vec::new();
        value(&mut o, b"k", 3, b"hello", None, false);
        value(&mut o, b"k", 3, b"hi", Some(9), false);
        value(&mut o, b"key1", 0, b"hello", None, true);
        assert_eq!(
            o,
            b"VALUE k 3 5\r\nhello\r\nVALUE k 3 2 9\r\nhi\r\nVALUE key1 5\r\nhello\r\n"
        );
    }

    #[test]
    fn decimals_match_the_formatter() {
        for n in [0, 1, 9, 10, 99, 100, 4_294_967_295, u64::MAX - 1, u64::MAX] {
            let mut o = Vec::new();
            number(&mut o, n);
            assert_eq!(o, format!("{n}\r\n").into_bytes());
        }
    }
}
