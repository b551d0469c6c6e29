//! The one place that picks std, loom or shuttle primitives.
//!
//! Everything a model checker must see (index slots, bucket control words,
//! the slab depots and page table, the engine's shared words) takes its
//! atomics, fences and locks from here:
//!
//! - under `--cfg hotset_loom` they are loom's, and loom explores every
//!   interleaving of them (bounded by `LOOM_MAX_PREEMPTIONS`);
//! - with the `shuttle` feature they are shuttle's, and shuttle's random and
//!   PCT schedulers pick the interleavings (see `sim/README.md`);
//! - otherwise they are std's.
//!
//! Item headers are the exception: they live inside raw slab memory, where a
//! model atomic cannot be placed, so `item.rs` always uses `core` atomics. They
//! only carry advisory metadata (access time, frequency) and the seqlock that
//! samplers use; the publication of an item is ordered by the index slot,
//! which is a model atomic. Per-thread statistics counters also stay std
//! atomics: they order nothing, and modelling them would only multiply the
//! interleavings.

#[cfg(hotset_loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(hotset_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(hotset_loom)]
pub(crate) use loom::thread::yield_now;
#[cfg(hotset_loom)]
pub(crate) use loom::thread_local;

#[cfg(all(feature = "shuttle", not(hotset_loom)))]
pub(crate) use shuttle::sync::atomic::{
    fence, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(all(feature = "shuttle", not(hotset_loom)))]
pub(crate) use shuttle::sync::{Mutex, MutexGuard};
#[cfg(all(feature = "shuttle", not(hotset_loom)))]
pub(crate) use shuttle::thread::yield_now;
#[cfg(all(feature = "shuttle", not(hotset_loom)))]
pub(crate) use shuttle::thread_local;

#[cfg(not(any(hotset_loom, feature = "shuttle")))]
pub(crate) use std::sync::atomic::{fence, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(any(hotset_loom, feature = "shuttle")))]
pub(crate) use std::sync::{Mutex, MutexGuard};
#[cfg(not(any(hotset_loom, feature = "shuttle")))]
pub(crate) use std::thread::yield_now;
#[cfg(not(any(hotset_loom, feature = "shuttle")))]
pub(crate) use std::thread_local;

/// Whether the engine runs under a model checker. Then nothing may depend on
/// wall-clock time or addresses: a waiting loop counts attempts instead of
/// watching a deadline, so every schedule replays exactly.
pub(crate) const MODEL: bool = cfg!(any(hotset_loom, feature = "shuttle"));

/// Locks a mutex, ignoring poisoning: every critical section in the engine
/// leaves its data consistent before anything that could panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
