//! Page moves: when the size mix shifts, a page leaves a class whose items
//! are worth fewer hits per byte for a class that is starving, and its live
//! items are rescued into free chunks of their own class where there are
//! any (memcached's `slab_reassign_rescues`).
//!
//! The slab side (marking a page draining, counting its chunks back, the
//! grace period before it is spare) is in `slab/mod.rs`; this is the engine
//! side: choosing the donor, and emptying the page through the index.

use crate::engine::{Engine, ThreadCtx, Why};
use crate::evict::sample::per_byte;
use crate::raw::item::{Held, NewItem};
use crate::raw::reclaim::Guard;
use crate::stats::Ctr;
use crate::sync::{fence, Ordering};
use crate::ttl::now_secs;

/// A donor class gives a page when its worst sampled item, weighed by chunk
/// size (`evict::sample::per_byte`), is this many times worse than the
/// starving class's.
const REBALANCE_RATIO: u128 = 2;

/// What `slabs reassign` did, in memcached's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reassign {
    /// The page is on its way (`OK`).
    Ok,
    /// An earlier reassigned page has not reached its class yet (`BUSY`).
    Busy,
    /// A class id out of range (`BADCLASS`).
    BadClass,
    /// The source has fewer than two pages (`NOSPARE`).
    NoSpare,
    /// Source and destination are the same (`SAME`).
    Same,
}

impl Engine {
    /// Moves a page to `class` from a class whose items are worth fewer hits
    /// per byte (older, weighed by chunk size: `per_byte`), or from any class
    /// if `class` has no page at all (no calcification). Returns whether a
    /// page started draining.
    pub(crate) fn rebalance(&self, ctx: &mut ThreadCtx, g: &Guard<'_>, class: u8) -> bool {
        let n = self.store.slab.classes().sizes().len();
        if n < 2 {
            return false;
        }
        let mine = self.store.slab.class_pages(class);
        if mine > 0 && self.store.slab.pages_moving() > 0 {
            // One move at a time: concurrent threads that each drained a
            // page would empty a small cache (each drain evicts a whole
            // page) before the first move lands. A class with no page at
            // all may still start one.
            return false;
        }
        if !self.evictions {
            // Without evictions only a class that holds pages but no items
            // gives one up: draining it evicts nothing.
            let items = self.class_items();
            let empty = (0..n as u8).find(|&c| {
                c != class && items[c as usize] == 0 && self.store.slab.class_pages(c) > 0
            });
            return empty.is_some_and(|d| self.drain_page(ctx, g, d, 0, None));
        }
        // A class with no page takes one from a class that holds pages but
        // no items (one item grown through the classes by appends leaves
        // such a trail, a page each; with fine classes there are more
        // classes than a small cache has pages), else from the largest
        // class, as long as that leaves it a page. Otherwise a page moves
        // only from a class whose items are clearly worth less per byte, so
        // classes never trade their last pages back and forth.
        let empty = if mine == 0 {
            let items = self.class_items();
            (0..n as u8).find(|&c| {
                c != class && items[c as usize] == 0 && self.store.slab.class_pages(c) > 0
            })
        } else {
            None
        };
        let largest = (0..n as u8)
            .filter(|&c| c != class)
            .max_by_key(|&c| self.store.slab.class_pages(c))
            .filter(|&c| self.store.slab.class_pages(c) >= 2);
        let donor = match empty.or(largest) {
            Some(d) if mine == 0 => Some(d),
            // A class with no page has no items to weigh against: it would
            // take the last page of any class whose items had aged a little,
            // evicting all of them (as a timing race in tests/server.rs
            // showed). It takes a page only where one is to spare.
            None if mine == 0 => None,
            _ => {
                let mut d = (ctx.rand() % (n as u64 - 1)) as u8;
                if d >= class {
                    d += 1;
                }
                let ours = self.tail_badness(ctx, g, class);
                self.sample_into_pool(ctx, g, d);
                let theirs = ctx.pools[d as usize].peek_badness().unwrap_or(0);
                let weigh = |b, c| per_byte(b, self.store.slab.chunk_size(c));
                let worse = weigh(theirs, d) / REBALANCE_RATIO > weigh(ours, class);
                (worse && self.store.slab.class_pages(d) > 0).then_some(d)
            }
        };
        let Some(donor) = donor else { return false };
        self.drain_page(ctx, g, donor, 0, None)
    }

    /// Drains a page of `class` if it has more than `keep`: its live items
    /// move into free chunks of the class while there are any, and the rest
    /// are evicted (expired ones are just unlinked). The page then goes to
    /// class `to`, or to the pool. Returns whether a page started draining.
    pub(crate) fn drain_page(
        &self,
        ctx: &mut ThreadCtx,
        g: &Guard<'_>,
        class: u8,
        keep: usize,
        to: Option<u8>,
    ) -> bool {
        let r = ctx.rand() as usize;
        let Some(chunks) = self.store.slab.drain(class, r, keep, to) else {
            return false;
        };
        let now = now_secs(self.clock.now_ms());
        // Live items move into the class's free chunks while there are any
        // (the depot or this thread's magazine), as memcached's slab mover
        // rescues them: a page move then costs its class free space, not
        // items it would have hit.
        let mut rescues = true;
        for ch in chunks {
            let Some(it) = self.store.live(ch, g) else {
                continue;
            };
            let hash = self.hash(it.key());
            if let Some(why) = self.dead(it, now) {
                self.unlink_item(ctx, g, it, hash, why);
            } else if !(rescues && self.rescue(ctx, g, class, it, hash)) {
                // No free chunk at hand: the rest of the page is evicted.
                rescues = false;
                self.unlink_item(ctx, g, it, hash, Why::Evict);
            }
        }
        self.store
            .slab
            .flush_magazine(class, &mut ctx.mags[class as usize]);
        self.follow_drains(ctx);
        ctx.counters.inc(Ctr::SlabReassigned);
        true
    }

    /// Drains pages until the classes fit the slab's limit (after
    /// [`crate::Cache::set_memory_limit`] lowered it), the class with the
    /// most pages first, and lets grace periods pass so that drained pages
    /// go back to the OS. Returns the pages it drained.
    pub(crate) fn shrink(&self, ctx: &mut ThreadCtx) -> usize {
        let n = self.store.slab.classes().sizes().len() as u8;
        let mut drained = 0;
        while self.store.slab.excess_pages() > 0 {
            let g = self.store.index.pin(&ctx.local);
            let Some(class) = (0..n)
                .filter(|&c| self.store.slab.class_pages(c) > 0)
                .max_by_key(|&c| self.store.slab.class_pages(c))
            else {
                break;
            };
            if !self.drain_page(ctx, &g, class, 0, None) {
                break;
            }
            drained += 1;
            self.retire_batch(ctx, &g);
        }
        self.collect(ctx, 4);
        drained
    }

    /// `slabs reassign <src> <dst>` (memcached's class ids, 1-based; 0 is
    /// the pool of spare pages, and a `src` of -1 picks the class with the
    /// most pages).
    pub(crate) fn reassign(&self, ctx: &mut ThreadCtx, src: i64, dst: i64) -> Reassign {
        if self.store.slab.directed_moves() > 0 {
            return Reassign::Busy;
        }
        if src == dst {
            return Reassign::Same;
        }
        let n = self.store.slab.classes().sizes().len() as i64;
        let src = if src == -1 {
            // The class with the most pages, of those that can spare one;
            // none is a bad class, as in memcached.
            (1..=n)
                .filter(|&c| c != dst && self.store.slab.class_pages((c - 1) as u8) >= 2)
                .max_by_key(|&c| self.store.slab.class_pages((c - 1) as u8))
                .unwrap_or(-1)
        } else {
            src
        };
        if !(0..=n).contains(&src) || !(0..=n).contains(&dst) {
            return Reassign::BadClass;
        }
        let to = (dst > 0).then(|| (dst - 1) as u8);
        if src == 0 {
            // memcached's rule: the source keeps a page.
            if self.store.slab.spare_count() < 2 {
                return Reassign::NoSpare;
            }
            return match to {
                Some(c) if self.store.slab.give_spare(c) => Reassign::Ok,
                Some(_) => Reassign::NoSpare,
                None => Reassign::Ok,
            };
        }
        let g = self.store.index.pin(&ctx.local);
        let moved = self.drain_page(ctx, &g, (src - 1) as u8, 1, to);
        self.retire_batch(ctx, &g);
        drop(g);
        if !moved {
            return Reassign::NoSpare;
        }
        self.collect(ctx, 2);
        Reassign::Ok
    }

    /// The worst badness the eviction pool of `class` knows, after one more
    /// sample: how old the class's tail is.
    fn tail_badness(&self, ctx: &mut ThreadCtx, g: &Guard<'_>, class: u8) -> u64 {
        if ctx.pools[class as usize].is_empty() {
            self.sample_into_pool(ctx, g, class);
        }
        ctx.pools[class as usize].peek_badness().unwrap_or(0)
    }

    /// Moves the live item `it` of a draining page of `class` into a free
    /// chunk of the same class: same key, value, flags, expiry and CAS unique
    /// (so a client's gets/cas pair survives it), swapped in with a CAS on
    /// its exact index word. Returns `false`, leaving `it` alone, if no free
    /// chunk is at hand; `true` once `it` is out of the index, whether it
    /// moved or was changed or removed meanwhile.
    fn rescue(
        &self,
        ctx: &mut ThreadCtx,
        g: &Guard<'_>,
        class: u8,
        it: Held<'_>,
        hash: u64,
    ) -> bool {
        let ptr = it.ptr();
        // Copy only what the index holds: an item found there under our pin
        // is whole and stays put until we unpin.
        let Some(found) = self.store.index.find_where(hash, g, |x| x.ptr() == ptr) else {
            return true;
        };
        if self
            .dead(found.item(), now_secs(self.clock.now_ms()))
            .is_some()
        {
            // Flushed or expired: not worth a copy (and a copy of a flushed
            // item must not outlive the flushes after it).
            return false;
        }
        // Free chunks only, none of a draining page (`Slab::alloc_free`).
        let Some(chunk) = self
            .store
            .slab
            .alloc_free(class, &mut ctx.mags[class as usize])
        else {
            return false;
        };
        let old = found.item();
        let m = old.meta();
        let exptime = old.exptime();
        let copy = NewItem {
            key: old.key(),
            value: old.value(),
            flags: old.flags(),
            exptime,
            cas: old.cas(),
            atime: m.atime,
            freq: m.freq,
            // The meta protocol's bits too (a token taken on the old
            // copy after this read is lost: one more client may win).
            qbits: (old.queue_bits() & crate::raw::item::MAIN) | old.swr_bits(),
            gen: old.flush_gen(),
        };
        let new = self.store.write(chunk, &copy);
        // PLANTED BUG (planted-blind-rescue): swap the copy in over whatever
        // the key holds now, so a set that landed since the copy was taken
        // is undone by the old value.
        let moved = if cfg!(feature = "planted-blind-rescue") {
            match self.store.index.find(hash, old.key(), g) {
                Some(f) => self.store.replace(&f, new, g),
                None => Err(new),
            }
        } else {
            // The copy has the key of `found`.
            self.store.replace(&found, new, g)
        };
        let (new, gone) = match moved {
            Ok(done) => done,
            Err(back) => {
                // Replaced, removed or being removed meanwhile: not ours to
                // move.
                self.discard(ctx, g, back);
                return self
                    .store
                    .index
                    .find_where(hash, g, |x| x.ptr() == ptr)
                    .is_none();
            }
        };
        // A touch may have set the old copy's expiry after we read it; the
        // touch re-checks for a moved copy (`get`), and this catches the
        // other order.
        fence(Ordering::SeqCst);
        let now_exp = old.exptime();
        if now_exp != exptime {
            new.set_exptime(now_exp);
        }
        ctx.counters.inc(Ctr::SlabRescues);
        // The copy takes the old item's place in the queue accounting.
        self.queued(ctx, new);
        self.unqueued(ctx, old);
        self.retire_item(ctx, g, gone);
        self.settle(ctx, g, hash, new);
        true
    }
}

#[cfg(all(test, not(hotset_loom), not(feature = "shuttle")))]
mod tests {
    use crate::engine::Why;
    use crate::raw::slab::Chunk;
    use crate::{Cache, Config, ManualClock, Policy, SlabClasses};
    use std::sync::Arc;

    fn chunk_of(c: &Cache, key: &[u8]) -> Option<usize> {
        c.engine().with_ctx(|e, ctx| {
            let g = e.store.index.pin(&ctx.local);
            e.store
                .index
                .find(e.hash(key), key, &g)
                .map(|f| f.item().ptr().as_ptr() as usize)
        })
    }

    /// Drains a page of class 0 the way `rebalance` does.
    fn drain_walk(c: &Cache) {
        c.engine().with_ctx(|e, ctx| {
            let g = e.store.index.pin(&ctx.local);
            let chunks = e.store.slab.drain(0, 0, 0, None).expect("a page");
            for ch in chunks {
                let Some(it) = e.store.live(ch, &g) else {
                    continue;
                };
                let hash = e.hash(it.key());
                if !e.rescue(ctx, &g, 0, it, hash) {
                    e.unlink_item(ctx, &g, it, hash, Why::Evict);
                }
            }
            e.store.slab.flush_magazine(0, &mut ctx.mags[0]);
            e.follow_drains(ctx);
        });
    }

    fn page(c: &Cache, addr: usize) -> u32 {
        let ch = Chunk::at_addr(addr);
        c.engine().store.slab.chunk_id(ch, 0) / 16
    }

    /// A rescued item keeps its CAS unique, so it can land back in a chunk
    /// it left, on a page that went to another class and came back, while
    /// its old queue entry still waits there: the page generation in the
    /// entry keeps that entry dead (found by review: the item was in the
    /// queues twice).
    #[test]
    fn an_item_rescued_back_into_its_old_chunk_has_one_entry() {
        let clock = ManualClock::new();
        let c = Cache::new(Config {
            memory: 4 << 10,
            page_size: 1 << 10,
            classes: SlabClasses::List(vec![64, 256]),
            max_item_size: 256,
            sweep_hz: 0,
            clock: Some(Arc::new(clock.clone())),
            policy: Policy::S3Fifo,
            seed: Some(1),
            ..Config::default()
        })
        .unwrap();
        let k = |i: usize| format!("k{i:02}").into_bytes();
        for i in 0..17 {
            c.set(&k(i), b"v", 0, 0).unwrap();
        }
        let y = chunk_of(&c, &k(0)).unwrap();
        c.delete(&k(1));
        c.delete(&k(2));
        c.quiesce();
        drain_walk(&c);
        let z = chunk_of(&c, &k(0)).unwrap();
        c.quiesce();
        c.quiesce();
        // Refill until the first page is back in the class, find who holds
        // X's old chunk and free it, and empty X's new page but for X.
        let (mut i, mut on_y, mut on_p0) = (17, None, 0);
        while on_p0 < 16 && i < 80 {
            c.set(&k(i), b"v", 0, 0).unwrap();
            let a = chunk_of(&c, &k(i)).unwrap();
            if a == y {
                on_y = Some(i);
            }
            if page(&c, a) == page(&c, y) {
                on_p0 += 1;
            }
            i += 1;
        }
        let holder = on_y.expect("a key took X's old chunk");
        c.delete(&k(holder));
        let p1 = page(&c, z);
        for j in 0..i {
            if j == 0 || j == holder {
                continue;
            }
            if let Some(a) = chunk_of(&c, &k(j)) {
                if page(&c, a) == p1 {
                    c.delete(&k(j));
                }
            }
        }
        c.quiesce();
        drain_walk(&c);
        assert_eq!(chunk_of(&c, &k(0)), Some(y), "X is back in its old chunk");
        assert_eq!(c.check_consistency().map(|_| ()), Ok(()));
    }

    fn small(memory: usize, memory_max: usize) -> Cache {
        Cache::new(Config {
            memory,
            memory_max: Some(memory_max),
            page_size: 1 << 10,
            classes: SlabClasses::List(vec![64, 256]),
            max_item_size: 256,
            sweep_hz: 0,
            // The index is sized at start, from `memory` unless told: big
            // enough here for the largest limit the tests set.
            index_slots: Some(4096),
            seed: Some(3),
            ..Config::default()
        })
        .unwrap()
    }

    /// Keys `0..n` with `len`-byte values, and how many are still there.
    fn fill(c: &Cache, n: usize, len: usize) -> usize {
        let k = |i: usize| format!("k{i:05}").into_bytes();
        for i in 0..n {
            c.set(&k(i), &vec![b'v'; len], 0, 0).unwrap();
        }
        (0..n)
            .filter(|&i| c.get(&k(i), &mut Vec::new()).is_some())
            .count()
    }

    #[test]
    fn a_lower_memory_limit_drains_and_releases_pages() {
        let c = small(16 << 10, 32 << 10);
        let before = fill(&c, 400, 8);
        assert_eq!(c.stats().pages_used, 16);
        c.set_memory_limit(6 << 10).unwrap();
        c.quiesce();
        let s = c.stats();
        assert!(s.pages_used <= 6, "{} pages still held", s.pages_used);
        assert_eq!(s.limit_maxbytes, 6 << 10);
        let after = (0..400)
            .filter(|&i| {
                c.get(format!("k{i:05}").as_bytes(), &mut Vec::new())
                    .is_some()
            })
            .count();
        assert!(after > 0 && after < before, "{after} of {before} kept");
        assert_eq!(c.check_consistency().map(|_| ()), Ok(()));
        // New stores stay within the lower limit…
        fill(&c, 800, 8);
        assert!(c.stats().pages_used <= 6);
        assert_eq!(c.check_consistency().map(|_| ()), Ok(()));
        // …and a higher one, up to the reserved maximum, is used again
        // (released pages first).
        c.set_memory_limit(32 << 10).unwrap();
        assert_eq!(fill(&c, 400, 8), 400);
        assert!(c.stats().pages_used > 16);
        assert_eq!(c.check_consistency().map(|_| ()), Ok(()));
        assert!(c.set_memory_limit(33 << 10).is_err(), "past the reserve");
        assert!(c.set_memory_limit(100).is_err(), "under a page");
        assert_eq!(c.memory_limit(), 32 << 10);
    }

    #[test]
    fn reassign_moves_one_page_to_the_class_asked_for() {
        use crate::Reassign;
        let c = small(8 << 10, 8 << 10);
        fill(&c, 200, 8);
        let pages = |c: &Cache| -> Vec<u64> { c.stats().classes.iter().map(|k| k.pages).collect() };
        assert_eq!(pages(&c), vec![8, 0]);
        assert_eq!(c.reassign(1, 1), Reassign::Same);
        assert_eq!(c.reassign(3, 1), Reassign::BadClass);
        assert_eq!(c.reassign(1, -2), Reassign::BadClass);
        assert_eq!(c.reassign(2, 1), Reassign::NoSpare, "class 2 has no page");
        assert_eq!(c.reassign(1, 2), Reassign::Ok);
        c.quiesce();
        assert_eq!(pages(&c), vec![7, 1], "the page reached class 2");
        // The page serves class 2 without an eviction there.
        let evicted = c.stats().evictions;
        c.set(b"big", &[b'b'; 100], 0, 0).unwrap();
        assert_eq!(c.stats().evictions, evicted);
        assert_eq!(c.reassign(-1, 2), Reassign::Ok, "any class: the largest");
        c.quiesce();
        assert_eq!(pages(&c), vec![6, 2]);
        // To the pool, then from it.
        assert_eq!(c.reassign(1, 0), Reassign::Ok);
        assert_eq!(c.reassign(1, 0), Reassign::Ok);
        c.quiesce();
        assert_eq!(pages(&c), vec![4, 2]);
        assert_eq!(c.reassign(0, 2), Reassign::Ok);
        c.quiesce();
        assert_eq!(pages(&c), vec![4, 3]);
        assert_eq!(c.reassign(0, 2), Reassign::NoSpare, "the pool keeps one");
        assert_eq!(c.check_consistency().map(|_| ()), Ok(()));
    }
}
