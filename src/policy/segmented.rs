//! The segmented LRU family: 2Q and SLRU, as the libcachesim 0.3.5 package
//! runs them.

use super::list::List;
use super::multilist::MultiList;

/// 2Q (Johnson and Shasha, VLDB '94), the package's version with its default
/// A1in = ⌊0.25·C⌋ and A1out = ⌊0.5·C⌋, Am = C − A1in:
///
/// - a hit in A1in changes nothing; a hit in Am moves it to Am's head;
/// - an object larger than A1in is never inserted (even from the ghost);
/// - a miss whose id is in A1out (the ghost) removes it there and inserts at
///   Am's head, first evicting Am's tail while Am alone would overflow;
///   any other miss goes to A1in's head;
/// - each eviction step: if A1in is over its size, its tail's id goes to
///   A1out (a FIFO of ids that drops its oldest to make room) and the tail
///   leaves; otherwise Am's tail is evicted.
pub(super) struct TwoQ {
    cap: u64,
    in_cap: u64,
    out_cap: u64,
    am_cap: u64,
    a1in: List,
    a1out: List,
    am: List,
}

impl TwoQ {
    /// Removes a resident object (an expiry; A1out keeps its ids); whether
    /// it was one.
    pub(super) fn remove(&mut self, id: u64) -> bool {
        self.a1in.take(id) || self.am.take(id)
    }

    /// Starts loading what a request for `id` reads.
    pub(super) fn prefetch(&self, id: u64) {
        self.a1in.prefetch(id);
        self.a1out.prefetch(id);
        self.am.prefetch(id);
    }

    pub(super) fn new(cap: u64, a_in: f64, a_out: f64) -> TwoQ {
        let in_cap = (cap as f64 * a_in) as u64;
        TwoQ {
            cap,
            in_cap,
            out_cap: (cap as f64 * a_out) as u64,
            am_cap: cap - in_cap,
            a1in: List::new(),
            a1out: List::new(),
            am: List::new(),
        }
    }

    pub(super) fn access(&mut self, id: u64, size: u64) -> bool {
        if self.a1in.get(id).is_some() {
            return true;
        }
        let ghost = self.a1out.take(id);
        if let Some(n) = self.am.get(id) {
            self.am.move_to_head(n);
            return true;
        }
        if size > self.in_cap {
            return false;
        }
        while self.a1in.bytes + self.am.bytes + size > self.cap {
            if self.a1in.bytes > self.in_cap {
                let Some(n) = self.a1in.pop_tail() else {
                    break;
                };
                self.a1out.admit_fifo(self.out_cap, n.id, n.size, 0);
            } else if self.am.pop_tail().is_none() {
                break;
            }
        }
        if ghost {
            if size <= self.am_cap {
                while self.am.bytes + size > self.am_cap {
                    if self.am.pop_tail().is_none() {
                        break;
                    }
                }
                self.am.push_head(id, size, 0);
            }
        } else {
            self.a1in.push_head(id, size, 0);
        }
        false
    }
}

/// Segmented LRU, the package's version: LRU segments, segment 0 the
/// lowest; by default four of ⌊C / 4⌋ each (W-TinyLFU's main cache uses
/// two, of ⌊M/5⌋ and ⌊4M/5⌋).
///
/// - A hit in the top segment moves it to that segment's head; a hit below
///   promotes it to the next segment's head, and while that segment is over
///   its size its tail is demoted to the head of the one below (and so on
///   down; an overflow of segment 0 evicts its tail).
/// - A miss goes to the lowest segment with room for it; if none has room,
///   evictions run until the whole cache has room, and it goes to segment 0.
/// - An eviction takes the tail of the lowest non-empty segment.
/// - An object larger than segment 0 is never inserted.
pub(super) struct Slru {
    cap: u64,
    seg_caps: Vec<u64>,
    /// Segment `i` is queue `base + i` of `segs`, lowest first; the
    /// queues below `base` are the owner's (W-TinyLFU's window).
    base: usize,
    pub(super) segs: MultiList,
}

impl Slru {
    /// `n` equal segments of ⌊C / n⌋.
    pub(super) fn new(cap: u64, n: usize) -> Slru {
        Slru::with_segments(cap, vec![cap / n.max(1) as u64; n.max(1)], 0)
    }

    /// An SLRU of capacity `cap` with these segment sizes, lowest first,
    /// after `base` queues of the owner's in the same `MultiList`.
    pub(super) fn with_segments(cap: u64, seg_caps: Vec<u64>, base: usize) -> Slru {
        Slru {
            cap,
            segs: MultiList::new(base + seg_caps.len()),
            seg_caps,
            base,
        }
    }

    pub(super) fn cap(&self) -> u64 {
        self.cap
    }

    pub(super) fn used(&self) -> u64 {
        (0..self.seg_caps.len())
            .map(|i| self.segs.bytes(self.base + i))
            .sum()
    }

    /// Whether an object of `size` may ever enter.
    pub(super) fn admits(&self, size: u64) -> bool {
        size <= self.cap && size <= self.seg_caps[0]
    }

    /// The queue of the lowest segment that holds anything.
    fn lowest(&self) -> Option<usize> {
        (self.base..self.base + self.seg_caps.len()).find(|&q| self.segs.len(q) > 0)
    }

    /// The node the next eviction takes.
    pub(super) fn victim(&self) -> Option<u32> {
        self.segs.tail(self.lowest()?)
    }

    pub(super) fn evict(&mut self) -> bool {
        match self.lowest().and_then(|q| self.segs.tail(q)) {
            Some(t) => {
                self.segs.remove(t);
                true
            }
            None => false,
        }
    }

    /// Segment `i` is over its size: demote its tail (evict, for 0).
    fn cool(&mut self, i: usize) {
        if i == 0 {
            self.evict();
            return;
        }
        let Some(t) = self.segs.tail(self.base + i) else {
            return;
        };
        self.segs.entry(t).meta = 0;
        self.segs.move_to_head(t, self.base + i - 1);
        while self.segs.bytes(self.base + i - 1) > self.seg_caps[i - 1] {
            self.cool(i - 1);
        }
    }

    /// Removes an object (an expiry); whether it was here.
    pub(super) fn remove(&mut self, id: u64) -> bool {
        match self.segs.get(id) {
            Some(n) => {
                self.segs.remove(n);
                true
            }
            None => false,
        }
    }

    /// A hit's update, if `id` is here; whether it was.
    pub(super) fn hit(&mut self, id: u64) -> bool {
        match self.segs.get(id) {
            Some(n) => {
                self.hit_node(n);
                true
            }
            None => false,
        }
    }

    /// A hit's update of node `n`, one of the segments'.
    pub(super) fn hit_node(&mut self, n: u32) {
        let top = self.seg_caps.len() - 1;
        let i = self.segs.peek(n).queue as usize - self.base;
        if i == top {
            self.segs.move_to_head(n, self.base + top);
        } else {
            self.segs.entry(n).meta = 0;
            self.segs.move_to_head(n, self.base + i + 1);
            while self.segs.bytes(self.base + i + 1) > self.seg_caps[i + 1] {
                self.cool(i + 1);
            }
        }
    }

    /// The segment a new object of `size` goes into: the lowest with
    /// room; if none has, evictions until the whole cache has room, and
    /// segment 0.
    fn make_room(&mut self, size: u64) -> usize {
        match (0..self.seg_caps.len())
            .find(|&i| self.segs.bytes(self.base + i) + size <= self.seg_caps[i])
        {
            Some(i) => self.base + i,
            None => {
                while self.used() + size > self.cap {
                    if !self.evict() {
                        break;
                    }
                }
                self.base
            }
        }
    }

    /// Inserts a new object into the lowest segment with room; if none has,
    /// evicts until the whole cache has room and inserts into segment 0.
    pub(super) fn insert(&mut self, id: u64, size: u64) {
        let q = self.make_room(size);
        self.segs.push_head(q, id, size, 0, 0);
    }

    /// [`Slru::insert`] for node `n`, moved from one of the owner's queues
    /// (its meta cleared, its stamp kept).
    pub(super) fn insert_node(&mut self, n: u32) {
        let size = self.segs.peek(n).size;
        let q = self.make_room(size);
        self.segs.entry(n).meta = 0;
        self.segs.move_to_head(n, q);
    }

    pub(super) fn access(&mut self, id: u64, size: u64) -> bool {
        if self.hit(id) {
            return true;
        }
        if !self.admits(size) {
            return false;
        }
        while self.used() + size > self.cap {
            if !self.evict() {
                break;
            }
        }
        self.insert(id, size);
        false
    }
}
