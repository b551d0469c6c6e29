//! Miss-ratio curves in one pass over a trace.
//!
//! - [`exact_lru`]: LRU's whole curve from stack distances (Mattson et al.,
//!   1970). LRU is a stack algorithm: a request hits in every cache at least
//!   as large as its *stack distance*, the total size of the distinct
//!   objects touched since the object's last request, itself included. A
//!   Fenwick tree over request positions gives each distance in O(log n).
//! - [`shards`]: the same on a spatially hashed sample of the objects
//!   (SHARDS, Waldspurger et al., FAST '15), at a fixed rate or with at most
//!   a fixed number of tracked objects (bounded memory).
//! - [`miniature`]: any policy's miss ratio from its exact simulator run on
//!   such a sample at a scaled-down size (Waldspurger et al., ATC '17).
//!
//! In objects mode the exact curve equals [`crate::policy::simulate`]'s LRU
//! at every size. In bytes mode it does so from the largest object's size
//! up ([`Curve::valid_from`]), provided each object keeps one size: below
//! that, an object larger than the cache is skipped rather than stacked
//! (LRU with sizes is not a stack algorithm there), and libCacheSim keeps
//! an object's stored size on a hit, so a size that changes between
//! requests is not the one stacked ([`Curve::resized`] counts such
//! objects).

#[cfg(test)]
use crate::policy::simulate;
use crate::policy::{simulate_with, Counts, Exact, Params, Req, Unit};
use crate::rng::mix64;
use crate::workload::trace::compute_next;
use std::collections::{BinaryHeap, HashMap};

type Map<V> = HashMap<u64, V, foldhash::fast::FixedState>;

fn map<V>() -> Map<V> {
    HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0x5eed))
}

/// The modulus of spatial sampling: an object is sampled at rate R when the
/// top 24 bits of its hashed id are below R·2^24 (SHARDS's P and T).
const SAMPLE_MODULUS: u64 = 1 << 24;

/// The sampling hash of an id under sample `seed`, in
/// `[0, SAMPLE_MODULUS)`. Each seed draws a different spatial sample;
/// seed 0 hashes the id alone.
#[inline]
fn sample_hash(id: u64, seed: u64) -> u64 {
    mix64(id.wrapping_add(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))) >> 40
}

/// The threshold for `rate`, at least 1 (some object is always sampled).
fn threshold(rate: f64) -> u64 {
    ((rate * SAMPLE_MODULUS as f64).round() as u64).clamp(1, SAMPLE_MODULUS)
}

/// A miss-ratio curve: for each stack distance, the weight of requests at
/// that distance, in requests and in bytes; a request misses at every size
/// below its distance. Exact curves weigh each request 1.
#[derive(Clone, Debug)]
pub struct Curve {
    /// What sizes count.
    pub unit: Unit,
    /// Requests in the trace.
    pub requests: u64,
    /// The sampling rate (1 for the exact curve; for fixed-size SHARDS, the
    /// rate it ended at).
    pub rate: f64,
    /// The smallest cache size the curve is exact (or estimates) from: 1 in
    /// objects mode, the largest object in bytes mode.
    pub valid_from: u64,
    /// Objects whose size changed between requests (bytes mode stacks each
    /// request's size; libCacheSim keeps the stored one).
    pub resized: u64,
    /// Distinct distances, ascending.
    dists: Vec<u64>,
    /// `tail[i]`: (requests, bytes) weight at distances ≥ `dists[i]`; one
    /// more entry, zero, at the end.
    tail: Vec<(f64, f64)>,
    /// Weight that misses at every size (first requests).
    cold: (f64, f64),
    /// Weight of every request.
    total: (f64, f64),
}

impl Curve {
    /// From (distance, requests, bytes) triples in any order.
    fn new(unit: Unit, requests: u64, mut hist: Vec<(u64, f64, f64)>) -> Curve {
        hist.sort_unstable_by_key(|h| h.0);
        let mut dists: Vec<u64> = Vec::new();
        let mut w: Vec<(f64, f64)> = Vec::new();
        for (d, a, b) in hist {
            if dists.last() == Some(&d) {
                let last = w.last_mut().expect("one per distance");
                last.0 += a;
                last.1 += b;
            } else {
                dists.push(d);
                w.push((a, b));
            }
        }
        Curve::from_steps(unit, requests, dists, w)
    }

    /// From a dense histogram: `hist[d]` is the weight at distance `d`.
    fn from_dense(unit: Unit, requests: u64, hist: Vec<(f64, f64)>) -> Curve {
        let (dists, w): (Vec<u64>, Vec<(f64, f64)>) = hist
            .into_iter()
            .enumerate()
            .filter(|e| e.1 .0 > 0.0)
            .map(|(d, w)| (d as u64, w))
            .unzip();
        Curve::from_steps(unit, requests, dists, w)
    }

    /// From distinct ascending distances and their weights.
    fn from_steps(unit: Unit, requests: u64, dists: Vec<u64>, w: Vec<(f64, f64)>) -> Curve {
        let mut tail = vec![(0.0, 0.0); w.len() + 1];
        for i in (0..w.len()).rev() {
            tail[i] = (tail[i + 1].0 + w[i].0, tail[i + 1].1 + w[i].1);
        }
        Curve {
            unit,
            requests,
            rate: 1.0,
            valid_from: 1,
            resized: 0,
            dists,
            tail,
            cold: (0.0, 0.0),
            total: (0.0, 0.0),
        }
    }

    /// Weight (requests, bytes) that misses in a cache of `size`.
    fn missed(&self, size: u64) -> (f64, f64) {
        let i = self.dists.partition_point(|&d| d <= size);
        (self.cold.0 + self.tail[i].0, self.cold.1 + self.tail[i].1)
    }

    /// The miss ratio at `size`.
    pub fn miss_ratio(&self, size: u64) -> f64 {
        (self.missed(size).0 / self.total.0.max(f64::MIN_POSITIVE)).clamp(0.0, 1.0)
    }

    /// The byte miss ratio at `size`.
    pub fn byte_miss_ratio(&self, size: u64) -> f64 {
        (self.missed(size).1 / self.total.1.max(f64::MIN_POSITIVE)).clamp(0.0, 1.0)
    }

    /// Counts at `size`: exact for an exact curve, the estimate scaled to
    /// the whole trace for a sampled one.
    pub fn counts(&self, size: u64, bytes: u64) -> Counts {
        Counts {
            requests: self.requests,
            misses: (self.miss_ratio(size) * self.requests as f64).round() as u64,
            bytes,
            miss_bytes: (self.byte_miss_ratio(size) * bytes as f64).round() as u64,
            ..Counts::default()
        }
    }

    /// Every size at which the miss count changes (the distinct distances),
    /// ascending: the whole curve is a step function of these.
    pub fn steps(&self) -> &[u64] {
        &self.dists
    }
}

/// An LRU stack of objects, as a Fenwick tree over the positions of their
/// last requests: the distance of a request is the weight at positions
/// after its object's last one, plus its own. Positions are renumbered
/// (compacted) when they run out, so memory follows the live objects, not
/// the trace's length.
struct Stack {
    /// Fenwick tree over `at`'s weights (1-based inside).
    tree: Vec<u64>,
    /// (id, weight) at each position; weight 0 where the object has moved on.
    at: Vec<(u64, u64)>,
    /// id → position of its last request.
    last: Map<u32>,
    /// The next free position.
    next: usize,
    /// Sum of the live weights.
    live: u64,
}

impl Stack {
    fn new() -> Stack {
        Stack {
            tree: Vec::new(),
            at: Vec::new(),
            last: map(),
            next: 0,
            live: 0,
        }
    }

    fn add(&mut self, pos: usize, w: u64) {
        let mut i = pos + 1;
        while i <= self.tree.len() {
            self.tree[i - 1] = self.tree[i - 1].wrapping_add(w);
            i += i & i.wrapping_neg();
        }
    }

    fn sub(&mut self, pos: usize, w: u64) {
        self.add(pos, w.wrapping_neg());
    }

    /// Sum of weights at positions `0..=pos`.
    fn prefix(&self, pos: usize) -> u64 {
        let mut i = pos + 1;
        let mut s = 0u64;
        while i > 0 {
            s = s.wrapping_add(self.tree[i - 1]);
            i &= i - 1;
        }
        s
    }

    /// Renumbers the live positions from 0, in order, into room for at
    /// least as many again.
    fn compact(&mut self) {
        let live: Vec<(u64, u64)> = self.at[..self.next]
            .iter()
            .copied()
            .filter(|e| e.1 > 0)
            .collect();
        let cap = (2 * live.len()).max(1024);
        self.at = live;
        self.next = self.at.len();
        self.at.resize(cap, (0, 0));
        self.tree = self.at.iter().map(|e| e.1).collect();
        for i in 1..=cap {
            let j = i + (i & i.wrapping_neg());
            if j <= cap {
                self.tree[j - 1] = self.tree[j - 1].wrapping_add(self.tree[i - 1]);
            }
        }
        for (p, e) in self.at[..self.next].iter().enumerate() {
            self.last.insert(e.0, p as u32);
        }
    }

    /// A request for `id` of weight `w`: its distance, or `None` on its
    /// first request.
    fn access(&mut self, id: u64, w: u64) -> Option<u64> {
        if self.next == self.at.len() {
            self.compact();
        }
        let pos = self.next;
        self.next += 1;
        // One hash lookup: the old position out, the new one in.
        let old = self.last.insert(id, pos as u32);
        let d = old.map(|p| self.clear(p as usize) + w);
        self.at[pos] = (id, w);
        self.add(pos, w);
        self.live += w;
        d
    }

    /// Takes `id` out of the stack; returns the weight above it (requested
    /// since), if it was in.
    fn remove(&mut self, id: u64) -> Option<u64> {
        let p = self.last.remove(&id)? as usize;
        Some(self.clear(p))
    }

    /// Empties position `p`; returns the weight after it.
    fn clear(&mut self, p: usize) -> u64 {
        let old = self.at[p].1;
        let after = self.live - self.prefix(p);
        self.sub(p, old);
        self.at[p].1 = 0;
        self.live -= old;
        after
    }
}

fn weight(unit: Unit, r: &Req) -> u64 {
    match unit {
        Unit::Objects => 1,
        Unit::Bytes => r.size,
    }
}

/// Sizes and resizes of a trace: (largest weight, objects whose size changed).
fn sizes(unit: Unit, trace: &[Req]) -> (u64, u64) {
    let max = trace.iter().map(|r| weight(unit, r)).max().unwrap_or(1);
    if unit == Unit::Objects {
        return (1, 0);
    }
    let mut first: Map<(u64, bool)> = map();
    let mut resized = 0;
    for r in trace {
        let e = first.entry(r.id).or_insert((r.size, false));
        if e.0 != r.size && !e.1 {
            e.1 = true;
            resized += 1;
        }
    }
    (max, resized)
}

/// Each request's previous request for the same object (`u32::MAX` for
/// none), from the trace's next-request times where they are all
/// consistent (each names a later request of the same id, and no request
/// is named twice); `None` where they are not, or the trace is too long.
fn previous(trace: &[Req]) -> Option<Vec<u32>> {
    let n = trace.len();
    if n >= u32::MAX as usize {
        return None;
    }
    let mut prev = vec![u32::MAX; n];
    for (i, r) in trace.iter().enumerate() {
        if r.next < 0 {
            continue;
        }
        let j = (r.next as usize).checked_sub(1)?;
        if j <= i || j >= n || trace[j].id != r.id || prev[j] != u32::MAX {
            return None;
        }
        prev[j] = i as u32;
    }
    // Every repeat must be named: a request whose id was seen before but
    // that no earlier request points at means the times are incomplete.
    let named = prev.iter().filter(|&&p| p != u32::MAX).count();
    let mut seen: Map<()> = map();
    let repeats = trace
        .iter()
        .filter(|r| seen.insert(r.id, ()).is_some())
        .count();
    (named == repeats).then_some(prev)
}

/// Calls `f(request, distance)` for every request in order, the distance
/// `None` on an object's first request: a Fenwick tree over the trace's
/// positions when its next-request times give each request's previous one
/// (no hashing), else the compacting [`Stack`].
fn each_distance(trace: &[Req], unit: Unit, mut f: impl FnMut(&Req, Option<u64>)) {
    let Some(prev) = previous(trace) else {
        let mut stack = Stack::new();
        for r in trace {
            f(r, stack.access(r.id, weight(unit, r)));
        }
        return;
    };
    let n = trace.len();
    let mut tree = vec![0u64; n];
    let mut live = 0u64;
    for (t, r) in trace.iter().enumerate() {
        let w = weight(unit, r);
        let p = prev[t];
        let d = (p != u32::MAX).then(|| {
            let p = p as usize;
            // The weight at positions after p: live minus the prefix to p.
            let mut i = p + 1;
            let mut upto = 0u64;
            while i > 0 {
                upto = upto.wrapping_add(tree[i - 1]);
                i &= i - 1;
            }
            let old = weight(unit, &trace[p]);
            let mut i = p + 1;
            while i <= n {
                tree[i - 1] = tree[i - 1].wrapping_sub(old);
                i += i & i.wrapping_neg();
            }
            let after = live.wrapping_sub(upto);
            live = live.wrapping_sub(old);
            after + w
        });
        let mut i = t + 1;
        while i <= n {
            tree[i - 1] = tree[i - 1].wrapping_add(w);
            i += i & i.wrapping_neg();
        }
        live += w;
        f(r, d);
    }
}

/// LRU's exact miss-ratio curve, in one pass.
pub fn exact_lru(trace: &[Req], unit: Unit) -> Curve {
    let mut cold = (0.0, 0.0);
    let mut bytes = 0u64;
    let mut c = if unit == Unit::Objects {
        // Distances are object counts, at most the objects seen: a dense
        // histogram, no sort.
        let mut hist: Vec<(f64, f64)> = Vec::new();
        each_distance(trace, unit, |r, d| {
            bytes += r.size;
            match d {
                Some(d) => {
                    let d = d as usize;
                    if d >= hist.len() {
                        hist.resize(d + 1, (0.0, 0.0));
                    }
                    hist[d].0 += 1.0;
                    hist[d].1 += r.size as f64;
                }
                None => {
                    cold.0 += 1.0;
                    cold.1 += r.size as f64;
                }
            }
        });
        Curve::from_dense(unit, trace.len() as u64, hist)
    } else {
        let mut hist = Vec::with_capacity(trace.len());
        each_distance(trace, unit, |r, d| {
            bytes += r.size;
            match d {
                Some(d) => hist.push((d, 1.0, r.size as f64)),
                None => {
                    cold.0 += 1.0;
                    cold.1 += r.size as f64;
                }
            }
        });
        Curve::new(unit, trace.len() as u64, hist)
    };
    c.cold = cold;
    c.total = (trace.len() as f64, bytes as f64);
    (c.valid_from, c.resized) = sizes(unit, trace);
    c
}

/// KRR's exponent on K: the stack swaps as if each eviction drew K^1.4
/// samples, the correction of the model's reference implementation (its
/// `K_EXP`), which its authors fitted to K-sampled LRU.
pub const KRR_K_EXP: f64 = 1.4;

/// The miss-ratio curve of K-sampled LRU without a pool (evict the least
/// recently used of K random residents), in one pass, in objects: KRR
/// (Yang, Wang and Wang, ICPP '21).
///
/// KRR keeps a probabilistic stack: a cache of size C holds the top C
/// objects. An access at depth d (or a new object, at the bottom) moves to
/// the top; the object it displaces sinks, and at each depth m below it
/// (m < d) swaps places with the object there with probability
/// 1 − ((m − 1)/m)^K', where K' = K^[`KRR_K_EXP`]; the last one sunk takes
/// depth d. Only the swap depths change, and the next one after depth i is
/// drawn directly (P(next > j) = (i/j)^K'), so an access costs
/// O(K' log d), on two dense arrays. `seed` picks the draws.
pub fn krr(trace: &[Req], samples: usize, seed: u64) -> Curve {
    let inv_k = -1.0 / (samples.max(1) as f64).powf(KRR_K_EXP);
    let mut rng = crate::rng::SplitMix64::new(seed);
    // Objects get dense numbers; `stack[depth - 1]` is an object's number,
    // `depth_of[number]` its depth - 1.
    let mut number: Map<u32> = map();
    let mut stack: Vec<u32> = Vec::new();
    let mut depth_of: Vec<u32> = Vec::new();
    let mut hist: Vec<(f64, f64)> = Vec::new();
    let (mut cold, mut bytes) = ((0.0, 0.0), 0u64);
    for r in trace {
        bytes += r.size;
        let next = stack.len() as u32;
        let o = *number.entry(r.id).or_insert(next);
        let d = if o == next {
            stack.push(o);
            depth_of.push(next);
            cold.0 += 1.0;
            cold.1 += r.size as f64;
            stack.len()
        } else {
            let d = depth_of[o as usize] as usize + 1;
            if d >= hist.len() {
                hist.resize(d + 1, (0.0, 0.0));
            }
            hist[d].0 += 1.0;
            hist[d].1 += r.size as f64;
            d
        };
        if d == 1 {
            continue;
        }
        let mut sinking = stack[0];
        stack[0] = o;
        depth_of[o as usize] = 0;
        let mut i = 1.0f64;
        loop {
            let u = rng.unit().max(f64::MIN_POSITIVE);
            let j = (i * u.powf(inv_k)).floor() + 1.0;
            if j >= d as f64 {
                break;
            }
            let at = j as usize - 1;
            std::mem::swap(&mut stack[at], &mut sinking);
            depth_of[stack[at] as usize] = at as u32;
            i = j;
        }
        stack[d - 1] = sinking;
        depth_of[sinking as usize] = d as u32 - 1;
    }
    let mut c = Curve::from_dense(Unit::Objects, trace.len() as u64, hist);
    c.cold = cold;
    c.total = (trace.len() as f64, bytes as f64);
    c
}

/// How SHARDS picks its sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampling {
    /// Every object whose hash falls below this rate (0 < rate ≤ 1).
    Rate(f64),
    /// At most this many objects, those of the smallest hashes: the rate
    /// starts at 1 and falls as objects arrive (bounded memory).
    Fixed(usize),
}

/// LRU's miss-ratio curve estimated from a spatial sample (SHARDS).
///
/// Fixed rate R: distances on the sample are scaled by 1/R, and the
/// expected number of sampled requests, R·N, stands for the sample's
/// actual count (SHARDS_adj: the difference counts as hits). Fixed size:
/// when one object too many is tracked, the one of the largest hash leaves
/// the stack and the threshold drops to its hash; a request recorded at
/// rate R weighs 1/R at the rate of its time, and the whole trace is the
/// total, as at a fixed rate.
/// `seed` picks the sample (see [`sample`]).
pub fn shards(trace: &[Req], unit: Unit, sampling: Sampling, seed: u64) -> Curve {
    let mut stack = Stack::new();
    let mut hist = Vec::new();
    let mut cold = (0.0, 0.0);
    let mut bytes = 0u64;
    let mut t = match sampling {
        Sampling::Rate(r) => threshold(r),
        Sampling::Fixed(_) => SAMPLE_MODULUS,
    };
    let limit = match sampling {
        Sampling::Rate(_) => usize::MAX,
        Sampling::Fixed(n) => n.max(1),
    };
    // The tracked objects by hash, largest first (fixed size only).
    let mut tracked: BinaryHeap<(u64, u64)> = BinaryHeap::new();
    let mut in_sample: Map<()> = map();
    for r in trace {
        bytes += r.size;
        let h = sample_hash(r.id, seed);
        if h >= t {
            continue;
        }
        let rate = t as f64 / SAMPLE_MODULUS as f64;
        let w = (1.0 / rate, r.size as f64 / rate);
        let d = stack.access(r.id, weight(unit, r));
        match d {
            Some(d) => hist.push(((d as f64 / rate).round() as u64, w.0, w.1)),
            None => {
                cold.0 += w.0;
                cold.1 += w.1;
            }
        }
        if limit != usize::MAX && in_sample.insert(r.id, ()).is_none() {
            tracked.push((h, r.id));
            while in_sample.len() > limit {
                let Some((top, _)) = tracked.peek().copied() else {
                    break;
                };
                t = top;
                while let Some(&(h2, id2)) = tracked.peek() {
                    if h2 < t {
                        break;
                    }
                    tracked.pop();
                    in_sample.remove(&id2);
                    stack.remove(id2);
                }
            }
        }
    }
    let rate = t as f64 / SAMPLE_MODULUS as f64;
    let mut c = Curve::new(unit, trace.len() as u64, hist);
    // The rate as asked for (the threshold rounds it to 2^-24), or as fixed
    // size left it.
    c.rate = match sampling {
        Sampling::Rate(r) => r,
        Sampling::Fixed(_) => rate,
    };
    // SHARDS_adj, at either kind of rate: a request sampled at rate R
    // weighs 1/R (at the rate of its time, for fixed size), and the whole
    // trace, not the sample's weight, is the total, so the sample's
    // shortfall or excess of requests counts as hits. Fixed size without
    // it, normalised by the sample's own weight, was 4 to 40 times worse
    // (results/mrc/errors.md).
    c.cold = cold;
    c.total = (trace.len() as f64, bytes as f64);
    (c.valid_from, c.resized) = sizes(unit, trace);
    c
}

/// A spatial sample of a trace: the requests of the objects whose hash
/// falls below the rate, with next-request times renumbered, and what the
/// whole trace held (to scale estimates back).
pub struct Sample {
    /// The sampled requests.
    pub reqs: Vec<Req>,
    /// The sampling rate.
    pub rate: f64,
    /// Requests in the whole trace.
    pub requests: u64,
    /// Bytes requested in the whole trace.
    pub bytes: u64,
}

/// The sample of `trace` at `rate`: the objects whose hash under `seed`
/// falls below it. Seeds other than 0 draw other samples, to measure how
/// much an estimate depends on which objects it got.
pub fn sample(trace: &[Req], rate: f64, seed: u64) -> Sample {
    let t = threshold(rate);
    let mut reqs: Vec<Req> = trace
        .iter()
        .filter(|r| sample_hash(r.id, seed) < t)
        .copied()
        .collect();
    compute_next(&mut reqs);
    Sample {
        reqs,
        rate,
        requests: trace.len() as u64,
        bytes: trace.iter().map(|r| r.size).sum(),
    }
}

/// A miniature simulation: `policy`'s miss ratio at `size`, estimated from
/// its simulator on the sample at the size scaled by the rate. Returns the
/// counts scaled to the whole trace.
pub fn miniature(policy: Exact, params: &Params, size: u64, unit: Unit, s: &Sample) -> Counts {
    let small = ((size as f64 * s.rate).round() as u64).max(1);
    let c = simulate_with(policy, params, small, unit, &s.reqs);
    // SHARDS_adj carried over: each sampled miss stands for 1/R misses of
    // the whole trace, and the sample's shortfall or excess of requests
    // against R·N counts as hits, so that a sample short of a few hot
    // objects does not lift the whole curve.
    let scale = |m: u64, total: u64| ((m as f64 / s.rate).round() as u64).min(total);
    Counts {
        requests: s.requests,
        misses: scale(c.misses, s.requests),
        bytes: s.bytes,
        miss_bytes: scale(c.miss_bytes, s.bytes),
        fallbacks: c.fallbacks,
        ..Counts::default()
    }
}

/// The smallest size a miniature simulation of `policy` can run at: one
/// whose scaled size is at least one unit (a sample cannot tell sizes
/// below 1/R apart, so it does not report them) and that `policy` accepts
/// once scaled.
pub fn miniature_floor(policy: Exact, params: &Params, rate: f64) -> u64 {
    let scaled = |c: u64| (c as f64 * rate).round() as u64;
    let mut c = ((0.5 / rate).ceil() as u64).max(1);
    while scaled(c) == 0 {
        c = c.saturating_add(1);
    }
    while policy.check_capacity_with(params, scaled(c)).is_err() {
        c = c.saturating_mul(2);
    }
    c
}

/// Mean absolute difference of two miss-ratio series at the same sizes.
pub fn mean_abs_error(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 0.0;
    }
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / n as f64
}

/// `n` sizes spread evenly on a log scale over `[lo, hi]`, distinct and
/// ascending.
pub fn log_sizes(lo: u64, hi: u64, n: usize) -> Vec<u64> {
    let lo = lo.max(1);
    let hi = hi.max(lo);
    let mut out: Vec<u64> = (0..n.max(1))
        .map(|i| {
            let f = if n > 1 {
                i as f64 / (n - 1) as f64
            } else {
                1.0
            };
            ((lo as f64).ln() + f * ((hi as f64).ln() - (lo as f64).ln()))
                .exp()
                .round() as u64
        })
        .map(|s| s.clamp(lo, hi))
        .collect();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn trace(seed: u64, n: usize, objects: u64, sizes: bool) -> Vec<Req> {
        let mut r = SplitMix64::new(seed);
        let mut t: Vec<Req> = (0..n)
            .map(|_| {
                // Skewed: half the requests go to a tenth of the objects.
                let id = if r.below(2) == 0 {
                    r.below(objects / 10 + 1)
                } else {
                    r.below(objects)
                };
                Req {
                    id,
                    size: if sizes { 1 + mix64(id) % 200 } else { 1 },
                    next: -1,
                }
            })
            .collect();
        compute_next(&mut t);
        t
    }

    #[test]
    fn exact_curve_equals_lru_simulation_at_every_size() {
        for seed in 0..12 {
            let objects = [20, 300, 3000][seed as usize % 3];
            for unit in [Unit::Objects, Unit::Bytes] {
                let t = trace(seed, 5000, objects, unit == Unit::Bytes);
                let c = exact_lru(&t, unit);
                let total: u64 = match unit {
                    Unit::Objects => objects,
                    Unit::Bytes => 200 * objects,
                };
                let mut sizes: Vec<u64> = (c.valid_from..c.valid_from + 40).collect();
                sizes.extend(log_sizes(c.valid_from, total, 60));
                // The steps themselves and one below each are the edges.
                sizes.extend(c.steps().iter().step_by(37).flat_map(|&d| [d - 1, d]));
                for s in sizes.into_iter().filter(|&s| s >= c.valid_from) {
                    let want = simulate(Exact::Lru, s, unit, &t);
                    let got = c.counts(s, want.bytes);
                    assert_eq!(
                        (got.misses, got.miss_bytes),
                        (want.misses, want.miss_bytes),
                        "seed {seed} {unit:?} size {s}"
                    );
                }
            }
        }
    }

    #[test]
    fn stack_compaction_keeps_distances() {
        // Many more requests than live objects: positions are renumbered
        // many times over.
        let t = trace(7, 200_000, 600, false);
        let c = exact_lru(&t, Unit::Objects);
        for s in [1, 5, 60, 61, 300, 599, 600] {
            assert_eq!(
                c.counts(s, 0).misses,
                simulate(Exact::Lru, s, Unit::Objects, &t).misses,
                "size {s}"
            );
        }
    }

    #[test]
    fn next_times_or_not_the_same_curve() {
        // Without next-request times (or with wrong ones) the curve comes
        // from the hashing stack; with them, from the trace's positions.
        let with = trace(9, 30_000, 800, true);
        assert!(previous(&with).is_some());
        let mut without = with.clone();
        without.iter_mut().for_each(|r| r.next = -1);
        assert!(previous(&without).is_none());
        let mut wrong = with.clone();
        wrong[10].next = 5;
        assert!(previous(&wrong).is_none());
        for unit in [Unit::Objects, Unit::Bytes] {
            let (a, b) = (exact_lru(&with, unit), exact_lru(&without, unit));
            assert_eq!(a.steps(), b.steps());
            for s in log_sizes(a.valid_from, 200_000, 40) {
                assert_eq!(a.miss_ratio(s), b.miss_ratio(s), "{unit:?} {s}");
            }
        }
    }

    #[test]
    fn shards_at_rate_one_is_exact() {
        let t = trace(3, 20_000, 2000, true);
        for unit in [Unit::Objects, Unit::Bytes] {
            let e = exact_lru(&t, unit);
            let full = shards(&t, unit, Sampling::Rate(1.0), 0);
            let big = shards(&t, unit, Sampling::Fixed(1 << 20), 0);
            for s in log_sizes(e.valid_from, 400_000, 30) {
                assert_eq!(full.miss_ratio(s), e.miss_ratio(s), "{unit:?} {s}");
                assert_eq!(big.miss_ratio(s), e.miss_ratio(s), "{unit:?} {s}");
            }
        }
    }

    #[test]
    fn shards_estimates_the_curve() {
        let t = trace(11, 400_000, 100_000, false);
        let e = exact_lru(&t, Unit::Objects);
        let sizes = log_sizes(100, 100_000, 40);
        let exact: Vec<f64> = sizes.iter().map(|&s| e.miss_ratio(s)).collect();
        for sampling in [Sampling::Rate(0.1), Sampling::Fixed(8192)] {
            let c = shards(&t, Unit::Objects, sampling, 0);
            let est: Vec<f64> = sizes.iter().map(|&s| c.miss_ratio(s)).collect();
            let mae = mean_abs_error(&exact, &est);
            assert!(mae < 0.02, "{sampling:?}: MAE {mae}");
        }
        let fixed = shards(&t, Unit::Objects, Sampling::Fixed(8192), 0);
        assert!(fixed.rate < 0.2, "rate fell to {}", fixed.rate);
    }

    #[test]
    fn miniature_at_rate_one_is_the_simulation() {
        let t = trace(13, 20_000, 2000, true);
        let p = Params::default();
        let whole = sample(&t, 1.0, 0);
        for policy in [Exact::Lru, Exact::S3Fifo, Exact::Arc, Exact::ClockPro] {
            for unit in [Unit::Objects, Unit::Bytes] {
                for size in [40, 300, 1500] {
                    let size = if unit == Unit::Bytes {
                        size * 100
                    } else {
                        size
                    };
                    let want = simulate_with(policy, &p, size, unit, &t);
                    let got = miniature(policy, &p, size, unit, &whole);
                    assert_eq!(
                        (got.requests, got.misses, got.miss_bytes),
                        (want.requests, want.misses, want.miss_bytes),
                        "{policy} {unit:?} {size}"
                    );
                }
            }
        }
    }

    #[test]
    fn miniature_floor_is_one_unit_once_scaled() {
        let p = Params::default();
        // LRU runs at one object: the floor is the least size that scales
        // to one, not a smaller size clamped up to it.
        assert_eq!(miniature_floor(Exact::Lru, &p, 0.01), 50);
        assert_eq!(miniature_floor(Exact::Lru, &p, 1.0), 1);
        // S3-FIFO needs 10 once scaled.
        let f = miniature_floor(Exact::S3Fifo, &p, 0.01);
        assert!((f as f64 * 0.01).round() >= 10.0, "floor {f}");
        assert!(Exact::S3Fifo
            .check_capacity((f as f64 * 0.01).round() as u64)
            .is_ok());
    }

    #[test]
    fn miniature_estimates_the_curve() {
        let t = trace(17, 400_000, 100_000, false);
        let e = exact_lru(&t, Unit::Objects);
        let s = sample(&t, 0.1, 0);
        let p = Params::default();
        let sizes = log_sizes(100, 100_000, 20);
        let exact: Vec<f64> = sizes.iter().map(|&c| e.miss_ratio(c)).collect();
        let est: Vec<f64> = sizes
            .iter()
            .map(|&c| miniature(Exact::Lru, &p, c, Unit::Objects, &s).miss_ratio())
            .collect();
        let mae = mean_abs_error(&exact, &est);
        assert!(mae < 0.02, "MAE {mae}");
    }

    #[test]
    fn sample_keeps_whole_objects() {
        let t = trace(5, 10_000, 1000, false);
        let s = sample(&t, 0.1, 0).reqs;
        let ids: std::collections::HashSet<u64> = s.iter().map(|r| r.id).collect();
        let want = t.iter().filter(|r| ids.contains(&r.id)).count();
        assert_eq!(s.len(), want, "every request of a sampled object");
        assert!(ids.len() > 50 && ids.len() < 150, "{} objects", ids.len());
    }
}
