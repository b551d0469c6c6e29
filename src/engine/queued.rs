//! The queue policies (S3-FIFO, SIEVE, CLOCK), driven by the engine: the
//! queues (`evict::queue`) choose victims and keep their entries; the
//! engine unlinks the victims and counts them.

use super::{Engine, ThreadCtx, Why};
use crate::evict::queue::{Step, POP_BUDGET};
use crate::raw::item::Held;
use crate::raw::reclaim::Guard;
use crate::ttl::now_secs;

impl Engine {
    /// S3-FIFO: whether a new key was evicted from a small queue recently
    /// (consuming the ghost's memory of it).
    #[inline]
    pub(crate) fn ghost_hit(&self, hash: u64) -> bool {
        self.queues.ghost_hit(&self.store.slab, hash)
    }

    /// Starts fetching the ghost's bucket for `hash` (S3-FIFO).
    #[inline]
    pub(crate) fn prefetch_ghost(&self, hash: u64) {
        self.queues.prefetch_ghost(hash)
    }

    /// Before `new` replaces `old` of the same key: it takes over the old
    /// item's queue and counts as a hit on it.
    #[inline]
    pub(crate) fn inherit(&self, new: Held<'_>, old: Held<'_>) {
        self.queues.inherit(new, old)
    }

    /// After `it` was published: its queue entry, under a queue policy.
    #[inline]
    pub(crate) fn queued(&self, ctx: &mut ThreadCtx, it: Held<'_>) {
        self.queues.queued(&self.store.slab, &mut ctx.queues, it)
    }

    /// After this thread unlinked `it`: count it out of its queue.
    #[inline]
    pub(crate) fn unqueued(&self, ctx: &mut ThreadCtx, it: Held<'_>) {
        self.queues.unqueued(&self.store.slab, &mut ctx.queues, it)
    }

    /// Folds this thread's queue count deltas in (after a sweep or flush).
    pub(crate) fn fold_counts(&self, ctx: &mut ThreadCtx) {
        self.queues.fold_counts(&mut ctx.queues)
    }

    /// Gives this thread's queue segments and counts back.
    pub(crate) fn release_queues(&self, ctx: &mut ThreadCtx) {
        self.queues.release(&mut ctx.queues)
    }

    /// Compacts a queue this thread found over its bound (unpinned).
    pub(crate) fn gc_queue(&self, ctx: &mut ThreadCtx, class: u8, q: usize) {
        self.queues.gc(&self.store, &ctx.local, class, q)
    }

    /// For `check_consistency`: a class's published entries and counts.
    pub(crate) fn queue_contents(&self, class: u8) -> (Vec<u64>, [i64; 2]) {
        self.queues.contents(class)
    }

    /// Evicts up to `want` items of `class` by walking its queues. Returns
    /// how many it evicted.
    pub(crate) fn evict_queued(
        &self,
        ctx: &mut ThreadCtx,
        g: &Guard<'_>,
        class: u8,
        want: usize,
    ) -> usize {
        let mut done = 0;
        let now = now_secs(self.clock.now_ms());
        for _ in 0..want * POP_BUDGET {
            if done >= want {
                break;
            }
            let step = self
                .queues
                .next_victim(&self.store, &mut ctx.queues, g, class, |it| {
                    self.dead(it, now)
                });
            match step {
                Step::Empty => break,
                Step::Kept => {}
                Step::Victim {
                    it,
                    hash,
                    dead,
                    small,
                } => {
                    let why = dead.unwrap_or(Why::Evict);
                    if self.unlink_item(ctx, g, it, hash, why) {
                        done += 1;
                        if small && why == Why::Evict {
                            self.queues.evicted(&mut ctx.queues, hash);
                        }
                    }
                }
            }
        }
        done
    }
}
