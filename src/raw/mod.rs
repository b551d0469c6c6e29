//! The raw core: everything unsafe about an item's memory, and nothing of
//! memcached's semantics.
//!
//! Its modules import one way, each only those listed before it:
//! - `region`: reserved address space, committed on demand;
//! - `reclaim`: the epoch-reclamation seam (crossbeam-epoch or seize);
//! - `item`: an item's layout and its header's atomics;
//! - `slab`: pages, size classes, magazines, depots, retirement batches;
//! - `index`: the lock-free hash index of item words;
//! - `store`: a slab and its index, tied together.

pub(crate) mod index;
pub(crate) mod item;
pub(crate) mod reclaim;
pub(crate) mod region;
pub(crate) mod slab;
pub(crate) mod store;

// What the loom models share (fixtures, the runner).
#[cfg(all(test, hotset_loom))]
pub(crate) mod model;
