//! Trace readers: libCacheSim's `oracleGeneral` and lcs (`lcs.rs`), vscsi
//! block traces (`vscsi.rs`), the Twitter cache-trace CSV, text tables
//! (`text.rs`) and hotset's native format. Any of them may be
//! zstd-compressed (a `.zst` suffix). Readers stream: memory grows only with the requests they return.
//! Corrupt or truncated input is an error that names the byte offset or the
//! line, never a panic.
//!
//! - **oracleGeneral**: packed 24-byte little-endian records, no header:
//!   `u32 clock_time, u64 obj_id, u32 obj_size, i64 next_access_vtime`.
//!   Requests of size 0 are dropped, as libCacheSim does.
//! - **Twitter CSV** (twitter/cache-trace): `timestamp,key,key_size,
//!   value_size,client_id,operation,ttl` per line. A request's id is a hash of
//!   its key and its size is key size + value size. A key may contain commas:
//!   the fields around it are split off from both ends.
//! - **native**: the magic `HOTSETT1`, then 18-byte records `u64 key, u8
//!   key_size, u32 value_size, u32 ttl, u8 op` (op: 0 get, 1 set, 2 delete),
//!   little-endian. `hotset gen` writes it.
//!
//! For the two formats without next-access times, they are computed after
//! reading, so Bélády can run on any trace.

use crate::policy::{Req, Timed};
use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::Path;

const ORACLE_RECORD: usize = 24;
/// The native format's magic.
pub const NATIVE_MAGIC: &[u8; 8] = b"HOTSETT1";
/// Bytes per native record.
pub const NATIVE_RECORD: usize = 18;
/// Native records per second of clock where a clock is needed (TTLs in
/// `simulate --use-ttl`, `gen --lcs`): replay's default `--op-rate`.
pub const NATIVE_OP_RATE: u64 = 100_000;

pub use super::error::TraceError;

/// Trace formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// libCacheSim's oracleGeneral.
    OracleGeneral,
    /// libCacheSim's lcs, versions 1 to 8.
    Lcs,
    /// vscsi block traces (MSR, CloudPhysics).
    Vscsi,
    /// The Twitter cache-trace CSV.
    TwitterCsv,
    /// hotset's native format.
    Native,
    /// A delimited text table (CSV, TSV, space-separated), its columns
    /// given by flag.
    Delimited(Delimited),
    /// One key per line.
    Keys {
        /// Keys are integers, used as ids as they are.
        numeric: bool,
    },
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "oracleGeneral" | "oracle" => Ok(Format::OracleGeneral),
            "lcs" => Ok(Format::Lcs),
            "vscsi" => Ok(Format::Vscsi),
            "twitter" | "csv" | "twitter-csv" => Ok(Format::TwitterCsv),
            "native" | "hotset" => Ok(Format::Native),
            "delimited" | "tsv" | "ssv" => Ok(Format::Delimited(Delimited {
                delimiter: match s {
                    "tsv" => Delimiter::Byte(b'\t'),
                    "ssv" => Delimiter::Whitespace,
                    _ => Delimiter::Byte(b','),
                },
                columns: Columns {
                    key: 1,
                    size: None,
                    time: None,
                    op: None,
                    ttl: None,
                },
                header: false,
                numeric_keys: false,
            })),
            "keys" => Ok(Format::Keys { numeric: false }),
            _ => Err(format!(
                "unknown trace format {s:?} (oracleGeneral, lcs, vscsi, twitter, native, delimited, tsv, ssv, keys)"
            )),
        }
    }
}

impl Format {
    /// The format's name, as `--format` takes it.
    pub fn name(&self) -> &'static str {
        match self {
            Format::OracleGeneral => "oracleGeneral",
            Format::Lcs => "lcs",
            Format::Vscsi => "vscsi",
            Format::TwitterCsv => "twitter",
            Format::Native => "native",
            Format::Delimited(_) => "delimited",
            Format::Keys { .. } => "keys",
        }
    }

    /// Guesses the format: an lcs or native file by its magic number,
    /// others by their name (`.csv`, `.keys`, `.vscsi`), and oracleGeneral
    /// when nothing tells.
    pub fn guess(path: &Path) -> Format {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let name = name.strip_suffix(".zst").unwrap_or(name);
        let mut first = [0u8; 8];
        let sniffed = open(path)
            .and_then(|mut r| read_record(&mut r, &mut first, 0, "trace"))
            .unwrap_or(false);
        if sniffed && lcs::is_lcs(&first) {
            Format::Lcs
        } else if sniffed && &first == NATIVE_MAGIC {
            Format::Native
        } else if name.ends_with(".csv") {
            Format::TwitterCsv
        } else if name.ends_with(".hst") || name.ends_with(".native") {
            Format::Native
        } else if name.ends_with(".keys") {
            Format::Keys { numeric: false }
        } else if name.ends_with(".vscsi") {
            Format::Vscsi
        } else if name.ends_with(".lcs") {
            Format::Lcs
        } else {
            Format::OracleGeneral
        }
    }
}

/// A native-format operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// get
    Get = 0,
    /// set
    Set = 1,
    /// delete
    Delete = 2,
}

/// One native-format record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// Key id.
    pub key: u64,
    /// Key size in bytes (the key is the id, padded to this size).
    pub key_size: u8,
    /// Value size in bytes.
    pub value_size: u32,
    /// TTL in seconds (0: none).
    pub ttl: u32,
    /// The operation.
    pub op: Op,
}

impl Record {
    /// The bytes of the native format.
    pub fn encode(&self) -> [u8; NATIVE_RECORD] {
        let mut b = [0u8; NATIVE_RECORD];
        b[0..8].copy_from_slice(&self.key.to_le_bytes());
        b[8] = self.key_size;
        b[9..13].copy_from_slice(&self.value_size.to_le_bytes());
        b[13..17].copy_from_slice(&self.ttl.to_le_bytes());
        b[17] = self.op as u8;
        b
    }

    fn decode(b: &[u8], offset: u64) -> Result<Record, TraceError> {
        let op = match b[17] {
            0 => Op::Get,
            1 => Op::Set,
            2 => Op::Delete,
            x => {
                return Err(TraceError(format!(
                    "native: unknown op {x} in the record at byte offset {offset}"
                )))
            }
        };
        Ok(Record {
            key: u64::from_le_bytes(b[0..8].try_into().expect("8 bytes")),
            key_size: b[8],
            value_size: u32::from_le_bytes(b[9..13].try_into().expect("4 bytes")),
            ttl: u32::from_le_bytes(b[13..17].try_into().expect("4 bytes")),
            op,
        })
    }
}

/// Opens a file, through a zstd decoder if its name ends in `.zst`.
fn open(path: &Path) -> Result<Box<dyn Read>, TraceError> {
    let f =
        std::fs::File::open(path).map_err(|e| TraceError(format!("{}: {e}", path.display())))?;
    let f = BufReader::with_capacity(1 << 20, f);
    if path.extension().is_some_and(|e| e == "zst") {
        let d = zstd::stream::read::Decoder::with_buffer(f)
            .map_err(|e| TraceError(format!("{}: zstd: {e}", path.display())))?;
        Ok(Box::new(d))
    } else {
        Ok(Box::new(f))
    }
}

/// Reads exactly `buf.len()` bytes; `Ok(false)` at a clean end of input.
pub(super) fn read_record(
    r: &mut dyn Read,
    buf: &mut [u8],
    offset: u64,
    what: &str,
) -> Result<bool, TraceError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => {
                return Err(TraceError(format!(
                    "{what}: truncated record at byte offset {offset} ({got} of {} bytes)",
                    buf.len()
                )))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(TraceError(format!(
                    "{what}: at byte offset {}: {e}",
                    offset + got as u64
                )))
            }
        }
    }
    Ok(true)
}

/// The little-endian `u16` at `at` of a record.
pub(super) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// The little-endian `u32` at `at` of a record.
pub(super) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The little-endian `u64` at `at` of a record.
pub(super) fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// Calls `f(offset, record)` for each `size`-byte record of a stream whose
/// first record is at byte `offset`, reading a megabyte at a time; a
/// partial record at the end is an error naming its offset.
pub(super) fn each_record(
    mut r: impl Read,
    size: usize,
    mut offset: u64,
    what: &str,
    mut f: impl FnMut(u64, &[u8]) -> Result<(), TraceError>,
) -> Result<(), TraceError> {
    let mut buf = vec![0u8; size * (1usize << 20).div_ceil(size)];
    let mut have = 0;
    loop {
        let n = loop {
            match r.read(&mut buf[have..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(TraceError(format!(
                        "{what}: at byte offset {}: {e}",
                        offset + have as u64
                    )))
                }
            }
        };
        have += n;
        let whole = have / size * size;
        for (i, rec) in buf[..whole].chunks_exact(size).enumerate() {
            f(offset + (i * size) as u64, rec)?;
        }
        offset += whole as u64;
        buf.copy_within(whole..have, 0);
        have -= whole;
        if n == 0 {
            if have > 0 {
                return Err(TraceError(format!(
                    "{what}: truncated record at byte offset {offset} ({have} of {size} bytes)"
                )));
            }
            return Ok(());
        }
    }
}

/// Parses an `oracleGeneral` stream.
pub fn parse_oracle_general(r: impl Read) -> Result<Vec<Req>, TraceError> {
    let mut out = Vec::new();
    each_oracle_general(r, |q| out.push(q))?;
    Ok(out)
}

/// Each request of an `oracleGeneral` stream, in order (size-0 records
/// dropped).
fn each_oracle_general(r: impl Read, mut f: impl FnMut(Req)) -> Result<(), TraceError> {
    each_record(r, ORACLE_RECORD, 0, "oracleGeneral", |offset, b| {
        let id = u64::from_le_bytes(b[4..12].try_into().expect("8 bytes"));
        let size = u32::from_le_bytes(b[12..16].try_into().expect("4 bytes")) as u64;
        let next = i64::from_le_bytes(b[16..24].try_into().expect("8 bytes"));
        if next < -1 {
            return Err(TraceError(format!(
                "oracleGeneral: bad next_access_vtime {next} in the record at byte offset {offset}"
            )));
        }
        if size != 0 {
            f(Req { id, size, next });
        }
        Ok(())
    })
}

/// Writes requests as an `oracleGeneral` stream: request `i` gets clock time
/// `i` (saturating at `u32::MAX`), and a size above `u32::MAX` is an error.
/// The `next` fields are written as they are; see [`compute_next`].
pub fn write_oracle_general(reqs: &[Req], mut w: impl std::io::Write) -> std::io::Result<()> {
    for (i, r) in reqs.iter().enumerate() {
        let size = u32::try_from(r.size).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "request {i}: size {} does not fit oracleGeneral's u32",
                    r.size
                ),
            )
        })?;
        let mut b = [0u8; ORACLE_RECORD];
        b[0..4].copy_from_slice(&u32::try_from(i).unwrap_or(u32::MAX).to_le_bytes());
        b[4..12].copy_from_slice(&r.id.to_le_bytes());
        b[12..16].copy_from_slice(&size.to_le_bytes());
        b[16..24].copy_from_slice(&r.next.to_le_bytes());
        w.write_all(&b)?;
    }
    w.flush()
}

/// Parses a native stream into records.
pub fn parse_native(mut r: impl Read) -> Result<Vec<Record>, TraceError> {
    let mut magic = [0u8; 8];
    if !read_record(&mut r, &mut magic, 0, "native")? || &magic != NATIVE_MAGIC {
        return Err(TraceError(
            "native: missing HOTSETT1 header at byte offset 0".into(),
        ));
    }
    let mut out = Vec::new();
    each_record(r, NATIVE_RECORD, 8, "native", |offset, b| {
        out.push(Record::decode(b, offset)?);
        Ok(())
    })?;
    Ok(out)
}

pub use super::text::parse_twitter_csv;
use super::text::{parse_delimited, parse_keys, Columns, Delimited, Delimiter};
use super::{lcs, vscsi};

/// Fills in next-access times (1-based), for formats that lack them.
pub fn compute_next(t: &mut [Req]) {
    let mut last: HashMap<u64, usize> = HashMap::with_capacity(t.len() / 2);
    for i in 0..t.len() {
        t[i].next = -1;
        if let Some(j) = last.insert(t[i].id, i) {
            t[j].next = i as i64 + 1;
        }
    }
}

/// The records a live replay plays from a trace file: a native trace as
/// it is, any other format (sizes only) as gets of 16-byte keys with the
/// request's size as the value size (at most 1 MiB).
pub fn load_records(path: &Path) -> Result<Vec<Record>, TraceError> {
    let at = |e: TraceError| TraceError(format!("{}: {e}", path.display()));
    let record = |key: u64, size: u64, ttl: u32, op: Op| Record {
        key,
        key_size: 16,
        value_size: size.clamp(1, 1 << 20) as u32,
        ttl,
        op,
    };
    match Format::guess(path) {
        Format::Native => std::fs::File::open(path)
            .map_err(|e| TraceError(format!("{}: {e}", path.display())))
            .and_then(|f| parse_native(std::io::BufReader::new(f))),
        Format::Lcs => {
            let mut out = Vec::new();
            lcs::each_lcs(open(path)?, |_, r| {
                let op = lcs::op_of(r.op).unwrap_or(Op::Get);
                out.push(record(r.id, r.size, r.ttl, op));
                Ok(())
            })
            .map_err(at)?;
            Ok(out)
        }
        Format::Vscsi => {
            let mut out = Vec::new();
            vscsi::each_vscsi(open(path)?, |_, io| {
                out.push(record(io.lbn, io.len.into(), 0, io.op));
                Ok(())
            })
            .map_err(at)?;
            Ok(out)
        }
        f => read(path, f).map(|reqs| {
            reqs.iter()
                .map(|r| Record {
                    key: r.id,
                    key_size: 16,
                    value_size: r.size.clamp(1, 1 << 20) as u32,
                    ttl: 0,
                    op: Op::Get,
                })
                .collect()
        }),
    }
}

/// Rewrites the native trace at `native` as libCacheSim's oracleGeneral at
/// `out` (next-access times computed); returns the requests written.
pub fn native_to_oracle_general(native: &Path, out: &Path) -> Result<usize, TraceError> {
    let t = read(native, Format::Native)?;
    create(out)
        .and_then(|f| write_oracle_general(&t, f))
        .map_err(|e| TraceError(format!("{}: {e}", out.display())))?;
    Ok(t.len())
}

/// Creates a file, through a zstd encoder if its name ends in `.zst`.
fn create(path: &Path) -> std::io::Result<Box<dyn std::io::Write>> {
    let f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    if path.extension().is_some_and(|e| e == "zst") {
        Ok(Box::new(
            zstd::stream::write::Encoder::new(f, 3)?.auto_finish(),
        ))
    } else {
        Ok(Box::new(f))
    }
}

/// Rewrites the native trace at `native` as libCacheSim's lcs of `version`
/// at `out` (`.zst` compresses it): request `i` at clock time
/// `i / NATIVE_OP_RATE` seconds, with its op, TTL and next-access time;
/// returns the requests written.
pub fn native_to_lcs(native: &Path, out: &Path, version: u64) -> Result<usize, TraceError> {
    let recs = read_native_file(native)?;
    let mut t: Vec<Req> = recs.iter().map(native_req).collect();
    compute_next(&mut t);
    let reqs: Vec<lcs::LcsReq> = recs
        .iter()
        .zip(&t)
        .enumerate()
        .map(|(i, (r, q))| lcs::LcsReq {
            time: native_time(i),
            id: q.id,
            size: q.size,
            op: lcs::code_of(r.op),
            tenant: 0,
            ttl: r.ttl,
            next: q.next,
        })
        .collect();
    create(out)
        .and_then(|w| lcs::write_lcs(version, &reqs, w))
        .map_err(|e| TraceError(format!("{}: {e}", out.display())))?;
    Ok(reqs.len())
}

/// The clock of native record `i`, in seconds.
fn native_time(i: usize) -> u32 {
    u32::try_from(i as u64 / NATIVE_OP_RATE).unwrap_or(u32::MAX)
}

/// Reads a trace with each request's clock and TTL, for TTL-aware
/// simulation: lcs v3 and later, the Twitter CSV, delimited tables with
/// time and TTL columns, and native traces (record `i` at
/// `i / NATIVE_OP_RATE` seconds). Other formats carry no
/// TTLs, and are an error that says so.
pub fn read_timed(path: &Path, format: Format) -> Result<(Vec<Req>, Vec<Timed>), TraceError> {
    let at = |e: TraceError| TraceError(format!("{}: {e}", path.display()));
    let (mut t, timed) = match format {
        Format::Lcs => {
            let (mut t, mut timed) = (Vec::new(), Vec::new());
            let version = lcs::each_lcs(open(path)?, |_, q| {
                t.push(Req {
                    id: q.id,
                    size: q.size,
                    next: q.next,
                });
                timed.push(Timed {
                    time: q.time,
                    ttl: q.ttl,
                });
                Ok(())
            })
            .map_err(at)?;
            if version < 3 {
                return Err(at(TraceError(format!(
                    "lcs v{version} carries no TTLs (v3 and later do)"
                ))));
            }
            return Ok((t, timed));
        }
        Format::TwitterCsv => super::text::parse_twitter_csv_timed(open(path)?).map_err(at)?,
        Format::Delimited(layout) => {
            super::text::parse_delimited_timed(open(path)?, &layout).map_err(at)?
        }
        Format::Native => {
            let recs = read_native_file(path)?;
            let timed = (0..recs.len())
                .zip(&recs)
                .map(|(i, r)| Timed {
                    time: native_time(i),
                    ttl: r.ttl,
                })
                .collect();
            (recs.iter().map(native_req).collect(), timed)
        }
        f => {
            return Err(at(TraceError(format!(
                "{} traces carry no TTLs (lcs v3+, twitter, native and delimited tables with time= and ttl= columns do)",
                f.name()
            ))))
        }
    };
    compute_next(&mut t);
    Ok((t, timed))
}

fn read_native_file(path: &Path) -> Result<Vec<Record>, TraceError> {
    parse_native(open(path)?).map_err(|e| TraceError(format!("{}: {e}", path.display())))
}

/// A native record as a simulator request (no next-access time yet).
fn native_req(r: &Record) -> Req {
    Req {
        id: r.key,
        size: r.value_size.max(1) as u64,
        next: -1,
    }
}

/// An lcs record as a simulator request.
fn lcs_req(q: &lcs::LcsReq) -> Req {
    Req {
        id: q.id,
        size: q.size,
        next: q.next,
    }
}

/// A trace's name in reports: its file name.
pub fn name_of(path: &Path) -> String {
    path.file_name()
        .map_or("trace".into(), |n| n.to_string_lossy().to_string())
}

/// Reads a trace of any format as simulator requests.
pub fn read(path: &Path, format: Format) -> Result<Vec<Req>, TraceError> {
    let r = open(path)?;
    let at = |e: TraceError| TraceError(format!("{}: {e}", path.display()));
    match format {
        Format::OracleGeneral => parse_oracle_general(r).map_err(at),
        Format::Lcs => {
            let mut t = Vec::new();
            lcs::each_lcs(r, |_, q| {
                t.push(lcs_req(&q));
                Ok(())
            })
            .map_err(at)?;
            Ok(t)
        }
        Format::Vscsi => {
            let mut t = Vec::new();
            vscsi::each_vscsi(r, |_, io| {
                t.push(Req {
                    id: io.lbn,
                    size: io.len.into(),
                    next: -1,
                });
                Ok(())
            })
            .map_err(at)?;
            compute_next(&mut t);
            Ok(t)
        }
        Format::TwitterCsv => {
            let mut t = parse_twitter_csv(r).map_err(at)?;
            compute_next(&mut t);
            Ok(t)
        }
        Format::Delimited(layout) => {
            let mut t = parse_delimited(r, &layout).map_err(at)?;
            compute_next(&mut t);
            Ok(t)
        }
        Format::Keys { numeric } => {
            let mut t = parse_keys(r, numeric).map_err(at)?;
            compute_next(&mut t);
            Ok(t)
        }
        Format::Native => {
            let recs = parse_native(r).map_err(at)?;
            let mut t: Vec<Req> = recs.iter().map(native_req).collect();
            compute_next(&mut t);
            Ok(t)
        }
    }
}

/// Passes each request of a trace of any format to `f`, in order, as
/// [`read`] reads them. oracleGeneral and lcs records (which carry their
/// next-access times) go as they are read, so the caller can work on the
/// first while the rest are read; the other formats are read whole first
/// (their next-access times need the whole trace). On an error, `f` has
/// had the requests before it.
pub fn stream(path: &Path, format: Format, f: &mut dyn FnMut(Req)) -> Result<(), TraceError> {
    let at = |e: TraceError| TraceError(format!("{}: {e}", path.display()));
    match format {
        Format::OracleGeneral => each_oracle_general(open(path)?, f).map_err(at),
        Format::Lcs => lcs::each_lcs(open(path)?, |_, q| {
            f(lcs_req(&q));
            Ok(())
        })
        .map(|_| ())
        .map_err(at),
        _ => {
            read(path, format)?.into_iter().for_each(f);
            Ok(())
        }
    }
}

/// Reads an `oracleGeneral` trace file (`.zst` allowed).
pub fn read_oracle_general(path: &Path) -> Result<Vec<Req>, TraceError> {
    read(path, Format::OracleGeneral)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oracle_general_round_trips() {
        let mut t: Vec<Req> = [(5, 100), (6, 1), (5, 100), (u64::MAX, u32::MAX as u64)]
            .into_iter()
            .map(|(id, size)| Req { id, size, next: 0 })
            .collect();
        compute_next(&mut t);
        let mut buf = Vec::new();
        write_oracle_general(&t, &mut buf).unwrap();
        assert_eq!(buf.len(), 4 * ORACLE_RECORD);
        assert_eq!(parse_oracle_general(&buf[..]).unwrap(), t);
        t[0].size = 1 << 32;
        let e = write_oracle_general(&t, &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("request 0"), "{e}");
    }

    fn rec(id: u64, size: u32, next: i64) -> Vec<u8> {
        let mut v = 7u32.to_le_bytes().to_vec();
        v.extend_from_slice(&id.to_le_bytes());
        v.extend_from_slice(&size.to_le_bytes());
        v.extend_from_slice(&next.to_le_bytes());
        v
    }

    #[test]
    fn oracle_parses_and_drops_size_zero() {
        let mut b = rec(1, 10, 3);
        b.extend(rec(2, 0, -1));
        b.extend(rec(1, 10, -1));
        let t = parse_oracle_general(&b[..]).unwrap();
        assert_eq!(
            t,
            vec![
                Req {
                    id: 1,
                    size: 10,
                    next: 3
                },
                Req {
                    id: 1,
                    size: 10,
                    next: -1
                }
            ]
        );
    }

    #[test]
    fn oracle_errors_name_the_offset() {
        let mut b = rec(1, 10, -1);
        b.extend_from_slice(&[1, 2, 3]);
        let e = parse_oracle_general(&b[..]).unwrap_err().to_string();
        assert!(e.contains("byte offset 24"), "{e}");
        let mut b = rec(1, 10, -1);
        b.extend(rec(2, 10, -7));
        let e = parse_oracle_general(&b[..]).unwrap_err().to_string();
        assert!(e.contains("byte offset 24"), "{e}");
    }

    #[test]
    fn twitter_csv() {
        let csv = b"0,q:q:1:8WTfjZU,19,1,7,get,0\n1,a,1,100,7,set,3600\r\n2,odd,key,5,10,3,get,0\n";
        let mut t = parse_twitter_csv(&csv[..]).unwrap();
        compute_next(&mut t);
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].size, 20);
        assert_eq!(t[1].size, 101);
        assert_eq!(t[2].size, 15, "a key with a comma");
        for (bad, line) in [
            (&b"0,k,1,x,7,get,0\n"[..], 1),
            (b"0,k,1,1,7,get,0\nnonsense\n", 2),
            (b"zz,k,1,1,7,get,0\n", 1),
        ] {
            let e = parse_twitter_csv(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("line {line}")), "{e}");
        }
        // A line with no end is refused, not buffered without bound.
        let long = vec![b'x'; crate::workload::text::MAX_LINE + 10];
        let e = parse_twitter_csv(&long[..]).unwrap_err().to_string();
        assert!(e.contains("line 1: longer than"), "{e}");
    }

    #[test]
    fn native_round_trip_and_errors() {
        let recs = [
            Record {
                key: 5,
                key_size: 16,
                value_size: 100,
                ttl: 0,
                op: Op::Get,
            },
            Record {
                key: 6,
                key_size: 20,
                value_size: 7,
                ttl: 9,
                op: Op::Set,
            },
        ];
        let mut b = NATIVE_MAGIC.to_vec();
        for r in &recs {
            b.extend_from_slice(&r.encode());
        }
        assert_eq!(parse_native(&b[..]).unwrap(), recs);
        let e = parse_native(&b[..b.len() - 3]).unwrap_err().to_string();
        assert!(e.contains("byte offset 26"), "{e}");
        assert!(parse_native(&b"NOTMAGIC"[..])
            .unwrap_err()
            .to_string()
            .contains("header"));
        let mut bad = b.clone();
        bad[8 + 17] = 9;
        assert!(parse_native(&bad[..])
            .unwrap_err()
            .to_string()
            .contains("unknown op 9"));
    }

    #[test]
    fn next_access_times() {
        let mut t: Vec<Req> = [1, 2, 1, 1]
            .iter()
            .map(|&id| Req {
                id,
                size: 1,
                next: 0,
            })
            .collect();
        compute_next(&mut t);
        assert_eq!(
            t.iter().map(|r| r.next).collect::<Vec<_>>(),
            vec![3, -1, 4, -1]
        );
    }
}
