//! W-TinyLFU (Einziger, Friedman and Manes, 2017), as the libcachesim 0.3.5
//! package runs it with its defaults: a window LRU of 1% in front of a
//! two-segment SLRU, with admission to the SLRU by a frequency sketch.

use super::segmented::Slru;
use std::collections::VecDeque;

/// XXH64 (Collet) of one little-endian u64, the hash the package's sketch
/// uses on object ids.
fn xxh64_u64(v: u64, seed: u64) -> u64 {
    const P1: u64 = 0x9E37_79B1_85EB_CA87;
    const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    const P3: u64 = 0x1656_67B1_9E37_79F9;
    const P4: u64 = 0x85EB_CA77_C2B2_AE63;
    const P5: u64 = 0x27D4_EB2F_1656_67C5;
    let mut h = seed.wrapping_add(P5).wrapping_add(8);
    let k = v.wrapping_mul(P2).rotate_left(31).wrapping_mul(P1);
    h ^= k;
    h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

/// Counters a sketch holds in a flat array; beyond this (large caches in
/// bytes mode, where the package allocates up to 2^31 counters) only the
/// touched ones are kept, in a map: at most ten per distinct object.
const DENSE_COUNTERS: usize = 1 << 24;

/// The package's "minimal increment" counting Bloom filter: one array of n
/// 32-bit counters and ten positions per id, from two XXH64 hashes
/// (double hashing, mod 2^32 then mod n). Its estimate is the least of the
/// ten; an add raises all ten (not only the least, despite the name), a
/// position met twice twice.
struct Sketch {
    n: u32,
    /// ⌈2^64 / n⌉ (wrapped: 0 for n = 1), Lemire's multiplier for `% n`.
    m: u64,
    dense: Vec<u32>,
    sparse: std::collections::HashMap<u32, u32, foldhash::fast::FixedState>,
}

/// Positions per id: ⌈ln 2 · bits per entry⌉ for a 0.1% error.
const HASHES: u32 = 10;

/// An id's counter positions.
type Positions = [u32; HASHES as usize];

impl Sketch {
    fn new(entries: u64) -> Sketch {
        // Bits per entry for a 0.1% false-positive rate: -ln(0.001)/ln(2)^2.
        let bpe = -(0.001f64.ln()) / 0.480453013918201;
        let mut n = (bpe * entries as f64).ceil().min(i32::MAX as f64) as u32;
        if n < HASHES {
            n = 2 * HASHES;
        }
        Sketch::sized(n)
    }

    /// A sketch of `n` counters.
    fn sized(n: u32) -> Sketch {
        let dense = if (n as usize) <= DENSE_COUNTERS {
            super::objects::written(n as usize, 0)
        } else {
            Vec::new()
        };
        Sketch {
            n,
            // (n = 1 wraps m to 0, which gives 0: still x % 1.)
            m: (u64::MAX / u64::from(n)).wrapping_add(1),
            dense,
            sparse: std::collections::HashMap::with_hasher(foldhash::fast::FixedState::with_seed(
                1,
            )),
        }
    }

    /// The two hashes of a trace id that make its positions.
    fn hashes(id: u64) -> (u32, u32) {
        (
            xxh64_u64(id, 0x1234_5678) as u32,
            xxh64_u64(id, 0x1234_4321) as u32,
        )
    }

    /// The ten counter positions of an id, from its [`Sketch::hashes`].
    /// `x % n` by Lemire's fast modulus (exact for 32-bit `x` and `n`): a
    /// multiply, not a divide.
    fn positions(&self, (a, b): (u32, u32)) -> Positions {
        let m = self.m;
        let mut out = [0u32; HASHES as usize];
        for (i, p) in out.iter_mut().enumerate() {
            let x = a.wrapping_add((i as u32).wrapping_mul(b));
            let low = m.wrapping_mul(u64::from(x));
            *p = ((u128::from(low) * u128::from(self.n)) >> 64) as u32;
        }
        out
    }

    /// Starts loading the counters at `ps`, for an estimate or add soon.
    fn prefetch(&self, ps: &Positions) {
        if !self.dense.is_empty() {
            for &p in ps {
                crate::prefetch((&self.dense[p as usize] as *const u32).cast());
            }
        }
    }

    fn get(&self, p: u32) -> u32 {
        if self.dense.is_empty() {
            self.sparse.get(&p).copied().unwrap_or(0)
        } else {
            self.dense[p as usize]
        }
    }

    fn least(&self, ps: &Positions) -> u32 {
        if self.dense.is_empty() {
            return ps.iter().map(|&p| self.get(p)).min().unwrap_or(0);
        }
        let d = &self.dense[..];
        ps.iter().map(|&p| d[p as usize]).min().unwrap_or(0)
    }

    /// Adds an id, at its positions.
    fn add(&mut self, ps: &Positions) {
        if self.least(ps) == u32::MAX {
            return;
        }
        if self.dense.is_empty() {
            for &p in ps {
                *self.sparse.entry(p).or_insert(0) += 1;
            }
        } else {
            for &p in ps {
                self.dense[p as usize] += 1;
            }
        }
    }

    /// Aging: every counter halves.
    fn halve(&mut self) {
        self.dense.iter_mut().for_each(|c| *c >>= 1);
        self.sparse.retain(|_, c| {
            *c >>= 1;
            *c > 0
        });
    }
}

/// W-TinyLFU with the package's rules:
///
/// - window W = ⌊0.01·C⌋ (by default), main M = C − W, an SLRU of two
///   segments, ⌊M/5⌋ and ⌊4M/5⌋;
/// - an object larger than W or than main's lower segment is never
///   inserted (so below C = 100 nothing is), and the package aborts below
///   C = 5;
/// - a window hit moves it to the window's head; a main hit is SLRU's, and
///   adds the id to the sketch; every 32·M main hits the sketch halves;
/// - a miss evicts while the cache is over, then inserts at the window's
///   head and adds the id to the sketch. The window has no bound of its own
///   beyond the whole cache;
/// - one eviction: with an empty window, main evicts. Otherwise the
///   window's tail v moves into main while main has room for it (and the
///   eviction goes on); else v is compared with main's victim u: if v's
///   estimate is strictly greater, u is evicted and v moves to main, else v
///   is dropped, and the eviction ends. Each v considered is added to the
///   sketch.
pub(super) struct WTinyLfu {
    cap: u64,
    window_cap: u64,
    /// The main SLRU; queue [`WINDOW`] of its `MultiList` is the window,
    /// so one lookup finds an object in either. An entry's stamp holds
    /// its trace id's [`Sketch::hashes`] (the sketch counts trace ids, as
    /// the package's does; the simulator sees object numbers).
    main: Slru,
    sketch: Sketch,
    main_hits: u64,
    /// What [`WTinyLfu::prefetch`] computed for the requests to come, in
    /// request order: (trace id, its hashes, its positions). A request
    /// takes the front when it is its own id's, else computes them.
    ahead: VecDeque<(u64, (u32, u32), Positions)>,
}

/// The most prefetched requests `WTinyLfu::ahead` keeps (a bound; the run
/// loop prefetches fewer ahead).
const AHEAD_KEPT: usize = 64;

/// The window's queue in `WTinyLfu::main`.
const WINDOW: usize = 0;

fn pack((a, b): (u32, u32)) -> u64 {
    u64::from(a) << 32 | u64::from(b)
}

fn unpack(stamp: u64) -> (u32, u32) {
    ((stamp >> 32) as u32, stamp as u32)
}

impl WTinyLfu {
    pub(super) fn new(cap: u64, window: f64) -> WTinyLfu {
        let window_cap = (cap as f64 * window) as u64;
        let m = cap - window_cap.min(cap);
        let segs = vec![(m as f64 / 5.0) as u64, (m as f64 * 4.0 / 5.0) as u64];
        WTinyLfu {
            cap,
            window_cap,
            main: Slru::with_segments(m, segs, WINDOW + 1),
            sketch: Sketch::new(m),
            main_hits: 0,
            ahead: VecDeque::new(),
        }
    }

    fn window_bytes(&self) -> u64 {
        self.main.segs.bytes(WINDOW)
    }

    fn evict(&mut self) {
        loop {
            let Some(t) = self.main.segs.tail(WINDOW) else {
                self.main.evict();
                return;
            };
            let v = *self.main.segs.peek(t);
            let pv = self.sketch.positions(unpack(v.stamp));
            if self.main.used() + v.size <= self.main.cap() {
                self.main.insert_node(t);
                self.sketch.add(&pv);
                continue;
            }
            let beats = match self.main.victim() {
                Some(u) => {
                    let pu = self.sketch.positions(unpack(self.main.segs.peek(u).stamp));
                    self.sketch.least(&pv) > self.sketch.least(&pu)
                }
                None => false,
            };
            if beats {
                self.main.evict();
                self.main.insert_node(t);
            } else {
                self.main.segs.remove(t);
            }
            self.sketch.add(&pv);
            return;
        }
    }

    /// Removes an object (an expiry; the sketch keeps its counts); whether
    /// it was here.
    pub(super) fn remove(&mut self, id: u64) -> bool {
        self.main.remove(id)
    }

    /// A request for `id` (trace id `trace_id`) comes soon: start loading
    /// what it reads.
    pub(super) fn prefetch(&mut self, id: u64, trace_id: u64) {
        self.main.segs.prefetch(id);
        let h = Sketch::hashes(trace_id);
        let ps = self.sketch.positions(h);
        self.sketch.prefetch(&ps);
        if self.ahead.len() == AHEAD_KEPT {
            self.ahead.pop_front();
        }
        self.ahead.push_back((trace_id, h, ps));
    }

    /// `trace_id`'s hashes and positions: from the prefetch, or computed.
    fn hashed(&mut self, trace_id: u64) -> ((u32, u32), Positions) {
        match self.ahead.front() {
            Some(&(t, h, ps)) if t == trace_id => {
                self.ahead.pop_front();
                (h, ps)
            }
            _ => {
                let h = Sketch::hashes(trace_id);
                (h, self.sketch.positions(h))
            }
        }
    }

    /// A request for object number `id`, whose trace id is `trace_id`.
    pub(super) fn access(&mut self, id: u64, trace_id: u64, size: u64) -> bool {
        let (h, ps) = self.hashed(trace_id);
        if let Some(n) = self.main.segs.get(id) {
            if self.main.segs.peek(n).queue as usize == WINDOW {
                self.main.segs.move_to_head(n, WINDOW);
                return true;
            }
            self.main.hit_node(n);
            self.sketch.add(&ps);
            self.main_hits += 1;
            if self.main_hits >= 32 * self.main.cap() {
                self.main_hits = 0;
                self.sketch.halve();
            }
            return true;
        }
        if size > self.cap || size > self.window_cap || !self.main.admits(size) {
            return false;
        }
        while self.window_bytes() + self.main.used() + size > self.cap {
            let before = self.window_bytes() + self.main.used();
            self.evict();
            if self.window_bytes() + self.main.used() == before {
                break;
            }
        }
        self.main.segs.push_head(WINDOW, id, size, 0, pack(h));
        self.sketch.add(&ps);
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fast_modulus_is_the_modulus() {
        let mut r = crate::rng::SplitMix64::new(5);
        for n in [
            1u32,
            2,
            3,
            7,
            20,
            1000,
            65_536,
            1 << 31,
            u32::MAX - 1,
            u32::MAX,
        ] {
            let s = super::Sketch::sized(n);
            for _ in 0..1000 {
                let id = r.next_u64();
                let a = super::xxh64_u64(id, 0x1234_5678) as u32;
                let b = super::xxh64_u64(id, 0x1234_4321) as u32;
                let want: Vec<u32> = (0..super::HASHES)
                    .map(|i| a.wrapping_add(i.wrapping_mul(b)) % n)
                    .collect();
                assert_eq!(s.positions((a, b)).to_vec(), want, "n {n}");
                assert_eq!(super::Sketch::hashes(id), (a, b));
            }
        }
    }

    use super::*;

    #[test]
    fn xxh64_known_values() {
        // XXH64 of eight zero bytes, seed 0; and two ids under the sketch's
        // seeds, as an independent model that matches the package gives.
        assert_eq!(xxh64_u64(0, 0), 0x34C9_6ACD_CADB_1BBB);
        assert_eq!(xxh64_u64(1, 0x1234_5678), 0x071B_9484_A237_4097);
        assert_eq!(
            xxh64_u64(0xDEAD_BEEF_CAFE_F00D, 0x1234_4321),
            0xBCFE_3A3D_92F5_A695
        );
    }
}
