//! Each thread's state for one cache, found in a thread-local list.
//!
//! A thread that touches a cache gets a [`ThreadCtx`]: its magazines (free
//! chunks per class), its retirement batch, its eviction pools, its CAS
//! block and its counters. Nothing in it is shared, so the hot path touches
//! no shared line for any of them. It is given back (magazines to the
//! depots, the batch to the reclaimer or another thread, counters folded
//! into the totals) when the thread exits or calls
//! [`crate::Cache::release_thread`].

use super::Engine;
use crate::evict::sample::Pool;
use crate::raw::item::CAS_MAX;
use crate::raw::reclaim::Local;
use crate::raw::slab::Magazine;
use crate::raw::slab::Retired;
use crate::rng::SplitMix64;
use crate::stats::Counters;
use crate::sync::{lock, thread_local, Ordering};
use std::cell::RefCell;
use std::sync::{Arc, Weak};

/// CAS uniques are taken from the shared counter in blocks of this many, so
/// the counter is touched once per 64 stores per thread.
const CAS_BLOCK: u64 = 64;

/// A thread's state for one cache.
pub(crate) struct ThreadCtx {
    /// The cache's `Engine::id`.
    pub(crate) id: u64,
    pub(crate) owner: Weak<Engine>,
    /// This thread's registration with the cache's collector.
    pub(crate) local: Local,
    /// Free chunks per class, taken without synchronization.
    pub(crate) mags: Vec<Magazine>,
    /// Eviction candidates per class (sampled policies).
    pub(crate) pools: Vec<Pool>,
    /// Chunks this thread unlinked, waiting to be handed to the reclaimer.
    pub(crate) retired: Retired,
    /// Bytes of the chunks in `retired`.
    pub(crate) retired_bytes: usize,
    pub(crate) counters: Arc<Counters>,
    pub(crate) rng: SplitMix64,
    /// The CAS block in use: `[cas_next, cas_end)`.
    pub(crate) cas_next: u64,
    pub(crate) cas_end: u64,
    /// A warm restart's CAS unique for the next item built (0: none; see
    /// `warm.rs`).
    pub(crate) restoring_cas: u64,
    /// The `Slab::drain_generation` this thread's magazines and pools agree
    /// with.
    pub(crate) drain_seen: u64,
    /// Items evicted since this thread last considered moving a page.
    pub(crate) since_rebalance: u64,
    /// A buffer for read-modify-writes.
    pub(crate) scratch: Vec<u8>,
    /// Queue policies: this thread's side of the queues.
    pub(crate) queues: crate::evict::queue::ThreadQueues,
}

thread_local! {
    // Not `const { }`: loom's thread_local! does not take that form.
    #[allow(clippy::missing_const_for_thread_local)]
    static CTXS: RefCell<Vec<ThreadCtx>> = RefCell::new(Vec::new());
}

impl ThreadCtx {
    fn new(e: &Arc<Engine>) -> ThreadCtx {
        let n = e.store.slab.classes().sizes().len();
        let counters = Arc::new(Counters::new(n));
        lock(&e.counters).push(counters.clone());
        let ordinal = e.ctx_seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ThreadCtx {
            id: e.id,
            owner: Arc::downgrade(e),
            local: e.store.index.local(),
            mags: (0..n).map(|_| Magazine::new()).collect(),
            pools: (0..n).map(|_| Pool::default()).collect(),
            retired: e.store.index.batch(e.store.slab.clone()),
            retired_bytes: 0,
            counters,
            rng: SplitMix64::with_stream(e.seed, ordinal),
            cas_next: 0,
            cas_end: 0,
            restoring_cas: 0,
            drain_seen: e.store.slab.drain_generation(),
            since_rebalance: 0,
            scratch: Vec::new(),
            queues: e.queues.thread(),
        }
    }

    /// The next 64 random bits of this thread's stream.
    #[inline]
    pub(crate) fn rand(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// A fresh CAS unique: 1 to [`CAS_MAX`], wrapping (the header keeps 40
    /// bits of it), never 0.
    pub(crate) fn next_cas(&mut self, e: &Engine) -> u64 {
        loop {
            if self.cas_next == self.cas_end {
                self.cas_next = e.cas_blocks.fetch_add(CAS_BLOCK, Ordering::Relaxed);
                self.cas_end = self.cas_next + CAS_BLOCK;
            }
            self.cas_next += 1;
            let cas = (self.cas_next - 1) & CAS_MAX;
            if cas != 0 {
                return cas;
            }
        }
    }
}

impl Drop for ThreadCtx {
    fn drop(&mut self) {
        let Some(e) = self.owner.upgrade() else {
            // The cache is gone: the pending batch and the magazines are
            // forgotten with the slab (the batch holds the last reference
            // to it, perhaps).
            return;
        };
        for (class, mag) in self.mags.iter_mut().enumerate() {
            if !mag.is_empty() {
                e.store.slab.flush_magazine(class as u8, mag);
            }
        }
        e.release_queues(self);
        if !self.retired.is_empty() {
            // Pinning here could touch thread-locals already destroyed, so
            // another thread retires the batch.
            let b = std::mem::replace(&mut self.retired, e.store.index.batch(e.store.slab.clone()));
            lock(&e.orphans).push(b);
            e.norphans.fetch_add(1, Ordering::Relaxed);
        }
        // Fold into the totals and unregister under the registry lock, which
        // `stats` also holds, so a snapshot never misses this thread.
        let mut reg = lock(&e.counters);
        self.counters.sum_into(&mut lock(&e.gone));
        reg.retain(|c| !Arc::ptr_eq(c, &self.counters));
    }
}

/// Drops the calling thread's context for the cache `id`, if it has one.
pub(crate) fn release(id: u64) {
    let _ = CTXS.try_with(|c| {
        // Inside a `get_with` callback the list is borrowed: then there is
        // nothing to release (the callback runs on a one-off context).
        let Ok(mut v) = c.try_borrow_mut() else {
            return;
        };
        if let Some(i) = v.iter().position(|x| x.id == id) {
            let mut ctx = v.swap_remove(i);
            drop(v);
            if let Some(e) = ctx.owner.upgrade() {
                // Pinning is safe here (the thread is alive): hand the batch
                // to the reclaimer now, and let its grace period pass,
                // rather than leave it to another thread. Under a model
                // checker one round only: every round is thousands of steps.
                if crate::sync::MODEL {
                    e.collect(&mut ctx, 1);
                } else if !std::thread::panicking() {
                    e.quiesce(&mut ctx);
                }
            }
            drop(ctx);
        }
    });
}

impl Engine {
    /// Runs `f` with the calling thread's context for this cache, creating
    /// it on first use.
    #[inline]
    pub(crate) fn with_ctx<R>(self: &Arc<Self>, f: impl FnOnce(&Engine, &mut ThreadCtx) -> R) -> R {
        let mut f = Some(f);
        let r = CTXS.try_with(|cell| {
            // A call from inside a `get_with` callback finds the list
            // borrowed: it gets a one-off context below instead of a panic.
            let Ok(mut v) = cell.try_borrow_mut() else {
                return None;
            };
            let i = match v.iter().position(|c| c.id == self.id) {
                Some(i) => i,
                None => {
                    v.retain(|c| c.owner.strong_count() > 0);
                    v.push(ThreadCtx::new(self));
                    v.len() - 1
                }
            };
            if i != 0 {
                v.swap(0, i);
            }
            let f = f.take().expect("called once");
            Some(f(self, &mut v[0]))
        });
        match r {
            Ok(Some(r)) => r,
            // Thread-locals are being torn down, or this is a re-entrant
            // call: use a one-off context.
            Ok(None) | Err(_) => {
                let mut ctx = ThreadCtx::new(self);
                let f = f.take().expect("not called");
                f(self, &mut ctx)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::raw::item::CAS_MAX;
    use crate::{Cache, Stored};

    /// CAS uniques are 40 bits: near the top they wrap to 1, never hand out
    /// 0, and gets/cas work on either side of the wrap.
    #[test]
    fn cas_uniques_wrap_at_40_bits_and_skip_zero() {
        let c = Cache::for_test();
        c.engine()
            .cas_blocks
            .store(CAS_MAX - 3, std::sync::atomic::Ordering::Relaxed);
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for i in 0..8u32 {
            let k = format!("k{i}");
            c.set(k.as_bytes(), b"v", 0, 0).unwrap();
            let cas = c.get(k.as_bytes(), &mut out).unwrap().cas;
            assert!(cas != 0 && cas <= CAS_MAX, "{cas:#x}");
            assert_eq!(c.cas(k.as_bytes(), b"w", 0, 0, cas), Ok(Stored::Stored));
            assert_eq!(c.cas(k.as_bytes(), b"x", 0, 0, cas), Ok(Stored::Exists));
            seen.push(cas);
        }
        assert!(seen.iter().any(|&c| c > 1 << 32), "{seen:x?}");
        assert!(seen.iter().any(|&c| c < 16), "wrapped: {seen:x?}");
    }
}
