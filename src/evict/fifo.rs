//! The queue policies' FIFO: a deque of segments of chunk-id entries under
//! a short lock, and each thread's two ends of it (see `evict::queue`).

use crate::sync::{lock, Mutex, Ordering};
use std::collections::VecDeque;

/// Entries in a segment at most.
pub const SEG_MAX: usize = 64;

/// One FIFO queue of a class: published segments, oldest first, under a
/// short lock taken once per segment.
pub struct Fifo {
    segs: Mutex<VecDeque<Vec<u64>>>,
    /// Entries in `segs`. Changed only under the lock, with the segments,
    /// so it never runs below zero; read without it.
    entries: std::sync::atomic::AtomicUsize,
}

impl Default for Fifo {
    fn default() -> Fifo {
        Fifo::new()
    }
}

impl Fifo {
    /// An empty queue.
    pub fn new() -> Fifo {
        Fifo {
            segs: Mutex::new(VecDeque::new()),
            entries: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Appends a segment at the tail. Returns the entries now published.
    pub fn publish(&self, seg: Vec<u64>) -> usize {
        let n = seg.len();
        let mut segs = lock(&self.segs);
        segs.push_back(seg);
        self.entries.fetch_add(n, Ordering::Relaxed) + n
    }

    /// Takes the oldest segment.
    pub fn take(&self) -> Option<Vec<u64>> {
        let mut segs = lock(&self.segs);
        // PLANTED BUG (planted-fifo-double-take): hand out a copy of the
        // front segment and leave it in place, so its entries go to two
        // consumers.
        let seg = if cfg!(feature = "planted-fifo-double-take") {
            segs.front().cloned()
        } else {
            segs.pop_front()
        }?;
        self.entries.fetch_sub(seg.len(), Ordering::Relaxed);
        Some(seg)
    }

    /// Puts a segment back at the head (oldest end), in order.
    pub fn give_back(&self, seg: Vec<u64>) {
        let n = seg.len();
        let mut segs = lock(&self.segs);
        segs.push_front(seg);
        self.entries.fetch_add(n, Ordering::Relaxed);
    }

    /// Entries published now (approximate while threads work).
    pub fn len(&self) -> usize {
        self.entries.load(Ordering::Relaxed)
    }

    /// Whether no entry is published.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every published entry, oldest first (for audits).
    pub fn contents(&self) -> Vec<u64> {
        lock(&self.segs).iter().flatten().copied().collect()
    }

    /// Takes up to `n` of the oldest segments, to compact them.
    pub(crate) fn take_front(&self, n: usize) -> Vec<Vec<u64>> {
        let mut segs = lock(&self.segs);
        let n = n.min(segs.len());
        let taken: Vec<Vec<u64>> = segs.drain(..n).collect();
        let entries: usize = taken.iter().map(|s| s.len()).sum();
        self.entries.fetch_sub(entries, Ordering::Relaxed);
        taken
    }
}

/// A thread's two ends of one [`Fifo`]: the segment it is filling and the
/// one it is consuming. Neither is visible to other threads.
#[derive(Debug, Default)]
pub struct Lane {
    /// Open segment, newest entry last.
    push: Vec<u64>,
    /// A segment taken from the fifo's front, reversed: oldest entry last.
    pop: Vec<u64>,
    /// A consumed segment's buffer, kept for the next open segment.
    spare: Vec<u64>,
}

impl Lane {
    /// An empty lane.
    #[cfg(all(test, hotset_loom))]
    pub fn new() -> Lane {
        Lane::default()
    }

    /// Appends an entry; once the open segment holds `cap` entries it is
    /// published. Returns the fifo's published entries when it published.
    pub fn push(&mut self, e: u64, cap: usize, fifo: &Fifo) -> Option<usize> {
        self.push.push(e);
        (self.push.len() >= cap).then(|| {
            let next = if self.spare.capacity() > 0 {
                std::mem::take(&mut self.spare)
            } else {
                Vec::with_capacity(SEG_MAX)
            };
            let seg = std::mem::replace(&mut self.push, next);
            fifo.publish(seg)
        })
    }

    /// The oldest entry this thread can reach: from the segment it took,
    /// else a segment from the fifo's front, else (the fifo is empty) its own
    /// open segment. The flag says whether it took a segment from the fifo.
    pub fn pop(&mut self, fifo: &Fifo) -> (Option<u64>, bool) {
        let mut took = false;
        if self.pop.is_empty() {
            let mut seg = match fifo.take() {
                Some(s) => {
                    took = true;
                    s
                }
                None if !self.push.is_empty() => std::mem::take(&mut self.push),
                None => return (None, false),
            };
            seg.reverse();
            let used = std::mem::replace(&mut self.pop, seg);
            if self.spare.capacity() == 0 {
                self.spare = used;
            }
        }
        (self.pop.pop(), took)
    }

    /// The entry `ahead` places after the next one, to prefetch.
    pub fn peek_ahead(&self, ahead: usize) -> Option<u64> {
        self.pop.len().checked_sub(ahead + 1).map(|i| self.pop[i])
    }

    /// Whether the lane holds no entry.
    pub fn is_empty(&self) -> bool {
        self.push.is_empty() && self.pop.is_empty()
    }

    /// Gives everything back: the taken segment to the fifo's head, in
    /// order, and the open one to its tail.
    pub fn release(&mut self, fifo: &Fifo) {
        let mut taken = std::mem::take(&mut self.pop);
        if !taken.is_empty() {
            taken.reverse();
            fifo.give_back(taken);
        }
        let open = std::mem::take(&mut self.push);
        if !open.is_empty() {
            fifo.publish(open);
        }
    }
}
