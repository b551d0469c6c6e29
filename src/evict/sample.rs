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

use super::Policy;
use crate::raw::item::{Held, Meta};
use crate::raw::reclaim::Guard;
use crate::raw::slab::Chunk;
use crate::raw::store::Store;
use crate::rng::SplitMix64;
use crate::ttl::now_secs;

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
        Policy::S3Fifo => m.freq.saturating_add(1).min(super::queue::FREQ_MAX),
        Policy::Sieve | Policy::Clock => 1,
        Policy::Lru | Policy::Fifo | Policy::Random => m.freq,
    }
}

/// Badness of a live item; higher is evicted sooner. `cas_now` approximates
/// the current insertion count (the CAS high-water mark); an item's age in
/// insertions is counted modulo 2^40, as its CAS unique is (`item::CAS_BITS`).
#[inline]
pub fn badness(p: Policy, it: Held<'_>, now_ms: u64, now_secs: u32, cas_now: u64, rnd: u64) -> u64 {
    let exp = it.exptime();
    if exp != 0 && now_secs >= exp {
        return u64::MAX;
    }
    let m = it.meta();
    let age_ms = (now_ms as u32).wrapping_sub(m.atime) as u64;
    match p {
        Policy::Lru => age_ms,
        Policy::Lfu => ((255 - lfu_decayed(m, now_ms)) as u64) << 32 | age_ms,
        // Older first: the age in stores, modulo 2^40 as the uniques are,
        // so the order survives their wrap. (A pooled candidate keeps the
        // age it was scored at, as LRU's keeps its idle time.)
        Policy::Fifo => stores_since(cas_now, it.cas()),
        Policy::Random => rnd >> 1,
        Policy::Hyperbolic => {
            let age = stores_since(cas_now, it.cas()) as u128;
            (age * 256 / (m.freq as u128 + 1)).min(u64::MAX as u128 - 1) as u64
        }
        // The queue policies choose among a full bucket's items as their
        // queues would: S3-FIFO's small queue before main, lower
        // frequencies first; SIEVE and CLOCK unvisited first; then the
        // least recently used. (Ordering by insertion instead, the CAS
        // unique, missed 0.5% more on zipf-0.99 for SIEVE and CLOCK.)
        Policy::S3Fifo => {
            let small = it.queue_bits() & crate::raw::item::MAIN == 0;
            let cold = super::queue::FREQ_MAX.saturating_sub(m.freq) as u64;
            (small as u64) << 62 | cold << 60 | age_ms
        }
        Policy::Sieve | Policy::Clock => ((m.freq == 0) as u64) << 62 | age_ms,
    }
}

/// Stores since the one that gave CAS unique `cas`, modulo 2^40.
#[inline]
fn stores_since(cas_now: u64, cas: u64) -> u64 {
    cas_now.wrapping_sub(cas) & crate::raw::item::CAS_MAX
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
/// Every policy's score grows with age (FIFO's is the age in stores).
pub fn per_byte(badness: u64, chunk: usize) -> u128 {
    if badness == u64::MAX {
        return u128::MAX; // expired: worthless at any size
    }
    badness as u128 * chunk as u128
}

/// An eviction candidate remembered across sampling rounds.
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    /// Score when sampled.
    pub badness: u64,
    /// The item's chunk (re-read through `Engine::live` before use).
    pub chunk: Chunk,
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
            .any(|e| e.chunk == c.chunk && e.cas == c.cas)
        {
            return;
        }
        let at = self.entries.partition_point(|e| e.badness <= c.badness);
        if self.entries.len() >= cap.max(1) {
            if self.entries[0].badness >= c.badness {
                return; // no worse than the least bad kept (so `at` > 0)
            }
            // Drop the least bad and slide the rest down into its place:
            // one move of `at - 1` entries, not a removal and an insert.
            self.entries[..at].rotate_left(1);
            self.entries[at - 1] = c;
            return;
        }
        self.entries.insert(at, c);
    }

    /// Whether a candidate with this score would be kept.
    #[inline]
    pub fn would_take(&self, badness: u64, cap: usize) -> bool {
        self.entries.len() < cap.max(1) || self.entries[0].badness < badness
    }

    /// Forgets every candidate.
    pub fn clear(&mut self) {
        self.entries.clear();
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
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Samples picked and prefetched together (K above this goes in batches).
const SAMPLE_BATCH: usize = 8;

/// The sampled policies' parameters, and the sampling itself: K samples a
/// round into a per-thread pool, and the pool's worst still-valid
/// candidate as the victim. The engine unlinks it.
pub(crate) struct Sampler {
    /// The engine's policy.
    pub(crate) policy: Policy,
    /// Chunks sampled per round (K).
    pub(crate) samples: usize,
    /// Eviction-pool size per thread and class; 0 keeps one candidate.
    pub(crate) pool_cap: usize,
}

impl Sampler {
    /// The policy samples are scored by: the engine's, or for the queue
    /// policies (which sample only to compare classes when a page moves)
    /// LRU's age.
    #[inline]
    pub(crate) fn rank_policy(&self) -> Policy {
        if self.policy.is_queue() {
            Policy::Lru
        } else {
            self.policy
        }
    }

    /// Samples K chunks of `class` and offers the live ones to `pool`, the
    /// thread's pool for the class. `cas_now` is the CAS high-water mark.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sample_into_pool(
        &self,
        st: &Store,
        pool: &mut Pool,
        rng: &mut SplitMix64,
        g: &Guard<'_>,
        class: u8,
        now_ms: u64,
        cas_now: u64,
    ) {
        let now = now_secs(now_ms);
        let cap = if self.pool_cap == 0 {
            pool.clear();
            1
        } else {
            self.pool_cap
        };
        // Pick the samples first and prefetch their headers, so their cache
        // misses overlap instead of queueing; in batches, so that the
        // default five do not initialise an array for the largest K.
        let mut left = self.samples;
        while left > 0 {
            let n = left.min(SAMPLE_BATCH);
            left -= n;
            let mut picks = [None; SAMPLE_BATCH];
            for p in picks.iter_mut().take(n) {
                *p = st.slab.sample(class, rng.next_u64());
                if let Some(ch) = *p {
                    crate::prefetch(ch.ptr().as_ptr());
                }
            }
            for &ch in picks.iter().take(n).flatten() {
                let Some(it) = st.live(ch, g) else {
                    continue;
                };
                // Score from the header first; read and hash the key only
                // for a candidate the pool keeps.
                let bad = badness(self.rank_policy(), it, now_ms, now, cas_now, rng.next_u64());
                if !pool.would_take(bad, cap) {
                    continue;
                }
                let c = Candidate {
                    badness: bad,
                    chunk: ch,
                    cas: it.cas(),
                    hash: st.hash(it.key()),
                };
                pool.offer(c, cap);
            }
        }
    }

    /// The pool's worst candidate that is still the same live item, held
    /// under `g`; one whose score improved since it was sampled goes back to
    /// the pool.
    #[inline]
    pub(crate) fn pop_victim<'g>(
        &self,
        st: &Store,
        pool: &mut Pool,
        g: &'g Guard<'_>,
        now_ms: u64,
        cas_now: u64,
    ) -> Option<(Candidate, Held<'g>)> {
        let now = now_secs(now_ms);
        while let Some(mut c) = pool.pop() {
            // Re-read the candidate through the slab: its page may have left
            // the class, and its chunk been reused, since it was sampled.
            let Some(it) = st.live(c.chunk, g) else {
                continue;
            };
            if it.cas() != c.cas {
                continue;
            }
            if self.policy != Policy::Random {
                let b = badness(self.rank_policy(), it, now_ms, now, cas_now, 0);
                if b < c.badness && pool.peek_badness().is_some_and(|next| b < next) {
                    c.badness = b;
                    pool.offer(c, self.pool_cap.max(1));
                    continue;
                }
            }
            return Some((c, it));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(b: u64, id: usize) -> Candidate {
        Candidate {
            badness: b,
            chunk: Chunk::dangling(id),
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

    /// Random offers and pops against a plain model: the pool keeps the
    /// `cap` worst distinct candidates offered, and pops them worst first.
    #[test]
    fn pool_matches_a_model() {
        let mut rng = SplitMix64::new(7);
        for cap in [1, 2, 5, 16] {
            let mut p = Pool::default();
            let mut model: Vec<(u64, usize)> = Vec::new(); // (badness, id)
            for _ in 0..20_000 {
                let r = rng.next_u64();
                if r % 3 == 0 {
                    let want = model.iter().map(|m| m.0).max();
                    let got = p.pop().map(|c| c.badness);
                    assert_eq!(got, want, "cap {cap}");
                    if let Some(b) = got {
                        let i = model.iter().position(|m| m.0 == b).unwrap();
                        model.swap_remove(i);
                    }
                } else {
                    // One score per id, distinct across ids, so that which
                    // of two equal candidates goes cannot make the two
                    // disagree later.
                    let id = ((r >> 32) % 40) as usize + 1;
                    let b = (id as u64 * 17) % 41;
                    p.offer(cand(b, id), cap);
                    if !model.iter().any(|m| m.1 == id) {
                        if model.len() < cap {
                            model.push((b, id));
                        } else {
                            let (i, min) = model
                                .iter()
                                .enumerate()
                                .min_by_key(|(_, m)| m.0)
                                .map(|(i, m)| (i, m.0))
                                .unwrap();
                            if min < b {
                                model[i] = (b, id);
                            }
                        }
                    }
                }
                let mut a: Vec<u64> = p.entries.iter().map(|c| c.badness).collect();
                let mut m: Vec<u64> = model.iter().map(|m| m.0).collect();
                a.sort_unstable();
                m.sort_unstable();
                assert_eq!(a, m, "cap {cap}");
                assert_eq!(p.peek_badness(), m.last().copied());
            }
        }
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
