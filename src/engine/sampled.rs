//! Sampled eviction, driven by the engine (see `evict::sample`).

use super::{Engine, ThreadCtx, Why};
use crate::evict::sample::{badness, Candidate};
use crate::evict::Policy;
use crate::raw::item::Held;
use crate::raw::reclaim::Guard;
use crate::sync::Ordering;
use crate::ttl::now_secs;

impl Engine {
    /// The policy samples are scored by: the engine's, or for the queue
    /// policies (which sample only to compare classes when a page moves)
    /// LRU's age.
    #[inline]
    pub(crate) fn rank_policy(&self) -> Policy {
        if self.policy.is_queue() {
            Policy::Lru
        } else {
            self.policy
        }
    }

    /// Samples the class and evicts up to `want` items. Returns how many.
    pub(crate) fn evict_sampled(
        &self,
        ctx: &mut ThreadCtx,
        g: &Guard<'_>,
        class: u8,
        want: usize,
    ) -> usize {
        let mut done = 0;
        for _round in 0..want * 4 {
            if done >= want {
                break;
            }
            self.sample_into_pool(ctx, g, class);
            if let Some((c, it)) = self.pop_victim(ctx, g, class) {
                let now = now_secs(self.clock.now_ms());
                let why = self.dead(it, now).unwrap_or(Why::Evict);
                if self.unlink_item(ctx, g, it.item(), c.hash, why) {
                    done += 1;
                }
            }
        }
        done
    }

    /// Samples K chunks of `class` and offers the live ones to the pool.
    pub(crate) fn sample_into_pool(&self, ctx: &mut ThreadCtx, g: &Guard<'_>, class: u8) {
        let now_ms = self.clock.now_ms();
        let now = now_secs(now_ms);
        let cas_now = self.cas_blocks.load(Ordering::Relaxed);
        let cap = if self.pool_cap == 0 {
            ctx.pools[class as usize].clear();
            1
        } else {
            self.pool_cap
        };
        // Pick every sample first and prefetch their headers, so the K cache
        // misses overlap instead of queueing.
        let mut picks = [None; 64];
        for p in picks.iter_mut().take(self.samples) {
            *p = self.slab.sample(class, ctx.rand());
            if let Some(ch) = *p {
                crate::prefetch(ch.ptr().as_ptr());
            }
        }
        for &ch in picks.iter().take(self.samples).flatten() {
            let Some(it) = self.live(ch, g) else {
                continue;
            };
            // Score from the header first; read and hash the key only for a
            // candidate the pool keeps.
            let bad = badness(self.rank_policy(), it, now_ms, now, cas_now, ctx.rand());
            if !ctx.pools[class as usize].would_take(bad, cap) {
                continue;
            }
            let c = Candidate {
                badness: bad,
                chunk: ch,
                cas: it.cas(),
                hash: self.hash(it.key()),
            };
            ctx.pools[class as usize].offer(c, cap);
        }
    }

    /// The pool's worst candidate that is still the same live item, held
    /// under `g`; one whose score improved since it was sampled goes back to
    /// the pool.
    fn pop_victim<'g>(
        &self,
        ctx: &mut ThreadCtx,
        g: &'g Guard<'_>,
        class: u8,
    ) -> Option<(Candidate, Held<'g>)> {
        let now_ms = self.clock.now_ms();
        let now = now_secs(now_ms);
        let cas_now = self.cas_blocks.load(Ordering::Relaxed);
        let pool = &mut ctx.pools[class as usize];
        while let Some(mut c) = pool.pop() {
            // Re-read the candidate through the slab: its page may have left
            // the class, and its chunk been reused, since it was sampled.
            let Some(it) = self.live(c.chunk, g) else {
                continue;
            };
            if it.cas() != c.cas {
                continue;
            }
            if self.policy != Policy::Random {
                let b = badness(self.rank_policy(), it, now_ms, now, cas_now, 0);
                if b < c.badness && pool.peek_badness().is_some_and(|next| b < next) {
                    c.badness = b;
                    pool.offer(c, self.pool_cap.max(1));
                    continue;
                }
            }
            return Some((c, it));
        }
        None
    }
}
