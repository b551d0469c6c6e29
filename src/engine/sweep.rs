//! The sweeper and flush_all: expiry of what nobody accesses.
//!
//! Expiry is checked lazily on every access. The sweeper also walks the slab
//! pages incrementally, a bounded slice per tick, and unlinks expired (or
//! flushed) items so their memory comes back without any access. flush_all
//! lives here too: it is expiry of everything at once.

use super::{Engine, ThreadCtx, Why};
use crate::raw::item::{Held, FLUSH_GENS};
use crate::stats::Ctr;
use crate::sync::Ordering;
use crate::ttl::{expired, now_secs};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The sweeper checks its time budget, and re-pins, every this many chunks.
const SWEEP_SLICE: usize = 256;
/// flush_all re-pins every this many buckets.
const FLUSH_SLICE: usize = 4096;

/// Starts the sweeper thread: every `1 / hz` seconds it sweeps for at most
/// the engine's sweep budget. It stops when the cache is dropped.
pub(crate) fn spawn_sweeper(e: &Arc<Engine>, hz: u32) -> std::thread::JoinHandle<()> {
    let weak = Arc::downgrade(e);
    let period = Duration::from_secs(1) / hz;
    std::thread::Builder::new()
        .name("hotset-sweeper".into())
        .spawn(move || {
            // Whether a shrink was under way at the last tick.
            let mut shrinking = false;
            loop {
                std::thread::park_timeout(period);
                let Some(e) = weak.upgrade() else { return };
                if e.closing.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                let budget = e.sweep_budget;
                e.with_ctx(|e, ctx| {
                    e.sweep(ctx, usize::MAX, Some(Instant::now() + budget));
                    // Page moves finish even on an idle cache: a lowered
                    // memory limit is met, and drained pages pass their grace
                    // period and reach the pool, a reassign's class or the OS.
                    if e.store.slab.excess_pages() > 0 {
                        shrinking = true;
                        e.shrink(ctx);
                    } else if e.store.slab.pages_in_flight() > 0 {
                        e.collect(ctx, 1);
                    } else if std::mem::take(&mut shrinking) {
                        // A shrink just finished: what the heap freed
                        // meanwhile (the movers' lists, connections'
                        // buffers) goes back to the OS too.
                        trim_heap();
                    }
                });
                // Leave no state behind in case this was the last tick.
                drop(e);
            }
        })
        .expect("hotset: cannot spawn the sweeper thread")
}

/// Returns the allocator's free memory to the OS (glibc keeps what its
/// per-thread arenas freed, unless asked).
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl Engine {
    /// Walks the used pages from the cursor, unlinking expired items, for
    /// at most `max_chunks` chunks or until `deadline`. Returns the items
    /// unlinked and whether the walk wrapped around.
    pub(crate) fn sweep(
        &self,
        ctx: &mut ThreadCtx,
        max_chunks: usize,
        deadline: Option<Instant>,
    ) -> (usize, bool) {
        let Ok(_one_sweeper) = self.sweep_lock.try_lock() else {
            return (0, false);
        };
        ctx.counters.inc(Ctr::SweepPasses);
        let now_ms = self.clock.now_ms();
        self.due_flush(ctx, now_ms);
        let now = now_secs(now_ms);
        let cur = self.sweep_cursor.load(Ordering::Relaxed);
        let (mut page, mut idx) = ((cur >> 32) as usize, (cur & 0xffff_ffff) as usize);
        let (mut seen, mut reclaimed, mut wrapped) = (0usize, 0usize, false);
        let mut g = self.store.index.pin(&ctx.local);
        // An index growth that the inserts left half done (they move homes
        // only as they come) finishes here, so that its old table goes.
        self.store.index.settle(&g);
        'walk: while seen < max_chunks {
            if page >= self.store.slab.used_pages() {
                page = 0;
                idx = 0;
                if wrapped || self.store.slab.used_pages() == 0 {
                    break;
                }
                wrapped = true;
            }
            let Some((class, chunks)) = self.store.slab.page_chunks(page) else {
                page += 1;
                idx = 0;
                continue;
            };
            for ch in chunks.skip(idx) {
                if self.store.slab.page_class(page) != Some(class) {
                    // The page is draining, or moved to another class while
                    // we were re-pinned: its geometry is no longer ours.
                    break;
                }
                idx += 1;
                seen += 1;
                if let Some(it) = self.store.live(ch, &g) {
                    if let Some(why) = self.dead(it, now) {
                        let hash = self.hash(it.key());
                        if self.unlink_item(ctx, &g, it, hash, why) {
                            reclaimed += 1;
                        }
                    }
                }
                if seen >= max_chunks {
                    break 'walk;
                }
                if seen % SWEEP_SLICE == 0 {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        break 'walk;
                    }
                    // Never hold one guard long: it would stall reclamation
                    // for every thread.
                    self.retire_batch(ctx, &g);
                    drop(g);
                    g = self.store.index.pin(&ctx.local);
                }
            }
            page += 1;
            idx = 0;
        }
        self.sweep_cursor
            .store((page as u64) << 32 | idx as u64, Ordering::Relaxed);
        ctx.counters.add(Ctr::SweepReclaimed, reclaimed as u64);
        // The sweeper only unlinks: fold what it counted out of the queues.
        self.fold_counts(ctx);
        self.retire_batch(ctx, &g);
        g.flush();
        (reclaimed, wrapped)
    }

    /// The current flush generation, modulo [`FLUSH_GENS`]: what a new item
    /// records.
    #[inline]
    pub(crate) fn flush_gen(&self) -> u8 {
        (self.flushes.load(std::sync::atomic::Ordering::SeqCst) % FLUSH_GENS as u64) as u8
    }

    /// Why an item found live in the index no longer counts: flushed (built
    /// before the latest flush_all) or expired at `now` (clock seconds).
    #[inline]
    pub(crate) fn dead(&self, it: Held<'_>, now: u32) -> Option<Why> {
        if it.flush_gen() != self.flush_gen() {
            Some(Why::Flush)
        } else if expired(it.exptime(), now) {
            Some(Why::Expire)
        } else {
            None
        }
    }

    /// flush_all now. The flush takes effect at once, when the generation
    /// moves on: from then every older item reads as absent. Then a walk of
    /// the index unlinks them, so that their memory comes back; items stored
    /// since (the new generation) stay.
    ///
    /// Walks are serialized. An item built just before the bump may be
    /// published behind the walk; it is dead already, and the next flush's
    /// walk unlinks it if nothing else did, well before the generation count
    /// (modulo [`FLUSH_GENS`]) could come back to its own.
    pub(crate) fn flush_now(&self, ctx: &mut ThreadCtx) {
        let _walk = self.flush_lock.lock().unwrap_or_else(|e| e.into_inner());
        ctx.counters.inc(Ctr::Flushes);
        self.flushes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let gen = self.flush_gen();
        // Finish a growth in progress, so that the walk sees every item.
        self.store.index.settle(&self.store.index.pin(&ctx.local));
        let mut i = 0;
        while i < self.store.index.buckets() {
            let g = self.store.index.pin(&ctx.local);
            let end = (i + FLUSH_SLICE).min(self.store.index.buckets());
            for bi in i..end {
                for f in self.store.index.announced(bi, &g) {
                    if f.item().flush_gen() != gen {
                        if let Some(gone) = self.store.remove(&f, &g) {
                            self.unlinked(ctx, &g, gone, Why::Flush);
                        }
                    }
                }
            }
            self.retire_batch(ctx, &g);
            i = end;
        }
        self.fold_counts(ctx);
    }
}

#[cfg(test)]
mod flush_tests {
    use crate::Cache;

    /// An item built before a flush_all but met only after it (a publisher
    /// the flush's walk went past, or a get racing the walk) reads as
    /// absent, and the get counts it in `get_flushed`. Staged by moving the
    /// generation on without the walk.
    #[test]
    fn an_item_the_walk_missed_is_flushed_and_counted() {
        let c = Cache::for_test();
        c.set(b"old", b"v", 0, 0).unwrap();
        c.set(b"kept", b"v", 0, 0).unwrap();
        c.engine()
            .flushes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        c.set(b"new", b"v", 0, 0).unwrap();
        let mut out = Vec::new();
        assert!(c.get(b"old", &mut out).is_none());
        assert!(c.get(b"new", &mut out).is_some());
        assert!(!c.delete(b"kept"), "a flushed item is not there to delete");
        let s = c.stats();
        assert_eq!((s.get_flushed, s.get_misses, s.get_hits), (1, 1, 1));
        assert_eq!(s.curr_items, 1, "both flushed items were unlinked");
        // The next flush_all's walk takes the rest, and new items stay.
        c.set(b"after", b"v", 0, 0).unwrap();
        c.flush_all(0);
        assert_eq!(c.stats().curr_items, 0);
        c.set(b"x", b"v", 0, 0).unwrap();
        assert!(c.get(b"x", &mut out).is_some());
        assert_eq!(c.check_consistency(), Ok(1));
    }

    /// Generations wrap modulo FLUSH_GENS: many flushes in a row never bring
    /// an older item back.
    #[test]
    fn generations_wrap_without_resurrection() {
        let c = Cache::for_test();
        let mut out = Vec::new();
        for round in 0..10u32 {
            let k = format!("k{round}");
            c.set(k.as_bytes(), b"v", 0, 0).unwrap();
            assert!(c.get(k.as_bytes(), &mut out).is_some());
            c.flush_all(0);
            for r in 0..=round {
                assert!(c.get(format!("k{r}").as_bytes(), &mut out).is_none());
            }
        }
        assert_eq!(c.stats().get_flushed, 0, "the walks took every item");
    }
}
