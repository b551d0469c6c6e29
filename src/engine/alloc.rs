//! Allocation under memory pressure: take a chunk, else evict a batch and
//! let the reclaimer return it, else move a page from another class, within
//! a patience bound.
//!
//! A store whose key's candidate index buckets are all full evicts their
//! worst item instead ([`Engine::evict_from_bucket`]).

use super::{Engine, ThreadCtx, Why};
use crate::evict::sample;
use crate::raw::item::Held;
use crate::raw::reclaim::Guard;
use crate::raw::slab::FreeChunk;
use crate::stats::Ctr;
use crate::sync::{yield_now, Ordering};
use crate::ttl::now_secs;
use std::time::{Duration, Instant};

/// How long a store keeps evicting and waiting for the reclaimer before it
/// gives up with "out of memory". Reclamation needs every pinned thread to
/// move on, which takes microseconds unless a thread is descheduled.
const ALLOC_PATIENCE: Duration = Duration::from_millis(200);
/// What stands for `ALLOC_PATIENCE` under a model checker: allocation
/// attempts (each an eviction round and a reclamation flush) before giving up.
const MODEL_ALLOC_ATTEMPTS: usize = 6;
/// A thread that finds its class full evicts this many items at once (fewer
/// for large chunks), so that the grace period and the reclaimer's flush (a
/// membarrier syscall for seize) are paid once per batch, not once per store.
const EVICT_BATCH: usize = 16;
/// …and at most this many bytes of chunks.
const EVICT_BATCH_BYTES: usize = 256 << 10;
/// Every this many evictions, check whether another class holds older items
/// and should give up a page.
const REBALANCE_EVERY: u64 = 16;
/// A store whose class has 1/this of its chunks waiting for reclamation
/// flushes the reclaimer before it evicts: the chunks come back within a
/// grace period, and nothing live need go.
const LIMBO_FLUSH: usize = 2;
/// …and waits this long for them (a pinned sweeper can hold the grace
/// period up for a pass), then evicts after all. Under a model checker,
/// which has no clock, it waits two attempts.
const LIMBO_PATIENCE: Duration = Duration::from_millis(50);
/// Without evictions, a store whose class has chunks on their way back from
/// the reclaimer waits this many rounds for them (each a flush and a
/// yield), not the allocation's whole patience: a full cache answers at
/// once, as memcached's `-M` does.
const NO_EVICT_ROUNDS: usize = 8;
/// Without evictions, a store into a full class looks at this many random
/// chunks of it for expired or flushed items before it gives up (memcached
/// looks at five items at its LRU's tail).
const REAP_SAMPLES: usize = 32;

impl Engine {
    /// Empties this thread's magazines and forgets its eviction candidates
    /// if a page started draining since it last looked: a magazine must not
    /// hand out a chunk of a draining page, and a candidate on a page that
    /// may change class must not be read.
    #[inline]
    pub(crate) fn follow_drains(&self, ctx: &mut ThreadCtx) {
        let gen = self.store.slab.drain_generation();
        if gen != ctx.drain_seen {
            ctx.drain_seen = gen;
            for (c, mag) in ctx.mags.iter_mut().enumerate() {
                self.store.slab.flush_magazine(c as u8, mag);
            }
            for p in ctx.pools.iter_mut() {
                p.clear();
            }
        }
    }

    /// Takes a chunk of `class`, evicting as needed.
    pub(crate) fn alloc(&self, ctx: &mut ThreadCtx, class: u8) -> Option<FreeChunk<'_>> {
        self.follow_drains(ctx);
        if let Some((c, q)) = ctx.queues.gc_due.take() {
            self.gc_queue(ctx, c, q);
        }
        if let Some(c) = self.store.slab.alloc(class, &mut ctx.mags[class as usize]) {
            return Some(c);
        }
        let batch = (EVICT_BATCH_BYTES / self.store.slab.chunk_size(class)).clamp(1, EVICT_BATCH);
        let mut deadline = None;
        let mut limbo_deadline = None;
        // At most one page is drained for this allocation; then we wait.
        let mut drained = false;
        for attempt in 0.. {
            {
                let g = self.store.index.pin(&ctx.local);
                self.follow_drains(ctx);
                self.adopt_orphans(&g);
                self.retire_completed_pages(ctx);
                // Evict a batch at first, then again only if the reclaimer
                // has been given a fair chance to return the last one.
                // seize's flush costs a membarrier syscall, so with seize
                // another batch is evicted instead, until its own batching
                // starts reclamation; crossbeam's flush is cheap.
                let seize = self.store.index.backend().kind() == crate::config::ReclaimKind::Seize;
                // When half the class waits out a grace period (a few items
                // rewritten over and over, as a run of appends to one key
                // does), evicting would take the very items being
                // rewritten: flush first, and evict only if that did not
                // bring chunks back.
                self.retire_batch(ctx, &g);
                // Chunks may have come back since the last attempt looked.
                if attempt > 0 {
                    if let Some(c) = self.store.slab.alloc(class, &mut ctx.mags[class as usize]) {
                        return Some(c);
                    }
                }
                let limbo = self.store.slab.class_limbo(class);
                let waiting = limbo > 0
                    && limbo * LIMBO_FLUSH >= self.store.slab.class_chunks(class)
                    && if crate::sync::MODEL {
                        attempt < 2
                    } else {
                        let d =
                            limbo_deadline.get_or_insert_with(|| Instant::now() + LIMBO_PATIENCE);
                        Instant::now() < *d
                    };
                if !self.evictions {
                    // Only the dead may go, and a page leaves only a class
                    // with no items. Nothing dead, no such page and nothing
                    // on its way back: out of memory at once; chunks on
                    // their way back are waited for a few rounds only.
                    let reaped =
                        !waiting && attempt % 16 == 0 && self.reap(ctx, &g, class, batch) > 0;
                    if !reaped && !drained {
                        drained = self.rebalance(ctx, &g, class);
                    }
                    if !reaped && !drained && (limbo == 0 || attempt >= NO_EVICT_ROUNDS) {
                        self.retire_batch(ctx, &g);
                        return None;
                    }
                } else if !waiting && (attempt % 16 == 0 || (seize && attempt < 8)) {
                    let got = self.evict(ctx, &g, class, batch);
                    ctx.since_rebalance += got as u64;
                    let every = match self.automove.load(std::sync::atomic::Ordering::Relaxed) {
                        0 if self.store.slab.class_pages(class) > 0 => u64::MAX,
                        2 => 1,
                        _ => REBALANCE_EVERY,
                    };
                    if !drained && (got == 0 && every != u64::MAX || ctx.since_rebalance >= every) {
                        ctx.since_rebalance = 0;
                        drained = self.rebalance(ctx, &g, class);
                    }
                    if got == 0 && !drained && self.store.slab.class_pages(class) == 0 {
                        // No page, no donor: waiting cannot help.
                        self.retire_batch(ctx, &g);
                        return None;
                    }
                }
                self.retire_batch(ctx, &g);
                // (Without evictions there is no next batch to evict
                // instead: every round flushes.)
                if !seize || attempt >= 8 || waiting || !self.evictions {
                    g.flush();
                }
            }
            // Unpinned: what was just retired can now pass its grace period.
            if let Some(c) = self.store.slab.alloc(class, &mut ctx.mags[class as usize]) {
                return Some(c);
            }
            if attempt >= 2 {
                if crate::sync::MODEL {
                    // No clock under a model checker: count attempts, so
                    // that every schedule replays exactly.
                    if attempt >= MODEL_ALLOC_ATTEMPTS {
                        return None;
                    }
                } else {
                    let d = *deadline.get_or_insert_with(|| Instant::now() + ALLOC_PATIENCE);
                    if Instant::now() >= d {
                        return None;
                    }
                }
                yield_now();
            }
        }
        None
    }

    /// Evicts up to `want` items of `class` by the policy. Returns how many.
    /// Never inlined: it runs once per batch, and `results/engine/
    /// evict-cost.sh` counts its instructions under callgrind.
    #[inline(never)]
    fn evict(&self, ctx: &mut ThreadCtx, g: &Guard<'_>, class: u8, want: usize) -> usize {
        if self.policy.is_queue() {
            self.evict_queued(ctx, g, class, want)
        } else {
            self.evict_sampled(ctx, g, class, want)
        }
    }

    /// Without evictions: unlinks up to `want` expired or flushed items of
    /// `class` found among [`REAP_SAMPLES`] of its chunks, picked at
    /// random. Returns how many.
    fn reap(&self, ctx: &mut ThreadCtx, g: &Guard<'_>, class: u8, want: usize) -> usize {
        let now = now_secs(self.clock.now_ms());
        let mut done = 0;
        for _ in 0..REAP_SAMPLES {
            if done >= want {
                break;
            }
            let rnd = ctx.rand();
            let Some(ch) = self.store.slab.sample(class, rnd) else {
                continue;
            };
            let Some(it) = self.store.live(ch, g) else {
                continue;
            };
            if let Some(why) = self.dead(it, now) {
                let hash = self.hash(it.key());
                if self.unlink_item(ctx, g, it, hash, why) {
                    done += 1;
                }
            }
        }
        done
    }

    /// Unlinks an item reached through the slab, by its exact index word.
    /// Returns whether this thread unlinked it (and retired it).
    pub(crate) fn unlink_item(
        &self,
        ctx: &mut ThreadCtx,
        g: &Guard<'_>,
        it: Held<'_>,
        hash: u64,
        why: Why,
    ) -> bool {
        match self.store.unlink(hash, it, g) {
            Some(gone) => {
                self.unlinked(ctx, g, gone, why);
                true
            }
            None => false,
        }
    }

    /// Retires, as evictions, the items the index's growth unlinked for
    /// want of room in its larger table (rare: every candidate bucket of
    /// the item's key full there).
    pub(crate) fn retire_orphans(&self, ctx: &mut ThreadCtx, g: &Guard<'_>) {
        for gone in self.store.take_orphans() {
            ctx.counters.inc(Ctr::IndexEvictions);
            self.unlinked(ctx, g, gone, Why::Evict);
        }
    }

    /// A new key found its candidate buckets full: evict their worst item by
    /// the policy (expired items first; only those without evictions).
    /// Returns false when nothing could go: every slot busy, or, without
    /// evictions, every item live.
    pub(crate) fn evict_from_bucket(&self, ctx: &mut ThreadCtx, g: &Guard<'_>, hash: u64) -> bool {
        let now_ms = self.clock.now_ms();
        let now = now_secs(now_ms);
        let cas_now = self.cas_blocks.load(Ordering::Relaxed);
        // Fetch the items' headers together, so their misses overlap.
        for f in self.store.index.neighbours(hash, g) {
            crate::prefetch(f.item().ptr().as_ptr());
        }
        let victim = self
            .store
            .index
            .neighbours(hash, g)
            .map(|f| {
                let bad = match self.dead(f.item(), now) {
                    Some(_) => u64::MAX,
                    None => {
                        sample::badness(self.policy, f.item(), now_ms, now, cas_now, ctx.rand())
                    }
                };
                (bad, f)
            })
            .max_by_key(|(bad, _)| *bad)
            .filter(|(bad, _)| self.evictions || *bad == u64::MAX);
        match victim {
            Some((_, f)) => {
                if let Some(gone) = self.store.remove(&f, g) {
                    let why = match self.dead(f.item(), now) {
                        Some(why) => why,
                        // (A touch may have revived an item scored expired.)
                        None => {
                            ctx.counters.inc(Ctr::IndexEvictions);
                            Why::Evict
                        }
                    };
                    self.unlinked(ctx, g, gone, why);
                }
                true
            }
            None => {
                // Every slot mid-insert or mid-removal (let them finish), or
                // every item live without evictions.
                yield_now();
                false
            }
        }
    }
}
