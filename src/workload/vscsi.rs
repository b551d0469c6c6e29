//! vscsi, the block-trace format of the MSR and CloudPhysics traces, read
//! as libCacheSim reads it: one request per I/O, its id the I/O's first
//! logical block (512-byte sectors), its size the I/O's length in bytes,
//! its time the timestamp in seconds (the file's are microseconds).
//!
//! Records are little-endian, in one of two layouts; the version sits in
//! the high byte of a `u16 ver` field, and the first two records decide
//! it, as in libCacheSim (version 2 is tried first):
//!
//! - v1 (32 bytes): `u32 sn, u32 len, u32 nSG, u16 cmd, u16 ver, u64 lbn,
//!   u64 ts`;
//! - v2 (40 bytes): `u16 cmd, u16 ver, u32 sn, u32 len, u32 nSG, u64 lbn,
//!   u64 ts, u64 rt`.
//!
//! A SCSI read command is a get, a write a set (every request is a lookup
//! when simulated); I/Os of length 0 are dropped.

use super::error::TraceError;
use super::trace::{each_record, u16_at, u32_at, u64_at, Op};
use std::io::Read;

/// One vscsi I/O as a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Io {
    /// Seconds.
    pub time: u32,
    /// First logical block.
    pub lbn: u64,
    /// Bytes.
    pub len: u32,
    /// Read (get) or write (set).
    pub op: Op,
}

/// The op of a SCSI command byte: the WRITE and WRITE-like commands of
/// 6, 10, 12 and 16 bytes are sets, every other command a get.
fn op_of(cmd: u16) -> Op {
    match cmd & 0xff {
        0x0a | 0x2a | 0xaa | 0x8a | 0x2e | 0x8e | 0xae => Op::Set,
        _ => Op::Get,
    }
}

/// Bytes of a version's record.
fn record_size(version: u8) -> usize {
    if version == 2 {
        40
    } else {
        32
    }
}

/// The version the first bytes of a file show (two records' worth, or
/// fewer for a one-record file), if either.
fn version_of(first: &[u8]) -> Option<u8> {
    let all = |size: usize, ver_at: usize, want: u16| {
        let n = (first.len() / size).min(2);
        n > 0 && (0..n).all(|i| u16_at(first, i * size + ver_at) >> 8 == want)
    };
    if all(40, 2, 2) {
        Some(2)
    } else if all(32, 14, 1) {
        Some(1)
    } else {
        None
    }
}

/// Reads a vscsi stream, calling `f(offset, io)` for each I/O of nonzero
/// length. An unknown version or a truncated record is an error naming its
/// byte offset.
pub fn each_vscsi(
    mut r: impl Read,
    mut f: impl FnMut(u64, Io) -> Result<(), TraceError>,
) -> Result<(), TraceError> {
    // Two v2 records' worth decides the version.
    let mut head = [0u8; 80];
    let mut have = 0;
    while have < head.len() {
        match r.read(&mut head[have..]) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(TraceError(format!("vscsi: at byte offset {have}: {e}"))),
        }
    }
    if have == 0 {
        return Ok(());
    }
    let version = version_of(&head[..have]).ok_or_else(|| {
        TraceError(
            "vscsi: the first records are neither version 1 nor 2 (the high byte of their ver field) at byte offset 0"
                .into(),
        )
    })?;
    let size = record_size(version);
    let r = (&head[..have]).chain(r);
    each_record(r, size, 0, "vscsi", |offset, b| {
        let (cmd, len, lbn, ts) = if version == 1 {
            (u16_at(b, 12), u32_at(b, 4), u64_at(b, 16), u64_at(b, 24))
        } else {
            (u16_at(b, 0), u32_at(b, 8), u64_at(b, 16), u64_at(b, 24))
        };
        if len == 0 {
            return Ok(());
        }
        let io = Io {
            time: u32::try_from(ts / 1_000_000).unwrap_or(u32::MAX),
            lbn,
            len,
            op: op_of(cmd),
        };
        f(offset, io)
    })?;
    Ok(())
}

/// Writes I/Os as vscsi records of `version` (1 or 2), numbered from 0,
/// for tests and conversions.
pub fn write_vscsi(version: u8, ios: &[Io], mut w: impl std::io::Write) -> std::io::Result<()> {
    for (sn, io) in ios.iter().enumerate() {
        let cmd: u16 = if io.op == Op::Set { 0x2a } else { 0x28 };
        let ver = u16::from(version) << 8;
        let ts = u64::from(io.time) * 1_000_000;
        let mut b = vec![0u8; record_size(version)];
        if version == 2 {
            b[0..2].copy_from_slice(&cmd.to_le_bytes());
            b[2..4].copy_from_slice(&ver.to_le_bytes());
            b[4..8].copy_from_slice(&(sn as u32).to_le_bytes());
            b[8..12].copy_from_slice(&io.len.to_le_bytes());
        } else {
            b[0..4].copy_from_slice(&(sn as u32).to_le_bytes());
            b[4..8].copy_from_slice(&io.len.to_le_bytes());
            b[12..14].copy_from_slice(&cmd.to_le_bytes());
            b[14..16].copy_from_slice(&ver.to_le_bytes());
        }
        b[16..24].copy_from_slice(&io.lbn.to_le_bytes());
        b[24..32].copy_from_slice(&ts.to_le_bytes());
        w.write_all(&b)?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ios() -> Vec<Io> {
        (0..9u64)
            .map(|i| Io {
                time: i as u32,
                lbn: 1000 + i % 4,
                len: 512 * (1 + i as u32 % 3),
                op: if i % 2 == 0 { Op::Get } else { Op::Set },
            })
            .collect()
    }

    fn read_all(b: &[u8]) -> Result<Vec<Io>, TraceError> {
        let mut out = Vec::new();
        each_vscsi(b, |_, io| {
            out.push(io);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn both_versions_round_trip() {
        for version in [1, 2] {
            let mut b = Vec::new();
            write_vscsi(version, &ios(), &mut b).unwrap();
            assert_eq!(b.len(), 9 * record_size(version));
            assert_eq!(read_all(&b).unwrap(), ios(), "v{version}");
            // One record alone is read too.
            assert_eq!(read_all(&b[..record_size(version)]).unwrap(), ios()[..1]);
        }
    }

    #[test]
    fn bad_input_names_the_offset() {
        let mut b = Vec::new();
        write_vscsi(1, &ios(), &mut b).unwrap();
        let e = read_all(&b[..32 * 3 + 7]).unwrap_err().to_string();
        assert!(e.contains("truncated") && e.contains("offset 96"), "{e}");
        let e = read_all(&[7u8; 100]).unwrap_err().to_string();
        assert!(e.contains("neither version"), "{e}");
        let mut z = Vec::new();
        write_vscsi(2, &[Io { len: 0, ..ios()[0] }, ios()[1]], &mut z).unwrap();
        assert_eq!(read_all(&z).unwrap(), ios()[1..2], "length 0 is dropped");
    }
}
