//! Sampled LRU, as the live engine (and Redis) runs it: to make room, draw
//! K resident objects at random (with replacement), and evict the least
//! recently used of them; with an eviction pool of N, the K samples are
//! offered to a pool that keeps the N idlest seen so far, and the pool's
//! idlest is evicted.
//!
//! The pool follows `evict::sample::Pool`: a candidate keeps the idle time
//! it was scored at; a popped candidate no longer resident is dropped; one
//! used since it was sampled (now less idle) goes back into the pool if
//! the next candidate is idler, else it is evicted. Time is the request
//! index, so no two accesses tie. Without a pool (N = 0) each eviction
//! takes the idlest of its own K samples: KRR's model (`mrc::krr`).

use super::objects::Slots;
use crate::rng::SplitMix64;

/// One resident object.
#[derive(Clone, Copy)]
struct Obj {
    id: u64,
    size: u64,
    /// Request index of its last access.
    atime: u64,
    /// Request index of its insertion: tells incarnations apart.
    born: u64,
}

/// A pooled candidate.
#[derive(Clone, Copy)]
struct Candidate {
    /// Idle time when scored.
    idle: u64,
    id: u64,
    born: u64,
}

pub(super) struct SampledLru {
    cap: u64,
    samples: usize,
    pool_cap: usize,
    bytes: u64,
    now: u64,
    /// Residents, densely packed so a sample is one index.
    objs: Vec<Obj>,
    /// Object number → index in `objs`.
    at: Slots,
    /// Sorted by idle time, idlest last.
    pool: Vec<Candidate>,
    rng: SplitMix64,
}

impl SampledLru {
    /// Starts loading what a request for `id` reads.
    pub(super) fn prefetch(&self, id: u64) {
        self.at.prefetch(id);
    }

    pub(super) fn new(cap: u64, samples: usize, pool: usize, seed: u64) -> SampledLru {
        SampledLru {
            cap,
            samples: samples.max(1),
            pool_cap: pool,
            bytes: 0,
            now: 0,
            objs: Vec::new(),
            at: Slots::new(),
            pool: Vec::new(),
            rng: SplitMix64::new(seed),
        }
    }

    pub(super) fn access(&mut self, id: u64, size: u64) -> bool {
        self.now += 1;
        if let Some(i) = self.at.get(id) {
            self.objs[i as usize].atime = self.now;
            return true;
        }
        if size > self.cap {
            return false;
        }
        while self.bytes + size > self.cap && !self.objs.is_empty() {
            self.evict();
        }
        self.at.insert(id, self.objs.len() as u32);
        self.objs.push(Obj {
            id,
            size,
            atime: self.now,
            born: self.now,
        });
        self.bytes += size;
        false
    }

    fn sample(&mut self) -> Obj {
        self.objs[self.rng.below(self.objs.len() as u64) as usize]
    }

    fn evict(&mut self) {
        if self.pool_cap == 0 {
            let mut victim = self.sample();
            for _ in 1..self.samples {
                let o = self.sample();
                if o.atime < victim.atime {
                    victim = o;
                }
            }
            self.remove(victim.id);
            return;
        }
        loop {
            for _ in 0..self.samples {
                let o = self.sample();
                self.offer(Candidate {
                    idle: self.now - o.atime,
                    id: o.id,
                    born: o.born,
                });
            }
            while let Some(c) = self.pool.pop() {
                let Some(i) = self.at.get(c.id) else {
                    continue;
                };
                let o = self.objs[i as usize];
                if o.born != c.born {
                    continue;
                }
                let idle = self.now - o.atime;
                if idle < c.idle && self.pool.last().is_some_and(|n| idle < n.idle) {
                    self.offer(Candidate { idle, ..c });
                    continue;
                }
                self.remove(c.id);
                return;
            }
        }
    }

    /// Keeps the `pool_cap` idlest candidates, each object once.
    fn offer(&mut self, c: Candidate) {
        if self.pool.iter().any(|e| e.id == c.id && e.born == c.born) {
            return;
        }
        if self.pool.len() >= self.pool_cap {
            if self.pool[0].idle >= c.idle {
                return;
            }
            self.pool.remove(0);
        }
        let at = self.pool.partition_point(|e| e.idle <= c.idle);
        self.pool.insert(at, c);
    }

    /// Removes an object; returns whether it was resident.
    pub(super) fn remove(&mut self, id: u64) -> bool {
        let Some(i) = self.at.remove(id) else {
            return false;
        };
        let o = self.objs.swap_remove(i as usize);
        self.bytes -= o.size;
        if let Some(moved) = self.objs.get(i as usize) {
            self.at.insert(moved.id, i);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::SampledLru;

    #[test]
    fn one_sample_is_random_and_many_approach_lru() {
        // A loop over 20 objects in a cache of 10: LRU misses every time;
        // random eviction keeps some.
        let run = |k: usize| {
            let mut s = SampledLru::new(10, k, 0, 1);
            (0..2000u64).filter(|i| !s.access(i % 20, 1)).count()
        };
        assert!(run(1) < 1950, "random eviction hits a loop: {}", run(1));
        // 64 samples of 10 miss the LRU one with probability 0.9^64.
        assert!(run(64) > 1980, "{}", run(64));
    }

    #[test]
    fn a_hot_object_survives_with_or_without_a_pool() {
        // Object 0 on every other request, a scan of 100 between: a
        // pooled candidate used since it was scored goes back, not out.
        for pool in [0, 16] {
            let mut s = SampledLru::new(10, 5, pool, 2);
            let hot_misses = (0..20_000u64)
                .filter(|i| {
                    let id = if i % 2 == 0 { 0 } else { 1 + (i / 2) % 100 };
                    !s.access(id, 1) && id == 0
                })
                .count();
            assert!(hot_misses <= 2, "pool {pool}: {hot_misses}");
        }
    }

    #[test]
    fn a_seed_replays() {
        let run = |seed: u64| {
            let mut s = SampledLru::new(50, 5, 16, seed);
            (0..5000u64)
                .map(|i| s.access((i * 7919) % 173, 1 + i % 3))
                .collect::<Vec<bool>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }
}
