//! The engine: index + slab + eviction + TTL, with memcached's semantics.
//!
//! Each operation runs with the calling thread's [`ThreadCtx`] for this
//! cache (its magazines, retirement batch, eviction pools, CAS block and
//! counters), found in a thread-local list. Reads pin, probe one bucket, and
//! copy out while pinned. Writes allocate and fill a chunk *before* pinning
//! (allocation may evict, and evicted chunks only come back after this thread
//! unpins), then publish with a CAS.

use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::evict::{badness, bump_freq, initial_freq, per_byte, Candidate, Policy, Pool};
use crate::index::reclaim::{Backend, Guard, Local, Retired};
use crate::index::{tag_of, Bucket, Found, Index, Insert};
use crate::item::{footprint, Item, NewItem, MAX_KEY_LEN};
use crate::slab::{Chunk, Slab};
use crate::stats::{ClassStats, Counters, Ctr, Stats, Totals};
use crate::sync::{fence, lock, thread_local, yield_now, AtomicU64, AtomicUsize, Mutex, Ordering};
use crate::ttl::{expired, expiry, now_secs};
use std::cell::RefCell;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Retired chunks are handed to the reclaimer in batches of this many.
const RETIRE_BATCH: usize = 32;
/// How long a store keeps evicting and waiting for the reclaimer before it
/// gives up with "out of memory". Reclamation needs every pinned thread to
/// move on, which takes microseconds unless a thread is descheduled.
const ALLOC_PATIENCE: Duration = Duration::from_millis(200);
/// What stands for `ALLOC_PATIENCE` under a model checker: allocation
/// attempts (each an eviction round and a reclamation flush) before giving up.
const MODEL_ALLOC_ATTEMPTS: usize = 6;
/// A thread that finds its class full evicts this many items at once (fewer
/// for large chunks, see `evict_batch`), so that the grace period and the
/// reclaimer's flush (a membarrier syscall for seize) are paid once per
/// batch, not once per store.
const EVICT_BATCH: usize = 16;
/// …and at most this many bytes of chunks.
const EVICT_BATCH_BYTES: usize = 256 << 10;
/// CAS uniques are taken from the shared counter in blocks of this many, so
/// the counter is touched once per 64 stores per thread.
const CAS_BLOCK: u64 = 64;
/// Every this many evictions, check whether another class holds older items
/// and should give up a page.
const REBALANCE_EVERY: u64 = 16;
/// A donor class gives a page when its worst sampled item, weighed by chunk
/// size (`evict::per_byte`), is this many times worse than the starving
/// class's.
const REBALANCE_RATIO: u64 = 2;
/// The sweeper checks its time budget every this many chunks.
const SWEEP_SLICE: usize = 256;

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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cond {
    Any,
    Absent,
    Present,
    Cas(u64),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Why {
    Delete,
    Evict,
    Expire,
    Flush,
    Replace,
}

/// The cache. Cheap to share: wrap it in an `Arc`, or use scoped threads.
pub struct Cache {
    shared: Arc<Shared>,
    sweeper: Option<std::thread::JoinHandle<()>>,
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

pub(crate) struct Shared {
    id: u64,
    policy: Policy,
    samples: usize,
    pool_cap: usize,
    max_item: usize,
    memory: usize,
    sweep_budget: Duration,
    slab: Arc<Slab>,
    index: Index,
    backend: Backend,
    clock: Arc<dyn Clock>,
    hasher: foldhash::fast::FixedState,
    /// Seeds the per-thread random streams (with `ctx_seq`).
    seed: u64,
    /// Thread contexts created so far: the ordinal that seeds the next one.
    ctx_seq: std::sync::atomic::AtomicU64,
    /// Next unused CAS block.
    cas_blocks: AtomicU64,
    /// Due time of a delayed flush_all, in clock ms + 1; 0 = none.
    flush_at: AtomicU64,
    /// Bumped when a page starts draining: threads then empty their magazines.
    drain_gen: AtomicU64,
    /// Sweeper position: page * 2^32 + chunk.
    sweep_cursor: AtomicU64,
    sweep_lock: Mutex<()>,
    counters: Mutex<Vec<Arc<Counters>>>,
    gone: Mutex<Totals>,
    /// Retirement batches of threads that exited; retired by the next pinner.
    orphans: Mutex<Vec<Retired>>,
    norphans: AtomicUsize,
    /// Set when the cache is dropped: the sweeper exits.
    closing: std::sync::atomic::AtomicBool,
}

/// A thread's state for one cache.
struct ThreadCtx {
    id: u64,
    owner: Weak<Shared>,
    local: Local,
    mags: Vec<Vec<Chunk>>,
    pools: Vec<Pool>,
    retired: Retired,
    counters: Arc<Counters>,
    rng: u64,
    cas_next: u64,
    cas_end: u64,
    drain_seen: u64,
    /// Items evicted since this thread last considered moving a page.
    since_rebalance: u64,
    scratch: Vec<u8>,
}

thread_local! {
    // Not `const { }`: loom's thread_local! does not take that form.
    #[allow(clippy::missing_const_for_thread_local)]
    static CTXS: RefCell<Vec<ThreadCtx>> = RefCell::new(Vec::new());
}

impl ThreadCtx {
    fn new(sh: &Arc<Shared>) -> ThreadCtx {
        let n = sh.slab.classes().sizes().len();
        let counters = Arc::new(Counters::new(n));
        lock(&sh.counters).push(counters.clone());
        let ordinal = sh
            .ctx_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let seed = crate::rng::SplitMix64::with_stream(sh.seed, ordinal).next_u64();
        ThreadCtx {
            id: sh.id,
            owner: Arc::downgrade(sh),
            local: sh.backend.local(),
            mags: (0..n).map(|_| Vec::new()).collect(),
            pools: (0..n).map(|_| Pool::default()).collect(),
            retired: Retired::new(sh.slab.clone()),
            counters,
            rng: seed | 1,
            cas_next: 0,
            cas_end: 0,
            drain_seen: sh.drain_gen.load(Ordering::Relaxed),
            since_rebalance: 0,
            scratch: Vec::new(),
        }
    }

    #[inline]
    fn rand(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn next_cas(&mut self, sh: &Shared) -> u64 {
        if self.cas_next == self.cas_end {
            self.cas_next = sh.cas_blocks.fetch_add(CAS_BLOCK, Ordering::Relaxed);
            self.cas_end = self.cas_next + CAS_BLOCK;
        }
        self.cas_next += 1;
        self.cas_next - 1
    }
}

impl Drop for ThreadCtx {
    fn drop(&mut self) {
        let Some(sh) = self.owner.upgrade() else {
            // The cache is gone, so no reader remains: pending chunks may go
            // straight back (the batch keeps the slab alive), and magazine
            // chunks are simply forgotten with the slab.
            return;
        };
        for (class, mag) in self.mags.iter_mut().enumerate() {
            if !mag.is_empty() {
                sh.slab.flush_magazine(class as u8, mag);
            }
        }
        if !self.retired.is_empty() {
            // Pinning here could touch thread-locals already destroyed, so
            // another thread retires the batch.
            let b = std::mem::replace(&mut self.retired, Retired::new(sh.slab.clone()));
            lock(&sh.orphans).push(b);
            sh.norphans.fetch_add(1, Ordering::Relaxed);
        }
        // Fold into the totals and unregister under the registry lock, which
        // `stats` also holds, so a snapshot never misses this thread.
        let mut reg = lock(&sh.counters);
        self.counters.sum_into(&mut lock(&sh.gone));
        reg.retain(|c| !Arc::ptr_eq(c, &self.counters));
    }
}

impl Cache {
    /// Builds a cache. Starts a sweeper thread when `sweep_hz > 0`.
    pub fn new(cfg: Config) -> Result<Cache, ConfigError> {
        cfg.validate()?;
        let classes = cfg.build_classes()?;
        let slab = Slab::new(cfg.memory, cfg.page_size, classes).map_err(|e| ConfigError(e.0))?;
        let index = match cfg.index_slots {
            Some(n) => Index::with_slots(n),
            None => Index::for_budget(cfg.memory),
        };
        let nclasses = slab.classes().sizes().len();
        let seed = cfg.seed.unwrap_or_else(|| {
            // A randomly keyed hasher turns anything into a random seed.
            foldhash::fast::RandomState::default()
                .hash_one(NEXT_ID.load(std::sync::atomic::Ordering::Relaxed))
        });
        let max_item = cfg.max_item_size.min(slab.classes().largest());
        let shared = Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            policy: cfg.policy,
            samples: cfg.samples,
            pool_cap: cfg.evict_pool,
            max_item,
            memory: cfg.memory,
            sweep_budget: cfg.sweep_budget,
            slab: Arc::new(slab),
            index,
            backend: Backend::new(cfg.reclaim),
            clock: cfg.clock(),
            hasher: foldhash::fast::FixedState::with_seed(seed),
            seed,
            ctx_seq: std::sync::atomic::AtomicU64::new(0),
            cas_blocks: AtomicU64::new(1),
            flush_at: AtomicU64::new(0),
            drain_gen: AtomicU64::new(0),
            sweep_cursor: AtomicU64::new(0),
            sweep_lock: Mutex::new(()),
            counters: Mutex::new(Vec::new()),
            gone: Mutex::new(Totals::new(nclasses)),
            orphans: Mutex::new(Vec::new()),
            norphans: AtomicUsize::new(0),
            closing: std::sync::atomic::AtomicBool::new(false),
        });
        let sweeper = (cfg.sweep_hz > 0).then(|| spawn_sweeper(&shared, cfg.sweep_hz));
        Ok(Cache { shared, sweeper })
    }

    /// Looks a key up and, on a hit, calls `f` with the value in place while
    /// it is protected. No allocation.
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(ItemRef<'_>) -> R) -> Option<R> {
        self.shared.with_ctx(|sh, ctx| sh.get(ctx, key, None, f))
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
        self.shared.with_ctx(|sh, ctx| {
            let exp = expiry(&*sh.clock, exptime);
            ctx.counters.inc(Ctr::CmdTouch);
            let r = sh.get(ctx, key, Some(exp), f);
            ctx.counters.inc(if r.is_some() {
                Ctr::TouchHits
            } else {
                Ctr::TouchMisses
            });
            r
        })
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
        self.shared
            .with_ctx(|sh, ctx| sh.store(ctx, key, &[value], flags, exptime, cond))
    }

    /// Appends to a present key's value (flags and exptime unchanged).
    pub fn append(&self, key: &[u8], data: &[u8]) -> Result<Stored, Error> {
        self.shared
            .with_ctx(|sh, ctx| sh.concat(ctx, key, data, false))
    }

    /// Prepends to a present key's value.
    pub fn prepend(&self, key: &[u8], data: &[u8]) -> Result<Stored, Error> {
        self.shared
            .with_ctx(|sh, ctx| sh.concat(ctx, key, data, true))
    }

    /// Adds to a decimal u64 value, wrapping at 2^64. `Ok(None)` if absent.
    pub fn incr(&self, key: &[u8], delta: u64) -> Result<Option<u64>, Error> {
        self.shared
            .with_ctx(|sh, ctx| sh.arith(ctx, key, delta, true))
    }

    /// Subtracts from a decimal u64 value, stopping at 0. `Ok(None)` if absent.
    pub fn decr(&self, key: &[u8], delta: u64) -> Result<Option<u64>, Error> {
        self.shared
            .with_ctx(|sh, ctx| sh.arith(ctx, key, delta, false))
    }

    /// Removes a key. `true` if it was present.
    pub fn delete(&self, key: &[u8]) -> bool {
        self.shared.with_ctx(|sh, ctx| {
            let hit = sh.delete(ctx, key);
            ctx.counters.inc(if hit {
                Ctr::DeleteHits
            } else {
                Ctr::DeleteMisses
            });
            hit
        })
    }

    /// Sets a new exptime. `true` if the key was present.
    pub fn touch(&self, key: &[u8], exptime: i64) -> bool {
        self.get_and_touch_with(key, exptime, |_| ()).is_some()
    }

    /// Invalidates every item now (`delay_secs == 0`) or after a delay.
    pub fn flush_all(&self, delay_secs: u32) {
        self.shared.with_ctx(|sh, ctx| {
            if delay_secs == 0 {
                sh.flush_at.store(0, Ordering::Relaxed);
                sh.flush_now(ctx);
            } else {
                let at = sh.clock.now_ms() + delay_secs as u64 * 1000;
                sh.flush_at.store(at + 1, Ordering::Relaxed);
            }
        })
    }

    /// Runs the sweeper over at most `max_chunks` chunks, from where it last
    /// stopped. Returns the number of expired items it unlinked and whether
    /// it wrapped around the end of the used pages.
    pub fn sweep(&self, max_chunks: usize) -> (usize, bool) {
        self.shared
            .with_ctx(|sh, ctx| sh.sweep(ctx, max_chunks, None))
    }

    /// Hands this thread's retired chunks to the reclaimer and gives the
    /// grace period a few chances to pass, so freed memory shows up in the
    /// depots. Tests use it; so may a server thread about to go idle.
    pub fn quiesce(&self) {
        self.shared.with_ctx(|sh, ctx| {
            // Reclamation completes over several guard exits (seize frees a
            // batch when the last guard that saw it leaves): keep going while
            // free memory still grows, within a bound.
            let free = |sh: &Shared| {
                (0..sh.slab.classes().sizes().len())
                    .map(|c| sh.slab.depot_len(c as u8))
                    .sum::<usize>()
            };
            let mut last = free(sh);
            let mut still = 0;
            for _ in 0..64 {
                sh.collect(ctx, 1);
                let now = free(sh);
                still = if now == last { still + 1 } else { 0 };
                if still >= 8 {
                    break;
                }
                last = now;
            }
        })
    }

    /// Checks the cache's internal invariants and returns the number of
    /// items. First lets this thread's retirements complete (`quiesce`) and
    /// gives its magazines back.
    ///
    /// Meaningful only while no other thread uses the cache, and after every
    /// other thread that did has called [`Cache::release_thread`] (or
    /// exited): their magazines and pending retirements are otherwise
    /// invisible, and would show up as leaks. For tests and model checkers.
    ///
    /// It checks that every index entry is a LIVE item in its home bucket;
    /// that every depot chunk appears once, is not LIVE and is not indexed;
    /// that every chunk of a page in use is either free in a depot or a LIVE
    /// indexed item (nothing leaked); and that `curr_items` agrees.
    pub fn check_consistency(&self) -> Result<usize, String> {
        self.quiesce();
        self.release_thread();
        self.shared.check_consistency()
    }

    /// Drops this thread's state for the cache: magazines go back to the
    /// depots and pending retirements to another thread. For threads that
    /// will not touch the cache again for a while.
    pub fn release_thread(&self) {
        let id = self.shared.id;
        let _ = CTXS.try_with(|c| {
            let mut v = c.borrow_mut();
            if let Some(i) = v.iter().position(|x| x.id == id) {
                let ctx = v.swap_remove(i);
                drop(v);
                drop(ctx);
            }
        });
    }

    /// A snapshot of the counters and memory figures.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// The effective largest item (header + key + value) in bytes.
    pub fn max_item_size(&self) -> usize {
        self.shared.max_item
    }

    /// The slab page size in bytes.
    pub fn page_size(&self) -> usize {
        self.shared.slab.page_size()
    }

    /// The policy in use.
    pub fn policy(&self) -> Policy {
        self.shared.policy
    }

    /// Samples per eviction round.
    pub fn samples(&self) -> usize {
        self.shared.samples
    }

    /// The slab's chunk sizes.
    pub fn class_sizes(&self) -> Vec<usize> {
        self.shared.slab.classes().sizes().to_vec()
    }

    /// The cache's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.shared.clock
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        self.release_thread();
        if let Some(h) = self.sweeper.take() {
            self.shared
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
            .field("memory", &self.shared.memory)
            .field("policy", &self.shared.policy)
            .finish_non_exhaustive()
    }
}

fn spawn_sweeper(sh: &Arc<Shared>, hz: u32) -> std::thread::JoinHandle<()> {
    let weak = Arc::downgrade(sh);
    let period = Duration::from_secs(1) / hz;
    std::thread::Builder::new()
        .name("hotset-sweeper".into())
        .spawn(move || loop {
            std::thread::park_timeout(period);
            let Some(sh) = weak.upgrade() else { return };
            if sh.closing.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            let budget = sh.sweep_budget;
            sh.with_ctx(|sh, ctx| {
                sh.sweep(ctx, usize::MAX, Some(Instant::now() + budget));
            });
            // Leave no state behind in case this was the last tick.
            drop(sh);
        })
        .expect("hotset: cannot spawn the sweeper thread")
}

impl Shared {
    fn with_ctx<R>(self: &Arc<Self>, f: impl FnOnce(&Shared, &mut ThreadCtx) -> R) -> R {
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

    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Runs a due delayed flush_all. Called at the start of every operation.
    #[inline]
    fn due_flush(&self, ctx: &mut ThreadCtx, now_ms: u64) {
        let at = self.flush_at.load(Ordering::Relaxed);
        if at != 0
            && now_ms + 1 >= at
            && self
                .flush_at
                .compare_exchange(at, 0, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.flush_now(ctx);
        }
    }

    fn get<R>(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        touch: Option<u32>,
        f: impl FnOnce(ItemRef<'_>) -> R,
    ) -> Option<R> {
        let now_ms = self.clock.now_ms();
        self.due_flush(ctx, now_ms);
        ctx.counters.inc(Ctr::CmdGet);
        let hash = self.hash(key);
        let tag = tag_of(hash);
        let b = self.index.bucket(hash);
        let g = self.backend.pin(&ctx.local);
        // SAFETY (closure): items reached through the index under `g`.
        let Some(found) = b.find(tag, |it| unsafe { it.key() } == key) else {
            ctx.counters.inc(Ctr::GetMisses);
            return None;
        };
        let it = found.word.item();
        self.slab.track_read(Chunk(it.ptr()));
        // PLANTED BUG (planted-skip-expiry): serve the item without checking
        // its expiry.
        if !cfg!(feature = "planted-skip-expiry") && expired(it.exptime(), now_secs(now_ms)) {
            if b.remove(found.slot, found.word) {
                self.unlinked(ctx, &g, it, Why::Expire);
            }
            ctx.counters.inc(Ctr::GetExpired);
            ctx.counters.inc(Ctr::GetMisses);
            return None;
        }
        if let Some(exp) = touch {
            it.set_exptime(exp);
            // A page move may have copied the item (same CAS unique) before
            // this store reached it: set the copy's expiry too (`rescue`).
            fence(Ordering::SeqCst);
            if let Some(moved) = b.find(tag, |x| x.ptr() != it.ptr() && x.cas() == it.cas()) {
                moved.word.item().set_exptime(exp);
            }
        }
        let rnd = ctx.rand();
        let policy = self.policy;
        it.record_access(now_ms, |m| bump_freq(policy, m, now_ms, rnd));
        ctx.counters.inc(Ctr::GetHits);
        // SAFETY: found through the index while pinned by `g`, which lives
        // until the end of this function, past `f`.
        let value = unsafe { it.value() };
        let r = f(ItemRef {
            value,
            flags: it.flags(),
            cas: it.cas(),
        });
        self.maybe_retire(ctx, &g);
        Some(r)
    }

    fn delete(&self, ctx: &mut ThreadCtx, key: &[u8]) -> bool {
        let now_ms = self.clock.now_ms();
        self.due_flush(ctx, now_ms);
        let hash = self.hash(key);
        let tag = tag_of(hash);
        let b = self.index.bucket(hash);
        let g = self.backend.pin(&ctx.local);
        loop {
            // SAFETY (closure): items reached through the index under `g`.
            let Some(f) = b.find(tag, |it| unsafe { it.key() } == key) else {
                return false;
            };
            if b.remove(f.slot, f.word) {
                let it = f.word.item();
                let live = !expired(it.exptime(), now_secs(now_ms));
                self.unlinked(ctx, &g, it, if live { Why::Delete } else { Why::Expire });
                self.maybe_retire(ctx, &g);
                return live;
            }
        }
    }

    /// Validates a key and value size, returning the slab class.
    fn class_for(&self, key: &[u8], vlen: usize, flags: u32) -> Result<u8, Error> {
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            return Err(Error::BadKey);
        }
        let size = footprint(key.len(), vlen, flags);
        if size > self.max_item || vlen > crate::item::MAX_VALUE_LEN {
            return Err(Error::TooLarge);
        }
        self.slab.classes().class_for(size).ok_or(Error::TooLarge)
    }

    /// Allocates and writes an item (not yet LIVE).
    fn build(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        value: &[&[u8]],
        flags: u32,
        exp: u32,
    ) -> Result<Item, Error> {
        let vlen = value.iter().map(|v| v.len()).sum();
        let class = self.class_for(key, vlen, flags)?;
        let Some(chunk) = self.alloc(ctx, class) else {
            ctx.counters.inc(Ctr::OutOfMemory);
            return Err(Error::OutOfMemory);
        };
        let now_ms = self.clock.now_ms();
        let new = NewItem {
            key,
            value,
            flags,
            exptime: exp,
            cas: ctx.next_cas(self),
            class,
            atime: now_ms as u32,
            freq: initial_freq(self.policy),
        };
        // SAFETY: the chunk is ours (fresh from the allocator), its class fits
        // the footprint, and chunks are 8-aligned.
        let it = unsafe { Item::write(chunk.0, &new) };
        it.mark_live();
        Ok(it)
    }

    fn store(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        value: &[&[u8]],
        flags: u32,
        exptime: i64,
        cond: Cond,
    ) -> Result<Stored, Error> {
        let now_ms = self.clock.now_ms();
        self.due_flush(ctx, now_ms);
        ctx.counters.inc(Ctr::CmdSet);
        let exp = expiry(&*self.clock, exptime);
        let it = match self.build(ctx, key, value, flags, exp) {
            Ok(it) => it,
            Err(Error::TooLarge)
                if cond == Cond::Any && !key.is_empty() && key.len() <= MAX_KEY_LEN =>
            {
                // memcached drops the old value when a set is refused for size.
                self.delete(ctx, key);
                return Err(Error::TooLarge);
            }
            Err(e) => return Err(e),
        };
        let hash = self.hash(key);
        let tag = tag_of(hash);
        let b = self.index.bucket(hash);
        let g = self.backend.pin(&ctx.local);
        let eq = |x: Item| unsafe { x.key() } == key;
        let r = loop {
            let now = now_secs(self.clock.now_ms());
            let existing = match cond {
                Cond::Any | Cond::Absent => match b.insert(tag, it, eq) {
                    Insert::Inserted => {
                        self.added(ctx, it);
                        self.settle(ctx, &g, b, tag, it);
                        break Stored::Stored;
                    }
                    Insert::Full => {
                        self.evict_from_bucket(ctx, &g, b);
                        continue;
                    }
                    Insert::Exists(f) => f,
                },
                Cond::Present | Cond::Cas(_) => match b.find(tag, eq) {
                    Some(f) => f,
                    None => {
                        self.discard(ctx, &g, it);
                        break if let Cond::Cas(_) = cond {
                            ctx.counters.inc(Ctr::CasMisses);
                            Stored::NotFound
                        } else {
                            Stored::NotStored
                        };
                    }
                },
            };
            let old = existing.word.item();
            if expired(old.exptime(), now) {
                if b.remove(existing.slot, existing.word) {
                    self.unlinked(ctx, &g, old, Why::Expire);
                }
                continue;
            }
            match cond {
                Cond::Absent => {
                    self.discard(ctx, &g, it);
                    break Stored::NotStored;
                }
                Cond::Cas(c) if old.cas() != c => {
                    ctx.counters.inc(Ctr::CasBadval);
                    self.discard(ctx, &g, it);
                    break Stored::Exists;
                }
                _ => {}
            }
            if b.replace(existing.slot, existing.word, tag, it) {
                self.replaced(ctx, &g, old, it);
                self.settle(ctx, &g, b, tag, it);
                if let Cond::Cas(_) = cond {
                    ctx.counters.inc(Ctr::CasHits);
                }
                break Stored::Stored;
            }
        };
        self.maybe_retire(ctx, &g);
        Ok(r)
    }

    /// Drops an item that was built but not stored.
    fn discard(&self, ctx: &mut ThreadCtx, g: &Guard<'_>, it: Item) {
        // LIVE was set, so a sampler may be reading it: retire, never free.
        it.clear_live();
        ctx.retired.push(Chunk(it.ptr()));
        self.maybe_retire(ctx, g);
    }

    /// append/prepend: read the old value, build the new item, swap it in
    /// with a CAS on the exact old word; retry if the key changed meanwhile.
    fn concat(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        data: &[u8],
        front: bool,
    ) -> Result<Stored, Error> {
        ctx.counters.inc(Ctr::CmdSet);
        self.rmw(ctx, key, |old, buf| {
            if front {
                buf.extend_from_slice(data);
                buf.extend_from_slice(old);
            } else {
                buf.extend_from_slice(old);
                buf.extend_from_slice(data);
            }
            Ok(())
        })
        .map(|r| {
            if r.is_some() {
                Stored::Stored
            } else {
                Stored::NotStored
            }
        })
    }

    fn arith(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        delta: u64,
        incr: bool,
    ) -> Result<Option<u64>, Error> {
        let mut result = 0;
        let r = self.rmw(ctx, key, |old, buf| {
            let cur = parse_u64(old).ok_or(Error::NonNumeric)?;
            result = if incr {
                cur.wrapping_add(delta)
            } else {
                cur.saturating_sub(delta)
            };
            use std::io::Write as _;
            write!(buf, "{result}").map_err(|_| Error::OutOfMemory)
        });
        let (hit, miss) = if incr {
            (Ctr::IncrHits, Ctr::IncrMisses)
        } else {
            (Ctr::DecrHits, Ctr::DecrMisses)
        };
        match r {
            Ok(Some(())) => {
                ctx.counters.inc(hit);
                Ok(Some(result))
            }
            Ok(None) => {
                ctx.counters.inc(miss);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Read-modify-write of a present key. `f` gets the old value and writes
    /// the new one into a buffer. Returns `Ok(None)` if the key is absent.
    fn rmw(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        mut f: impl FnMut(&[u8], &mut Vec<u8>) -> Result<(), Error>,
    ) -> Result<Option<()>, Error> {
        let now_ms = self.clock.now_ms();
        self.due_flush(ctx, now_ms);
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            return Err(Error::BadKey);
        }
        let hash = self.hash(key);
        let tag = tag_of(hash);
        let b = self.index.bucket(hash);
        let mut buf = std::mem::take(&mut ctx.scratch);
        let r = loop {
            buf.clear();
            // Read the old item under a short pin.
            let (found, flags, exp, old_cas) = {
                let g = self.backend.pin(&ctx.local);
                // SAFETY (closure): items reached through the index under `g`.
                let Some(found) = b.find(tag, |it| unsafe { it.key() } == key) else {
                    break Ok(None);
                };
                let old = found.word.item();
                if expired(old.exptime(), now_secs(self.clock.now_ms())) {
                    if b.remove(found.slot, found.word) {
                        self.unlinked(ctx, &g, old, Why::Expire);
                    }
                    break Ok(None);
                }
                // SAFETY: reached through the index under `g`.
                if let Err(e) = f(unsafe { old.value() }, &mut buf) {
                    break Err(e);
                }
                (found, old.flags(), old.exptime(), old.cas())
            };
            // Build the new item unpinned (allocation may evict and wait).
            let it = match self.build(ctx, key, &[&buf], flags, exp) {
                Ok(it) => it,
                Err(e) => break Err(e),
            };
            let g = self.backend.pin(&ctx.local);
            // The old chunk may have been reclaimed and reused, even for this
            // key, while we were unpinned: the slot word alone could match
            // again (ABA). Its CAS unique, checked under this pin, cannot.
            let old = found.word.item();
            if cfg!(feature = "planted-stale-rmw") {
                // PLANTED BUG: commit over whatever the key holds now, so a
                // set that landed since the read is overwritten by a value
                // computed from the stale one.
                // SAFETY (closure): items reached through the index under `g`.
                if let Some(now) = b.find(tag, |x| unsafe { x.key() } == key) {
                    if b.replace(now.slot, now.word, tag, it) {
                        self.replaced(ctx, &g, now.word.item(), it);
                        self.maybe_retire(ctx, &g);
                        break Ok(Some(()));
                    }
                }
            }
            if old.is_live() && old.cas() == old_cas && b.replace(found.slot, found.word, tag, it) {
                self.replaced(ctx, &g, old, it);
                self.settle(ctx, &g, b, tag, it);
                self.maybe_retire(ctx, &g);
                break Ok(Some(()));
            }
            self.discard(ctx, &g, it);
        };
        ctx.scratch = buf;
        r
    }

    /// After publishing `it`: if its page started draining meanwhile, the
    /// drainer's walk may have missed it, so unlink it ourselves. The fence
    /// pairs with the one in `Slab::drain` (see there).
    #[inline]
    fn settle(&self, ctx: &mut ThreadCtx, g: &Guard<'_>, b: &Bucket, tag: u16, it: Item) {
        fence(Ordering::SeqCst);
        if self.slab.draining(Chunk(it.ptr())) && b.unlink(tag, it) {
            self.unlinked(ctx, g, it, Why::Evict);
        }
    }

    fn added(&self, ctx: &mut ThreadCtx, it: Item) {
        ctx.counters.inc(Ctr::CurrItems);
        ctx.counters.class_item(it.meta().class, 1);
        ctx.counters.inc(Ctr::TotalItems);
        ctx.counters.add(Ctr::Bytes, it.footprint() as u64);
    }

    fn replaced(&self, ctx: &mut ThreadCtx, g: &Guard<'_>, old: Item, new: Item) {
        ctx.counters.inc(Ctr::TotalItems);
        // The new item may be in another class than the old.
        ctx.counters.class_item(new.meta().class, 1);
        ctx.counters.class_item(old.meta().class, u64::MAX);
        ctx.counters.add(Ctr::Bytes, new.footprint() as u64);
        self.unlinked(ctx, g, old, Why::Replace);
    }

    /// Bookkeeping for an item this thread unlinked (it won the CAS): clear
    /// LIVE, count, and queue the chunk for retirement.
    fn unlinked(&self, ctx: &mut ThreadCtx, g: &Guard<'_>, it: Item, why: Why) {
        ctx.counters
            .add(Ctr::Bytes, (it.footprint() as u64).wrapping_neg());
        if why != Why::Replace {
            ctx.counters.add(Ctr::CurrItems, u64::MAX);
            ctx.counters.class_item(it.meta().class, u64::MAX);
        }
        match why {
            Why::Evict => {
                ctx.counters.evicted(it.meta().class);
                if !it.fetched() {
                    ctx.counters.inc(Ctr::EvictedUnfetched);
                }
            }
            Why::Expire => {
                ctx.counters.inc(Ctr::Reclaimed);
                if !it.fetched() {
                    ctx.counters.inc(Ctr::ExpiredUnfetched);
                }
            }
            Why::Delete | Why::Flush | Why::Replace => {}
        }
        it.clear_live();
        ctx.retired.push(Chunk(it.ptr()));
        if ctx.retired.len() >= RETIRE_BATCH {
            g.retire(&mut ctx.retired);
        }
    }

    #[inline]
    fn maybe_retire(&self, ctx: &mut ThreadCtx, g: &Guard<'_>) {
        if ctx.retired.len() >= RETIRE_BATCH {
            g.retire(&mut ctx.retired);
        }
        if self.norphans.load(Ordering::Relaxed) > 0 {
            self.adopt_orphans(g);
        }
    }

    fn adopt_orphans(&self, g: &Guard<'_>) {
        let mut o = lock(&self.orphans);
        self.norphans.store(0, Ordering::Relaxed);
        for mut b in o.drain(..) {
            g.retire(&mut b);
        }
    }

    /// Retires this thread's batch and lets grace periods pass.
    fn collect(&self, ctx: &mut ThreadCtx, rounds: usize) {
        for _ in 0..rounds {
            let g = self.backend.pin(&ctx.local);
            self.adopt_orphans(&g);
            self.retire_completed_pages(ctx);
            g.retire(&mut ctx.retired);
            g.flush();
        }
    }

    /// Drained pages wait one grace period before any class reuses them.
    fn retire_completed_pages(&self, ctx: &mut ThreadCtx) {
        for p in self.slab.take_completed() {
            ctx.retired.push_page(p);
        }
    }

    /// Takes a chunk of `class`, evicting as needed.
    fn alloc(&self, ctx: &mut ThreadCtx, class: u8) -> Option<Chunk> {
        let gen = self.drain_gen.load(Ordering::Relaxed);
        if gen != ctx.drain_seen {
            ctx.drain_seen = gen;
            for (c, mag) in ctx.mags.iter_mut().enumerate() {
                self.slab.flush_magazine(c as u8, mag);
            }
        }
        if let Some(c) = self.slab.alloc(class, &mut ctx.mags[class as usize]) {
            return Some(c);
        }
        let batch = (EVICT_BATCH_BYTES / self.slab.chunk_size(class)).clamp(1, EVICT_BATCH);
        let mut deadline = None;
        // At most one page is drained for this allocation; then we wait.
        let mut drained = false;
        for attempt in 0.. {
            {
                let g = self.backend.pin(&ctx.local);
                self.adopt_orphans(&g);
                self.retire_completed_pages(ctx);
                // Evict a batch at first, then again only if the reclaimer
                // has been given a fair chance to return the last one.
                // seize's flush costs a membarrier syscall, so with seize
                // another batch is evicted instead, until its own batching
                // starts reclamation; crossbeam's flush is cheap.
                let seize = self.backend.kind() == crate::ReclaimKind::Seize;
                if attempt % 16 == 0 || (seize && attempt < 8) {
                    let got = self.evict(ctx, &g, class, batch);
                    ctx.since_rebalance += got as u64;
                    if !drained && (got == 0 || ctx.since_rebalance >= REBALANCE_EVERY) {
                        ctx.since_rebalance = 0;
                        drained = self.rebalance(ctx, &g, class);
                    }
                    if got == 0 && !drained && self.slab.class_pages(class) == 0 {
                        // No page, no donor: waiting cannot help.
                        g.retire(&mut ctx.retired);
                        return None;
                    }
                }
                g.retire(&mut ctx.retired);
                if !seize || attempt >= 8 {
                    g.flush();
                }
            }
            // Unpinned: what was just retired can now pass its grace period.
            if let Some(c) = self.slab.alloc(class, &mut ctx.mags[class as usize]) {
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

    /// Samples the class and evicts up to `want` items. Returns how many.
    fn evict(&self, ctx: &mut ThreadCtx, g: &Guard<'_>, class: u8, want: usize) -> usize {
        let mut done = 0;
        for _round in 0..want * 4 {
            if done >= want {
                break;
            }
            self.sample_into_pool(ctx, class);
            if let Some(c) = self.pop_victim(ctx, class) {
                let now = now_secs(self.clock.now_ms());
                let why = if expired(c.item.exptime(), now) {
                    Why::Expire
                } else {
                    Why::Evict
                };
                if self.unlink_item(ctx, g, c.item, c.hash, why) {
                    done += 1;
                }
            }
        }
        done
    }

    fn sample_into_pool(&self, ctx: &mut ThreadCtx, class: u8) {
        let now_ms = self.clock.now_ms();
        let now = now_secs(now_ms);
        let cas_now = self.cas_blocks.load(Ordering::Relaxed);
        let cap = if self.pool_cap == 0 {
            ctx.pools[class as usize] = Pool::default();
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
                crate::prefetch(ch.0.as_ptr());
            }
        }
        for ch in picks.iter().take(self.samples).flatten() {
            let it = Item::from_ptr(ch.0);
            if !it.is_live() {
                continue;
            }
            // Score from the header first; read and hash the key only for a
            // candidate the pool keeps.
            let bad = badness(self.policy, it, now_ms, now, cas_now, ctx.rand());
            if !ctx.pools[class as usize].would_take(bad, cap) {
                continue;
            }
            // SAFETY: LIVE was set while we are pinned (the caller holds a
            // guard), so the bytes are complete and stay put (item.rs).
            let key = unsafe { it.key() };
            let c = Candidate {
                badness: bad,
                item: it,
                cas: it.cas(),
                hash: self.hash(key),
            };
            ctx.pools[class as usize].offer(c, cap);
        }
    }

    /// The pool's worst candidate that is still the same live item; one whose
    /// score improved since it was sampled goes back to the pool.
    fn pop_victim(&self, ctx: &mut ThreadCtx, class: u8) -> Option<Candidate> {
        let now_ms = self.clock.now_ms();
        let now = now_secs(now_ms);
        let cas_now = self.cas_blocks.load(Ordering::Relaxed);
        let pool = &mut ctx.pools[class as usize];
        while let Some(mut c) = pool.pop() {
            if !c.item.is_live() || c.item.cas() != c.cas {
                continue;
            }
            if self.policy != Policy::Random {
                let b = badness(self.policy, c.item, now_ms, now, cas_now, 0);
                if b < c.badness && pool.peek_badness().is_some_and(|next| b < next) {
                    c.badness = b;
                    pool.offer(c, self.pool_cap.max(1));
                    continue;
                }
            }
            return Some(c);
        }
        None
    }

    /// Unlinks an item reached through the slab, by its exact index word.
    fn unlink_item(
        &self,
        ctx: &mut ThreadCtx,
        g: &Guard<'_>,
        it: Item,
        hash: u64,
        why: Why,
    ) -> bool {
        if self.index.bucket(hash).unlink(tag_of(hash), it) {
            self.unlinked(ctx, g, it, why);
            true
        } else {
            false
        }
    }

    /// A new key found its bucket full: evict the bucket's worst item.
    fn evict_from_bucket(&self, ctx: &mut ThreadCtx, g: &Guard<'_>, b: &Bucket) {
        let now_ms = self.clock.now_ms();
        let now = now_secs(now_ms);
        let cas_now = self.cas_blocks.load(Ordering::Relaxed);
        let victim = b
            .announced()
            .map(|f: Found| {
                (
                    badness(self.policy, f.word.item(), now_ms, now, cas_now, ctx.rand()),
                    f,
                )
            })
            .max_by_key(|(bad, _)| *bad);
        match victim {
            Some((bad, f)) => {
                if b.remove(f.slot, f.word) {
                    let why = if bad == u64::MAX {
                        Why::Expire
                    } else {
                        Why::Evict
                    };
                    if why == Why::Evict {
                        ctx.counters.inc(Ctr::IndexEvictions);
                    }
                    self.unlinked(ctx, g, f.word.item(), why);
                }
            }
            // Every slot is mid-insert or mid-removal: let them finish.
            None => yield_now(),
        }
    }

    /// Moves a page to `class` from a class whose items are worth fewer hits
    /// per byte (older, weighed by chunk size: `evict::per_byte`), or from
    /// any class if `class` has no page at all (no calcification).
    /// Returns whether a page started draining.
    fn rebalance(&self, ctx: &mut ThreadCtx, g: &Guard<'_>, class: u8) -> bool {
        let n = self.slab.classes().sizes().len();
        if n < 2 {
            return false;
        }
        let mine = self.slab.class_pages(class);
        if mine > 0 && self.slab.pages_moving() > 0 {
            // One move at a time: concurrent threads that each drained a
            // page would empty a small cache (each drain evicts a whole
            // page) before the first move lands. A class with no page at
            // all may still start one.
            return false;
        }
        // A class with no page takes one from the largest class, as long as
        // that leaves it a page. Otherwise a page moves only from a class
        // whose items are clearly worth less per byte, so classes never
        // trade their last pages back and forth.
        let largest = (0..n as u8)
            .filter(|&c| c != class)
            .max_by_key(|&c| self.slab.class_pages(c))
            .filter(|&c| self.slab.class_pages(c) >= 2);
        let donor = match largest {
            Some(d) if mine == 0 => Some(d),
            _ => {
                let mut d = (ctx.rand() % (n as u64 - 1)) as u8;
                if d >= class {
                    d += 1;
                }
                let ours = ctx.pools[class as usize].peek_badness().unwrap_or(0);
                self.sample_into_pool(ctx, d);
                let theirs = ctx.pools[d as usize].peek_badness().unwrap_or(0);
                let cas_now = self.cas_blocks.load(Ordering::Relaxed);
                let weigh = |b, c| per_byte(self.policy, b, self.slab.chunk_size(c), cas_now);
                let worse = weigh(theirs, d) / REBALANCE_RATIO as u128 > weigh(ours, class);
                (worse && self.slab.class_pages(d) > 0).then_some(d)
            }
        };
        let Some(donor) = donor else { return false };
        if self.slab.class_pages(donor) == 0 {
            return false;
        }
        let r = ctx.rand() as usize;
        let Some(chunks) = self.slab.drain(donor, r) else {
            return false;
        };
        let now = now_secs(self.clock.now_ms());
        // Live items move into the class's free chunks while there are any
        // (the depot or this thread's magazine), as memcached's slab mover
        // rescues them: a page move then costs its class free space, not
        // items it would have hit.
        let mut rescues = true;
        for ch in chunks {
            let it = Item::from_ptr(ch.0);
            if !it.is_live() {
                continue;
            }
            // SAFETY: LIVE under our guard (item.rs).
            let hash = self.hash(unsafe { it.key() });
            if expired(it.exptime(), now) {
                self.unlink_item(ctx, g, it, hash, Why::Expire);
            } else if !(rescues && self.rescue(ctx, g, donor, it, hash)) {
                // No free chunk at hand: the rest of the page is evicted.
                rescues = false;
                self.unlink_item(ctx, g, it, hash, Why::Evict);
            }
        }
        self.slab
            .flush_magazine(donor, &mut ctx.mags[donor as usize]);
        ctx.pools[donor as usize] = Pool::default();
        self.drain_gen.fetch_add(1, Ordering::Relaxed);
        ctx.drain_seen = self.drain_gen.load(Ordering::Relaxed);
        ctx.counters.inc(Ctr::SlabReassigned);
        true
    }

    /// Moves the live item `it` of a draining page of `class` into a free
    /// chunk of the same class: same key, value, flags, expiry and CAS unique
    /// (so a client's gets/cas pair survives it), swapped in with a CAS on
    /// its exact index word. Returns `false`, leaving `it` alone, if no free
    /// chunk is at hand; `true` once `it` is out of the index, whether it
    /// moved or was changed or removed meanwhile.
    fn rescue(&self, ctx: &mut ThreadCtx, g: &Guard<'_>, class: u8, it: Item, hash: u64) -> bool {
        let tag = tag_of(hash);
        let b = self.index.bucket(hash);
        // Copy only what the index holds: an item found there under our pin
        // is whole and stays put until we unpin.
        let Some(found) = b.find(tag, |x| x.ptr() == it.ptr()) else {
            return true;
        };
        // Free chunks only, none of a draining page (`Slab::alloc_free`).
        let Some(chunk) = self.slab.alloc_free(class, &mut ctx.mags[class as usize]) else {
            return false;
        };
        let m = it.meta();
        let exptime = it.exptime();
        // SAFETY: `it` was found in the index under our guard, so its bytes
        // are complete and stay put until we unpin; an item is immutable once
        // published but for its atomic metadata, read above and re-checked
        // below.
        let (key, value) = unsafe { (it.key(), it.value()) };
        let copy = NewItem {
            key,
            value: &[value],
            flags: it.flags(),
            exptime,
            cas: it.cas(),
            class,
            atime: m.atime,
            freq: m.freq,
        };
        // SAFETY: the chunk is ours (fresh from the allocator) and of the
        // item's own class, so the item fits; chunks are 8-aligned.
        let new = unsafe { Item::write(chunk.0, &copy) };
        new.mark_live();
        // PLANTED BUG (planted-blind-rescue): swap the copy in over whatever
        // the key holds now, so a set that landed since the copy was taken
        // is undone by the old value.
        let moved = if cfg!(feature = "planted-blind-rescue") {
            // SAFETY (closure): items reached through the index under `g`.
            match b.find(tag, |x| unsafe { x.key() } == key) {
                Some(f) => b.replace(f.slot, f.word, tag, new),
                None => false,
            }
        } else {
            b.replace(found.slot, found.word, tag, new)
        };
        if !moved {
            // Replaced, removed or being removed meanwhile: not ours to move.
            self.discard(ctx, g, new);
            return b.find(tag, |x| x.ptr() == it.ptr()).is_none();
        }
        // A touch may have set the old copy's expiry after we read it; the
        // touch re-checks for a moved copy (`get`), and this catches the
        // other order.
        fence(Ordering::SeqCst);
        let now_exp = it.exptime();
        if now_exp != exptime {
            new.set_exptime(now_exp);
        }
        ctx.counters.inc(Ctr::SlabRescues);
        it.clear_live();
        ctx.retired.push(Chunk(it.ptr()));
        if ctx.retired.len() >= RETIRE_BATCH {
            g.retire(&mut ctx.retired);
        }
        self.settle(ctx, g, b, tag, new);
        true
    }

    fn flush_now(&self, ctx: &mut ThreadCtx) {
        ctx.counters.inc(Ctr::Flushes);
        let mut i = 0;
        while i < self.index.buckets() {
            let g = self.backend.pin(&ctx.local);
            let end = (i + 4096).min(self.index.buckets());
            for bi in i..end {
                let b = self.index.bucket_at(bi);
                for f in b.announced() {
                    if b.remove(f.slot, f.word) {
                        self.unlinked(ctx, &g, f.word.item(), Why::Flush);
                    }
                }
            }
            g.retire(&mut ctx.retired);
            i = end;
        }
    }

    /// Walks the used pages from the cursor, unlinking expired items.
    fn sweep(
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
        let mut g = self.backend.pin(&ctx.local);
        'walk: while seen < max_chunks {
            if page >= self.slab.used_pages() {
                page = 0;
                idx = 0;
                if wrapped || self.slab.used_pages() == 0 {
                    break;
                }
                wrapped = true;
            }
            let Some((class, chunks)) = self.slab.page_chunks(page) else {
                page += 1;
                idx = 0;
                continue;
            };
            for ch in chunks.skip(idx) {
                if self.slab.page_class(page) != Some(class) {
                    // The page is draining, or moved to another class while
                    // we were re-pinned: its geometry is no longer ours.
                    break;
                }
                idx += 1;
                seen += 1;
                let it = Item::from_ptr(ch.0);
                if it.is_live() && expired(it.exptime(), now) {
                    // SAFETY: LIVE under our guard (item.rs).
                    let hash = self.hash(unsafe { it.key() });
                    if self.unlink_item(ctx, &g, it, hash, Why::Expire) {
                        reclaimed += 1;
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
                    g.retire(&mut ctx.retired);
                    drop(g);
                    g = self.backend.pin(&ctx.local);
                }
            }
            page += 1;
            idx = 0;
        }
        self.sweep_cursor
            .store((page as u64) << 32 | idx as u64, Ordering::Relaxed);
        ctx.counters.add(Ctr::SweepReclaimed, reclaimed as u64);
        g.retire(&mut ctx.retired);
        g.flush();
        (reclaimed, wrapped)
    }

    fn check_consistency(&self) -> Result<usize, String> {
        use std::collections::HashSet;
        let addr = |c: Chunk| c.0.as_ptr() as usize;
        let local = self.backend.local();
        let _g = self.backend.pin(&local);
        let mut indexed = HashSet::new();
        for i in 0..self.index.buckets() {
            let b = self.index.bucket_at(i);
            for f in b.announced() {
                let it = f.word.item();
                if !it.is_live() {
                    return Err(format!("bucket {i} slot {}: item is not LIVE", f.slot));
                }
                // SAFETY: reached through the index under `_g`.
                let home = self.index.bucket(self.hash(unsafe { it.key() }));
                if !std::ptr::eq(home, b) {
                    return Err(format!(
                        "bucket {i} slot {}: key outside its home bucket",
                        f.slot
                    ));
                }
                if !indexed.insert(addr(Chunk(it.ptr()))) {
                    return Err(format!("bucket {i} slot {}: item indexed twice", f.slot));
                }
            }
        }
        let mut free = HashSet::new();
        for class in 0..self.slab.classes().sizes().len() as u8 {
            for c in self.slab.depot_chunks(class) {
                if !free.insert(addr(c)) {
                    return Err(format!("class {class}: chunk {c:?} is in the depot twice"));
                }
                if Item::from_ptr(c.0).is_live() || indexed.contains(&addr(c)) {
                    return Err(format!(
                        "class {class}: free chunk {c:?} is LIVE or indexed"
                    ));
                }
            }
        }
        // Chunks neither free nor LIVE must all be waiting in the
        // reclaimer (seize may hold a partial batch until more retirements
        // come); any others leaked. Draining pages are skipped: their
        // chunks are on their way out of the class.
        for page in 0..self.slab.used_pages() {
            let Some((class, chunks)) = self.slab.page_chunks(page) else {
                continue;
            };
            let mut waiting = 0;
            for c in chunks {
                let live = Item::from_ptr(c.0).is_live();
                if live && !indexed.contains(&addr(c)) {
                    return Err(format!(
                        "class {class}: LIVE chunk {c:?} is not indexed (leaked)"
                    ));
                }
                if !live && !free.contains(&addr(c)) {
                    waiting += 1;
                }
            }
            let limbo = self.slab.limbo(page);
            if waiting != limbo {
                return Err(format!(
                    "page {page} (class {class}): {waiting} chunks are neither free nor LIVE, \
                     but {limbo} await reclamation ({})",
                    if waiting > limbo {
                        "leaked"
                    } else {
                        "freed twice or lost"
                    }
                ));
            }
        }
        let st = self.stats();
        let per_class: u64 = st.classes.iter().map(|c| c.items).sum();
        if per_class != st.curr_items {
            return Err(format!(
                "the classes' items add up to {per_class}, curr_items is {}",
                st.curr_items
            ));
        }
        let counted = st.curr_items;
        if counted != indexed.len() as u64 {
            return Err(format!(
                "curr_items is {counted} but the index holds {} items",
                indexed.len()
            ));
        }
        Ok(indexed.len())
    }

    fn stats(&self) -> Stats {
        let n = self.slab.classes().sizes().len();
        let reg = lock(&self.counters);
        let mut t = lock(&self.gone).clone();
        for c in reg.iter() {
            c.sum_into(&mut t);
        }
        drop(reg);
        let mut s = Stats::default();
        t.fill(&mut s);
        s.limit_maxbytes = self.memory as u64;
        s.index_slots = self.index.capacity() as u64;
        s.index_bytes = self.index.memory() as u64;
        s.index_load_permille = s.curr_items * 1000 / s.index_slots.max(1);
        s.pages_used = self.slab.used_pages() as u64;
        s.pages_total = self.slab.total_pages() as u64;
        s.classes = (0..n as u8)
            .map(|c| ClassStats {
                chunk_size: self.slab.chunk_size(c) as u64,
                pages: self.slab.class_pages(c) as u64,
                free_chunks: self.slab.depot_len(c) as u64,
                evictions: t.class_evictions[c as usize],
                items: (t.class_items[c as usize] as i64).max(0) as u64,
            })
            .collect();
        s
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
