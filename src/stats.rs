//! Per-thread counters, summed on read.
//!
//! Each thread that touches a cache owns a [`Counters`] block and bumps it
//! with a relaxed load and store (no read-modify-write, no shared line).
//! [`crate::Cache::stats`] sums every registered block plus the totals of
//! threads that have gone.

// Std atomics even under a model checker: see `sync.rs`.
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident => $field:ident,)*) => {
        /// Counter ids.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub(crate) enum Ctr { $($name,)* }
        const NCTR: usize = [$(Ctr::$name,)*].len();

        /// A snapshot of a cache's counters, with memcached's names where the
        /// meaning is the same.
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct Stats {
            $($(#[$doc])* pub $field: u64,)*
            /// Index slots in use / capacity, per mille.
            pub index_load_permille: u64,
            /// Index capacity in slots.
            pub index_slots: u64,
            /// Bytes the index occupies.
            pub index_bytes: u64,
            /// The memory budget in bytes.
            pub limit_maxbytes: u64,
            /// Pages whose memory is committed: in a class, moving, or spare.
            pub pages_used: u64,
            /// Pages in the budget.
            pub pages_total: u64,
            /// Queue policies: entries in the classes' published queue
            /// segments (8 bytes each), stale ones included.
            pub queue_entries: u64,
            /// S3-FIFO: bytes of the ghost's fingerprint table.
            pub ghost_bytes: u64,
            /// Per class: chunk size, pages, free chunks in the depot, evictions.
            pub classes: Vec<ClassStats>,
        }

        impl Stats {
            fn set_ctr(&mut self, c: usize, v: u64) {
                let mut i = 0;
                $(if i == c { self.$field = v; return; } i += 1;)*
                let _ = i;
            }

            /// The counters as counted since `base` was taken (memcached's
            /// `stats reset`); the gauges (`curr_items`, `bytes` and the
            /// fields outside the counters) as they are now.
            pub fn since(&self, base: &Stats) -> Stats {
                let mut s = self.clone();
                $(s.$field = self.$field.saturating_sub(base.$field);)*
                s.curr_items = self.curr_items;
                s.bytes = self.bytes;
                for (c, b) in s.classes.iter_mut().zip(&base.classes) {
                    c.evictions = c.evictions.saturating_sub(b.evictions);
                }
                s
            }
        }
    };
}

counters! {
    /// get hits.
    GetHits => get_hits,
    /// get misses (absent, expired or flushed).
    GetMisses => get_misses,
    /// gets that found an expired item.
    GetExpired => get_expired,
    /// gets that found an item invalidated by flush_all.
    GetFlushed => get_flushed,
    /// Retrieval requests.
    CmdGet => cmd_get,
    /// Storage requests.
    CmdSet => cmd_set,
    /// Touch requests (touch, gat).
    CmdTouch => cmd_touch,
    /// Touches of a present key.
    TouchHits => touch_hits,
    /// Touches of an absent key.
    TouchMisses => touch_misses,
    /// Deletes of a present key.
    DeleteHits => delete_hits,
    /// Deletes of an absent key.
    DeleteMisses => delete_misses,
    /// incr of a present key.
    IncrHits => incr_hits,
    /// incr of an absent key.
    IncrMisses => incr_misses,
    /// decr of a present key.
    DecrHits => decr_hits,
    /// decr of an absent key.
    DecrMisses => decr_misses,
    /// cas that stored.
    CasHits => cas_hits,
    /// cas of an absent key.
    CasMisses => cas_misses,
    /// cas with a stale unique.
    CasBadval => cas_badval,
    /// Live items evicted to make room (sampled, bucket conflicts, and page moves).
    Evictions => evictions,
    /// Of those, evictions because the key's index bucket was full.
    IndexEvictions => index_evictions,
    /// Expired items reclaimed that were never fetched.
    ExpiredUnfetched => expired_unfetched,
    /// Evicted items that were never fetched.
    EvictedUnfetched => evicted_unfetched,
    /// Expired items reclaimed (by eviction sampling or the sweeper).
    Reclaimed => reclaimed,
    /// Items currently stored.
    CurrItems => curr_items,
    /// Items ever stored.
    TotalItems => total_items,
    /// Bytes of item memory in use (header, key and value of live items).
    Bytes => bytes,
    /// Sweeper passes (ticks) run.
    SweepPasses => sweep_passes,
    /// Expired items the sweeper reclaimed.
    SweepReclaimed => sweep_reclaimed,
    /// Stores refused for lack of memory.
    OutOfMemory => out_of_memory,
    /// Stores refused because the item would pass the largest item size
    /// (those the server refuses before the value arrives are the
    /// server's to count).
    TooLarge => too_large,
    /// Pages moved from one class to another.
    SlabReassigned => slab_reassigned,
    /// Live items of a draining page moved into a free chunk of their class
    /// instead of evicted (memcached's `slab_reassign_rescues`).
    SlabRescues => slab_rescues,
    /// flush_all runs.
    Flushes => flushes,
}

/// Per-class figures in a [`Stats`] snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassStats {
    /// Chunk size in bytes.
    pub chunk_size: u64,
    /// Pages assigned to the class.
    pub pages: u64,
    /// Free chunks in the depot (not counting thread magazines).
    pub free_chunks: u64,
    /// Items evicted from the class.
    pub evictions: u64,
    /// Items currently stored in the class.
    pub items: u64,
}

/// One thread's counters for one cache.
pub(crate) struct Counters {
    c: [AtomicU64; NCTR],
    class_evictions: Box<[AtomicU64]>,
    /// Signed deltas of items per class.
    class_items: Box<[AtomicU64]>,
}

impl Counters {
    pub(crate) fn new(classes: usize) -> Counters {
        Counters {
            c: std::array::from_fn(|_| AtomicU64::new(0)),
            class_evictions: (0..classes).map(|_| AtomicU64::new(0)).collect(),
            class_items: (0..classes).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// One more (`n = 1`) or one fewer (`n = u64::MAX`) item in a class.
    pub(crate) fn class_item(&self, class: u8, n: u64) {
        let a = &self.class_items[class as usize];
        a.store(a.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    /// Adds `n` (wrapping, so deltas may be negative). Only the owning thread
    /// writes, so a load and a store suffice.
    #[inline]
    pub(crate) fn add(&self, c: Ctr, n: u64) {
        let a = &self.c[c as usize];
        a.store(a.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn inc(&self, c: Ctr) {
        self.add(c, 1)
    }

    pub(crate) fn evicted(&self, class: u8) {
        let a = &self.class_evictions[class as usize];
        a.store(a.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        self.inc(Ctr::Evictions);
    }

    /// Adds this block's values into `totals`.
    pub(crate) fn sum_into(&self, totals: &mut Totals) {
        for (t, c) in totals.c.iter_mut().zip(&self.c) {
            *t = t.wrapping_add(c.load(Ordering::Relaxed));
        }
        for (t, c) in totals
            .class_evictions
            .iter_mut()
            .zip(self.class_evictions.iter())
        {
            *t += c.load(Ordering::Relaxed);
        }
        // Per-thread item deltas may be negative (an item added by one
        // thread and removed by another): wrapping sums come out right.
        for (t, c) in totals.class_items.iter_mut().zip(self.class_items.iter()) {
            *t = t.wrapping_add(c.load(Ordering::Relaxed));
        }
    }
}

/// Plain sums of counters.
#[derive(Clone, Debug)]
pub(crate) struct Totals {
    c: [u64; NCTR],
    pub(crate) class_evictions: Vec<u64>,
    pub(crate) class_items: Vec<u64>,
}

impl Totals {
    pub(crate) fn new(classes: usize) -> Totals {
        Totals {
            c: [0; NCTR],
            class_evictions: vec![0; classes],
            class_items: vec![0; classes],
        }
    }

    /// Writes the counter fields of a snapshot. Item and byte counts are sums
    /// of signed deltas; a negative sum (a delete counted before its insert
    /// was) reads as 0.
    pub(crate) fn fill(&self, s: &mut Stats) {
        for (i, &v) in self.c.iter().enumerate() {
            let v = if i == Ctr::CurrItems as usize || i == Ctr::Bytes as usize {
                (v as i64).max(0) as u64
            } else {
                v
            };
            s.set_ctr(i, v);
        }
    }
}
