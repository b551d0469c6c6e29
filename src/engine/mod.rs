//! The engine: memcached's semantics over the raw core and the eviction
//! policies. It is the only `impl Engine`, split by role:
//!
//! - `ctx`: each thread's state for a cache ([`ThreadCtx`]: magazines,
//!   retirement batch, eviction pools and queue segments, CAS block,
//!   counters), found in a thread-local list;
//! - `ops`: the operations (get, the stores, delete, read-modify-writes);
//! - `meta`: the meta protocol's operations;
//! - `retire`: what happens to an item once it is unlinked, and moving
//!   reclamation along;
//! - `alloc`: allocation under pressure, which evicts; `sampled` and
//!   `queued` drive the policies of `evict`;
//! - `mover`: page moves between classes, and shrinking the budget;
//! - `sweep`: the sweeper and flush_all;
//! - `check`: the consistency audit and the stats snapshot.
//!
//! Reads pin, probe one bucket, and copy out while pinned. Writes allocate
//! and fill a chunk *before* pinning (allocation may evict, and evicted
//! chunks only come back after this thread unpins), then publish with a CAS.

mod alloc;
mod check;
mod ctx;
mod meta;
pub(crate) mod mover;
mod ops;
mod queued;
mod retire;
mod sampled;
mod sweep;
pub(crate) mod warm;

pub(crate) use ctx::{release as release_thread, ThreadCtx};
pub(crate) use sweep::spawn_sweeper;

use crate::clock::Clock;
use crate::config::{Config, ConfigError, SlabClasses};
use crate::evict::queue::Queues;
use crate::evict::sample::Sampler;
use crate::evict::Policy;
use crate::raw::index::Index;
use crate::raw::slab::Retired;
use crate::raw::slab::{Classes, Slab};
use crate::raw::store::Store;
use crate::stats::{Counters, Totals};
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

/// Budget bytes per index slot at start: room for a budget's worth of
/// 1 KiB items at a load of 1. Smaller items grow the index (by half at a
/// time) as they come, whenever a new key finds its candidate buckets full.
pub(crate) const INDEX_START_BYTES_PER_SLOT: usize = 1024;
/// The index grows to at most this many slots per chunk of the smallest
/// class in the largest budget (`--memory-max`): two, a load of 1/2 if
/// every chunk held an item. Past it, a full candidate set evicts.
const INDEX_MAX_SLOTS_PER_CHUNK: usize = 2;
/// S3-FIFO's ghost: one fingerprint per this many budget bytes (a
/// 16-byte key and a 100-byte value take a 136-byte chunk).
const GHOST_BYTES_PER_CELL: usize = 104;

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Everything the threads of a cache share.
pub(crate) struct Engine {
    /// Tells this cache's thread contexts from other caches'.
    pub(crate) id: u64,
    pub(crate) policy: Policy,
    /// The sampled policies' parameters (K, the pool's size).
    pub(crate) sampler: Sampler,
    /// The largest item accepted, at most the largest class.
    pub(crate) max_item: usize,
    /// The budget in bytes as last set (`limit_maxbytes`); the slab holds
    /// it in pages.
    pub(crate) memory: std::sync::atomic::AtomicUsize,
    pub(crate) sweep_budget: Duration,
    /// The slab, its index and their hasher.
    pub(crate) store: Store,
    /// The queue policies' per-class queues and ghost (empty for the
    /// sampled policies).
    pub(crate) queues: Queues,
    pub(crate) clock: Arc<dyn Clock>,
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
    /// Whether a full class may evict live items (`Config::evictions`).
    pub(crate) evictions: bool,
}

impl Engine {
    /// The engine for `cfg`, which is validated here.
    pub(crate) fn new(cfg: &Config) -> Result<Arc<Engine>, ConfigError> {
        Engine::new_in(cfg, None)
    }

    /// As [`Engine::new`], the slab's pages in `file` if given (see
    /// `warm.rs`).
    pub(crate) fn new_in(
        cfg: &Config,
        file: Option<std::fs::File>,
    ) -> Result<Arc<Engine>, ConfigError> {
        cfg.validate()?;
        if cfg.max_item_size < crate::raw::item::HEADER_SIZE + 2 {
            return Err(ConfigError(format!(
                "max_item_size {} is too small",
                cfg.max_item_size
            )));
        }
        let classes = match &cfg.classes {
            SlabClasses::Growth(f) => Classes::geometric(
                *f,
                cfg.smallest_chunk.unwrap_or(crate::raw::slab::MIN_CHUNK),
                cfg.page_size,
            ),
            SlabClasses::List(l) => Classes::explicit(l),
        }
        .map_err(|e| ConfigError(e.0))?;
        let ceiling = cfg.ceiling(classes.sizes()[0]);
        let slab = Slab::new_in(cfg.memory, ceiling, cfg.page_size, classes, file)
            .map_err(|e| ConfigError(e.0))?;
        // The index starts small and grows with its items (raw/index.rs);
        // the ghost is sized once, for the items a budget of
        // memcached-typical ones holds.
        let ghost_cells = cfg.index_slots.unwrap_or(cfg.memory / GHOST_BYTES_PER_CELL);
        let queues = Queues::new(cfg.policy, &slab, ghost_cells)?;
        let nclasses = slab.classes().sizes().len();
        let seed = cfg.seed.unwrap_or_else(|| {
            // A randomly keyed hasher turns anything into a random seed.
            foldhash::fast::RandomState::default()
                .hash_one(NEXT_ID.load(std::sync::atomic::Ordering::Relaxed))
        });
        let slots = cfg
            .index_slots
            .unwrap_or(cfg.memory / INDEX_START_BYTES_PER_SLOT);
        let max_slots = cfg
            .index_max_slots
            .unwrap_or(ceiling / slab.classes().sizes()[0] * INDEX_MAX_SLOTS_PER_CHUNK);
        let hasher = foldhash::fast::FixedState::with_seed(seed);
        let index = Index::new(
            slots,
            max_slots,
            cfg.reclaim,
            Box::new(move |k: &[u8]| hasher.hash_one(k)),
        );
        let max_item = cfg.max_item_size.min(slab.classes().largest());
        Ok(Arc::new(Engine {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            policy: cfg.policy,
            sampler: Sampler {
                policy: cfg.policy,
                samples: cfg.samples,
                pool_cap: cfg.evict_pool,
            },
            max_item,
            memory: std::sync::atomic::AtomicUsize::new(cfg.memory),
            sweep_budget: cfg.sweep_budget,
            store: Store::new(slab, index, seed),
            queues,
            clock: cfg.clock(),
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
            evictions: cfg.evictions,
        }))
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
