//! The public API: [`Cache`], over the engine.
//!
//! A `Cache` owns its [`Engine`] and the sweeper thread. Each method finds
//! the calling thread's context for the engine (`Engine::with_ctx`) and
//! runs one engine operation in it; the semantics are the engine's.

use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::engine::mover::Reassign;
use crate::engine::{Cond, Engine};
use crate::evict::Policy;
use crate::stats::Stats;
use std::fmt;
use std::sync::Arc;

pub use crate::engine::warm::WarmStart;
pub use crate::engine::{
    ArithHit, ArithOp, Error, GetOpts, Hit, ItemRef, MetaArith, MetaDebug, MetaHit, SetMode, Stored,
};

/// The cache. Cheap to share: wrap it in an `Arc`, or use scoped threads.
pub struct Cache {
    engine: Arc<Engine>,
    /// The sweeper thread; taken (stopped) by a save.
    sweeper: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The configuration the cache was built from (for `config`).
    cfg: Config,
    /// How the start went, with a memory file.
    warm: Option<WarmStart>,
}

impl Cache {
    /// Builds a cache. Starts a sweeper thread when `sweep_hz > 0`. With
    /// [`Config::memory_file`], the earlier run's items come back if it
    /// saved them ([`Cache::warm_start`] says how it went).
    pub fn new(cfg: Config) -> Result<Cache, ConfigError> {
        let (engine, warm) = match &cfg.memory_file {
            Some(path) => {
                let (e, w) = crate::engine::warm::start(&cfg, path)?;
                (e, Some(w))
            }
            None => (Engine::new(&cfg)?, None),
        };
        let sweeper =
            (cfg.sweep_hz > 0).then(|| crate::engine::spawn_sweeper(&engine, cfg.sweep_hz));
        Ok(Cache {
            engine,
            sweeper: std::sync::Mutex::new(sweeper),
            cfg,
            warm,
        })
    }

    /// With a memory file: whether the earlier items came back, or why
    /// the cache started empty.
    pub fn warm_start(&self) -> Option<&WarmStart> {
        self.warm.as_ref()
    }

    /// Saves what the next start needs to serve this cache's items again
    /// (memcached's SIGUSR1 with `-e`): a meta file beside the memory file.
    /// It stops the sweeper first, for good. Call it with nothing else
    /// using the cache; the next start checks the items against what was
    /// saved, and starts clean if they differ.
    pub fn save_warm(&self) -> Result<(), String> {
        let path = self
            .cfg
            .memory_file
            .as_deref()
            .ok_or("the cache has no memory file")?;
        self.stop_sweeper();
        self.engine
            .with_ctx(|e, ctx| e.save_warm(ctx, &self.cfg, path))
    }

    /// Stops the sweeper thread and waits for it.
    fn stop_sweeper(&self) {
        let h = self
            .sweeper
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(h) = h {
            self.engine
                .closing
                .store(true, std::sync::atomic::Ordering::Relaxed);
            h.thread().unpark();
            let _ = h.join();
        }
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
            .with_ctx(|e, ctx| e.store(ctx, key, value, flags, exptime, cond))
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
        crate::engine::release_thread(self.engine.id);
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
        if class >= self.engine.store.slab.classes().sizes().len() {
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
        let page = e.store.slab.page_size();
        let max = e.store.slab.total_pages() * page;
        if bytes < page || bytes > max {
            return Err(ConfigError(format!(
                "memory limit {bytes} is outside one page ({page}) to the reserved {max}"
            )));
        }
        e.memory.store(bytes, std::sync::atomic::Ordering::Relaxed);
        if e.store.slab.set_limit(bytes / page) > 0 {
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
        self.engine.store.slab.page_size()
    }

    /// The policy in use.
    pub fn policy(&self) -> Policy {
        self.engine.policy
    }

    /// Samples per eviction round.
    pub fn samples(&self) -> usize {
        self.engine.sampler.samples
    }

    /// The slab's chunk sizes.
    pub fn class_sizes(&self) -> Vec<usize> {
        self.engine.store.slab.classes().sizes().to_vec()
    }

    /// The chunk size an item with this key length, value length and flags
    /// takes, or `None` if it is too large for the cache.
    pub fn chunk_size_for(&self, klen: usize, vlen: usize, flags: u32) -> Option<usize> {
        let size = crate::raw::item::footprint(klen, vlen, flags);
        if size > self.engine.max_item {
            return None;
        }
        let class = self.engine.store.slab.classes().class_for(size)?;
        Some(self.engine.store.slab.chunk_size(class))
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
        self.stop_sweeper();
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

impl Cache {
    /// memcached's `mg`: looks `key` up and, on a hit, calls `f` with the
    /// value and the item's fields. `opts.touch` sets a new exptime (as
    /// `gat`); without `opts.bump` the access is not recorded (`u`: no
    /// LRU bump, no access time, not marked fetched); `vivify` and
    /// `recache` hand the recache of a missing, stale or expiring item to
    /// one client (`N`, `R`; `W`, `Z`).
    pub fn meta_get_with<R>(
        &self,
        key: &[u8],
        opts: GetOpts,
        f: impl FnOnce(MetaHit<'_>) -> R,
    ) -> Option<R> {
        self.engine.with_ctx(|e, ctx| e.meta_get(ctx, key, opts, f))
    }

    /// memcached's `md … I`: marks `key` stale under a new CAS unique
    /// (only if its CAS is `cas`, when given), so that the next `mg`
    /// wins its recache, and sets exptime `ttl` if given. `Stored` when
    /// marked, `NotFound`, or `Exists`.
    pub fn invalidate(&self, key: &[u8], cas: Option<u64>, ttl: Option<i64>) -> Stored {
        self.engine
            .with_ctx(|e, ctx| e.invalidate(ctx, key, cas, ttl))
    }

    /// memcached's `me`: an item's metadata, without counting an access.
    pub fn meta_debug(&self, key: &[u8]) -> Option<MetaDebug> {
        self.engine.with_ctx(|e, ctx| e.meta_debug(ctx, key))
    }

    /// memcached's `ms`: stores in `mode`, over `cas` if given; with
    /// `stale` (`I`), a `cas` older than the item's stores the value as
    /// stale. Returns the outcome and, when stored, the new CAS unique (0
    /// otherwise).
    #[allow(clippy::too_many_arguments)]
    pub fn meta_set(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u32,
        exptime: i64,
        mode: SetMode,
        cas: Option<u64>,
        stale: bool,
    ) -> Result<(Stored, u64), Error> {
        self.engine.with_ctx(|e, ctx| match (mode, cas) {
            (SetMode::Add, _) => e.store_cas(ctx, key, value, flags, exptime, Cond::Absent),
            (SetMode::Set | SetMode::Replace, Some(c)) => {
                let cond = if stale {
                    Cond::CasOrStale(c)
                } else {
                    Cond::Cas(c)
                };
                e.store_cas(ctx, key, value, flags, exptime, cond)
            }
            (SetMode::Set, None) => e.store_cas(ctx, key, value, flags, exptime, Cond::Any),
            (SetMode::Replace, None) => e.store_cas(ctx, key, value, flags, exptime, Cond::Present),
            (SetMode::Append | SetMode::Prepend, _) => {
                e.concat_cas(ctx, key, value, mode == SetMode::Prepend, cas)
            }
        })
    }

    /// memcached's `md`: deletes `key`, only if its CAS is `cas` when
    /// given. `Stored::Stored` when deleted, `NotFound`, or `Exists` when
    /// the CAS differs.
    pub fn delete_if(&self, key: &[u8], cas: Option<u64>) -> Stored {
        self.engine.with_ctx(|e, ctx| e.delete_if(ctx, key, cas))
    }

    /// memcached's `ma`: adds `delta` to (or, not `incr`, subtracts it
    /// from) a decimal value, of CAS unique `cas` only if given. On a
    /// miss, `vivify` = (initial value, exptime) creates the item with the
    /// initial value instead. `touch` then sets a new exptime.
    pub fn meta_arith(&self, key: &[u8], op: ArithOp) -> Result<MetaArith, Error> {
        self.engine.with_ctx(|e, ctx| e.meta_arith(ctx, key, op))
    }
}
