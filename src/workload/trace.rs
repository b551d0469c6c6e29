//! Trace readers. For now: libCacheSim's `oracleGeneral` binary format.
//!
//! `oracleGeneral` is a sequence of packed 24-byte little-endian records with
//! no header: `u32 clock_time, u64 obj_id, u32 obj_size, i64
//! next_access_vtime`. Requests of size 0 are dropped, as libCacheSim does.

use crate::policy::Req;
use std::fmt;
use std::path::Path;

const RECORD: usize = 24;

/// A trace that cannot be read, with where.
#[derive(Debug)]
pub struct TraceError(pub String);

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TraceError {}

/// Parses an `oracleGeneral` trace held in memory.
pub fn parse_oracle_general(bytes: &[u8]) -> Result<Vec<Req>, TraceError> {
    if bytes.len() % RECORD != 0 {
        let at = bytes.len() / RECORD * RECORD;
        return Err(TraceError(format!(
            "oracleGeneral: truncated record at byte offset {at} ({} of {RECORD} bytes)",
            bytes.len() - at
        )));
    }
    let mut out = Vec::with_capacity(bytes.len() / RECORD);
    for (i, r) in bytes.chunks_exact(RECORD).enumerate() {
        let id = u64::from_le_bytes(r[4..12].try_into().expect("8 bytes"));
        let size = u32::from_le_bytes(r[12..16].try_into().expect("4 bytes")) as u64;
        let next = i64::from_le_bytes(r[16..24].try_into().expect("8 bytes"));
        if next < -1 {
            return Err(TraceError(format!(
                "oracleGeneral: bad next_access_vtime {next} in the record at byte offset {}",
                i * RECORD
            )));
        }
        if size == 0 {
            continue;
        }
        out.push(Req { id, size, next });
    }
    Ok(out)
}

/// Reads an `oracleGeneral` trace file.
pub fn read_oracle_general(path: &Path) -> Result<Vec<Req>, TraceError> {
    let bytes = std::fs::read(path).map_err(|e| TraceError(format!("{}: {e}", path.display())))?;
    parse_oracle_general(&bytes).map_err(|e| TraceError(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: u64, size: u32, next: i64) -> Vec<u8> {
        let mut v = 7u32.to_le_bytes().to_vec();
        v.extend_from_slice(&id.to_le_bytes());
        v.extend_from_slice(&size.to_le_bytes());
        v.extend_from_slice(&next.to_le_bytes());
        v
    }

    #[test]
    fn parses_and_drops_size_zero() {
        let mut b = rec(1, 10, 3);
        b.extend(rec(2, 0, -1));
        b.extend(rec(1, 10, -1));
        let t = parse_oracle_general(&b).unwrap();
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
    fn truncated_and_corrupt_input_is_an_error_with_the_offset() {
        let mut b = rec(1, 10, -1);
        b.extend_from_slice(&[1, 2, 3]);
        let e = parse_oracle_general(&b).unwrap_err().to_string();
        assert!(e.contains("byte offset 24"), "{e}");
        let mut b = rec(1, 10, -1);
        b.extend(rec(2, 10, -7));
        let e = parse_oracle_general(&b).unwrap_err().to_string();
        assert!(e.contains("byte offset 24"), "{e}");
    }
}
