//! The engine: index + slab + eviction + TTL, with memcached's semantics.
//!
//! This module is the public face ([`Cache`]) and the engine's shared state
//! ([`Engine`]). The engine's work is split by role:
//!
//! - `ctx`: each thread's state for a cache ([`ThreadCtx`]: magazines,
//!   retirement batch, eviction pools and queue segments, CAS block,
//!   counters), found in a thread-local list;
//! - `ops`: the operations (get, the stores, delete, read-modify-writes);
//! - `retire`: what happens to an item once it is unlinked, and moving
//!   reclamation along;
//! - `check`: the consistency audit and the stats snapshot.
//!
//! Eviction (`evict/`), page moves (`slab/mover.rs`) and the sweeper and
//! flush (`ttl.rs`) are `impl Engine` blocks beside the structures they
//! drive.
//!
//! Reads pin, probe one bucket, and copy out while pinned. Writes allocate
//! and fill a chunk *before* pinning (allocation may evict, and evicted
//! chunks only come back after this thread unpins), then publish with a CAS.

mod check;
mod ctx;
mod meta;
mod ops;
mod retire;

pub(crate) use ctx::ThreadCtx;

use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::evict::queue::Queues;
use crate::evict::Policy;
use crate::index::reclaim::Retired;
use crate::index::Index;
use crate::slab::{mover::Reassign, Slab};
use crate::stats::{Counters, Stats, Totals};
use crate::sync::{AtomicU64, AtomicUsize, Mutex};
use std::fmt;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

/// Why a store failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The key is empty or longer than 250 bytes.
    BadKey,
    /// The item is larger than the largest item allowed.
    TooLarge,
    /// No memory could be freed for the item.
    OutOfMemory,
    /// incr/decr on a value that is not a decimal u64.
    NonNumeric,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::BadKey => "bad key: empty or longer than 250 bytes",
            Error::TooLarge => "object too large for cache",
            Error::OutOfMemory => "out of memory storing object",
            Error::NonNumeric => "cannot increment or decrement non-numeric value",
        })
    }
}

impl std::error::Error for Error {}

/// The result of a storage command, as memcached words it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// `STORED`
    Stored,
    /// `NOT_STORED`: add of a present key, replace/append/prepend of an absent one.
    NotStored,
    /// `EXISTS`: cas with a stale unique.
    Exists,
    /// `NOT_FOUND`: cas of an absent key.
    NotFound,
}

/// What a hit returns besides the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Client flags.
    pub flags: u32,
    /// CAS unique.
    pub cas: u64,
}

pub use meta::{ArithHit, ArithOp, GetOpts, MetaArith, MetaDebug, MetaHit, SetMode};

/// A value seen in place, valid for the duration of a [`Cache::get_with`]
/// callback.
#[derive(Debug)]
pub struct ItemRef<'g> {
    /// The value bytes.
    pub value: &'g [u8],
    /// Client flags.
    pub flags: u32,
    /// CAS unique.
    pub cas: u64,
}

/// The condition of a store.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cond {
    Any,
    Absent,
    Present,
    Cas(u64),
    /// `mg … N`: as `Absent`, and the new item carries the recache token
    /// (its creator won it).
    Vivify,
    /// `ms … C I`: as `Cas`, and a CAS older than the item's stores the
    /// value as stale, keeping the item's TTL and token.
    CasOrStale(u64),
}

/// Why an item left the index, for the counters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    Delete,
    Evict,
    Expire,
    Flush,
    Replace,
}

/// The cache. Cheap to share: wrap it in an `Arc`, or use scoped threads.
pub struct Cache {
    engine: Arc<Engine>,
    sweeper: Option<std::thread::JoinHandle<()>>,
    /// The configuration the cache was built from (for `config`).
    cfg: Config,
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Everything the threads of a cache share.
pub(crate) struct Engine {
    /// Tells this cache's thread contexts from other caches'.
    pub(crate) id: u64,
    pub(crate) policy: Policy,
    /// Chunks sampled per eviction round (K).
    pub(crate) samples: usize,
    /// Eviction-pool size per thread and class; 0 keeps one candidate.
    pub(crate) pool_cap: usize,
    /// The largest item accepted, at most the largest class.
    pub(crate) max_item: usize,
    /// The budget in bytes as last set (`limit_maxbytes`); the slab holds
    /// it in pages.
    pub(crate) memory: std::sync::atomic::AtomicUsize,
    pub(crate) sweep_budget: Duration,
    pub(crate) slab: Arc<Slab>,
    /// The index, which owns the collector that retires every chunk of
    /// `slab`.
    pub(crate) index: Index,
    /// The queue policies' per-class queues and ghost (empty for the
    /// sampled policies).
    pub(crate) queues: Queues,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) hasher: foldhash::fast::FixedState,
    /// Seeds the per-thread random streams (with `ctx_seq`).
    pub(crate) seed: u64,
    /// Thread contexts created so far: the ordinal that seeds the next one.
    pub(crate) ctx_seq: std::sync::atomic::AtomicU64,
    /// Next unused CAS block.
    pub(crate) cas_blocks: AtomicU64,
    /// Due time of a delayed flush_all, in clock ms + 1; 0 = none.
    pub(crate) flush_at: AtomicU64,
    /// flush_all runs so far. An item built in an earlier one (its
    /// `flush_gen` differs, modulo `FLUSH_GENS`) is flushed: it reads as
    /// absent, and is counted in `get_flushed` when a get finds it. A std
    /// atomic, bumped SeqCst under `flush_lock` before the flush's walk.
    pub(crate) flushes: std::sync::atomic::AtomicU64,
    /// Serializes flush walks, so that every item of an older generation is
    /// met by a walk before the generation count wraps around to its own.
    pub(crate) flush_lock: Mutex<()>,
    /// Sweeper position: page * 2^32 + chunk.
    pub(crate) sweep_cursor: AtomicU64,
    pub(crate) sweep_lock: Mutex<()>,
    /// Every live thread's counters, summed by `stats`.
    pub(crate) counters: Mutex<Vec<Arc<Counters>>>,
    /// Counters of threads that have gone.
    pub(crate) gone: Mutex<Totals>,
    /// Retirement batches of threads that exited; retired by the next pinner.
    pub(crate) orphans: Mutex<Vec<Retired>>,
    pub(crate) norphans: AtomicUsize,
    /// Set when the cache is dropped: the sweeper exits.
    pub(crate) closing: std::sync::atomic::AtomicBool,
    /// memcached's `slab_automove`: 0 moves a page only to a class that
    /// has none, 1 also when another class's items are clearly older
    /// (every [`crate::evict`] rebalance period), 2 checks on every
    /// eviction. A std atomic: a setting, it orders nothing.
    pub(crate) automove: std::sync::atomic::AtomicU8,
}

impl Cache {
    /// Builds a cache. Starts a sweeper thread when `sweep_hz > 0`.
    pub fn new(cfg: Config) -> Result<Cache, ConfigError> {
        cfg.validate()?;
        let classes = cfg.build_classes()?;
        let ceiling = cfg.ceiling(classes.sizes()[0]);
        let slab =
            Slab::new(cfg.memory, ceiling, cfg.page_size, classes).map_err(|e| ConfigError(e.0))?;
        let index = match cfg.index_slots {
            Some(n) => Index::with_slots(n, cfg.reclaim),
            None => Index::for_budget(cfg.memory, cfg.reclaim),
        };
        let queues = Queues::new(cfg.policy, &slab, index.capacity())?;
        let nclasses = slab.classes().sizes().len();
        let seed = cfg.seed.unwrap_or_else(|| {
            // A randomly keyed hasher turns anything into a random seed.
            foldhash::fast::RandomState::default()
                .hash_one(NEXT_ID.load(std::sync::atomic::Ordering::Relaxed))
        });
        let max_item = cfg.max_item_size.min(slab.classes().largest());
        let engine = Arc::new(Engine {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            policy: cfg.policy,
            samples: cfg.samples,
            pool_cap: cfg.evict_pool,
            max_item,
            memory: std::sync::atomic::AtomicUsize::new(cfg.memory),
            sweep_budget: cfg.sweep_budget,
            slab: Arc::new(slab),
            index,
            queues,
            clock: cfg.clock(),
            hasher: foldhash::fast::FixedState::with_seed(seed),
            seed,
            ctx_seq: std::sync::atomic::AtomicU64::new(0),
            cas_blocks: AtomicU64::new(1),
            flush_at: AtomicU64::new(0),
            flushes: std::sync::atomic::AtomicU64::new(0),
            flush_lock: Mutex::new(()),
            sweep_cursor: AtomicU64::new(0),
            sweep_lock: Mutex::new(()),
            counters: Mutex::new(Vec::new()),
            gone: Mutex::new(Totals::new(nclasses)),
            orphans: Mutex::new(Vec::new()),
            norphans: AtomicUsize::new(0),
            closing: std::sync::atomic::AtomicBool::new(false),
            automove: std::sync::atomic::AtomicU8::new(1),
        });
        let sweeper = (cfg.sweep_hz > 0).then(|| crate::ttl::spawn_sweeper(&engine, cfg.sweep_hz));
        Ok(Cache {
            engine,
            sweeper,
            cfg,
        })
    }

    /// Looks a key up and, on a hit, calls `f` with the value in place while
    /// it is protected. No allocation.
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(ItemRef<'_>) -> R) -> Option<R> {
        self.engine.with_ctx(|e, ctx| e.get(ctx, key, None, f))
    }

    /// Looks a key up and appends its value to `out`.
    pub fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Option<Hit> {
        self.get_with(key, |r| {
            out.extend_from_slice(r.value);
            Hit {
                flags: r.flags,
                cas: r.cas,
            }
        })
    }

    /// Get-and-touch: like [`Cache::get_with`], and sets a new exptime.
    pub fn get_and_touch_with<R>(
        &self,
        key: &[u8],
        exptime: i64,
        f: impl FnOnce(ItemRef<'_>) -> R,
    ) -> Option<R> {
        self.engine
            .with_ctx(|e, ctx| e.get_and_touch(ctx, key, exptime, f))
    }

    /// Get-and-touch, appending the value to `out`.
    pub fn get_and_touch(&self, key: &[u8], exptime: i64, out: &mut Vec<u8>) -> Option<Hit> {
        self.get_and_touch_with(key, exptime, |r| {
            out.extend_from_slice(r.value);
            Hit {
                flags: r.flags,
                cas: r.cas,
            }
        })
    }

    /// Stores unconditionally.
    pub fn set(&self, key: &[u8], value: &[u8], flags: u32, exptime: i64) -> Result<Stored, Error> {
        self.store(key, value, flags, exptime, Cond::Any)
    }

    /// Stores only if the key is absent.
    pub fn add(&self, key: &[u8], value: &[u8], flags: u32, exptime: i64) -> Result<Stored, Error> {
        self.store(key, value, flags, exptime, Cond::Absent)
    }

    /// Stores only if the key is present.
    pub fn replace(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u32,
        exptime: i64,
    ) -> Result<Stored, Error> {
        self.store(key, value, flags, exptime, Cond::Present)
    }

    /// Stores only if the key's CAS unique is still `cas`.
    pub fn cas(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u32,
        exptime: i64,
        cas: u64,
    ) -> Result<Stored, Error> {
        self.store(key, value, flags, exptime, Cond::Cas(cas))
    }

    fn store(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u32,
        exptime: i64,
        cond: Cond,
    ) -> Result<Stored, Error> {
        self.engine
            .with_ctx(|e, ctx| e.store(ctx, key, &[value], flags, exptime, cond))
    }

    /// Appends to a present key's value (flags and exptime unchanged).
    pub fn append(&self, key: &[u8], data: &[u8]) -> Result<Stored, Error> {
        self.engine
            .with_ctx(|e, ctx| e.concat(ctx, key, data, false))
    }

    /// Prepends to a present key's value.
    pub fn prepend(&self, key: &[u8], data: &[u8]) -> Result<Stored, Error> {
        self.engine
            .with_ctx(|e, ctx| e.concat(ctx, key, data, true))
    }

    /// Adds to a decimal u64 value, wrapping at 2^64. `Ok(None)` if absent.
    pub fn incr(&self, key: &[u8], delta: u64) -> Result<Option<u64>, Error> {
        self.engine
            .with_ctx(|e, ctx| e.arith(ctx, key, delta, true))
    }

    /// Subtracts from a decimal u64 value, stopping at 0. `Ok(None)` if absent.
    pub fn decr(&self, key: &[u8], delta: u64) -> Result<Option<u64>, Error> {
        self.engine
            .with_ctx(|e, ctx| e.arith(ctx, key, delta, false))
    }

    /// Removes a key. `true` if it was present.
    pub fn delete(&self, key: &[u8]) -> bool {
        self.engine.with_ctx(|e, ctx| e.delete_counted(ctx, key))
    }

    /// Sets a new exptime. `true` if the key was present.
    pub fn touch(&self, key: &[u8], exptime: i64) -> bool {
        self.get_and_touch_with(key, exptime, |_| ()).is_some()
    }

    /// Invalidates every item now (`delay_secs == 0`) or after a delay.
    pub fn flush_all(&self, delay_secs: u32) {
        self.engine.with_ctx(|e, ctx| e.flush_all(ctx, delay_secs))
    }

    /// Runs the sweeper over at most `max_chunks` chunks, from where it last
    /// stopped. Returns the number of expired items it unlinked and whether
    /// it wrapped around the end of the used pages.
    pub fn sweep(&self, max_chunks: usize) -> (usize, bool) {
        self.engine
            .with_ctx(|e, ctx| e.sweep(ctx, max_chunks, None))
    }

    /// Hands this thread's retired chunks to the reclaimer and gives the
    /// grace period a few chances to pass, so freed memory shows up in the
    /// depots. Tests use it; so may a server thread about to go idle.
    pub fn quiesce(&self) {
        self.engine.with_ctx(|e, ctx| e.quiesce(ctx))
    }

    /// Checks the cache's internal invariants and returns the number of
    /// items. First lets this thread's retirements complete (`quiesce`) and
    /// gives its magazines and queue segments back.
    ///
    /// Meaningful only while no other thread uses the cache, and after every
    /// other thread that did has called [`Cache::release_thread`] (or
    /// exited): their magazines, segments and pending retirements are
    /// otherwise invisible, and would show up as leaks. For tests and model
    /// checkers.
    ///
    /// It checks that every index entry is a LIVE item in its home bucket;
    /// that every depot chunk appears once, is not LIVE and is not indexed;
    /// that every chunk of a page in use is either free in a depot, a LIVE
    /// indexed item, or waiting in the reclaimer (nothing leaked); that under
    /// a queue policy every item is in exactly one queue; and that
    /// `curr_items` agrees.
    pub fn check_consistency(&self) -> Result<usize, String> {
        self.quiesce();
        self.release_thread();
        self.engine.check_consistency()
    }

    /// Drops this thread's state for the cache: magazines and queue
    /// segments go back to the shared depots and queues, and pending
    /// retirements to the reclaimer (or to another thread). For threads that
    /// will not touch the cache again for a while, such as a server worker
    /// going idle.
    pub fn release_thread(&self) {
        ctx::release(self.engine.id);
    }

    /// A snapshot of the counters and memory figures.
    pub fn stats(&self) -> Stats {
        self.engine.stats()
    }

    /// Sets how eagerly pages move between classes, as memcached's
    /// `slabs automove`: 0 only to a class with no page, 1 (the default)
    /// also from a class whose items are clearly older, 2 checking that on
    /// every eviction. Levels above 2 are taken as 2.
    pub fn set_automove(&self, level: u8) {
        self.engine
            .automove
            .store(level.min(2), std::sync::atomic::Ordering::Relaxed);
    }

    /// Live items by size (header, key and value) in buckets of `bucket`
    /// bytes, keyed by each bucket's upper bound, as memcached's `stats
    /// sizes` with 32-byte buckets. One walk over the item memory.
    pub fn item_sizes(&self, bucket: usize) -> Vec<(usize, u64)> {
        self.engine.sizes(bucket).into_iter().collect()
    }

    /// Up to `limit` (0: any number) live items of class `class` (0-based),
    /// as (key, value length, exptime in the clock's seconds, 0 for none),
    /// their keys totalling at most `max_key_bytes`: memcached's `stats
    /// cachedump`, in page order rather than LRU order. Empty for a class
    /// that does not exist.
    pub fn dump_class(
        &self,
        class: usize,
        limit: usize,
        max_key_bytes: usize,
    ) -> Vec<(Vec<u8>, usize, u32)> {
        if class >= self.engine.slab.classes().sizes().len() {
            return Vec::new();
        }
        self.engine.dump(class as u8, limit, max_key_bytes)
    }

    /// Sets the memory budget at run time, as memcached's `cache_memlimit`.
    /// Growing takes effect at once, up to [`Config::memory_max`].
    /// Shrinking drains pages until the classes fit, the class with the
    /// most pages first (their live items move into free chunks of their
    /// class where there are any, and are evicted otherwise), and gives
    /// drained pages back to the OS; pages still held by other threads'
    /// magazines follow as those threads return them, and the sweeper
    /// finishes what is left.
    ///
    /// # Errors
    /// If `bytes` is smaller than one page or above the reserved maximum;
    /// nothing changes then.
    pub fn set_memory_limit(&self, bytes: usize) -> Result<(), ConfigError> {
        let e = &self.engine;
        let page = e.slab.page_size();
        let max = e.slab.total_pages() * page;
        if bytes < page || bytes > max {
            return Err(ConfigError(format!(
                "memory limit {bytes} is outside one page ({page}) to the reserved {max}"
            )));
        }
        e.memory.store(bytes, std::sync::atomic::Ordering::Relaxed);
        if e.slab.set_limit(bytes / page) > 0 {
            e.with_ctx(|e, ctx| e.shrink(ctx));
        }
        Ok(())
    }

    /// The memory budget in bytes, as [`Config::memory`] or
    /// [`Cache::set_memory_limit`] last set it.
    pub fn memory_limit(&self) -> usize {
        self.engine
            .memory
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Moves one page from class `src` to class `dst`, as memcached's
    /// `slabs reassign`: ids are 1-based as in `stats slabs`, 0 is the pool
    /// of spare pages, and a `src` of -1 picks the class with the most
    /// pages. The source keeps at least one page; its live items on the
    /// page move into its free chunks where there are any and are evicted
    /// otherwise.
    pub fn reassign(&self, src: i64, dst: i64) -> Reassign {
        self.engine.with_ctx(|e, ctx| e.reassign(ctx, src, dst))
    }

    /// The level [`Cache::set_automove`] set (1 unless changed).
    pub fn automove(&self) -> u8 {
        self.engine
            .automove
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The configuration the cache was built from. The budget may have
    /// changed since ([`Cache::memory_limit`]), and the largest item is
    /// capped by the largest class ([`Cache::max_item_size`]).
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The effective largest item (header + key + value) in bytes.
    pub fn max_item_size(&self) -> usize {
        self.engine.max_item
    }

    /// The slab page size in bytes.
    pub fn page_size(&self) -> usize {
        self.engine.slab.page_size()
    }

    /// The policy in use.
    pub fn policy(&self) -> Policy {
        self.engine.policy
    }

    /// Samples per eviction round.
    pub fn samples(&self) -> usize {
        self.engine.samples
    }

    /// The slab's chunk sizes.
    pub fn class_sizes(&self) -> Vec<usize> {
        self.engine.slab.classes().sizes().to_vec()
    }

    /// The chunk size an item with this key length, value length and flags
    /// takes, or `None` if it is too large for the cache.
    pub fn chunk_size_for(&self, klen: usize, vlen: usize, flags: u32) -> Option<usize> {
        let size = crate::item::footprint(klen, vlen, flags);
        if size > self.engine.max_item {
            return None;
        }
        let class = self.engine.slab.classes().class_for(size)?;
        Some(self.engine.slab.chunk_size(class))
    }

    /// The cache's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.engine.clock
    }

    /// The engine, for the crate's own white-box tests.
    #[cfg(test)]
    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// An 8 MiB cache with no sweeper thread, for the crate's white-box
    /// tests.
    #[cfg(test)]
    pub(crate) fn for_test() -> Cache {
        Cache::new(Config {
            sweep_hz: 0,
            ..Config::with_memory(8 << 20)
        })
        .expect("test cache")
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        self.release_thread();
        if let Some(h) = self.sweeper.take() {
            self.engine
                .closing
                .store(true, std::sync::atomic::Ordering::Relaxed);
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("memory", &self.memory_limit())
            .field("policy", &self.engine.policy)
            .finish_non_exhaustive()
    }
}

/// Parses memcached's incr/decr operand: decimal digits, at most 20, fitting
/// a u64. A value with trailing spaces (memcached pads in place) is accepted.
pub(crate) fn parse_u64(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii_end();
    if v.is_empty() || v.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add((b - b'0') as u64)?;
    }
    Some(n)
}
