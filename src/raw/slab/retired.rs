//! A thread's batch of chunks waiting for their grace period.
//!
//! The engine never retires single chunks: a thread collects the chunks it
//! unlinked into a [`Retired`] batch and retires the batch as one object
//! ([`Retired::retire`]), which returns its chunks to the slab when the
//! reclaimer drops it. The batch holds an `Arc` of the slab, so the memory
//! outlives every pending reclamation even if the cache is dropped first.

use super::{Chunk, Slab};
use crate::raw::reclaim::{Backend, Guard};
use std::sync::Arc;

/// Chunks unlinked from the index, waiting for their grace period.
pub struct Retired {
    /// The backend whose guards may retire this batch ([`Backend::id`]).
    owner: u64,
    slab: Arc<Slab>,
    chunks: Vec<Chunk>,
    /// Drained pages, which become spare only after the grace period.
    pages: Vec<u32>,
    /// Whether the chunks were counted into the slab's limbo (the batch was
    /// handed to the reclaimer).
    counted: bool,
}

impl Retired {
    /// An empty batch for chunks of `slab` whose items `backend`'s guards
    /// protect.
    pub fn new(backend: &Backend, slab: Arc<Slab>) -> Retired {
        Retired {
            owner: backend.id(),
            slab,
            chunks: Vec::new(),
            pages: Vec::new(),
            counted: false,
        }
    }

    /// Adds a page whose draining completed.
    ///
    /// # Safety
    /// Every chunk of the page must be back (`Slab::take_completed` returned
    /// it) and the page must be pushed once.
    pub unsafe fn push_page(&mut self, page: u32) {
        self.pages.push(page);
    }

    /// Adds a chunk. It returns to the slab's depot after the grace period
    /// of the guard that retires the batch.
    ///
    /// # Safety
    /// The caller owns the chunk's reclamation: it won the CAS that unlinked
    /// the chunk's item from the index of this batch's backend (or holds a
    /// chunk it never published), cleared its LIVE bit, and pushes it once;
    /// the chunk belongs to this batch's slab.
    pub unsafe fn push(&mut self, c: Chunk) {
        self.chunks.push(c);
    }

    /// The id of the backend whose guards may retire this batch.
    #[inline]
    pub fn owner(&self) -> u64 {
        self.owner
    }

    /// Chunks in the batch.
    pub fn len(&self) -> usize {
        self.chunks.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.pages.is_empty()
    }

    fn take(&mut self) -> Retired {
        let cap = self.chunks.len();
        Retired {
            owner: self.owner,
            slab: self.slab.clone(),
            // The batch keeps its capacity for the next round: it is
            // refilled on every eviction batch.
            chunks: std::mem::replace(&mut self.chunks, Vec::with_capacity(cap)),
            pages: std::mem::take(&mut self.pages),
            counted: false,
        }
    }

    /// Retires every chunk and page of the batch (leaving it empty): each
    /// returns to the slab once no thread that could have seen it is still
    /// pinned.
    ///
    /// # Panics
    /// If `g` pins another backend than this batch's: its chunks' readers
    /// pin that one, so this grace period would not cover them.
    pub fn retire(&mut self, g: &Guard<'_>) {
        if self.is_empty() {
            return;
        }
        assert_eq!(
            self.owner,
            g.owner(),
            "hotset: a batch retired through another cache's guard"
        );
        let mut b = self.take();
        // By address, so that the shared limbo counters are bumped once per
        // page and class (`Slab::limbo_count`), here and when it is dropped.
        b.chunks.sort_unstable_by_key(|c| c.ptr().as_ptr() as usize);
        b.slab.limbo_count(&b.chunks, true);
        b.counted = true;
        if cfg!(feature = "planted-reuse-before-grace") {
            // PLANTED BUG: free at once, without waiting for readers.
            drop(b);
            return;
        }
        // SAFETY: every chunk was unlinked by its pusher's winning CAS
        // (`Retired::push`) from the index that `g`'s backend protects
        // (checked above), so threads that pin from now on cannot reach it,
        // and every page was completed (`Retired::push_page`); dropping the
        // batch touches only the slab, which it keeps alive with an Arc.
        unsafe { g.defer_drop(b) };
    }
}

impl Drop for Retired {
    fn drop(&mut self) {
        if !self.counted {
            // Never handed to the reclaimer, so no grace period covers its
            // chunks: readers may still see them. They are leaked, not
            // freed; this happens only when the cache (and its slab, which
            // this batch may be the last to hold) is going away.
            return;
        }
        if !self.chunks.is_empty() {
            self.slab.limbo_count(&self.chunks, false);
            // SAFETY: every chunk was pushed by the winner of its unlinking
            // CAS (`Retired::push`), and a counted batch is dropped only by
            // the reclaimer, after its grace period.
            unsafe { self.slab.release(&self.chunks) };
        }
        if !self.pages.is_empty() {
            // SAFETY: each page was completed and pushed once
            // (`Retired::push_page`), and its grace period has passed.
            unsafe { self.slab.spare_pages(&self.pages) };
        }
    }
}
