//! Object numbers: every distinct id of a trace numbered 0, 1, 2, … in the
//! order of its first request, in one hashing pass. The simulators keep
//! their per-object state in arrays indexed by number ([`Slots`], [`slot`])
//! instead of hash maps keyed by id: a lookup is one load, a removal one
//! store. One pass serves every cell of a grid and measures the working
//! set on the way.
//!
//! The pass publishes the trace a part of [`CHUNK`] requests at a time,
//! with their numbers, so simulations run behind it on other threads and
//! wait only when they catch up. The requests come from a trace in memory
//! ([`Objects::fill_from`]) or straight from a reader
//! ([`Objects::fill_with`]), so that reading the file, numbering and
//! simulating overlap.

use super::Req;
use super::Unit;
use std::borrow::Cow;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Requests per published part: big enough that waiting for one is rare,
/// small enough that simulations start at once.
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

/// What one numbering pass saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Requests.
    pub requests: u64,
    /// Bytes requested.
    pub bytes: u64,
    /// The working set.
    pub working_set: WorkingSet,
}

/// Consecutive requests of a trace and their object numbers.
pub(crate) struct Part<'a> {
    pub(crate) reqs: Cow<'a, [Req]>,
    pub(crate) nums: Box<[u64]>,
}

/// A trace's requests with the object number of each, published a part at
/// a time by one numbering pass ([`Objects::fill_from`] or
/// [`Objects::fill_with`], once) and read by any number of simulations
/// ([`Objects::part`]), which wait for parts not yet published.
pub struct Objects<'a> {
    state: Mutex<State<'a>>,
    published: Condvar,
}

struct State<'a> {
    parts: Vec<Arc<Part<'a>>>,
    /// The pass has ended: no more parts.
    done: bool,
}

/// Ends the pass when dropped, however the filling function leaves (an
/// error, a panic), so that no reader waits forever.
struct Ending<'o, 'a>(&'o Objects<'a>);

impl Drop for Ending<'_, '_> {
    fn drop(&mut self) {
        self.0.state().done = true;
        self.0.published.notify_all();
    }
}

impl<'a> Objects<'a> {
    /// Numbers the objects of `trace` now.
    pub fn number(trace: &'a [Req]) -> (Objects<'a>, WorkingSet) {
        let o = Objects::pending();
        let t = o.fill_from(trace);
        (o, t.working_set)
    }

    /// A trace to come: readers of its parts wait for a fill.
    pub fn pending() -> Objects<'a> {
        Objects {
            state: Mutex::new(State {
                parts: Vec::new(),
                done: false,
            }),
            published: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State<'a>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, part: Part<'a>) {
        self.state().parts.push(Arc::new(part));
        self.published.notify_all();
    }

    /// Numbers `trace`, publishing it a part at a time. Call once (a second
    /// fill would publish its parts after the first's).
    pub fn fill_from(&self, trace: &'a [Req]) -> Totals {
        let _end = Ending(self);
        let mut n = Numbering::new(trace.len());
        for reqs in trace.chunks(CHUNK) {
            let nums = n.number(reqs);
            self.publish(Part {
                reqs: Cow::Borrowed(reqs),
                nums,
            });
        }
        n.totals
    }

    /// Numbers the requests `read` passes to its callback, in order,
    /// publishing them a part at a time as they come; `read`'s error, if
    /// any, after the parts before it. `expected` requests (a guess; 0
    /// for none) size the numbering's table. Call once.
    pub fn fill_with<E>(
        &self,
        expected: usize,
        read: impl FnOnce(&mut dyn FnMut(Req)) -> Result<(), E>,
    ) -> Result<Totals, E> {
        let _end = Ending(self);
        let mut n = Numbering::new(expected);
        let mut buf = Vec::with_capacity(CHUNK);
        read(&mut |r| {
            buf.push(r);
            if buf.len() == CHUNK {
                let reqs = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK));
                let nums = n.number(&reqs);
                self.publish(Part {
                    reqs: Cow::Owned(reqs),
                    nums,
                });
            }
        })?;
        if !buf.is_empty() {
            let nums = n.number(&buf);
            self.publish(Part {
                reqs: Cow::Owned(buf),
                nums,
            });
        }
        Ok(n.totals)
    }

    /// Part `k` (requests k·CHUNK..), once published; `None` past the end.
    pub(crate) fn part(&self, k: usize) -> Option<Arc<Part<'a>>> {
        let mut s = self.state();
        loop {
            if let Some(p) = s.parts.get(k) {
                return Some(Arc::clone(p));
            }
            if s.done {
                return None;
            }
            s = self.published.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Requests published so far (all of them once the fill has ended).
    pub fn len(&self) -> usize {
        self.state().parts.iter().map(|p| p.reqs.len()).sum()
    }

    /// Whether none are published.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The most objects a numbering table is sized for before it has seen
/// them (a table of 2^23 slots, 128 MiB); beyond, it grows.
const PRESIZED_OBJECTS: usize = 1 << 22;

/// The working set of `trace`, by a numbering pass that keeps no numbers.
pub(crate) fn measure(trace: &[Req]) -> WorkingSet {
    let mut n = Numbering::new(trace.len());
    for reqs in trace.chunks(CHUNK) {
        n.number(reqs);
    }
    n.totals.working_set
}

/// The numbering pass's state.
struct Numbering {
    table: Table,
    totals: Totals,
}

impl Numbering {
    /// For a trace of about `len` requests (0: unknown): room for a
    /// quarter as many objects (a third to half is common in cache
    /// traces; more costs growths), at most [`PRESIZED_OBJECTS`].
    fn new(len: usize) -> Numbering {
        Numbering {
            table: Table::new((len / 4).min(PRESIZED_OBJECTS)),
            totals: Totals::default(),
        }
    }

    /// The numbers of the next requests.
    fn number(&mut self, reqs: &[Req]) -> Box<[u64]> {
        let Numbering { table, totals } = self;
        totals.requests += reqs.len() as u64;
        (0..reqs.len())
            .map(|j| {
                if let Some(a) = reqs.get(j + NUMBER_AHEAD) {
                    table.prefetch(a.id);
                }
                let r = &reqs[j];
                totals.bytes += r.size;
                table.number(r.id, || {
                    let ws = &mut totals.working_set;
                    ws.objects += 1;
                    ws.bytes += r.size;
                    ws.objects - 1
                })
            })
            .collect()
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
    fn numbers_follow_first_requests_across_parts() {
        // More than one part, ids large and repeated.
        let trace: Vec<Req> = (0..CHUNK as u64 * 2 + 7)
            .map(|i| req((i % 1000).wrapping_mul(0x9e37_79b9_7f4a_7c15), 1 + i % 1000))
            .collect();
        let (o, ws) = Objects::number(&trace);
        assert_eq!(ws.objects, 1000);
        assert_eq!(ws.bytes, (1..=1000).sum::<u64>());
        assert_eq!(ws.of(Unit::Objects), 1000);
        assert_eq!(o.len(), trace.len());
        let parts: Vec<_> = (0..).map_while(|k| o.part(k)).collect();
        assert_eq!(parts.len(), 3);
        let reqs: Vec<Req> = parts.iter().flat_map(|p| p.reqs.to_vec()).collect();
        assert_eq!(reqs, trace);
        let nums: Vec<u64> = parts.iter().flat_map(|p| p.nums.to_vec()).collect();
        for (i, &n) in nums.iter().enumerate() {
            assert_eq!(n, i as u64 % 1000, "request {i}");
        }
    }

    #[test]
    fn a_reader_waits_for_the_stream_and_sees_its_end() {
        let trace: Vec<Req> = (0..CHUNK as u64 * 3 + 5).map(|i| req(i / 2, 2)).collect();
        let o = Objects::pending();
        let (seen, totals) = std::thread::scope(|s| {
            let reader = s.spawn(|| {
                let mut seen = Vec::new();
                for k in 0.. {
                    let Some(p) = o.part(k) else { break };
                    seen.extend(p.reqs.iter().zip(p.nums.iter()).map(|(r, &n)| (r.id, n)));
                }
                seen
            });
            let totals = o.fill_with(0, |push| {
                trace.iter().for_each(|&r| push(r));
                Ok::<(), ()>(())
            });
            (reader.join().unwrap(), totals.unwrap())
        });
        assert_eq!(seen.len(), trace.len());
        assert!(seen.iter().all(|&(id, n)| n == id), "first-seen order");
        assert_eq!(totals.requests, trace.len() as u64);
        assert_eq!(totals.bytes, 2 * trace.len() as u64);
        assert_eq!(totals.working_set.objects, (trace.len() as u64).div_ceil(2));
    }

    #[test]
    fn a_failed_read_ends_the_stream_after_what_it_read() {
        let o = Objects::pending();
        let r = o.fill_with(0, |push| {
            (0..CHUNK as u64 + 1).for_each(|i| push(req(i, 1)));
            Err("truncated record")
        });
        assert_eq!(r, Err("truncated record"));
        assert_eq!(o.part(0).map(|p| p.reqs.len()), Some(CHUNK));
        assert!(o.part(1).is_none(), "the last, partial part is dropped");
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
