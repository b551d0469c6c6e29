//! Object numbers: every distinct id of a trace numbered 0, 1, 2, … in the
//! order of its first request, in one hashing pass. The simulators keep
//! their per-object state in arrays indexed by number ([`Slots`], [`slot`])
//! instead of hash maps keyed by id: a lookup is one load, a removal one
//! store. One pass serves every cell of a grid and measures the working
//! set on the way.
//!
//! The pass publishes its numbers a chunk of [`CHUNK`] requests at a time,
//! so simulations can run behind it on other threads ([`Objects::pending`],
//! [`Objects::fill`]); a simulation that catches up waits for the next
//! chunk.

use super::Req;
use super::Unit;
use std::sync::{Condvar, Mutex, OnceLock};

/// Requests numbered per published chunk: big enough that waiting for a
/// chunk is rare, small enough that simulations start at once.
pub(crate) const CHUNK: usize = 1 << 16;

/// No node (an empty [`Slots`] entry).
const NIL: u32 = u32::MAX;

/// A trace's distinct objects and their bytes (each at its first-seen
/// size).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkingSet {
    /// Distinct objects.
    pub objects: u64,
    /// Their bytes, each at its first-seen size.
    pub bytes: u64,
}

impl WorkingSet {
    /// The working set in `unit`.
    pub fn of(self, unit: Unit) -> u64 {
        match unit {
            Unit::Objects => self.objects,
            Unit::Bytes => self.bytes,
        }
    }
}

/// The object number of every request of one trace.
pub struct Objects {
    /// Requests in the trace.
    len: usize,
    /// Chunk k holds the numbers of requests k·CHUNK.. (the last one
    /// shorter); each is set once, by [`Objects::fill`].
    chunks: Box<[OnceLock<Box<[u64]>>]>,
    /// Readers of a chunk not yet set wait here; `fill` notifies after
    /// each chunk, holding the lock (so no reader misses it between its
    /// check and its wait).
    lock: Mutex<()>,
    filled: Condvar,
}

impl Objects {
    /// Numbers the objects of `trace` now.
    pub fn number(trace: &[Req]) -> (Objects, WorkingSet) {
        let o = Objects::pending(trace.len());
        let ws = o.fill(trace);
        (o, ws)
    }

    /// Room for the numbers of a trace of `len` requests, none assigned:
    /// [`Objects::fill`] assigns them, and a reader of a chunk not yet
    /// filled waits for it.
    pub(crate) fn pending(len: usize) -> Objects {
        Objects {
            len,
            chunks: (0..len.div_ceil(CHUNK)).map(|_| OnceLock::new()).collect(),
            lock: Mutex::new(()),
            filled: Condvar::new(),
        }
    }

    /// Requests numbered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the trace is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Numbers `trace`, which must be as long as the room made for it,
    /// publishing each chunk as it is done. Call once; a second call
    /// changes nothing.
    pub(crate) fn fill(&self, trace: &[Req]) -> WorkingSet {
        assert_eq!(trace.len(), self.len, "numbers for another trace");
        let mut table = Table::new(trace.len() / 8);
        let mut ws = WorkingSet::default();
        for (reqs, cell) in trace.chunks(CHUNK).zip(self.chunks.iter()) {
            let nums: Box<[u64]> = (0..reqs.len())
                .map(|j| {
                    if let Some(a) = reqs.get(j + NUMBER_AHEAD) {
                        table.prefetch(a.id);
                    }
                    let r = &reqs[j];
                    table.number(r.id, || {
                        ws.objects += 1;
                        ws.bytes += r.size;
                        ws.objects - 1
                    })
                })
                .collect();
            let _ = cell.set(nums);
            let _held = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.filled.notify_all();
        }
        ws
    }

    /// The numbers of chunk `k` (requests k·CHUNK..), once filled.
    pub(crate) fn chunk(&self, k: usize) -> &[u64] {
        if let Some(c) = self.chunks[k].get() {
            return c;
        }
        let mut held = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(c) = self.chunks[k].get() {
                return c;
            }
            held = self.filled.wait(held).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// How far ahead of its request the numbering starts loading a table
/// entry.
const NUMBER_AHEAD: usize = 16;

/// Trace id → object number, for the numbering pass: open addressing
/// with linear probing over (id, number + 1) pairs (0: empty), its home
/// slot by Fibonacci hashing, at most 3/4 full. Not a general map: it
/// only grows, and its home slots can be prefetched ahead.
struct Table {
    slots: Vec<(u64, u64)>,
    /// 64 − log2(slots).
    shift: u32,
    len: usize,
}

impl Table {
    /// Room for about `objects` ids before the first growth.
    fn new(objects: usize) -> Table {
        let n = (objects * 4 / 3).next_power_of_two().max(1024);
        Table {
            slots: written(n, (0, 0)),
            shift: 64 - n.trailing_zeros(),
            len: 0,
        }
    }

    #[inline]
    fn home(&self, id: u64) -> usize {
        (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    #[inline]
    fn prefetch(&self, id: u64) {
        prefetch_at(&self.slots, self.home(id) as u64);
    }

    /// `id`'s number, given it by `new` if it has none.
    #[inline]
    fn number(&mut self, id: u64, new: impl FnOnce() -> u64) -> u64 {
        let mask = self.slots.len() - 1;
        let mut i = self.home(id);
        loop {
            let (k, v) = self.slots[i];
            if v == 0 {
                break;
            }
            if k == id {
                return v - 1;
            }
            i = (i + 1) & mask;
        }
        let v = new();
        self.slots[i] = (id, v + 1);
        self.len += 1;
        if self.len * 4 > self.slots.len() * 3 {
            self.grow();
        }
        v
    }

    #[cold]
    fn grow(&mut self) {
        let n = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, written(n, (0, 0)));
        self.shift -= 1;
        let mask = n - 1;
        for (k, v) in old.into_iter().filter(|e| e.1 != 0) {
            let mut i = self.home(k);
            while self.slots[i].1 != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = (k, v);
        }
    }
}

/// `n` copies of `x`, every page written now. (`vec![0; n]` takes zeroed
/// pages from the allocator, which the kernel maps to its shared zero page
/// until first written: a read and then a write of each page costs a
/// copy-on-write fault and, in a threaded process, a TLB shootdown of
/// every core, 13% of an LFUDA run when the numbering table grew so.)
pub(crate) fn written<T: Clone>(n: usize, x: T) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    v.resize(n, x);
    v
}

/// `v[i]`, the vector first grown to hold it (new entries `empty`): the
/// arrays indexed by object number grow as numbers appear, in the order
/// of first requests.
#[inline]
pub(crate) fn slot<T: Clone>(v: &mut Vec<T>, i: u64, empty: T) -> &mut T {
    let i = i as usize;
    if i >= v.len() {
        grow(v, i, empty);
    }
    &mut v[i]
}

#[cold]
fn grow<T: Clone>(v: &mut Vec<T>, i: usize, empty: T) {
    let len = (i + 1).max(2 * v.len()).max(1024);
    v.resize(len, empty);
}

/// Starts loading `v[i]`, if there is one, for a read soon.
#[inline]
pub(crate) fn prefetch_at<T>(v: &[T], i: u64) {
    if let Some(x) = v.get(i as usize) {
        crate::prefetch((x as *const T).cast());
    }
}

/// Object number → node index, an array in place of a hash map.
pub(crate) struct Slots {
    at: Vec<u32>,
}

impl Slots {
    pub(crate) fn new() -> Slots {
        Slots { at: Vec::new() }
    }

    #[inline]
    pub(crate) fn get(&self, obj: u64) -> Option<u32> {
        match self.at.get(obj as usize) {
            Some(&n) if n != NIL => Some(n),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn insert(&mut self, obj: u64, n: u32) {
        *slot(&mut self.at, obj, NIL) = n;
    }

    /// Starts loading `obj`'s entry into the cache, for a lookup soon.
    #[inline]
    pub(crate) fn prefetch(&self, obj: u64) {
        prefetch_at(&self.at, obj);
    }

    /// Clears `obj`'s entry; the node it had.
    #[inline]
    pub(crate) fn remove(&mut self, obj: u64) -> Option<u32> {
        let n = std::mem::replace(self.at.get_mut(obj as usize)?, NIL);
        (n != NIL).then_some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(id: u64, size: u64) -> Req {
        Req { id, size, next: -1 }
    }

    #[test]
    fn numbers_follow_first_requests_across_chunks() {
        // More than one chunk, ids large and repeated.
        let trace: Vec<Req> = (0..CHUNK as u64 * 2 + 7)
            .map(|i| req((i % 1000) * 0x9e37_79b9_7f4a_7c15, 1 + i % 1000))
            .collect();
        let (o, ws) = Objects::number(&trace);
        assert_eq!(ws.objects, 1000);
        assert_eq!(ws.bytes, (1..=1000).sum::<u64>());
        assert_eq!(ws.of(Unit::Objects), 1000);
        assert_eq!(o.len(), trace.len());
        let nums: Vec<u64> = (0..3).flat_map(|k| o.chunk(k).to_vec()).collect();
        assert_eq!(nums.len(), trace.len());
        for (i, &n) in nums.iter().enumerate() {
            assert_eq!(n, i as u64 % 1000, "request {i}");
        }
    }

    #[test]
    fn the_table_keeps_every_number_through_its_growths() {
        // 0 and u64::MAX are ids like any other; 100,000 objects grow a
        // table of 1024 slots eight times.
        let ids: Vec<u64> = [0, u64::MAX]
            .into_iter()
            .chain((1..100_000u64).map(|i| i << 20))
            .collect();
        let mut t = Table::new(0);
        let mut next = 0;
        for &id in &ids {
            t.number(id, || {
                next += 1;
                next - 1
            });
        }
        for (want, &id) in ids.iter().enumerate() {
            assert_eq!(t.number(id, || unreachable!("{id} has one")), want as u64);
        }
    }

    #[test]
    fn a_reader_waits_for_the_filling_thread() {
        let trace: Vec<Req> = (0..CHUNK as u64 * 3).map(|i| req(i / 2, 1)).collect();
        let o = Objects::pending(trace.len());
        let last = std::thread::scope(|s| {
            let reader = s.spawn(|| o.chunk(2)[CHUNK - 1]);
            o.fill(&trace);
            reader.join().unwrap()
        });
        assert_eq!(last, (CHUNK as u64 * 3 - 1) / 2);
    }

    #[test]
    fn slots_grow_and_clear() {
        let mut s = Slots::new();
        assert_eq!(s.get(5), None);
        assert_eq!(s.remove(5), None);
        s.insert(5000, 7);
        assert_eq!(s.get(5000), Some(7));
        assert_eq!(s.get(4999), None);
        assert_eq!(s.remove(5000), Some(7));
        assert_eq!(s.get(5000), None);
    }
}
