//! The one place that picks std or loom primitives.
//!
//! Everything the model checker must see (index slots, bucket control words, the
//! slab depots and page table) takes its atomics and locks from here. Under
//! `--cfg hotset_loom` they are loom's, so loom explores every interleaving of
//! them; otherwise they are std's.
//!
//! Item headers are the exception: they live inside raw slab memory, where a
//! loom atomic cannot be placed, so `item.rs` always uses `core` atomics. They
//! only carry advisory metadata (access time, frequency) and the seqlock that
//! samplers use; the publication of an item is ordered by the index slot,
//! which is a loom atomic.

#[cfg(hotset_loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(hotset_loom)]
pub(crate) use loom::sync::Mutex;
#[cfg(hotset_loom)]
pub(crate) use loom::thread_local;

#[cfg(not(hotset_loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(hotset_loom))]
pub(crate) use std::sync::Mutex;
#[cfg(not(hotset_loom))]
pub(crate) use std::thread_local;

#[cfg(hotset_loom)]
pub(crate) use loom::sync::MutexGuard;
#[cfg(not(hotset_loom))]
pub(crate) use std::sync::MutexGuard;

/// Locks a mutex, ignoring poisoning: every critical section in the engine
/// leaves its data consistent before anything that could panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
