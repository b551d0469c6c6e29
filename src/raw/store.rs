//! The raw store: a slab, the index of its items, and the hasher that keys
//! it, tied together.
//!
//! The pairing is what makes reaching an item through the slab safe: the
//! index's collector is the one that retires this slab's chunks, so a guard
//! of that collector keeps any chunk the slab hands out a chunk, and a LIVE
//! header read under it names a complete item.

use super::index::Index;
use super::item::{Held, Item};
use super::reclaim::Guard;
use super::slab::{Chunk, Slab};
use std::hash::BuildHasher;
use std::sync::Arc;

/// A slab and the index whose collector retires its chunks.
pub(crate) struct Store {
    /// The slab. Its chunks are retired only through `index`'s backend
    /// (`Index::batch`).
    pub(crate) slab: Arc<Slab>,
    /// The index, which owns the collector that retires every chunk of
    /// `slab`.
    pub(crate) index: Index,
    /// Keys the index: every hash in `index` is this hasher's.
    pub(crate) hasher: foldhash::fast::FixedState,
}

impl Store {
    /// A store of `slab`'s items in `index`, keyed by `seed`. The index
    /// must be new: no item of another slab is in it.
    pub(crate) fn new(slab: Slab, index: Index, seed: u64) -> Store {
        Store {
            slab: Arc::new(slab),
            index,
            hasher: foldhash::fast::FixedState::with_seed(seed),
        }
    }

    /// The hash that places `key` in the index.
    #[inline]
    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The item in chunk `ch` if `ch` is a chunk of this slab in its page's
    /// current geometry and holds a LIVE item, held for the guard's
    /// lifetime: the one way from a chunk reached through the slab (by
    /// samplers, the sweeper, page moves and queues) to its key.
    #[inline]
    pub(crate) fn live<'g>(&self, ch: Chunk, g: &'g Guard<'_>) -> Option<Held<'g>> {
        self.live_in(ch, g).map(|(_, it)| it)
    }

    /// [`Store::live`], with the class whose geometry the chunk's page has.
    #[inline]
    pub(crate) fn live_in<'g>(&self, ch: Chunk, g: &'g Guard<'_>) -> Option<(u8, Held<'g>)> {
        assert!(self.index.backend().owns(g), "hotset: a foreign guard");
        let class = self.slab.chunk_class(ch)?;
        // SAFETY: `ch` is a chunk start of `self.slab` (checked above) in
        // the geometry its page has under `g`, which pins the collector
        // retiring this slab's chunks (checked above), and the slab
        // outlives the store's guards: so the header stays a header while
        // `g` lives.
        let header = unsafe { Item::from_ptr(ch.ptr()).held(g) };
        // LIVE read (Acquire) under `g`: the bytes are complete and the
        // chunk cannot be reused before `g` is dropped (item.rs, "The LIVE
        // bit"), so the whole item is held.
        header.is_live().then_some((class, header))
    }
}
