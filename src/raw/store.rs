//! The raw store: a slab, the index of its items, and the hasher that keys
//! it, tied together.
//!
//! The pairing is what makes reaching an item through the slab safe: the
//! index's collector is the one that retires this slab's chunks, so a guard
//! of that collector keeps any chunk the slab hands out a chunk, and a LIVE
//! header read under it names a complete item.
//!
//! # An item's lifecycle, safely
//! Ownership of a chunk moves through values that cannot be copied, so the
//! engine above needs no unsafe code:
//!
//! ```text
//! FreeChunk ──write──▶ Fresh ──insert / replace──▶ published (Held<'g> under a guard)
//!                        │                               │
//!                     discard                  remove / unlink / replace (old)
//!                        ▼                               ▼
//!                     Retired ◀──────retire────────── Unlinked
//! ```
//!
//! - [`Store::write`] consumes a [`FreeChunk`] of this slab (the slab hands
//!   each free chunk out once) and returns a [`Fresh`] item: complete, LIVE,
//!   owned and unpublished.
//! - [`Store::insert`] and [`Store::replace`] consume a `Fresh` and publish
//!   it, or give it back when they did not.
//! - [`Store::remove`], [`Store::unlink`] and a won `replace` return an
//!   [`Unlinked`] item: the one thread whose CAS took it out of the index.
//! - [`Store::retire`] and [`Store::discard`] clear LIVE and queue the chunk
//!   in a retirement batch, which returns it to the slab after the grace
//!   period.
//!
//! Each token borrows its store (a `FreeChunk` its slab), so none outlives
//! the memory it names, and each entry point checks that a token's chunk
//! lies in this store's slab (a subtraction and a compare) and that a batch
//! is this store's: a token of one live cache cannot reach another's index
//! or batches, and an address reused after a cache is dropped cannot be
//! named by a token of the old one.

use super::index::{Found, Index, Insert as IndexInsert};
use super::item::{Held, Item, NewItem};
use super::reclaim::Guard;
use super::slab::{Chunk, FreeChunk, Retired, Slab};
use std::hash::BuildHasher;
use std::marker::PhantomData;
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
    /// The id of `index`'s reclamation backend, which its retirement
    /// batches carry.
    id: u64,
}

impl Store {
    /// A store of `slab`'s items in `index`, keyed by `seed`. The index
    /// must be new: no item of another slab is in it.
    pub(crate) fn new(slab: Slab, index: Index, seed: u64) -> Store {
        Store {
            id: index.backend().id(),
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

/// An item written into a chunk this thread took from the allocator, and
/// not published: complete, LIVE, and owned by whoever holds this value.
/// Publish it ([`Store::insert`], [`Store::replace`]) or retire it
/// ([`Store::discard`]); dropping it leaks the chunk.
#[derive(Debug)]
#[must_use = "a fresh item is published or discarded, or its chunk leaks"]
pub(crate) struct Fresh<'s>(Item, PhantomData<&'s Store>);

impl Fresh<'_> {
    /// The item, readable while this value lives (it owns the chunk).
    #[inline]
    pub(crate) fn held(&self) -> Held<'_> {
        // SAFETY: the chunk is owned by this value (module docs) and the
        // item in it is complete; the borrow ends before the value is
        // consumed by a publication or a discard.
        unsafe { self.0.held_unchecked() }
    }
}

/// An item this thread unlinked from the index with the winning CAS: it
/// owns the chunk until it retires it ([`Store::retire`]); dropping it
/// leaks the chunk.
#[derive(Debug)]
#[must_use = "an unlinked item is retired, or its chunk leaks"]
pub(crate) struct Unlinked<'s>(Item, PhantomData<&'s Store>);

impl Unlinked<'_> {
    /// The item, readable while this value lives (it owns the chunk).
    #[inline]
    pub(crate) fn held(&self) -> Held<'_> {
        // SAFETY: the winner of the unlinking CAS owns the chunk until it
        // retires it, which consumes this value; the item was complete
        // when published and nothing rewrites a published item's bytes.
        unsafe { self.0.held_unchecked() }
    }
}

/// The outcome of [`Store::insert`].
pub(crate) enum Insert<'g, 's> {
    /// The new item is committed; it is held under the insert's guard.
    Inserted(Held<'g>),
    /// The key is present: its entry, and the item given back unpublished.
    Exists(Found<'g>, Fresh<'s>),
    /// Every candidate bucket is full: the item, given back unpublished.
    Full(Fresh<'s>),
}

impl Store {
    /// Checks that a chunk (a token's) is this store's slab's.
    #[inline]
    fn check(&self, p: std::ptr::NonNull<u8>) {
        assert!(self.slab.contains(p), "hotset: an item of another cache");
    }

    /// Writes `new` into `chunk` and sets LIVE.
    ///
    /// # Panics
    /// If the chunk is another slab's, or the item does not fit it:
    /// callers size the class first.
    #[inline]
    pub(crate) fn write(&self, chunk: FreeChunk<'_>, new: &NewItem<'_>) -> Fresh<'_> {
        let ptr = chunk.chunk().ptr();
        self.check(ptr);
        // SAFETY: the chunk is ours (a FreeChunk, consumed here: its slab,
        // alive for the FreeChunk's borrow and this store's (checked
        // above), handed it out once), 8-aligned (every chunk is) and of
        // `chunk.size()` bytes; `Item::write` checks the fit. The handle is
        // kept only inside the Fresh that owns the chunk.
        let it = unsafe { Item::write(ptr, chunk.size(), new) };
        it.mark_live();
        Fresh(it.item(), PhantomData)
    }

    /// Publishes `new`, whose key is `key` and hashes to `hash`, unless
    /// the key is present or its candidate buckets are full; then gives it
    /// back. (A `key` other than the item's misfiles it: wrong, but not
    /// unsafe.)
    #[inline]
    pub(crate) fn insert<'g, 's>(
        &'s self,
        hash: u64,
        new: Fresh<'s>,
        key: &[u8],
        g: &'g Guard<'_>,
    ) -> Insert<'g, 's> {
        self.check(new.0.ptr());
        // SAFETY: `new` is complete, LIVE, owned and unpublished (a Fresh,
        // of this slab: checked above), and a `key` other than its own
        // breaks no memory invariant. Only `Inserted` publishes it; the
        // other outcomes hand it back as the Fresh it was.
        match unsafe { self.index.insert(hash, new.0, key, g) } {
            // SAFETY: published in this index under `g`, which the insert
            // checked pins this index's collector.
            IndexInsert::Inserted => Insert::Inserted(unsafe { new.0.held(g) }),
            IndexInsert::Exists(f) => Insert::Exists(f, new),
            IndexInsert::Full => Insert::Full(new),
        }
    }

    /// Replaces the exact item `old` (found under `g`) with `new`, which
    /// must have the same key (else the index files `new` under the wrong
    /// key: wrong, but not unsafe). On success returns `new` held under
    /// `g` and `old`, now this thread's; otherwise gives `new` back.
    #[inline]
    pub(crate) fn replace<'g, 's>(
        &'s self,
        old: &Found<'g>,
        new: Fresh<'s>,
        g: &'g Guard<'_>,
    ) -> Result<(Held<'g>, Unlinked<'s>), Fresh<'s>> {
        self.check(new.0.ptr());
        assert_eq!(g.owner(), self.id, "hotset: a foreign guard");
        // SAFETY: `new` is complete, LIVE, owned and unpublished, of this
        // index's slab (a Fresh of this store); a key other than `old`'s
        // misfiles it but breaks no memory invariant.
        if unsafe { self.index.replace(old, new.0, g) } {
            let gone = Unlinked(old.item().item(), PhantomData);
            // SAFETY: published in this index under `g`, which pins its
            // collector (checked above).
            Ok((unsafe { new.0.held(g) }, gone))
        } else {
            Err(new)
        }
    }

    /// Removes the exact item `f` found under `g`. `Some` if this thread's
    /// CAS took it out.
    #[inline]
    pub(crate) fn remove(&self, f: &Found<'_>, g: &Guard<'_>) -> Option<Unlinked<'_>> {
        // A Found of another index names a slot of this one only by
        // accident; the CAS on the exact word fails unless the slot holds
        // that very item, which is then this index's.
        self.index
            .remove(f, g)
            .then(|| Unlinked(f.item().item(), PhantomData))
    }

    /// Unlinks exactly the item `it`, whose key hashes to `hash`, reached
    /// through the slab. `Some` if this thread's CAS took it out.
    #[inline]
    pub(crate) fn unlink(&self, hash: u64, it: Held<'_>, g: &Guard<'_>) -> Option<Unlinked<'_>> {
        self.index
            .unlink(hash, it.item(), g)
            .then(|| Unlinked(it.item(), PhantomData))
    }

    /// Whether the index's growth left items to retire
    /// ([`Store::take_orphans`]).
    #[inline]
    pub(crate) fn has_orphans(&self) -> bool {
        self.index.has_orphans()
    }

    /// Items the index's growth had no room for in its larger table: it
    /// unlinked them, and hands each out once, to be retired as evicted.
    pub(crate) fn take_orphans(&self) -> Vec<Unlinked<'_>> {
        self.index
            .take_orphans()
            .into_iter()
            .map(|it| Unlinked(it, PhantomData))
            .collect()
    }

    /// Clears LIVE and queues the chunk in `batch`, to return to the slab
    /// after the grace period of the guard that retires the batch.
    ///
    /// # Panics
    /// If the item or the batch is another store's.
    #[inline]
    pub(crate) fn retire(&self, batch: &mut Retired, gone: Unlinked<'_>) {
        self.retire_owned(batch, gone.0)
    }

    /// [`Store::retire`] for an item never published.
    #[inline]
    pub(crate) fn discard(&self, batch: &mut Retired, fresh: Fresh<'_>) {
        self.retire_owned(batch, fresh.0)
    }

    #[inline]
    fn retire_owned(&self, batch: &mut Retired, it: Item) {
        self.check(it.ptr());
        assert_eq!(batch.owner(), self.id, "hotset: a batch of another cache");
        // SAFETY: the caller's token owned the chunk, and this is its last
        // use.
        unsafe { it.held_unchecked() }.clear_live();
        // SAFETY: this thread owns the chunk's reclamation (it won the CAS
        // that unlinked it from this store's index, or never published
        // it), LIVE is clear, the token is consumed so it is pushed once,
        // and it is this store's slab's, as the batch is (checked above).
        unsafe { batch.push(Chunk::of(it)) };
    }

    /// Moves the pages whose draining completed into `batch`: they become
    /// spare after its grace period.
    pub(crate) fn retire_completed_pages(&self, batch: &mut Retired) {
        assert_eq!(batch.owner(), self.id, "hotset: a batch of another cache");
        for p in self.slab.take_completed() {
            // SAFETY: `take_completed` hands each completed page out once,
            // and the batch is this slab's (checked above).
            unsafe { batch.push_page(p) };
        }
    }
}
