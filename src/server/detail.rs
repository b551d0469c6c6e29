//! `stats detail`: per-prefix counts of gets, hits, sets and deletes, as
//! memcached keeps them. A key's prefix is what comes before its first
//! `:`; keys without one are not counted. Off until `stats detail on`.

use crate::protocol::reply;
use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// memcached's default prefix delimiter.
const DELIMITER: u8 = b':';
/// Distinct prefixes kept at most; a new prefix past this is not counted,
/// so a client cannot grow the table without bound (memcached's has no
/// limit).
const MAX_PREFIXES: usize = 65_536;

/// What a command did to its key.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    /// A lookup (get, gets, gat, gats, touch), and whether it hit.
    Get(bool),
    /// A storage command, whatever its outcome.
    Set,
    /// A delete, whatever its outcome.
    Delete,
}

/// get, hit, set, del.
type Counts = [u64; 4];

/// The per-prefix table and its switch.
#[derive(Default)]
pub(crate) struct Detail {
    on: AtomicBool,
    prefixes: Mutex<HashMap<Vec<u8>, Counts>>,
}

impl Detail {
    /// Whether commands are being counted (one relaxed load per command
    /// when they are not).
    #[inline]
    pub(crate) fn on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// `stats detail on` / `off`.
    pub(crate) fn set_on(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }

    /// Counts `op` on `key`, if detail is on and the key has a prefix.
    pub(crate) fn record(&self, key: &[u8], op: Op) {
        if !self.on() {
            return;
        }
        let Some(end) = key.iter().position(|&b| b == DELIMITER) else {
            return;
        };
        let prefix = &key[..end];
        let mut t = self.prefixes.lock().unwrap_or_else(|p| p.into_inner());
        if !t.contains_key(prefix) && t.len() >= MAX_PREFIXES {
            return;
        }
        let counts = t.entry(prefix.to_vec()).or_default();
        match op {
            Op::Get(hit) => {
                counts[0] += 1;
                counts[1] += u64::from(hit);
            }
            Op::Set => counts[2] += 1,
            Op::Delete => counts[3] += 1,
        }
    }

    /// `stats detail dump`: a line per prefix, in byte order, then `END`.
    pub(crate) fn dump(&self, out: &mut Vec<u8>) {
        let t = self.prefixes.lock().unwrap_or_else(|p| p.into_inner());
        let mut rows: Vec<(&Vec<u8>, &Counts)> = t.iter().collect();
        rows.sort_unstable();
        for (p, [get, hit, set, del]) in rows {
            out.extend_from_slice(b"PREFIX ");
            out.extend_from_slice(p);
            let _ = write!(out, " get {get} hit {hit} set {set} del {del}\r\n");
        }
        out.extend_from_slice(reply::END);
    }

    /// `stats reset` forgets every prefix.
    pub(crate) fn clear(&self) {
        self.prefixes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_prefix_only_when_on() {
        let d = Detail::default();
        d.record(b"foo:1", Op::Set);
        d.set_on(true);
        d.record(b"foo:1", Op::Set);
        d.record(b"foo:2", Op::Get(true));
        d.record(b"foo:3", Op::Get(false));
        d.record(b"bar:x:y", Op::Delete);
        d.record(b"nodelimiter", Op::Set);
        let mut out = Vec::new();
        d.dump(&mut out);
        assert_eq!(
            out,
            b"PREFIX bar get 0 hit 0 set 0 del 1\r\nPREFIX foo get 2 hit 1 set 1 del 0\r\nEND\r\n"
        );
        d.clear();
        out.clear();
        d.dump(&mut out);
        assert_eq!(out, b"END\r\n");
    }

    #[test]
    fn the_table_is_bounded() {
        let d = Detail::default();
        d.set_on(true);
        for i in 0..MAX_PREFIXES + 10 {
            d.record(format!("p{i}:k").as_bytes(), Op::Set);
        }
        d.record(b"p0:k", Op::Set);
        let t = d.prefixes.lock().unwrap();
        assert_eq!(t.len(), MAX_PREFIXES);
        assert_eq!(t.get(&b"p0"[..]), Some(&[0, 0, 2, 0]));
    }
}
