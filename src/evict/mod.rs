//! Sampled eviction: policies are priority functions over the item header.
//!
//! When a class has no free chunk, the engine samples K chunks of that class
//! (`Config::samples`), scores the live ones, and keeps the worst in a
//! per-thread, per-class eviction pool (`Config::evict_pool`, Redis keeps 16)
//! so that good candidates found in earlier rounds are not forgotten. The
//! pool's worst entry is re-validated (same CAS unique, still LIVE, score not
//! improved by a recent access) and unlinked with a CAS of its exact index
//! word. Expired items score highest, so they always go first.
//!
//! Scores are "badness": higher means evict sooner.

use crate::item::{Item, Meta};
use std::fmt;

/// An eviction policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Policy {
    /// Least recently used: badness is the time since the last access (ms).
    #[default]
    Lru,
    /// Least frequently used, with Redis's decaying logarithmic counter.
    Lfu,
    /// First in, first out: insertion order is CAS order.
    Fifo,
    /// Uniformly random among the sample.
    Random,
    /// Hyperbolic caching: evict the lowest accesses / age, age counted in
    /// insertions since the item was stored.
    Hyperbolic,
}

impl Policy {
    /// Every policy, in a stable order.
    pub const ALL: [Policy; 5] = [
        Policy::Lru,
        Policy::Lfu,
        Policy::Fifo,
        Policy::Random,
        Policy::Hyperbolic,
    ];

    /// The policy's name in configuration and reports.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Lru => "lru",
            Policy::Lfu => "lfu",
            Policy::Fifo => "fifo",
            Policy::Random => "random",
            Policy::Hyperbolic => "hyperbolic",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown policy {s:?} (lru, lfu, fifo, random, hyperbolic)"))
    }
}

/// LFU: a new item's counter, so it is not evicted before its second access
/// (Redis's LFU_INIT_VAL).
pub const LFU_INIT: u8 = 5;
/// LFU: the higher, the slower the counter grows (Redis's lfu-log-factor).
const LFU_LOG_FACTOR: u64 = 10;
/// LFU: the counter loses one per this many ms without access (Redis's
/// lfu-decay-time, one minute).
const LFU_DECAY_MS: u64 = 60_000;

/// The frequency counter a new item starts with.
pub fn initial_freq(p: Policy) -> u8 {
    match p {
        Policy::Lfu => LFU_INIT,
        Policy::Hyperbolic => 1,
        _ => 0,
    }
}

fn lfu_decayed(m: Meta, now_ms: u64) -> u8 {
    let idle = (now_ms as u32).wrapping_sub(m.atime) as u64;
    m.freq.saturating_sub((idle / LFU_DECAY_MS).min(255) as u8)
}

/// The new frequency counter after an access.
#[inline]
pub fn bump_freq(p: Policy, m: Meta, now_ms: u64, rnd: u64) -> u8 {
    match p {
        Policy::Lfu => {
            let c = lfu_decayed(m, now_ms);
            if c == u8::MAX {
                return c;
            }
            let base = c.saturating_sub(LFU_INIT) as u64;
            // Increment with probability 1 / (base * factor + 1).
            if rnd % (base * LFU_LOG_FACTOR + 1) == 0 {
                c + 1
            } else {
                c
            }
        }
        Policy::Hyperbolic => m.freq.saturating_add(1),
        _ => m.freq,
    }
}

/// Badness of a live item; higher is evicted sooner. `cas_now` approximates
/// the current insertion count (the CAS high-water mark).
#[inline]
pub fn badness(p: Policy, it: Item, now_ms: u64, now_secs: u32, cas_now: u64, rnd: u64) -> u64 {
    let exp = it.exptime();
    if exp != 0 && now_secs >= exp {
        return u64::MAX;
    }
    let m = it.meta();
    let age_ms = (now_ms as u32).wrapping_sub(m.atime) as u64;
    match p {
        Policy::Lru => age_ms,
        Policy::Lfu => ((255 - lfu_decayed(m, now_ms)) as u64) << 32 | age_ms,
        Policy::Fifo => (u64::MAX - 1).saturating_sub(it.cas()),
        Policy::Random => rnd >> 1,
        Policy::Hyperbolic => {
            let age = cas_now.saturating_sub(it.cas()) as u128;
            (age * 256 / (m.freq as u128 + 1)).min(u64::MAX as u128 - 1) as u64
        }
    }
}

/// A class's worst item's badness, weighed by its chunk size, so that
/// classes of different sizes can be compared when a page moves.
///
/// A page is worth most where it earns the most hits. Under LRU a class
/// keeps an item about as long as its tail age, so a byte of class `c`
/// earns hits at a rate of about `1 / (age × chunk)`; the class with the
/// largest `age × chunk` earns least per byte and gives the page. Comparing
/// bare ages instead treats a 4 KB item like a 100 B one, and hands memory
/// to large items that are worth about forty times fewer hits per byte.
/// FIFO's badness is turned back into an age (insertions since the item's
/// store) first; the other policies' scores already grow with age.
pub fn per_byte(p: Policy, badness: u64, chunk: usize, cas_now: u64) -> u128 {
    if badness == u64::MAX {
        return u128::MAX; // expired: worthless at any size
    }
    let age = match p {
        Policy::Fifo => cas_now.saturating_sub((u64::MAX - 1) - badness),
        _ => badness,
    };
    age as u128 * chunk as u128
}

/// An eviction candidate remembered across sampling rounds.
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    /// Score when sampled.
    pub badness: u64,
    /// The item's chunk.
    pub item: Item,
    /// Its CAS unique when sampled: identifies this incarnation of the chunk.
    pub cas: u64,
    /// Hash of its key.
    pub hash: u64,
}

/// A thread's eviction pool for one class, kept sorted by badness (best
/// victim last).
#[derive(Default)]
pub struct Pool {
    entries: Vec<Candidate>,
}

impl Pool {
    /// Offers a candidate; keeps at most `cap`, dropping the least bad.
    pub fn offer(&mut self, c: Candidate, cap: usize) {
        if self
            .entries
            .iter()
            .any(|e| e.item == c.item && e.cas == c.cas)
        {
            return;
        }
        if self.entries.len() >= cap.max(1) {
            if self.entries[0].badness >= c.badness {
                return;
            }
            self.entries.remove(0);
        }
        let at = self.entries.partition_point(|e| e.badness <= c.badness);
        self.entries.insert(at, c);
    }

    /// Whether a candidate with this score would be kept.
    #[inline]
    pub fn would_take(&self, badness: u64, cap: usize) -> bool {
        self.entries.len() < cap.max(1) || self.entries[0].badness < badness
    }

    /// Takes the worst candidate.
    pub fn pop(&mut self) -> Option<Candidate> {
        self.entries.pop()
    }

    /// The score of the worst remaining candidate.
    pub fn peek_badness(&self) -> Option<u64> {
        self.entries.last().map(|c| c.badness)
    }

    /// Number of candidates held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr::NonNull;

    fn cand(b: u64, id: usize) -> Candidate {
        Candidate {
            badness: b,
            item: Item::from_ptr(NonNull::new((id * 64) as *mut u8).unwrap()),
            cas: id as u64,
            hash: 0,
        }
    }

    #[test]
    fn pool_keeps_the_worst() {
        let mut p = Pool::default();
        for (i, b) in [5, 1, 9, 3, 7].into_iter().enumerate() {
            p.offer(cand(b, i + 1), 3);
        }
        assert_eq!(p.len(), 3);
        assert_eq!(p.pop().unwrap().badness, 9);
        assert_eq!(p.pop().unwrap().badness, 7);
        assert_eq!(p.pop().unwrap().badness, 5);
        assert!(p.pop().is_none());
    }

    #[test]
    fn pool_ignores_duplicates() {
        let mut p = Pool::default();
        p.offer(cand(5, 1), 4);
        p.offer(cand(6, 1), 4);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn policy_names_round_trip() {
        for p in Policy::ALL {
            assert_eq!(p.name().parse::<Policy>().unwrap(), p);
        }
        assert!("lru2".parse::<Policy>().is_err());
    }
}
