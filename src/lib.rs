//! # hotset
//!
//! A lock-free in-memory key-value cache with memcached's semantics, and the
//! research engine around it.
//!
//! ## Embedding the engine
//!
//! The engine alone builds with `default-features = false`: it depends on
//! crossbeam-epoch, crossbeam-utils, seize, foldhash and libc, and nothing
//! else. The default features add the research harness (`workload`,
//! `replay`, `report`, `mrc`, `loadgen`) and the `hotset` binary.
//!
//! ```toml
//! [dependencies]
//! hotset = { version = "0.1", default-features = false }
//! ```
//!
//! ```
//! use hotset::{Cache, Config, Policy, Stored};
//!
//! // An 8 MiB cache evicting by S3-FIFO, with no sweeper thread.
//! let cache = Cache::new(Config {
//!     memory: 8 << 20,
//!     policy: Policy::S3Fifo,
//!     sweep_hz: 0,
//!     ..Config::default()
//! })
//! .unwrap();
//!
//! // set (flags 0, no expiry) and get.
//! assert_eq!(cache.set(b"greeting", b"hello", 0, 0), Ok(Stored::Stored));
//! let mut out = Vec::new();
//! let hit = cache.get(b"greeting", &mut out).unwrap();
//! assert_eq!(out, b"hello");
//! assert_eq!(cache.cas(b"greeting", b"bye", 0, 0, hit.cas), Ok(Stored::Stored));
//!
//! // Store four times the budget: the policy evicts, and every set succeeds.
//! let value = [7u8; 1000];
//! for i in 0..32_000u32 {
//!     assert_eq!(cache.set(format!("k{i}").as_bytes(), &value, 0, 0), Ok(Stored::Stored));
//!     cache.get(b"greeting", &mut out); // keep one key hot
//! }
//! let stats = cache.stats();
//! assert!(stats.evictions > 0);
//! assert!(stats.curr_items < 32_000);
//! assert!(cache.get(b"greeting", &mut out).is_some());
//! assert!(cache.get(b"k31999", &mut out).is_some()); // the newest survives
//! assert!(cache.delete(b"greeting"));
//! ```
//!
//! ## How it works
//! - **Index** (`index`): set-associative buckets of one cache line, seven
//!   tagged slots each. Lookups take no lock and write nothing; every change
//!   is a CAS of an exact slot word, and only the winner of an unlinking CAS
//!   retires the item.
//! - **Reclamation** (`index::reclaim`): crossbeam-epoch or seize, chosen by
//!   [`Config::reclaim`]. A chunk returns to the allocator only through it.
//!   A key or value is only reachable through an entry that borrows the
//!   guard it was found under.
//! - **Slab** (`slab`): the budget is carved lazily into pages (1 MiB), pages
//!   into chunks of geometric size classes; threads allocate from per-class
//!   magazines refilled from per-class depots. Pages move between classes
//!   when the size mix shifts.
//! - **Eviction** (`evict`): sampled per class (K = 5) with a per-thread
//!   eviction pool (16); the policy is a priority function over the header.
//! - **TTL** (`ttl`): memcached's exptime rules; lazy expiry on every access,
//!   and a sweeper thread that walks pages under a time budget.
//!
//! Items carry 20 bytes of header plus their 8-byte index slot: 28 bytes of
//! fixed metadata (see `item`).
//!
//! The design document is `IMPLEMENTATION.md`, included below.
#![doc = include_str!("../IMPLEMENTATION.md")]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod cache;
pub mod clock;
mod config;
mod engine;
// The raw core is private: the public API is `Cache`. Its loom models live
// beside it (`#[cfg(all(test, hotset_loom))]`).
mod evict;
#[cfg(feature = "harness")]
pub mod latency;
#[cfg(feature = "harness")]
pub mod loadgen;
#[cfg(feature = "harness")]
pub mod mrc;
pub mod policy;
pub mod protocol;
mod raw;
#[cfg(feature = "harness")]
pub mod replay;
#[cfg(feature = "harness")]
pub mod report;
pub mod rng;
pub mod server;
mod stats;
mod sync;
pub mod ttl;
#[cfg(feature = "harness")]
pub mod workload;

/// Hints the CPU to fetch a cache line for reading.
#[inline(always)]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Hints the CPU to fetch a cache line that is about to be written.
#[inline(always)]
pub(crate) fn prefetch_write(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as for `prefetch`.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_ET0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

pub use cache::{
    ArithHit, ArithOp, Cache, Error, GetOpts, Hit, ItemRef, MetaArith, MetaDebug, MetaHit, SetMode,
    Stored, WarmStart,
};
pub use clock::{Clock, CoarseClock, ManualClock};
pub use config::{parse_size, Config, ConfigError, SlabClasses};
pub use engine::mover::Reassign;
pub use evict::Policy;
pub use raw::item::{footprint, HEADER_SIZE, MAX_KEY_LEN, MAX_VALUE_LEN, SLOT_SIZE};
pub use raw::reclaim::ReclaimKind;
pub use raw::slab::{ClassError, DEFAULT_PAGE_SIZE};
pub use stats::{ClassStats, Stats};
