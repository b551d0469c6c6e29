//! Sampled eviction, driven by the engine (see `evict::sample`).

use super::{Engine, ThreadCtx, Why};
use crate::evict::sample::Candidate;
use crate::raw::item::Held;
use crate::raw::reclaim::Guard;
use crate::sync::Ordering;
use crate::ttl::now_secs;

impl Engine {
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
                if self.unlink_item(ctx, g, it, c.hash, why) {
                    done += 1;
                }
            }
        }
        done
    }

    /// Samples K chunks of `class` into this thread's pool for it.
    pub(crate) fn sample_into_pool(&self, ctx: &mut ThreadCtx, g: &Guard<'_>, class: u8) {
        let now_ms = self.clock.now_ms();
        let cas_now = self.cas_blocks.load(Ordering::Relaxed);
        let pool = &mut ctx.pools[class as usize];
        self.sampler
            .sample_into_pool(&self.store, pool, &mut ctx.rng, g, class, now_ms, cas_now);
    }

    /// This thread's pool's best victim of `class`, still valid under `g`.
    #[inline]
    fn pop_victim<'g>(
        &self,
        ctx: &mut ThreadCtx,
        g: &'g Guard<'_>,
        class: u8,
    ) -> Option<(Candidate, Held<'g>)> {
        let now_ms = self.clock.now_ms();
        let cas_now = self.cas_blocks.load(Ordering::Relaxed);
        let pool = &mut ctx.pools[class as usize];
        self.sampler
            .pop_victim(&self.store, pool, g, now_ms, cas_now)
    }
}
