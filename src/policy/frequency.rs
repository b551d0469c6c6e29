//! The frequency-ordered policies: LFUDA, GDSF and MQ, as the libcachesim
//! 0.3.5 package runs them.

use super::list::Buckets;
use super::multilist::MultiList;
use super::objects::slot;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// LFU with dynamic aging, in the package's form: objects are filed by a
/// frequency key in per-key FIFO lists, and `min` is the key of the last
/// eviction (0 before any).
///
/// - A new object's key is `min + 1`.
/// - A hit adds `min` to its key (so before the first eviction a hit only
///   moves the object to the back of its list).
/// - Eviction takes the oldest object of key `min` (of key 1 while `min` is
///   0 or 1), and sets `min` to that key.
/// - When the list at `min` empties (by a hit or an eviction), `min` moves to
///   the smallest non-empty key above it, up to the largest key a hit has
///   made (keys given at insertion are not searched). If there is none,
///   the package keeps `min` on the empty list and its next eviction reads
///   a null object (it crashes or loops); hotset evicts from the smallest
///   non-empty key instead and counts a fallback.
pub(super) struct Lfuda {
    cap: u64,
    used: u64,
    min: u64,
    /// The largest key a hit has produced (inserts do not count: the
    /// package's `max_freq`, which bounds the search for a new `min`).
    max: u64,
    /// Evictions where the package would have failed.
    pub(super) fallbacks: u64,
    lists: Buckets,
}

impl Lfuda {
    pub(super) fn new(cap: u64) -> Lfuda {
        Lfuda {
            cap,
            used: 0,
            min: 0,
            max: 0,
            fallbacks: 0,
            lists: Buckets::new(),
        }
    }

    /// `min` to the smallest non-empty key in (`min`, `max`], if any.
    fn raise_min(&mut self) {
        if self.max <= self.min {
            return;
        }
        if let Some(k) = self.lists.first_in(self.min + 1..=self.max) {
            self.min = k;
        }
    }

    /// Removes an object (an expiry), moving `min` on as a hit that
    /// empties its list does; whether it was here.
    pub(super) fn remove(&mut self, id: u64) -> bool {
        let Some((key, size)) = self.lists.get(id) else {
            return false;
        };
        if self.lists.remove(id) && key == self.min {
            self.raise_min();
        }
        self.used -= size;
        true
    }

    /// Starts loading what a request for `id` reads.
    pub(super) fn prefetch(&self, id: u64) {
        self.lists.prefetch(id);
    }

    pub(super) fn access(&mut self, id: u64, size: u64) -> bool {
        if let Some((key, osize)) = self.lists.get(id) {
            // Keys grow geometrically (each hit adds `min`, which climbs
            // with them); past u64 the package's counter overflows, and
            // hotset saturates and counts a fallback.
            let new = key.checked_add(self.min).unwrap_or_else(|| {
                self.fallbacks += 1;
                u64::MAX
            });
            self.max = self.max.max(new);
            // `min` moves on before the object is filed at its new key.
            if self.lists.remove(id) && key == self.min {
                self.raise_min();
            }
            self.lists.push(new, id, osize);
            return true;
        }
        if size > self.cap {
            return false;
        }
        while self.used + size > self.cap {
            let want = self.min.max(1);
            let key = if self.lists.contains_key(want) {
                want
            } else {
                self.fallbacks += 1;
                match self.lists.first_key() {
                    Some(k) => k,
                    None => break,
                }
            };
            let (_, vsize, emptied) = self.lists.pop_oldest(key).expect("present");
            self.min = key;
            if emptied {
                self.raise_min();
            }
            self.used -= vsize;
        }
        self.lists.push(self.min.saturating_add(1), id, size);
        self.used += size;
        false
    }
}

/// GreedyDual-Size-Frequency, in the package's form: an object's priority is
/// `L + f · 10⁶ / size` (floating point), where `L` is the priority of the
/// last eviction and `f` its hit count plus one; the lowest priority is
/// evicted, ties going to the least recently requested. A hit keeps the
/// stored size. A miss inserts first and then evicts while the cache is
/// over its size, so a new object whose priority is the lowest is itself
/// the one evicted (size-aware admission, as the package does it).
pub(super) struct Gdsf {
    cap: u64,
    used: u64,
    last: f64,
    /// Requests seen (the package's `n_req`: the tie-breaker).
    now: u64,
    /// By object number: (frequency, stored size, priority bits, request
    /// time); frequency 0 = not cached.
    objs: Vec<(u64, u64, u64, u64)>,
    /// Objects cached.
    live: usize,
    /// (priority bits, request time, id), least first: a non-negative
    /// f64's bits order as the value does. A hit pushes a new entry and
    /// leaves the old one, stale (its time is not the object's), to be
    /// skipped when it surfaces, or dropped when stale entries outnumber
    /// live ones.
    queue: BinaryHeap<Reverse<(u64, u64, u64)>>,
}

impl Gdsf {
    pub(super) fn new(cap: u64) -> Gdsf {
        Gdsf {
            cap,
            used: 0,
            last: 0.0,
            now: 0,
            objs: Vec::new(),
            live: 0,
            queue: BinaryHeap::new(),
        }
    }

    /// Rebuilds the queue from the live objects when stale entries
    /// outnumber them.
    fn compact(&mut self) {
        if self.queue.len() > 2 * self.live + 1024 {
            self.queue = (self.objs.iter().enumerate())
                .filter(|(_, o)| o.0 != 0)
                .map(|(id, &(_, _, p, t))| Reverse((p, t, id as u64)))
                .collect();
        }
    }

    /// Removes an object (an expiry; its queue entries go stale, and
    /// `last`, the aging floor, stays); whether it was cached.
    pub(super) fn remove(&mut self, id: u64) -> bool {
        match self.objs.get_mut(id as usize) {
            Some(o) if o.0 != 0 => {
                self.used -= o.1;
                o.0 = 0;
                self.live -= 1;
                true
            }
            _ => false,
        }
    }

    fn priority(&self, freq: u64, size: u64) -> u64 {
        (self.last + freq as f64 * 1.0e6 / size as f64).to_bits()
    }

    /// Starts loading what a request for `id` reads.
    pub(super) fn prefetch(&self, id: u64) {
        super::objects::prefetch_at(&self.objs, id);
    }

    pub(super) fn access(&mut self, id: u64, size: u64) -> bool {
        self.now += 1;
        let &mut (f, osize, _, _) = slot(&mut self.objs, id, (0, 0, 0, 0));
        if f != 0 {
            let p = self.priority(f + 1, osize);
            self.queue.push(Reverse((p, self.now, id)));
            self.objs[id as usize] = (f + 1, osize, p, self.now);
            self.compact();
            return true;
        }
        if size > self.cap {
            return false;
        }
        let p = self.priority(1, size);
        self.queue.push(Reverse((p, self.now, id)));
        self.objs[id as usize] = (1, size, p, self.now);
        self.live += 1;
        self.used += size;
        while self.used > self.cap {
            let Some(Reverse((pri, t, victim))) = self.queue.pop() else {
                break;
            };
            let v = &mut self.objs[victim as usize];
            if v.0 != 0 && v.3 == t {
                self.last = f64::from_bits(pri);
                self.used -= v.1;
                v.0 = 0;
                self.live -= 1;
            } // else stale
        }
        false
    }
}

/// MQ (Zhou, Philbin and Li, USENIX ATC '01), the package's version with
/// its defaults: eight LRU queues, lifetime 10,000, and a ghost Qout of
/// 4·C (in the cache's unit).
///
/// - An object of frequency f lives in queue min(⌊log2 f⌋, 7), at its head.
/// - A hit adds 1 to f, moves it to the head of its (new) queue, and sets
///   its expiry to now + lifetime; then time ticks and `adjust` runs.
/// - A miss takes the id out of Qout if there (f = its f + 1, else f = 1),
///   even when the object is too large to insert. One larger than the
///   cache stops there; else evictions make room, it goes in, and time
///   ticks and `adjust` runs.
/// - `adjust`: for queues 1 to 7 in turn, the tail of each, if its expiry
///   is past, moves to the head of the queue below with a fresh expiry (its
///   f unchanged).
/// - Eviction takes the tail of the lowest non-empty queue; its id, stored
///   size and f go to Qout, a FIFO that drops its oldest to make room and
///   refuses an entry larger than itself.
pub(super) struct Mq {
    cap: u64,
    lifetime: u64,
    now: u64,
    used: u64,
    /// MultiList `0..n` are MQ's, by frequency; queue `n` is the ghost
    /// (Qout). An entry's `meta` is its frequency, its `stamp` its expiry.
    qs: MultiList,
    n: usize,
    ghost_cap: u64,
}

/// MQ's queue for frequency `freq`: ⌊log2 f⌋, at most the last of `n`.
fn mq_queue(freq: u32, n: usize) -> usize {
    (freq.max(1).ilog2() as usize).min(n - 1)
}

impl Mq {
    pub(super) fn new(cap: u64, queues: usize, lifetime: u64, ghost: f64) -> Mq {
        let n = queues.max(1);
        Mq {
            cap,
            lifetime,
            now: 0,
            used: 0,
            qs: MultiList::new(n + 1),
            n,
            ghost_cap: (cap as f64 * ghost) as u64,
        }
    }

    /// Each queue's tail past its expiry goes down one queue, with a new
    /// expiry.
    fn adjust(&mut self) {
        self.now += 1;
        for k in 1..self.n {
            let Some(t) = self.qs.tail(k) else {
                continue;
            };
            let e = self.qs.entry(t);
            if e.stamp < self.now {
                e.stamp = self.now + self.lifetime;
                self.qs.move_to_head(t, k - 1);
            }
        }
    }

    /// Evicts the tail of the lowest queue that has one into the ghost, a
    /// FIFO of `ghost_cap` (an object larger than it is dropped).
    fn evict(&mut self) -> bool {
        let Some(k) = (0..self.n).find(|&k| self.qs.len(k) > 0) else {
            return false;
        };
        let Some(t) = self.qs.tail(k) else {
            return false;
        };
        let size = self.qs.entry(t).size;
        self.used -= size;
        if size > self.ghost_cap {
            self.qs.remove(t);
            return true;
        }
        while self.qs.bytes(self.n) + size > self.ghost_cap {
            match self.qs.tail(self.n) {
                Some(g) => {
                    self.qs.remove(g);
                }
                None => break,
            }
        }
        self.qs.move_to_head(t, self.n);
        true
    }

    /// Removes a resident object (an expiry; the ghost keeps its ids);
    /// whether it was one.
    pub(super) fn remove(&mut self, id: u64) -> bool {
        match self.qs.get(id) {
            Some(n) if (self.qs.peek(n).queue as usize) < self.n => {
                self.used -= self.qs.remove(n).size;
                true
            }
            _ => false,
        }
    }

    /// Starts loading what a request for `id` reads.
    pub(super) fn prefetch(&self, id: u64) {
        self.qs.prefetch(id);
    }

    pub(super) fn access(&mut self, id: u64, size: u64) -> bool {
        let mut ghost = None;
        if let Some(n) = self.qs.get(id) {
            let e = self.qs.entry(n);
            if (e.queue as usize) < self.n {
                let freq = e.meta.saturating_add(1).min(i32::MAX as u32);
                e.meta = freq;
                e.stamp = self.now + self.lifetime;
                let to = mq_queue(freq, self.n);
                self.qs.move_to_head(n, to);
                self.adjust();
                return true;
            }
            ghost = Some(self.qs.remove(n).meta);
        }
        if size > self.cap {
            return false;
        }
        while self.used + size > self.cap {
            if !self.evict() {
                break;
            }
        }
        let freq = ghost.map_or(1, |f| f.saturating_add(1).min(i32::MAX as u32));
        let q = mq_queue(freq, self.n);
        self.qs
            .push_head(q, id, size, freq, self.now + self.lifetime);
        self.used += size;
        self.adjust();
        false
    }
}
