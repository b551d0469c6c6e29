//! What happens to an item once it leaves the index, and moving reclamation
//! along.
//!
//! The thread that wins the CAS unlinking an item (or that built an item it
//! never published) owns its chunk's reclamation: it counts the item out,
//! clears LIVE, and queues the chunk in its batch. A batch goes to the
//! reclaimer once it holds [`RETIRE_BATCH`] chunks or [`RETIRE_BYTES`]
//! bytes, and its chunks return to the depots after the grace period.

use super::{Engine, ThreadCtx, Why};
use crate::raw::item::Held;
use crate::raw::reclaim::Guard;
use crate::raw::slab::Chunk;
use crate::raw::store::{Fresh, Unlinked};
use crate::stats::Ctr;
use crate::sync::{fence, lock, Ordering};

/// Retired chunks are handed to the reclaimer in batches of at most this
/// many… Each batch is one retirement for seize, which issues a
/// `membarrier` (an interrupt to every other core running the process)
/// once per `SEIZE_BATCH` of them: at 32 chunks a batch, that was one per
/// 256 sets of a set-only load, and 12% of a 2-thread run's time went to
/// the interrupts (`perf record`, results/engine/README.md); at 128, 4.7%.
const RETIRE_BATCH: usize = 128;
/// …or this many bytes, so that a thread retiring large items does not keep
/// megabytes from the depots while it waits for 128 of them.
const RETIRE_BYTES: usize = 256 << 10;

/// Whether this thread's batch is due for the reclaimer.
#[inline]
fn batch_full(ctx: &ThreadCtx) -> bool {
    ctx.retired.len() >= RETIRE_BATCH || ctx.retired_bytes >= RETIRE_BYTES
}

impl Engine {
    /// Queues the chunk of an item this thread unlinked for reclamation,
    /// and hands the batch to the reclaimer when it is full.
    #[inline]
    pub(crate) fn retire_item(&self, ctx: &mut ThreadCtx, g: &Guard<'_>, gone: Unlinked<'_>) {
        ctx.retired_bytes += self.store.slab.chunk_bytes(Chunk::of(gone.held().item()));
        self.store.retire(&mut ctx.retired, gone);
        if batch_full(ctx) {
            self.retire_batch(ctx, g);
        }
    }

    /// Hands the whole batch to the reclaimer.
    #[inline]
    pub(crate) fn retire_batch(&self, ctx: &mut ThreadCtx, g: &Guard<'_>) {
        ctx.retired.retire(g);
        ctx.retired_bytes = 0;
    }

    /// Drops an item that was built but not stored.
    pub(crate) fn discard(&self, ctx: &mut ThreadCtx, g: &Guard<'_>, fresh: Fresh<'_>) {
        // LIVE was set, so a sampler may be reading it: retire, never free.
        ctx.retired_bytes += self.store.slab.chunk_bytes(Chunk::of(fresh.held().item()));
        self.store.discard(&mut ctx.retired, fresh);
        self.maybe_retire(ctx, g);
    }

    /// After publishing `it`, what a walk that ran meanwhile may have
    /// missed, we unlink ourselves:
    /// - its page started draining (the fence pairs with the one in
    ///   `Slab::drain`, see there);
    /// - a flush_all moved the generation on since `it` was built: it is
    ///   dead already, and that flush's walk may have passed its bucket
    ///   before it landed. Unlinking it here is what keeps such an item
    ///   from outliving the generations (`FLUSH_GENS`) and reading as live.
    #[inline]
    pub(crate) fn settle(&self, ctx: &mut ThreadCtx, g: &Guard<'_>, hash: u64, it: Held<'_>) {
        fence(Ordering::SeqCst);
        let why = if self.store.slab.draining(Chunk::of(it.item())) {
            Why::Evict
        } else if it.flush_gen() != self.flush_gen() && !cfg!(feature = "planted-skip-settle") {
            // PLANTED BUG (planted-skip-settle): leave an item that landed
            // behind a flush's walk in the index.
            Why::Flush
        } else {
            return;
        };
        if let Some(gone) = self.store.unlink(hash, it, g) {
            self.unlinked(ctx, g, gone, why);
        }
    }

    /// Counts a newly inserted item in.
    pub(crate) fn added(&self, ctx: &mut ThreadCtx, it: Held<'_>) {
        ctx.counters.inc(Ctr::CurrItems);
        ctx.counters
            .class_item(self.store.slab.class_of(Chunk::of(it.item())), 1);
        ctx.counters.inc(Ctr::TotalItems);
        ctx.counters.add(Ctr::Bytes, it.footprint() as u64);
    }

    /// Bookkeeping for `new` replacing `old`, whose replace CAS we won.
    pub(crate) fn replaced(
        &self,
        ctx: &mut ThreadCtx,
        g: &Guard<'_>,
        old: Unlinked<'_>,
        new: Held<'_>,
    ) {
        ctx.counters.inc(Ctr::TotalItems);
        // Still ours (we won the CAS unlinking `old` and have not retired
        // it), so its page keeps its class.
        let class = self.store.slab.class_of(Chunk::of(old.held().item()));
        // The new item may be in another class than the old.
        ctx.counters
            .class_item(self.store.slab.class_of(Chunk::of(new.item())), 1);
        ctx.counters.class_item(class, u64::MAX);
        ctx.counters.add(Ctr::Bytes, new.footprint() as u64);
        self.unlinked(ctx, g, old, Why::Replace);
    }

    /// Bookkeeping for an item this thread unlinked: count it out, clear
    /// LIVE, and queue the chunk for retirement.
    pub(crate) fn unlinked(
        &self,
        ctx: &mut ThreadCtx,
        g: &Guard<'_>,
        gone: Unlinked<'_>,
        why: Why,
    ) {
        let h = gone.held();
        self.unqueued(ctx, h);
        let class = self.store.slab.class_of(Chunk::of(h.item()));
        ctx.counters
            .add(Ctr::Bytes, (h.footprint() as u64).wrapping_neg());
        if why != Why::Replace {
            ctx.counters.add(Ctr::CurrItems, u64::MAX);
            ctx.counters.class_item(class, u64::MAX);
        }
        match why {
            Why::Evict => {
                ctx.counters.evicted(class);
                if !h.fetched() {
                    ctx.counters.inc(Ctr::EvictedUnfetched);
                }
            }
            Why::Expire => {
                ctx.counters.inc(Ctr::Reclaimed);
                if !h.fetched() {
                    ctx.counters.inc(Ctr::ExpiredUnfetched);
                }
            }
            Why::Delete | Why::Flush | Why::Replace => {}
        }
        self.retire_item(ctx, g, gone);
    }

    /// At the end of an operation: hand a full batch to the reclaimer, and
    /// adopt exited threads' batches.
    #[inline]
    pub(crate) fn maybe_retire(&self, ctx: &mut ThreadCtx, g: &Guard<'_>) {
        if batch_full(ctx) {
            self.retire_batch(ctx, g);
        }
        if self.norphans.load(Ordering::Relaxed) > 0 {
            self.adopt_orphans(g);
        }
    }

    /// Retires the batches of threads that exited.
    pub(crate) fn adopt_orphans(&self, g: &Guard<'_>) {
        let mut o = lock(&self.orphans);
        self.norphans.store(0, Ordering::Relaxed);
        for mut b in o.drain(..) {
            b.retire(g);
        }
    }

    /// Retires this thread's batch and lets grace periods pass.
    pub(crate) fn collect(&self, ctx: &mut ThreadCtx, rounds: usize) {
        for _ in 0..rounds {
            let g = self.store.index.pin(&ctx.local);
            self.adopt_orphans(&g);
            self.retire_completed_pages(ctx);
            self.retire_batch(ctx, &g);
            g.flush();
        }
    }

    /// Drained pages wait one grace period before any class reuses them.
    pub(crate) fn retire_completed_pages(&self, ctx: &mut ThreadCtx) {
        self.store.retire_completed_pages(&mut ctx.retired);
    }

    /// Retires this thread's chunks and lets grace periods pass while free
    /// memory still grows (seize frees a batch when the last guard that saw
    /// it leaves, so it takes several guard exits), within a bound.
    pub(crate) fn quiesce(&self, ctx: &mut ThreadCtx) {
        let free = |e: &Engine| {
            (0..e.store.slab.classes().sizes().len())
                .map(|c| e.store.slab.depot_len(c as u8))
                .sum::<usize>()
        };
        let mut last = free(self);
        let mut still = 0;
        for _ in 0..64 {
            self.collect(ctx, 1);
            let now = free(self);
            still = if now == last { still + 1 } else { 0 };
            if still >= 8 {
                break;
            }
            last = now;
        }
    }
}
