//! libCacheSim's lcs trace format, versions 1 to 8, read and written.
//!
//! An lcs file is an 8 KiB header, then fixed-size little-endian records
//! whose layout the header's version picks:
//!
//! - header: `u64 start_magic, u64 version`, 8,000 bytes of statistics
//!   (`i64 stat_version, n_req, n_obj, n_req_byte, n_obj_byte,
//!   start_timestamp, end_timestamp, n_read, n_write, n_delete,
//!   smallest_obj_size, largest_obj_size`, then figures hotset leaves at 0),
//!   168 unused bytes and `u64 end_magic`; both magics are
//!   [`MAGIC`].
//! - v1 (24 bytes, oracleGeneral's record): `u32 time, u64 id, u32 size,
//!   i64 next`.
//! - v2 (28): `u32 time, u64 id, u32 size, u8 op, u24 tenant, i64 next`.
//! - v3 (36): `u32 time, u64 id, i64 size, u8 op, u24 tenant, u32 ttl,
//!   i64 next`.
//! - v4 to v8: a v3 record and then 1, 2, 4, 8 or 16 `u32` features,
//!   which hotset skips.
//!
//! Ops are libCacheSim's codes (0 nop, 1 get, 2 gets, 3 set, 4 add, 5 cas,
//! 6 replace, 7 append, 8 prepend, 9 delete, 10 incr, 11 decr, 12 read,
//! 13 write, 14 update, 15 invalid: unset). A next-access time of -1 or
//! `i64::MAX` means none; requests of size 0 are dropped, as libCacheSim
//! drops them.

use super::error::TraceError;
use super::trace::{each_record, read_record, u32_at, u64_at, Op};
use std::collections::HashMap;
use std::io::{Read, Write};

/// Both magic numbers of an lcs header.
pub const MAGIC: u64 = 0x1234_5678_9abc_def0;
/// Bytes of the header.
pub const HEADER: usize = 8192;
/// Where the statistics begin in the header.
const STAT: usize = 16;
/// Where the end magic is.
const END_MAGIC_AT: usize = HEADER - 8;
/// The statistics' own version, as libCacheSim writes it.
const STAT_VERSION: i64 = 1;

/// Bytes of one record of `version`, if it is one (1 to 8).
pub fn record_size(version: u64) -> Option<usize> {
    Some(match version {
        1 => 24,
        2 => 28,
        3 => 36,
        4 => 40,
        5 => 44,
        6 => 52,
        7 => 68,
        8 => 100,
        _ => return None,
    })
}

/// One lcs request, with every field hotset uses (features are skipped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LcsReq {
    /// Clock time in seconds.
    pub time: u32,
    /// Object id.
    pub id: u64,
    /// Object size in bytes.
    pub size: u64,
    /// libCacheSim's op code (v1: 0).
    pub op: u8,
    /// Tenant (v1: 0).
    pub tenant: u32,
    /// TTL in seconds; 0 is none (v1 and v2: 0).
    pub ttl: u32,
    /// 1-based index of the next request for the object; -1 if none.
    pub next: i64,
}

/// libCacheSim's op code as hotset's op: reads are gets, every write
/// (set, add, cas, replace, append, prepend, incr, decr, write, update) a
/// set, delete a delete. nop and invalid (an unset op) are gets: every
/// request is a lookup in libCacheSim's simulator.
pub fn op_of(code: u8) -> Option<Op> {
    match code {
        0 | 1 | 2 | 12 | 15 => Some(Op::Get),
        3..=8 | 10 | 11 | 13 | 14 => Some(Op::Set),
        9 => Some(Op::Delete),
        _ => None,
    }
}

/// hotset's op as libCacheSim's code.
pub fn code_of(op: Op) -> u8 {
    match op {
        Op::Get => 1,
        Op::Set => 3,
        Op::Delete => 9,
    }
}

/// Whether these first bytes of a file begin an lcs trace.
pub fn is_lcs(first: &[u8]) -> bool {
    first.len() >= 8 && u64_at(first, 0) == MAGIC
}

/// Reads an lcs stream, calling `f(offset, request)` for each request of
/// nonzero size; returns the version. A bad header, an unknown version, a
/// bad field or a truncated record is an error naming its byte offset.
pub fn each_lcs(
    mut r: impl Read,
    mut f: impl FnMut(u64, LcsReq) -> Result<(), TraceError>,
) -> Result<u64, TraceError> {
    let mut h = vec![0u8; HEADER];
    if !read_record(&mut r, &mut h, 0, "lcs header")? {
        return Err(TraceError(
            "lcs: empty file, no header at byte offset 0".into(),
        ));
    }
    let bad = |at: usize, what: String| TraceError(format!("lcs: {what} at byte offset {at}"));
    if u64_at(&h, 0) != MAGIC {
        return Err(bad(
            0,
            format!("bad start magic {:#x} (not an lcs trace)", u64_at(&h, 0)),
        ));
    }
    let version = u64_at(&h, 8);
    let Some(size) = record_size(version) else {
        return Err(bad(
            8,
            format!("unknown version {version} (libCacheSim's lcs has 1 to 8)"),
        ));
    };
    if u64_at(&h, END_MAGIC_AT) != MAGIC {
        return Err(bad(
            END_MAGIC_AT,
            format!("bad end magic {:#x}", u64_at(&h, END_MAGIC_AT)),
        ));
    }
    for (name, at) in [("n_req", STAT + 8), ("n_obj", STAT + 16)] {
        let v = u64_at(&h, at) as i64;
        if v < 0 {
            return Err(bad(at, format!("negative {name} {v} in the header")));
        }
    }
    each_record(r, size, HEADER as u64, "lcs", |offset, b| {
        let bad = |what: String| {
            TraceError(format!(
                "lcs v{version}: {what} in the record at byte offset {offset}"
            ))
        };
        let (size_field, op_at, ttl, next_at) = match version {
            1 => (u32_at(b, 12) as i64, None, 0, 16),
            2 => (u32_at(b, 12) as i64, Some(16), 0, 20),
            _ => (u64_at(b, 12) as i64, Some(20), u32_at(b, 24), 28),
        };
        let (op, tenant) = op_at.map_or((0, 0), |at| (b[at], u32_at(b, at) >> 8));
        if op_of(op).is_none() {
            return Err(bad(format!("unknown op {op}")));
        }
        if size_field < 0 {
            return Err(bad(format!("negative size {size_field}")));
        }
        let next = match u64_at(b, next_at) as i64 {
            i64::MAX => -1,
            n if n < -1 => return Err(bad(format!("bad next_access_vtime {n}"))),
            n => n,
        };
        if size_field == 0 {
            return Ok(());
        }
        f(
            offset,
            LcsReq {
                time: u32_at(b, 0),
                id: u64_at(b, 4),
                size: size_field as u64,
                op,
                tenant,
                ttl,
                next,
            },
        )
    })?;
    Ok(version)
}

/// Writes requests as an lcs trace of `version` (1 to 8), its header's
/// statistics computed from them. Fields the version lacks are dropped
/// (v1 has no op, tenant or TTL; v1 and v2 sizes are `u32`, a larger one
/// is an error); features are written as 0.
pub fn write_lcs(version: u64, reqs: &[LcsReq], mut w: impl Write) -> std::io::Result<()> {
    let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
    let size = record_size(version)
        .ok_or_else(|| invalid(format!("lcs version {version} is not 1 to 8")))?;
    let mut h = vec![0u8; HEADER];
    h[0..8].copy_from_slice(&MAGIC.to_le_bytes());
    h[8..16].copy_from_slice(&version.to_le_bytes());
    let mut objects: HashMap<u64, u64> = HashMap::with_capacity(reqs.len() / 4);
    let (mut reads, mut writes, mut deletes) = (0i64, 0i64, 0i64);
    for r in reqs {
        objects.entry(r.id).or_insert(r.size);
        match op_of(r.op) {
            Some(Op::Get) => reads += 1,
            Some(Op::Set) => writes += 1,
            Some(Op::Delete) => deletes += 1,
            None => return Err(invalid(format!("op {} is not libCacheSim's", r.op))),
        }
    }
    let stat = [
        STAT_VERSION,
        reqs.len() as i64,
        objects.len() as i64,
        reqs.iter().map(|r| r.size as i64).sum(),
        objects.values().map(|&s| s as i64).sum(),
        reqs.iter().map(|r| r.time).min().unwrap_or(0) as i64,
        reqs.iter().map(|r| r.time).max().unwrap_or(0) as i64,
        reads,
        writes,
        deletes,
        reqs.iter().map(|r| r.size).min().unwrap_or(0) as i64,
        reqs.iter().map(|r| r.size).max().unwrap_or(0) as i64,
    ];
    for (i, v) in stat.iter().enumerate() {
        h[STAT + 8 * i..STAT + 8 * i + 8].copy_from_slice(&v.to_le_bytes());
    }
    h[END_MAGIC_AT..].copy_from_slice(&MAGIC.to_le_bytes());
    w.write_all(&h)?;
    let mut b = vec![0u8; size];
    for (i, r) in reqs.iter().enumerate() {
        b.fill(0);
        b[0..4].copy_from_slice(&r.time.to_le_bytes());
        b[4..12].copy_from_slice(&r.id.to_le_bytes());
        let op_tenant = u32::from(r.op) | (r.tenant.min(0xff_ffff) << 8);
        let next_at = match version {
            1 | 2 => {
                let s = u32::try_from(r.size).map_err(|_| {
                    invalid(format!(
                        "request {i}: size {} does not fit lcs v{version}'s u32",
                        r.size
                    ))
                })?;
                b[12..16].copy_from_slice(&s.to_le_bytes());
                if version == 2 {
                    b[16..20].copy_from_slice(&op_tenant.to_le_bytes());
                    20
                } else {
                    16
                }
            }
            _ => {
                b[12..20].copy_from_slice(&r.size.to_le_bytes());
                b[20..24].copy_from_slice(&op_tenant.to_le_bytes());
                b[24..28].copy_from_slice(&r.ttl.to_le_bytes());
                28
            }
        };
        b[next_at..next_at + 8].copy_from_slice(&r.next.to_le_bytes());
        w.write_all(&b)?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reqs() -> Vec<LcsReq> {
        (0..50u64)
            .map(|i| LcsReq {
                time: i as u32 * 3,
                id: i % 7,
                size: 100 + i % 7,
                op: [1, 3, 9, 13, 15][i as usize % 5],
                tenant: i as u32 % 3,
                ttl: (i % 4) as u32 * 10,
                next: if i + 7 < 50 { i as i64 + 8 } else { -1 },
            })
            .collect()
    }

    fn read_all(b: &[u8]) -> Result<(u64, Vec<LcsReq>), TraceError> {
        let mut out = Vec::new();
        let v = each_lcs(b, |_, r| {
            out.push(r);
            Ok(())
        })?;
        Ok((v, out))
    }

    #[test]
    fn every_version_round_trips_what_it_holds() {
        let t = reqs();
        for version in 1..=8 {
            let mut b = Vec::new();
            write_lcs(version, &t, &mut b).unwrap();
            assert_eq!(b.len(), HEADER + t.len() * record_size(version).unwrap());
            assert!(is_lcs(&b));
            let (v, got) = read_all(&b).unwrap();
            assert_eq!(v, version);
            let want: Vec<LcsReq> = t
                .iter()
                .map(|r| LcsReq {
                    op: if version == 1 { 0 } else { r.op },
                    tenant: if version == 1 { 0 } else { r.tenant },
                    ttl: if version < 3 { 0 } else { r.ttl },
                    ..*r
                })
                .collect();
            assert_eq!(got, want, "v{version}");
            assert_eq!(u64_at(&b, STAT + 8), 50, "n_req");
            assert_eq!(u64_at(&b, STAT + 16), 7, "n_obj");
        }
    }

    #[test]
    fn bad_input_names_the_offset() {
        let mut good = Vec::new();
        write_lcs(3, &reqs(), &mut good).unwrap();
        let err = |b: &[u8]| read_all(b).unwrap_err().to_string();
        let e = err(&good[..100]);
        assert!(e.contains("lcs header") && e.contains("offset 0"), "{e}");
        let mut b = good.clone();
        b[0] ^= 1;
        assert!(err(&b).contains("start magic"), "{}", err(&b));
        let mut b = good.clone();
        b[8] = 9;
        let e = err(&b);
        assert!(
            e.contains("unknown version 9") && e.contains("offset 8"),
            "{e}"
        );
        let mut b = good.clone();
        b[END_MAGIC_AT] ^= 1;
        assert!(err(&b).contains("offset 8184"), "{}", err(&b));
        let e = err(&good[..HEADER + 36 * 2 + 5]);
        assert!(e.contains("truncated") && e.contains("offset 8264"), "{e}");
        let mut b = good.clone();
        b[HEADER + 36 + 20] = 99;
        let e = err(&b);
        assert!(
            e.contains("unknown op 99") && e.contains("offset 8228"),
            "{e}"
        );
        let mut b = good.clone();
        b[HEADER + 12..HEADER + 20].copy_from_slice(&(-5i64).to_le_bytes());
        assert!(err(&b).contains("negative size -5"), "{}", err(&b));
        assert!(err(&[]).contains("empty"));
    }

    #[test]
    fn size_zero_is_dropped_and_max_next_is_none() {
        let mut t = reqs();
        t[3].size = 0;
        t[4].next = i64::MAX;
        let mut b = Vec::new();
        write_lcs(3, &t, &mut b).unwrap();
        let (_, got) = read_all(&b).unwrap();
        assert_eq!(got.len(), 49);
        assert_eq!(got[3].next, -1);
        assert!(write_lcs(
            1,
            &[LcsReq {
                size: 1 << 32,
                ..t[0]
            }],
            Vec::new()
        )
        .is_err());
        assert!(write_lcs(9, &t, Vec::new()).is_err());
    }
}
