//! Magazines and depots: how chunks are handed out and come back.
//!
//! ```text
//! alloc:  magazine (thread-local, no sync) ─▶ class depot (short lock, a batch)
//!         ─▶ a page: a spare one, else a fresh one while the budget allows
//!         ─▶ None: the caller evicts and retries
//! free:   only through the reclaimer (index/reclaim.rs), in batches, to the depot
//! ```

use super::{Chunk, Slab, DRAINING};
use crate::sync::{lock, Ordering};

/// A thread's free chunks of one class, taken without synchronization.
///
/// Opaque: only the slab puts chunks in (from its depot or a new page), so
/// a chunk taken from a magazine is owned by whoever took it. It remembers
/// the slab and class its chunks are of, and a slab refuses (panics on) a
/// magazine of another slab or class that still holds chunks.
#[derive(Debug, Default)]
pub struct Magazine {
    chunks: Vec<Chunk>,
    /// `Slab::id` and class of the chunks; slab 0 when never filled.
    owner: (u64, u8),
}

impl Magazine {
    /// An empty magazine.
    pub fn new() -> Magazine {
        Magazine::default()
    }

    /// Whether it holds no chunk.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }
}

/// A free chunk taken from a slab's allocator ([`Slab::alloc`]): whoever
/// holds it owns the chunk, since the slab hands each free chunk out once.
/// Not `Copy`: writing an item into it consumes it (`Store::write`). It
/// borrows its slab, so it cannot outlive the memory it names.
#[derive(Debug)]
pub struct FreeChunk<'s> {
    chunk: Chunk,
    /// The chunk size of its class.
    size: usize,
    _slab: std::marker::PhantomData<&'s Slab>,
}

impl FreeChunk<'_> {
    /// The chunk.
    #[inline]
    pub fn chunk(&self) -> Chunk {
        self.chunk
    }

    /// Its size in bytes (its class's chunk size).
    #[inline]
    pub fn size(&self) -> usize {
        self.size
    }

    /// Gives the token up for the bare chunk, whose ownership the caller
    /// now tracks itself (tests and the loom models do).
    #[cfg(test)]
    pub fn into_chunk(self) -> Chunk {
        self.chunk
    }
}

impl Slab {
    /// Claims `mag` for this slab and `class`, or checks that it is theirs.
    ///
    /// # Panics
    /// If it holds chunks of another slab or class.
    #[inline]
    fn own(&self, mag: &mut Magazine, class: u8) {
        let me = (self.id, class);
        if mag.owner != me {
            assert!(
                mag.chunks.is_empty(),
                "hotset: a magazine of another slab or class"
            );
            mag.owner = me;
        }
    }

    /// Takes a chunk of `class`: from the magazine, else a batch from the
    /// depot, else a new page. `None` when the class must evict.
    pub fn alloc(&self, class: u8, mag: &mut Magazine) -> Option<FreeChunk<'_>> {
        self.take(class, mag, true)
    }

    /// Takes a free chunk of `class` from the magazine or the depot, never a
    /// new or spare page: for moving an item within its class while a page
    /// moves to another (`Cache::rescue`), which must not take that page.
    pub fn alloc_free(&self, class: u8, mag: &mut Magazine) -> Option<FreeChunk<'_>> {
        self.take(class, mag, false)
    }

    fn take(&self, class: u8, mag: &mut Magazine, grow: bool) -> Option<FreeChunk<'_>> {
        self.own(mag, class);
        loop {
            while let Some(c) = mag.chunks.pop() {
                if self.usable(c, class) {
                    self.track_write(c);
                    // The next store will write the next chunk: start
                    // fetching its line now.
                    if let Some(next) = mag.chunks.last() {
                        crate::prefetch_write(next.0.as_ptr());
                    }
                    return Some(FreeChunk {
                        chunk: c,
                        size: self.classes[class as usize].size,
                        _slab: std::marker::PhantomData,
                    });
                }
            }
            if !self.refill(class, mag, grow) {
                return None;
            }
        }
    }

    /// Moves a batch from the depot (growing the class by a page if the depot
    /// is empty and `grow`) into the magazine. `false` if there is nothing to
    /// take.
    fn refill(&self, class: u8, mag: &mut Magazine, grow: bool) -> bool {
        let cs = &self.classes[class as usize];
        let want = (cs.mag_cap / 2).max(1);
        {
            let mut depot = lock(&cs.depot);
            if !depot.is_empty() {
                let take = want.min(depot.len());
                let at = depot.len() - take;
                if cfg!(feature = "planted-depot-double-hand") {
                    // PLANTED BUG: copy the batch out but leave it in the depot.
                    mag.chunks.extend(depot[at..].iter().copied());
                    return true;
                }
                mag.chunks.extend(depot.drain(at..));
                return true;
            }
        }
        grow && self.grow(class, mag, want)
    }

    /// Gives the class a page, spare or new (a released or fresh one, while
    /// the budget allows); `want` of its chunks go to the magazine and the
    /// rest to the depot.
    fn grow(&self, class: u8, mag: &mut Magazine, want: usize) -> bool {
        let (page, reused) = {
            let mut pool = lock(&self.pool);
            if let Some(p) = pool.spare.pop() {
                self.moving
                    .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                (p as usize, true)
            } else if pool.owned >= pool.limit {
                return false;
            } else if let Some((p, nohuge)) = pool.released.pop() {
                pool.owned += 1;
                pool.nohuge -= nohuge as usize;
                // Only whole OS pages of it were zeroed; its huge-page
                // advice is restored below, outside the lock.
                drop(pool);
                if nohuge {
                    self.region
                        .rehuge(p as usize * self.page_size, self.page_size);
                }
                (p as usize, true)
            } else {
                let f = self.fresh.load(Ordering::Relaxed);
                if f >= self.page_state.len() {
                    return false;
                }
                self.fresh.store(f + 1, Ordering::Release);
                pool.owned += 1;
                (f, false)
            }
        };
        self.give(page, class, reused, Some((mag, want)));
        true
    }

    /// Assigns `page` to `class` and files its chunks: `want` of them in
    /// the magazine, if given, the rest in the depot. A `reused` page held
    /// another class's items; a new one reads as zeros.
    pub(super) fn give(
        &self,
        page: usize,
        class: u8,
        reused: bool,
        mag: Option<(&mut Magazine, usize)>,
    ) {
        if reused {
            self.clear_headers(page, class);
        }
        self.assign(page, class);
        let cs = &self.classes[class as usize];
        let mut chunks = (0..cs.per_page)
            .rev()
            .map(|i| self.chunk_at(page, class, i));
        if let Some((mag, want)) = mag {
            mag.chunks.extend(chunks.by_ref().take(want));
        }
        lock(&cs.depot).extend(chunks);
    }

    /// Clears the LIVE bit where each of `class`'s chunk headers falls in a
    /// spare `page`. The page held another class's chunks, maybe of another
    /// size, so those words may be old item bytes with that bit set; cleared
    /// before `assign` publishes the page (Release), a LIVE bit that a
    /// sampler or a drain reads (Acquire) is always an item of this class.
    /// Nobody reads the page meanwhile: it became spare only after a grace
    /// period, and no class lists it.
    fn clear_headers(&self, page: usize, class: u8) {
        for i in 0..self.classes[class as usize].per_page {
            // SAFETY: a chunk start of this slab in `class`'s geometry, which
            // the page takes now; nobody else reads the page (see above), so
            // it is ours.
            unsafe {
                crate::raw::item::Item::from_ptr(self.chunk_at(page, class, i).0).held_unchecked()
            }
            .clear_live();
        }
    }

    fn assign(&self, page: usize, class: u8) {
        let cs = &self.classes[class as usize];
        let _g = lock(&cs.pages_lock);
        // Before the Release store below publishes the page: whoever sees
        // the page in its class sees this generation.
        self.generation[page].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.page_state[page].store(class as u32, Ordering::Release);
        let n = cs.npages.load(Ordering::Relaxed);
        cs.page_ids[n].store(page as u32, Ordering::Relaxed);
        cs.npages.store(n + 1, Ordering::Release);
        self.chunks_held
            .fetch_add(cs.per_page, std::sync::atomic::Ordering::Relaxed);
    }

    /// Returns a thread's magazine to the depot (the thread is going away).
    pub fn flush_magazine(&self, class: u8, mag: &mut Magazine) {
        if mag.is_empty() {
            return;
        }
        self.own(mag, class);
        let cs = &self.classes[class as usize];
        // Check under the depot lock, so a chunk of a page that starts
        // draining cannot slip into the depot after the drain split it.
        let mut depot = lock(&cs.depot);
        for c in mag.chunks.drain(..) {
            if self.usable(c, class) {
                depot.push(c);
            }
        }
    }

    /// Frees chunks whose grace period has passed. Only the reclaimer calls
    /// this.
    ///
    /// # Safety
    /// The caller owns every chunk (each came from this slab's `alloc`, is in
    /// no magazine, depot or index, and no reader can still reach it) and
    /// gives each up once.
    pub unsafe fn release(&self, chunks: &[Chunk]) {
        let mut i = 0;
        while i < chunks.len() {
            let page = self.page_of(chunks[i]);
            let state = self.page_state[page].load(Ordering::Acquire);
            if state & DRAINING != 0 {
                self.count_drained(page);
                i += 1;
                continue;
            }
            // A run of chunks of the same class goes in under one lock.
            let class = state as usize;
            let mut depot = lock(&self.classes[class].depot);
            while i < chunks.len() {
                let p = self.page_of(chunks[i]);
                if self.page_state[p].load(Ordering::Acquire) != state {
                    break;
                }
                depot.push(chunks[i]);
                i += 1;
            }
        }
    }
}
