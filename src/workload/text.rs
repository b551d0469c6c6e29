//! Text traces: the Twitter cache-trace CSV, any delimited table (CSV, TSV,
//! space-separated) whose columns are named by flag, and one key per line.
//!
//! Every reader takes lines of at most [`MAX_LINE`] bytes, skips empty
//! ones, and reports a bad line by its number. Keys are hashed to ids (or
//! parsed, with `numeric_keys`); requests of size 0 are dropped, as
//! libCacheSim drops them.

use super::error::TraceError;
use crate::policy::{Req, Timed};
use std::hash::BuildHasher;
use std::io::{BufRead, BufReader, Read};

/// The longest line any text reader takes.
pub const MAX_LINE: usize = 64 << 10;

/// The hash of a key to an object id (fixed, so ids replay).
fn key_id(key: &[u8]) -> u64 {
    foldhash::fast::FixedState::with_seed(0x7717).hash_one(key)
}

/// Calls `f(line_number, line)` for each non-empty line (without its
/// `\n` or `\r\n`), 1-based.
fn each_line(
    r: impl Read,
    what: &str,
    mut f: impl FnMut(u64, &[u8]) -> Result<(), String>,
) -> Result<(), TraceError> {
    let mut br = BufReader::new(r);
    let mut line = Vec::new();
    let mut n = 0u64;
    loop {
        line.clear();
        let read = (&mut br)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| TraceError(format!("{what}: line {}: {e}", n + 1)))?;
        if read == 0 {
            return Ok(());
        }
        n += 1;
        if line.len() > MAX_LINE {
            return Err(TraceError(format!(
                "{what}: line {n}: longer than {MAX_LINE} bytes"
            )));
        }
        let l = line.strip_suffix(b"\n").unwrap_or(&line);
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        if l.is_empty() {
            continue;
        }
        f(n, l).map_err(|e| TraceError(format!("{what}: line {n}: {e}")))?;
    }
}

fn text(f: &[u8]) -> String {
    String::from_utf8_lossy(f).into_owned()
}

fn number<T: std::str::FromStr>(f: &[u8], name: &str) -> Result<T, String> {
    std::str::from_utf8(f)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| format!("bad {name} {:?}", text(f)))
}

/// Parses a Twitter cache-trace CSV stream (timestamp, key, key size,
/// value size, client, op, ttl; the key may hold commas). Every line is a
/// lookup of its key, as libCacheSim counts; no next-access times.
pub fn parse_twitter_csv(r: impl Read) -> Result<Vec<Req>, TraceError> {
    let mut out = Vec::new();
    each_twitter(r, |q, _| out.push(q))?;
    Ok(out)
}

/// [`parse_twitter_csv`], with each request's clock and TTL (seconds; a
/// clock past `u32::MAX` is an error).
pub fn parse_twitter_csv_timed(r: impl Read) -> Result<(Vec<Req>, Vec<Timed>), TraceError> {
    let (mut out, mut timed) = (Vec::new(), Vec::new());
    each_twitter(r, |q, t| {
        out.push(q);
        timed.push(t);
    })?;
    Ok((out, timed))
}

fn each_twitter(r: impl Read, mut f: impl FnMut(Req, Timed)) -> Result<(), TraceError> {
    each_line(r, "twitter csv", |_, l| {
        let first = l
            .iter()
            .position(|&b| b == b',')
            .ok_or("expected 7 fields")?;
        let fields: Vec<&[u8]> = l[first + 1..].rsplitn(6, |&b| b == b',').collect();
        if fields.len() != 6 {
            return Err("expected 7 fields".into());
        }
        // rsplitn yields from the right: ttl, op, client, value_size, key_size, key.
        let time: u32 = number(&l[..first], "timestamp")?;
        let ttl: u32 = number(fields[0], "ttl")?;
        let value_size: u64 = number(fields[3], "value size")?;
        let key_size: u64 = number(fields[4], "key size")?;
        f(
            Req {
                id: key_id(fields[5]),
                size: key_size.saturating_add(value_size).max(1),
                next: -1,
            },
            Timed { time, ttl },
        );
        Ok(())
    })
}

/// How fields are separated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delimiter {
    /// One byte (`,`, `\t`, `|`, …); fields may be double-quoted, with `""`
    /// for a quote inside.
    Byte(u8),
    /// Runs of spaces and tabs.
    Whitespace,
}

impl std::str::FromStr for Delimiter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tab" | "\\t" | "\t" => Ok(Delimiter::Byte(b'\t')),
            "space" | "whitespace" | " " => Ok(Delimiter::Whitespace),
            "comma" => Ok(Delimiter::Byte(b',')),
            _ if s.len() == 1 && s.as_bytes()[0].is_ascii_punctuation() && s != "\"" => {
                Ok(Delimiter::Byte(s.as_bytes()[0]))
            }
            _ => Err(format!(
                "delimiter {s:?} must be one punctuation character, tab or space"
            )),
        }
    }
}

/// The columns of a delimited trace, 1-based; only the key is required.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Columns {
    /// The key (hashed to an id, or parsed as one with `numeric_keys`).
    pub key: usize,
    /// The object's size in bytes (1 if absent).
    pub size: Option<usize>,
    /// The request time (checked to be a number; the simulators count
    /// requests, not seconds).
    pub time: Option<usize>,
    /// The operation: a `delete` (or `del`) is dropped, as it is no lookup;
    /// every other known op is a request.
    pub op: Option<usize>,
    /// A TTL (checked to be an integer; the simulators keep no TTLs).
    pub ttl: Option<usize>,
}

impl std::str::FromStr for Columns {
    type Err = String;
    /// `key=2,size=3,time=1,op=4,ttl=5`.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut c = Columns {
            key: 0,
            size: None,
            time: None,
            op: None,
            ttl: None,
        };
        for part in s.split(',') {
            let (name, col) = part
                .split_once('=')
                .ok_or_else(|| format!("column {part:?} must be NAME=NUMBER, as key=2"))?;
            let col: usize = col
                .trim()
                .parse()
                .ok()
                .filter(|&n| (1..=1024).contains(&n))
                .ok_or_else(|| format!("column number {col:?} must be 1 to 1024"))?;
            let slot = match name.trim() {
                "key" | "id" => {
                    c.key = col;
                    continue;
                }
                "size" => &mut c.size,
                "time" | "timestamp" => &mut c.time,
                "op" => &mut c.op,
                "ttl" => &mut c.ttl,
                other => {
                    return Err(format!(
                        "unknown column {other:?} (key, size, time, op, ttl)"
                    ))
                }
            };
            *slot = Some(col);
        }
        if c.key == 0 {
            return Err("the columns must name the key, as key=2".into());
        }
        let all = [Some(c.key), c.size, c.time, c.op, c.ttl];
        let named: Vec<usize> = all.iter().flatten().copied().collect();
        if (1..named.len()).any(|i| named[..i].contains(&named[i])) {
            return Err(format!("two columns share a number in {s:?}"));
        }
        Ok(c)
    }
}

/// A delimited trace's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delimited {
    /// The separator.
    pub delimiter: Delimiter,
    /// Which column holds what.
    pub columns: Columns,
    /// The first line names the columns and is skipped.
    pub header: bool,
    /// Keys are unsigned integers, used as ids as they are.
    pub numeric_keys: bool,
}

/// Splits a line at `d`, honouring double quotes for a byte delimiter;
/// quoted fields come back without their quotes (a `""` inside stays
/// doubled, which keeps keys distinct all the same).
fn split(l: &[u8], d: Delimiter, out: &mut Vec<(usize, usize)>) -> Result<(), String> {
    out.clear();
    match d {
        Delimiter::Whitespace => {
            let mut i = 0;
            while i < l.len() {
                while i < l.len() && (l[i] == b' ' || l[i] == b'\t') {
                    i += 1;
                }
                let start = i;
                while i < l.len() && l[i] != b' ' && l[i] != b'\t' {
                    i += 1;
                }
                if i > start {
                    out.push((start, i));
                }
            }
        }
        Delimiter::Byte(b) => {
            let mut i = 0;
            loop {
                if l.get(i) == Some(&b'"') {
                    let start = i + 1;
                    let mut j = start;
                    loop {
                        match l.get(j) {
                            None => {
                                return Err(format!("unclosed quote in field {}", out.len() + 1))
                            }
                            Some(b'"') if l.get(j + 1) == Some(&b'"') => j += 2,
                            Some(b'"') => break,
                            Some(_) => j += 1,
                        }
                    }
                    out.push((start, j));
                    i = j + 1;
                    match l.get(i) {
                        None => return Ok(()),
                        Some(&c) if c == b => i += 1,
                        Some(_) => {
                            return Err(format!(
                                "text after the closing quote of field {}",
                                out.len()
                            ))
                        }
                    }
                } else {
                    let end = l[i..]
                        .iter()
                        .position(|&c| c == b)
                        .map_or(l.len(), |p| i + p);
                    out.push((i, end));
                    if end == l.len() {
                        return Ok(());
                    }
                    i = end + 1;
                }
            }
        }
    }
    Ok(())
}

/// Whether an op is a lookup (`Some(true)`), a delete (`Some(false)`), or
/// unknown.
fn op_kind(op: &[u8]) -> Option<bool> {
    const REQUESTS: [&str; 14] = [
        "get", "gets", "gat", "gats", "set", "add", "replace", "append", "prepend", "cas", "incr",
        "decr", "read", "write",
    ];
    let op = std::str::from_utf8(op).ok()?.trim().to_ascii_lowercase();
    if op == "delete" || op == "del" {
        Some(false)
    } else {
        REQUESTS.contains(&op.as_str()).then_some(true)
    }
}

/// Parses a delimited trace.
pub fn parse_delimited(r: impl Read, layout: &Delimited) -> Result<Vec<Req>, TraceError> {
    let mut out = Vec::new();
    each_delimited(r, layout, |q, _| out.push(q))?;
    Ok(out)
}

/// [`parse_delimited`], with each request's clock and TTL: needs `time=`
/// and `ttl=` columns (time in seconds, its fraction dropped; a TTL of 0
/// or less never expires).
pub fn parse_delimited_timed(
    r: impl Read,
    layout: &Delimited,
) -> Result<(Vec<Req>, Vec<Timed>), TraceError> {
    if layout.columns.time.is_none() || layout.columns.ttl.is_none() {
        return Err(TraceError(
            "delimited trace: TTLs need both a time= and a ttl= column".into(),
        ));
    }
    let (mut out, mut timed) = (Vec::new(), Vec::new());
    each_delimited(r, layout, |q, t| {
        out.push(q);
        timed.push(t);
    })?;
    Ok((out, timed))
}

fn each_delimited(
    r: impl Read,
    layout: &Delimited,
    mut f: impl FnMut(Req, Timed),
) -> Result<(), TraceError> {
    let c = layout.columns;
    let need = [Some(c.key), c.size, c.time, c.op, c.ttl]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(1);
    let mut fields = Vec::new();
    let mut header = layout.header;
    each_line(r, "delimited trace", |_, l| {
        if std::mem::take(&mut header) {
            return Ok(());
        }
        split(l, layout.delimiter, &mut fields)?;
        if fields.len() < need {
            return Err(format!(
                "{} fields, and column {need} is named",
                fields.len()
            ));
        }
        let field = |col: usize| {
            let (a, b) = fields[col - 1];
            &l[a..b]
        };
        let mut timed = Timed { time: 0, ttl: 0 };
        if let Some(t) = c.time {
            let secs = number::<f64>(field(t), "time")
                .ok()
                .filter(|t| t.is_finite())
                .ok_or_else(|| format!("bad time {:?}", text(field(t))))?;
            timed.time = secs.clamp(0.0, u32::MAX as f64) as u32;
        }
        if let Some(t) = c.ttl {
            let ttl = number::<i64>(field(t), "ttl")?;
            timed.ttl = ttl.clamp(0, u32::MAX as i64) as u32;
        }
        if let Some(o) = c.op {
            match op_kind(field(o)) {
                Some(true) => {}
                Some(false) => return Ok(()),
                None => {
                    return Err(format!(
                        "unknown op {:?} (get, set, delete, read, write and memcached's others)",
                        text(field(o))
                    ))
                }
            }
        }
        let key = field(c.key);
        let id = if layout.numeric_keys {
            number::<u64>(key, "numeric key")?
        } else {
            if key.is_empty() {
                return Err("empty key".into());
            }
            key_id(key)
        };
        let size = match c.size {
            Some(s) => number::<u64>(field(s), "size")?,
            None => 1,
        };
        if size > 0 {
            f(Req { id, size, next: -1 }, timed);
        }
        Ok(())
    })
}

/// Parses one key per line (size 1 each; surrounding blanks are not part
/// of the key).
pub fn parse_keys(r: impl Read, numeric_keys: bool) -> Result<Vec<Req>, TraceError> {
    let mut out = Vec::new();
    each_line(r, "key-per-line trace", |_, l| {
        let key = l.trim_ascii();
        if key.is_empty() {
            return Ok(());
        }
        let id = if numeric_keys {
            number::<u64>(key, "numeric key")?
        } else {
            key_id(key)
        };
        out.push(Req {
            id,
            size: 1,
            next: -1,
        });
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(d: &str, cols: &str, header: bool, numeric: bool) -> Delimited {
        Delimited {
            delimiter: d.parse().unwrap(),
            columns: cols.parse().unwrap(),
            header,
            numeric_keys: numeric,
        }
    }

    #[test]
    fn delimited_clocks_and_ttls() {
        let csv = b"a,10,0.5,30\nb,10,7.9,-1\nc,10,8,0\n";
        let l = layout(",", "key=1,size=2,time=3,ttl=4", false, false);
        let (t, timed) = parse_delimited_timed(&csv[..], &l).unwrap();
        assert_eq!(t.len(), 3);
        let got: Vec<(u32, u32)> = timed.iter().map(|x| (x.time, x.ttl)).collect();
        assert_eq!(got, vec![(0, 30), (7, 0), (8, 0)]);
        let no_ttl = layout(",", "key=1,size=2,time=3", false, false);
        let e = parse_delimited_timed(&csv[..], &no_ttl)
            .unwrap_err()
            .to_string();
        assert!(e.contains("time= and a ttl="), "{e}");
    }

    #[test]
    fn delimited_columns_header_quotes_and_ops() {
        let csv = b"time,op,key,size\n1,get,a,10\n2,set,\"b,c\",20\n\n3,delete,a,10\n4,GET,a,0\r\n5,get,a,10\n";
        let l = layout(",", "time=1,op=2,key=3,size=4", true, false);
        let t = parse_delimited(&csv[..], &l).unwrap();
        let sizes: Vec<u64> = t.iter().map(|r| r.size).collect();
        assert_eq!(
            sizes,
            [10, 20, 10],
            "the delete and the size-0 request drop"
        );
        assert_eq!(t[0].id, t[2].id);
        assert_ne!(t[0].id, t[1].id);
        assert_eq!(t[1].id, key_id(b"b,c"));
        let tsv = b"7\tx\n8\ty\n7\tz\n";
        let t = parse_delimited(&tsv[..], &layout("tab", "key=1", false, true)).unwrap();
        assert_eq!(t.iter().map(|r| r.id).collect::<Vec<_>>(), [7, 8, 7]);
        let sp = b"  k1   5 \nk2 6\n";
        let t = parse_delimited(&sp[..], &layout("space", "key=1,size=2", false, false)).unwrap();
        assert_eq!(t.iter().map(|r| r.size).collect::<Vec<_>>(), [5, 6]);
    }

    #[test]
    fn bad_lines_name_their_number() {
        let l = layout(",", "key=1,size=2,ttl=3,time=4,op=5", false, false);
        for (input, want) in [
            (&b"a,1,0,1,get\nb,x,0,1,get\n"[..], "line 2: bad size \"x\""),
            (
                b"a,1,0,1,get\n\nb,1\n",
                "line 3: 2 fields, and column 5 is named",
            ),
            (b"a,1,0,1,fetch\n", "line 1: unknown op \"fetch\""),
            (b"a,1,0,nan,get\n", "line 1: bad time \"nan\""),
            (b"a,1,1.5,1,get\n", "line 1: bad ttl \"1.5\""),
            (b"\"a,1,0,1,get\n", "line 1: unclosed quote in field 1"),
            (
                b"\"a\"x,1,0,1,get\n",
                "line 1: text after the closing quote of field 1",
            ),
            (b",1,0,1,get\n", "line 1: empty key"),
        ] {
            let e = parse_delimited(input, &l).unwrap_err().to_string();
            assert!(e.contains(want), "{e:?} lacks {want:?}");
        }
        let e = parse_keys(&b"1\n2\nx\n"[..], true).unwrap_err().to_string();
        assert!(e.contains("line 3: bad numeric key \"x\""), "{e}");
        let long = vec![b'k'; MAX_LINE + 10];
        let e = parse_keys(&long[..], false).unwrap_err().to_string();
        assert!(e.contains("line 1: longer than"), "{e}");
    }

    #[test]
    fn column_and_delimiter_flags() {
        assert!("size=2"
            .parse::<Columns>()
            .unwrap_err()
            .contains("name the key"));
        assert!("key=2,size=2"
            .parse::<Columns>()
            .unwrap_err()
            .contains("share"));
        assert!("key=0"
            .parse::<Columns>()
            .unwrap_err()
            .contains("1 to 1024"));
        assert!("key=1,colour=2"
            .parse::<Columns>()
            .unwrap_err()
            .contains("unknown column"));
        assert!("key"
            .parse::<Columns>()
            .unwrap_err()
            .contains("NAME=NUMBER"));
        assert!("ab".parse::<Delimiter>().is_err());
        assert!("\"".parse::<Delimiter>().is_err());
        assert_eq!("|".parse::<Delimiter>(), Ok(Delimiter::Byte(b'|')));
    }

    #[test]
    fn keys_one_per_line() {
        let t = parse_keys(&b"alpha\n beta \n\nalpha\r\n"[..], false).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].id, t[2].id);
        assert_eq!(t[1].id, key_id(b"beta"));
    }
}
