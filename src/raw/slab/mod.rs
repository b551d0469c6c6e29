//! The slab allocator: the memory budget carved into pages, pages carved into
//! chunks of one size class, and per-thread magazines in front of per-class
//! depots.
//!
//! How chunks are handed out and come back is in `depot.rs`; this file is
//! the pages: the budget, their classes, draining and sampling.
//!
//! The whole budget is one zeroed mapping on huge pages (`region.rs`), so the
//! OS commits memory only as pages are first touched, and a chunk's page is
//! `(chunk - base) / page_size`.
//! Pages are handed out lazily, so item memory never exceeds the budget: it is
//! at most `pages * page_size <= budget` by construction.
//!
//! A page can be taken back from its class (see `Slab::drain`) so that memory
//! follows the size mix: its live items are unlinked, and every chunk of it is
//! counted as it comes back (from the depot, a magazine, or the reclaimer)
//! until the whole page is free again.

mod classes;
mod depot;
mod retired;

pub use depot::{FreeChunk, Magazine};
pub use retired::Retired;

pub use classes::{ClassError, Classes, CHUNK_ALIGN, MIN_CHUNK};

use crate::raw::region::Region;
use crate::sync::{fence, lock, AtomicU32, AtomicUsize, Mutex, Ordering};
use std::ptr::NonNull;

pub use crate::config::DEFAULT_PAGE_SIZE;

/// A magazine holds at most this many bytes of chunks per class, so that an
/// idle thread strands little memory.
const MAGAZINE_BYTES: usize = 64 << 10;
/// …and at most this many chunks.
const MAGAZINE_MAX: usize = 32;

/// Page state: not yet given to any class.
const UNASSIGNED: u32 = u32::MAX;
/// Page state flag: being drained away from its class.
const DRAINING: u32 = 1 << 16;

/// A chunk address. Only the slab makes them, so a `Chunk` is always the
/// start of a chunk of some slab's memory.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Chunk(NonNull<u8>);

impl Chunk {
    /// The address.
    #[inline]
    pub fn ptr(self) -> NonNull<u8> {
        self.0
    }

    /// The chunk holding an item.
    #[inline]
    pub fn of(it: crate::raw::item::Item) -> Chunk {
        Chunk(it.ptr())
    }

    /// A chunk at `addr`, for tests of structures that only compare chunks
    /// or compute their ids.
    #[cfg(test)]
    #[cfg_attr(hotset_loom, allow(dead_code))]
    pub(crate) fn at_addr(addr: usize) -> Chunk {
        Chunk(NonNull::new(addr as *mut u8).expect("non-zero"))
    }

    /// A made-up address `i × 64` (see [`Chunk::at_addr`]).
    #[cfg(test)]
    pub(crate) fn dangling(i: usize) -> Chunk {
        Chunk(NonNull::new((i.max(1) * 64) as *mut u8).expect("non-zero"))
    }
}

// SAFETY: a Chunk is an address; ownership of the memory is handed between
// threads through the depot mutex or the reclaimer.
unsafe impl Send for Chunk {}
// SAFETY: as for Send.
unsafe impl Sync for Chunk {}

/// Per-class slab state.
struct ClassSlab {
    size: usize,
    per_page: usize,
    /// Divides by `size` and by `per_page` without a division instruction
    /// (queue entries are encoded and decoded on every insert and eviction).
    by_size: FastDiv,
    by_per_page: FastDiv,
    mag_cap: usize,
    /// Free chunks, taken and returned in batches.
    depot: Mutex<Vec<Chunk>>,
    /// Pages of this class, for samplers: entries `[0, npages)` are valid.
    /// Written under `pages_lock`; read without it (a stale entry is caught by
    /// checking the page's state).
    page_ids: Box<[AtomicU32]>,
    npages: AtomicUsize,
    pages_lock: Mutex<()>,
}

/// Division of 32-bit numbers by a fixed 32-bit divisor with one 128-bit
/// multiply (Lemire, Kaser and Kurz, "Faster remainder by direct
/// computation", 2019): `M = ⌈2^64 / d⌉`, `n / d = (M · n) >> 64`, exact for
/// every `n, d < 2^32`.
#[derive(Clone, Copy, Debug)]
struct FastDiv {
    m: u64,
    d: u32,
}

impl FastDiv {
    fn new(d: u32) -> FastDiv {
        let d = d.max(1);
        FastDiv {
            m: (u64::MAX / d as u64).wrapping_add(1),
            d,
        }
    }

    /// `(n / d, n % d)`.
    #[inline]
    fn divmod(self, n: u32) -> (u32, u32) {
        if self.d == 1 {
            return (n, 0);
        }
        let q = ((self.m as u128 * n as u128) >> 64) as u32;
        (q, n - q * self.d)
    }
}

/// The pages outside every class, and how many pages the budget allows.
///
/// Invariant: `owned` counts the pages whose memory is committed (in a
/// class, draining, completed, or in `spare`); `released` and the pages past
/// `fresh` hold none. A page is taken from `released` or `fresh` only while
/// `owned < limit`, and a drained page goes to `released` instead of
/// `spare` while `owned > limit`, so once the pages over a lowered limit
/// have drained, `owned <= limit`.
#[derive(Debug, Default)]
struct Pool {
    /// Drained pages that await a new class (their memory is committed).
    spare: Vec<u32>,
    /// Pages whose memory went back to the OS when the budget shrank; they
    /// read as zeros, and are reused before fresh ones. With each, whether
    /// it was advised `MADV_NOHUGEPAGE` (see `MAX_NOHUGE`).
    released: Vec<(u32, bool)>,
    /// Released pages advised `MADV_NOHUGEPAGE` now.
    nohuge: usize,
    owned: usize,
    /// Pages the budget allows now, at most the slab's page count.
    limit: usize,
}

/// Released pages advised `MADV_NOHUGEPAGE` at most at once. Each advice
/// splits the region's mapping (up to two more mappings), and a process may
/// hold 65,530 (`vm.max_map_count`'s default) before every `mmap` fails;
/// past this many, a released page is only dropped, and khugepaged may
/// commit it again by collapsing its huge page.
const MAX_NOHUGE: usize = 8192;

/// Source of [`Slab::id`]s (0 is never one).
static NEXT_SLAB: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The slab allocator. See the module docs.
pub struct Slab {
    /// Tells this slab's magazines from another's.
    id: u64,
    base: NonNull<u8>,
    /// Bytes reserved from `base`: every page, used or not.
    len: usize,
    /// The mapping `base` points into; unmapped when the slab drops.
    region: Region,
    page_size: usize,
    /// `log2(page_size)` when the page size is a power of two (the
    /// default): the page of an offset is then a shift, not a division.
    page_shift: Option<u32>,
    /// Per page: `UNASSIGNED`, a class id, or `DRAINING | class`.
    page_state: Box<[AtomicU32]>,
    /// Per page: chunks counted back while draining.
    drained: Box<[AtomicU32]>,
    /// Per page: how many times it was given to a class, bumped before the
    /// page is published to its new class. Queue entries carry it, so an
    /// entry made before a page left cannot name an item after it came
    /// back. A std atomic: `page_state` orders it.
    generation: Box<[std::sync::atomic::AtomicU32]>,
    /// Pages `[fresh, npages)` have never been used. Grows only under the
    /// `pool` lock; the sweeper reads it without.
    fresh: AtomicUsize,
    /// Pages outside every class, and the budget.
    pool: Mutex<Pool>,
    /// Per page: where a `slabs reassign` sends it once drained, as
    /// `class + 1`; 0 (the default) sends it to the pool. Written before
    /// the page is seen draining, read a grace period after it completed.
    dest: Box<[std::sync::atomic::AtomicU32]>,
    /// Pages a reassign sent to a class that have not reached it yet.
    directed: std::sync::atomic::AtomicUsize,
    /// Pages whose chunks are all back, waiting for one grace period before
    /// they become spare: a pinned sampler or sweeper may still be reading
    /// them with the old class's geometry (see `take_completed`).
    completed: Mutex<Vec<u32>>,
    classes: Box<[ClassSlab]>,
    sizes: Classes,
    /// Per page, chunks handed to the reclaimer and not yet back (see
    /// `Retired`), for consistency checks. Std atomics even under models:
    /// they order nothing.
    limbo: Box<[std::sync::atomic::AtomicU32]>,
    /// Per class, the same count: how much of the class is waiting out a
    /// grace period, which `Engine::alloc` weighs before evicting (not
    /// kept under loom, where the extra loads of `page_state` would only
    /// widen the models).
    class_limbo: Box<[std::sync::atomic::AtomicUsize]>,
    /// Chunks of the pages that classes hold now (for the ghost's size).
    chunks_held: std::sync::atomic::AtomicUsize,
    /// Bumped whenever a page starts draining, before any thread can see it
    /// draining: threads then empty their magazines and forget candidates
    /// (`Engine::follow_drains`).
    drains: std::sync::atomic::AtomicU64,
    /// Pages between a class and the next: draining, waiting for their grace
    /// period, or spare. A heuristic for `Cache`'s rebalancing (one move at a
    /// time), so a std atomic even under models.
    moving: std::sync::atomic::AtomicUsize,
    #[cfg(hotset_loom)]
    cells: Box<[loom::cell::UnsafeCell<()>]>,
}

// SAFETY: the raw base pointer is only used to compute chunk addresses; all
// shared state is behind atomics and mutexes.
unsafe impl Send for Slab {}
// SAFETY: as for Send.
unsafe impl Sync for Slab {}

impl Slab {
    /// A slab that may use `budget / page_size` pages (at least one), and
    /// reserves address space for `ceiling / page_size`, the most that
    /// [`Slab::set_limit`] can raise it to. With `file`, the pages are in
    /// it (emptied first): what the slab holds is in the file, for a warm
    /// restart to read.
    pub fn new_in(
        budget: usize,
        ceiling: usize,
        page_size: usize,
        classes: Classes,
        file: Option<std::fs::File>,
    ) -> Result<Slab, ClassError> {
        if page_size < MIN_CHUNK || page_size % CHUNK_ALIGN != 0 {
            return Err(ClassError(format!(
                "page size {page_size} must be a multiple of 8, at least 64"
            )));
        }
        if classes.largest() > page_size {
            return Err(ClassError(format!(
                "largest slab class {} exceeds the page size {page_size}",
                classes.largest()
            )));
        }
        let limit = budget / page_size;
        if limit == 0 {
            return Err(ClassError(format!(
                "memory budget {budget} is smaller than one page ({page_size})"
            )));
        }
        let npages = (ceiling / page_size).max(limit);
        if npages > u32::MAX as usize / 2 {
            return Err(ClassError(format!(
                "memory budget {budget} has too many pages"
            )));
        }
        let len = npages * page_size;
        let region = match file {
            None => Region::new(len)
                .ok_or_else(|| ClassError(format!("cannot reserve {len} bytes for the slab")))?,
            Some(f) => Region::in_file(len, f)
                .map_err(|e| ClassError(format!("cannot map the memory file: {e}")))?,
        };
        let base = region.base();
        let classes_len = classes.sizes().len();
        let classes_state = classes
            .sizes()
            .iter()
            .map(|&size| ClassSlab {
                size,
                per_page: page_size / size,
                by_size: FastDiv::new(size as u32),
                by_per_page: FastDiv::new((page_size / size) as u32),
                mag_cap: (MAGAZINE_BYTES / size).min(MAGAZINE_MAX),
                depot: Mutex::new(Vec::new()),
                page_ids: (0..npages).map(|_| AtomicU32::new(0)).collect(),
                npages: AtomicUsize::new(0),
                pages_lock: Mutex::new(()),
            })
            .collect();
        Ok(Slab {
            id: NEXT_SLAB.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            base,
            len,
            region,
            page_size,
            page_shift: page_size
                .is_power_of_two()
                .then(|| page_size.trailing_zeros()),
            page_state: (0..npages).map(|_| AtomicU32::new(UNASSIGNED)).collect(),
            drained: (0..npages).map(|_| AtomicU32::new(0)).collect(),
            generation: (0..npages)
                .map(|_| std::sync::atomic::AtomicU32::new(0))
                .collect(),
            fresh: AtomicUsize::new(0),
            pool: Mutex::new(Pool {
                limit,
                ..Pool::default()
            }),
            dest: (0..npages)
                .map(|_| std::sync::atomic::AtomicU32::new(0))
                .collect(),
            directed: std::sync::atomic::AtomicUsize::new(0),
            completed: Mutex::new(Vec::new()),
            classes: classes_state,
            sizes: classes,
            drains: std::sync::atomic::AtomicU64::new(0),
            chunks_held: std::sync::atomic::AtomicUsize::new(0),
            moving: std::sync::atomic::AtomicUsize::new(0),
            limbo: (0..npages)
                .map(|_| std::sync::atomic::AtomicU32::new(0))
                .collect(),
            class_limbo: (0..classes_len)
                .map(|_| std::sync::atomic::AtomicUsize::new(0))
                .collect(),
            #[cfg(hotset_loom)]
            cells: (0..len / CHUNK_ALIGN)
                .map(|_| loom::cell::UnsafeCell::new(()))
                .collect(),
        })
    }

    /// The size classes.
    pub fn classes(&self) -> &Classes {
        &self.sizes
    }

    /// Chunk size of a class.
    pub fn chunk_size(&self, class: u8) -> usize {
        self.classes[class as usize].size
    }

    /// Number of pages the address space holds (the ceiling of
    /// [`Slab::set_limit`]).
    pub fn total_pages(&self) -> usize {
        self.page_state.len()
    }

    /// Page size in bytes.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// Pages currently assigned to a class.
    pub fn class_pages(&self, class: u8) -> usize {
        self.classes[class as usize].npages.load(Ordering::Relaxed)
    }

    /// Chunks of the pages a class holds now.
    #[inline]
    pub fn class_chunks(&self, class: u8) -> usize {
        let cs = &self.classes[class as usize];
        cs.npages.load(Ordering::Relaxed) * cs.per_page
    }

    /// Chunks of the pages all classes hold now.
    pub fn chunks_in_classes(&self) -> usize {
        self.chunks_held.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A chunk's id in its class: `page × chunks per page + index`, below
    /// `total_pages × chunks per page`.
    #[inline]
    pub fn chunk_id(&self, c: Chunk, class: u8) -> u32 {
        let cs = &self.classes[class as usize];
        let off = c.0.as_ptr() as usize - self.base.as_ptr() as usize;
        let page = self.page_of_offset(off);
        let (index, _) = cs.by_size.divmod((off - page * self.page_size) as u32);
        (page * cs.per_page) as u32 + index
    }

    /// The chunk with id `id` in `class`'s geometry, if the id is in range.
    /// Its page may belong to another class now: check before reading it.
    #[inline]
    pub fn chunk_by_id(&self, class: u8, id: u32) -> Option<Chunk> {
        let (page, i) = self.classes[class as usize].by_per_page.divmod(id);
        ((page as usize) < self.page_state.len())
            .then(|| self.chunk_at(page as usize, class, i as usize))
    }

    /// Free chunks in a class's depot.
    pub fn depot_len(&self, class: u8) -> usize {
        lock(&self.classes[class as usize].depot).len()
    }

    /// Counts chunks entering (`enter`) or leaving the reclaimer. Leaving
    /// is counted before the chunks are released: until then their pages
    /// keep their class, even a draining one.
    ///
    /// The counters are shared by every thread, so they are bumped once
    /// per run of chunks of one page (and of one class), not once per
    /// chunk: `chunks` sorted by address (as [`Retired`] keeps them) make
    /// one run per page.
    pub fn limbo_count(&self, chunks: &[Chunk], enter: bool) {
        // The (page state, chunks) run of one class, under way.
        let mut class_run: Option<(u32, usize)> = None;
        let mut i = 0;
        while i < chunks.len() {
            let page = self.page_of(chunks[i]);
            let n = chunks[i..]
                .iter()
                .take_while(|&&c| self.page_of(c) == page)
                .count();
            i += n;
            self.limbo_bump(&self.limbo[page], n, enter);
            // Not kept under loom (see `class_limbo`).
            if cfg!(not(hotset_loom)) {
                let state = self.page_state[page].load(Ordering::Relaxed);
                match &mut class_run {
                    Some((s, m)) if *s & !DRAINING == state & !DRAINING => *m += n,
                    _ => {
                        if let Some((s, m)) = class_run.replace((state, n)) {
                            self.class_limbo_bump(s, m, enter);
                        }
                    }
                }
            }
        }
        if let Some((s, m)) = class_run {
            self.class_limbo_bump(s, m, enter);
        }
    }

    #[inline]
    fn limbo_bump(&self, a: &std::sync::atomic::AtomicU32, n: usize, enter: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        if enter {
            a.fetch_add(n as u32, Relaxed);
        } else {
            a.fetch_sub(n as u32, Relaxed);
        }
    }

    /// Counts `n` chunks of the class of a page in `state` in or out.
    #[inline]
    fn class_limbo_bump(&self, state: u32, n: usize, enter: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        if state == UNASSIGNED {
            return;
        }
        let k = &self.class_limbo[(state & !DRAINING) as usize];
        if enter {
            k.fetch_add(n, Relaxed);
        } else {
            k.fetch_sub(n, Relaxed);
        }
    }

    /// Chunks of `class` handed to the reclaimer and not yet back (0 under
    /// loom, which does not keep the count).
    pub fn class_limbo(&self, class: u8) -> usize {
        self.class_limbo[class as usize].load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Pages on their way from one class to another (see `moving`).
    pub fn pages_moving(&self) -> usize {
        self.moving.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Chunks of `page` retired and waiting for their grace period.
    pub fn limbo(&self, page: usize) -> usize {
        self.limbo[page].load(std::sync::atomic::Ordering::Relaxed) as usize
    }

    /// A copy of a class's depot, for consistency checks.
    pub fn depot_chunks(&self, class: u8) -> Vec<Chunk> {
        lock(&self.classes[class as usize].depot).clone()
    }

    /// The chunk size of the class `c`'s page is in now (or was, if the
    /// page is draining).
    pub fn chunk_bytes(&self, c: Chunk) -> usize {
        let state = self.page_state[self.page_of(c)].load(Ordering::Relaxed);
        self.classes
            .get((state & !DRAINING) as usize)
            .map_or(0, |cs| cs.size)
    }

    /// Whether `p` points into this slab's reserved memory.
    #[inline]
    pub fn contains(&self, p: NonNull<u8>) -> bool {
        (p.as_ptr() as usize).wrapping_sub(self.base.as_ptr() as usize) < self.len
    }

    #[inline]
    fn page_of(&self, c: Chunk) -> usize {
        self.page_of_offset(c.0.as_ptr() as usize - self.base.as_ptr() as usize)
    }

    /// The page of an offset into the region: a shift when the page size is
    /// a power of two (the default), else a division.
    #[inline]
    fn page_of_offset(&self, off: usize) -> usize {
        match self.page_shift {
            Some(shift) => off >> shift,
            None => off / self.page_size,
        }
    }

    fn chunk_at(&self, page: usize, class: u8, i: usize) -> Chunk {
        let off = page * self.page_size + i * self.classes[class as usize].size;
        // SAFETY: page < npages and i < per_page, so off < len: inside the
        // allocation, hence non-null.
        Chunk(unsafe { NonNull::new_unchecked(self.base.as_ptr().add(off)) })
    }

    /// The state of a chunk's page is `class`, i.e. not draining.
    #[inline]
    fn usable(&self, c: Chunk, class: u8) -> bool {
        let page = self.page_of(c);
        if self.page_state[page].load(Ordering::Acquire) == class as u32 {
            return true;
        }
        self.count_drained(page);
        false
    }

    /// One more chunk of a draining page is back; the last one makes the page
    /// spare.
    fn count_drained(&self, page: usize) {
        let state = self.page_state[page].load(Ordering::Acquire);
        debug_assert!(state & DRAINING != 0);
        let class = (state & !DRAINING) as usize;
        let n = self.drained[page].fetch_add(1, Ordering::AcqRel) + 1;
        if n as usize == self.classes[class].per_page {
            self.drained[page].store(0, Ordering::Relaxed);
            self.page_state[page].store(UNASSIGNED, Ordering::Release);
            lock(&self.completed).push(page as u32);
        }
    }

    /// Takes the pages whose draining completed. The caller retires them
    /// (see `slab::Retired::push_page`), and they become spare
    /// after a grace period, through [`Slab::spare_pages`].
    pub fn take_completed(&self) -> Vec<u32> {
        std::mem::take(&mut *lock(&self.completed))
    }

    /// Makes retired pages available again: each goes to the class a
    /// `slabs reassign` sent it to, else back to the OS while the pool
    /// holds more pages than the limit, else to the spare pages. Only the
    /// reclaimer calls this.
    ///
    /// # Safety
    /// Every page came from [`Slab::take_completed`] (all its chunks are
    /// back, and no class lists it), is given once, and a grace period has
    /// passed since it completed, so no reader still uses its old geometry.
    pub unsafe fn spare_pages(&self, pages: &[u32]) {
        debug_assert!(pages.iter().all(|&p| (p as usize) < self.page_state.len()));
        let mut sent = Vec::new();
        {
            let mut pool = lock(&self.pool);
            for &p in pages {
                let to = self.dest[p as usize].swap(0, std::sync::atomic::Ordering::Relaxed);
                if to > 0 {
                    sent.push((p as usize, (to - 1) as u8));
                } else if pool.owned > pool.limit {
                    // SAFETY: the page is out of every class and past its
                    // grace period (this function's contract); nothing
                    // reads it until it is handed out again.
                    unsafe { self.release_page(&mut pool, p) };
                } else {
                    pool.spare.push(p);
                }
            }
        }
        for (page, class) in sent {
            self.moving
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            self.give(page, class, true, None);
            self.directed
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Gives a page's memory back to the OS and files it as released.
    ///
    /// # Safety
    /// The page is in no class and no list, and nobody reads it until the
    /// pool hands it out again.
    unsafe fn release_page(&self, pool: &mut Pool, page: u32) {
        let nohuge = pool.nohuge < MAX_NOHUGE;
        pool.nohuge += nohuge as usize;
        // SAFETY: the page lies inside the region; nobody uses it (the
        // caller's promise).
        unsafe {
            self.region
                .discard(page as usize * self.page_size, self.page_size, nohuge)
        };
        pool.released.push((page, nohuge));
        pool.owned -= 1;
        self.moving
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Sets how many pages the budget allows (at least one, at most
    /// [`Slab::total_pages`]), giving spare pages over it back to the OS at
    /// once. Returns how many more pages must leave their classes for the
    /// slab to fit: the caller drains them ([`Slab::drain`]), and as each
    /// completes it is released.
    pub fn set_limit(&self, pages: usize) -> usize {
        let mut pool = lock(&self.pool);
        pool.limit = pages.clamp(1, self.page_state.len());
        while pool.owned > pool.limit {
            let Some(p) = pool.spare.pop() else { break };
            // SAFETY: a spare page is in no class and past its grace
            // period; the pool lock keeps anyone from taking it meanwhile.
            unsafe { self.release_page(&mut pool, p) };
        }
        self.over_limit(&pool)
    }

    /// Pages in classes over the limit, not counting those already on
    /// their way out (draining or completed, which will be released). A
    /// page a reassign sends to a class is in flight but not on its way
    /// out: it lands in that class.
    fn over_limit(&self, pool: &Pool) -> usize {
        let directed = self.directed.load(std::sync::atomic::Ordering::Relaxed);
        let leaving = self.in_flight(pool).saturating_sub(directed);
        pool.owned.saturating_sub(pool.limit + leaving)
    }

    /// Pages draining or completed: out of their class, not yet in the pool.
    fn in_flight(&self, pool: &Pool) -> usize {
        self.moving
            .load(std::sync::atomic::Ordering::Relaxed)
            .saturating_sub(pool.spare.len())
    }

    /// Pages out of their class and not yet back in the pool (see
    /// [`Slab::pages_moving`], which counts the spare ones too).
    pub fn pages_in_flight(&self) -> usize {
        self.in_flight(&lock(&self.pool))
    }

    /// Pages over the limit still in classes (see [`Slab::set_limit`]).
    pub fn excess_pages(&self) -> usize {
        self.over_limit(&lock(&self.pool))
    }

    /// Pages the budget allows now.
    pub fn limit_pages(&self) -> usize {
        lock(&self.pool).limit
    }

    /// Pages whose memory is committed: in a class, on the move, or spare.
    pub fn owned_pages(&self) -> usize {
        lock(&self.pool).owned
    }

    /// Spare pages: drained, committed, and in no class.
    pub fn spare_count(&self) -> usize {
        lock(&self.pool).spare.len()
    }

    /// Moves reassigned pages that have not reached their class yet.
    pub fn directed_moves(&self) -> usize {
        self.directed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Takes a spare page for `class`, as `slabs reassign 0 <class>`
    /// (memcached's global page pool as the source). `false` if there is
    /// none.
    pub fn give_spare(&self, class: u8) -> bool {
        let Some(p) = lock(&self.pool).spare.pop() else {
            return false;
        };
        self.moving
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.give(p as usize, class, true, None);
        true
    }

    /// Whether a chunk's page is being drained (its item must not stay).
    #[inline]
    pub fn draining(&self, c: Chunk) -> bool {
        self.page_state[self.page_of(c)].load(Ordering::SeqCst) & DRAINING != 0
    }

    /// How many drains have started (see `drains`).
    #[inline]
    pub fn drain_generation(&self) -> u64 {
        self.drains.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The class whose geometry `c` is a chunk start of, if `c` is in this
    /// slab and its page belongs to a class (draining or not): then, under a
    /// guard taken now, the header at `c` is a header until the guard drops
    /// (a page changes class only a grace period after it left its class).
    #[inline]
    pub fn chunk_class(&self, c: Chunk) -> Option<u8> {
        let off = (c.0.as_ptr() as usize).checked_sub(self.base.as_ptr() as usize)?;
        let page = self.page_of_offset(off);
        let state = self.page_state.get(page)?.load(Ordering::Acquire);
        if state == UNASSIGNED {
            return None;
        }
        let class = (state & !DRAINING) as u8;
        let cs = self.classes.get(class as usize)?;
        let (index, rem) = cs.by_size.divmod((off - page * self.page_size) as u32);
        (rem == 0 && (index as usize) < cs.per_page).then_some(class)
    }

    /// The class of a chunk that holds a live item (one the caller reached
    /// through the index, or owns): its page's class, draining or not. The
    /// item header does not store it; a page changes class only a grace
    /// period after its last item left, so under the caller's guard the
    /// answer holds. A chunk of no class's page answers 0 (and fails a
    /// debug assertion): the caller broke the contract.
    #[inline]
    pub fn class_of(&self, c: Chunk) -> u8 {
        let state = self.page_state[self.page_of(c)].load(Ordering::Acquire);
        debug_assert!(state != UNASSIGNED, "a live item on an unassigned page");
        if state == UNASSIGNED {
            0
        } else {
            (state & !DRAINING) as u8
        }
    }

    /// How many times the page of `c` was given to a class (see
    /// `generation`). Read after `chunk_class` found the page in a class,
    /// it is that assignment's.
    #[inline]
    pub fn page_generation(&self, c: Chunk) -> u32 {
        self.generation[self.page_of(c)].load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The class a chunk's page serves now, if any (not draining, not
    /// spare).
    #[inline]
    pub fn page_class_of(&self, c: Chunk) -> Option<u8> {
        self.page_class(self.page_of(c))
    }

    /// The class a page serves now, if any (not draining, not spare).
    pub fn page_class(&self, page: usize) -> Option<u8> {
        let state = self.page_state.get(page)?.load(Ordering::Acquire);
        (state != UNASSIGNED && state & DRAINING == 0).then_some(state as u8)
    }

    /// Starts taking a page away from `class`: marks it draining, removes it
    /// from the class's page list, and counts the depot's chunks of it.
    /// Returns the page's chunks so the caller can unlink its live items.
    /// `None` if the class has fewer than `keep + 1` pages. Once drained,
    /// the page goes to class `to` if given (a `slabs reassign`), else to
    /// the pool.
    pub fn drain(&self, class: u8, pick: usize, keep: usize, to: Option<u8>) -> Option<Vec<Chunk>> {
        let cs = &self.classes[class as usize];
        let page = {
            let _g = lock(&cs.pages_lock);
            let n = cs.npages.load(Ordering::Relaxed);
            if n <= keep {
                return None;
            }
            let i = pick % n;
            let page = cs.page_ids[i].load(Ordering::Relaxed) as usize;
            let last = cs.page_ids[n - 1].load(Ordering::Relaxed);
            cs.page_ids[i].store(last, Ordering::Relaxed);
            cs.npages.store(n - 1, Ordering::Release);
            if let Some(to) = to {
                self.directed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // Read a grace period after the page completes, which
                // the DRAINING store below comes before.
                self.dest[page].store(to as u32 + 1, std::sync::atomic::Ordering::Relaxed);
            }
            self.chunks_held
                .fetch_sub(cs.per_page, std::sync::atomic::Ordering::Relaxed);
            // Before the page is seen draining, so that whoever sees it
            // draining also sees the new generation.
            self.drains
                .fetch_add(1, std::sync::atomic::Ordering::Release);
            // SeqCst, paired with the fence writers issue after publishing
            // (`Slab::draining`): either the writer sees DRAINING and unlinks
            // its item, or the caller's walk finds the item.
            self.page_state[page].store(DRAINING | class as u32, Ordering::SeqCst);
            self.moving
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            page
        };
        fence(Ordering::SeqCst);
        let mine: Vec<Chunk> = {
            let mut depot = lock(&cs.depot);
            let (mine, rest): (Vec<Chunk>, Vec<Chunk>) =
                depot.drain(..).partition(|&c| self.page_of(c) == page);
            *depot = rest;
            mine
        };
        for _ in &mine {
            self.count_drained(page);
        }
        Some(
            (0..cs.per_page)
                .map(|i| self.chunk_at(page, class, i))
                .collect(),
        )
    }

    /// A uniformly random chunk of a class, for eviction sampling, or `None`
    /// if the class has no pages. The chunk may be free or in use.
    #[inline]
    pub fn sample(&self, class: u8, rnd: u64) -> Option<Chunk> {
        let cs = &self.classes[class as usize];
        let n = cs.npages.load(Ordering::Acquire);
        if n == 0 {
            return None;
        }
        let page = cs.page_ids[(rnd % n as u64) as usize].load(Ordering::Relaxed) as usize;
        if self.page_state[page].load(Ordering::Acquire) != class as u32 {
            return None;
        }
        let i = ((rnd >> 32) % cs.per_page as u64) as usize;
        Some(self.chunk_at(page, class, i))
    }

    /// The chunks of page `page` if it currently belongs to a class, for the
    /// sweeper's walk.
    pub fn page_chunks(&self, page: usize) -> Option<(u8, impl Iterator<Item = Chunk> + '_)> {
        let state = self.page_state.get(page)?.load(Ordering::Acquire);
        if state == UNASSIGNED || state & DRAINING != 0 {
            return None;
        }
        let class = state as u8;
        let per = self.classes[class as usize].per_page;
        Some((class, (0..per).map(move |i| self.chunk_at(page, class, i))))
    }

    /// Pages handed out so far (the sweeper walks `[0, used_pages)`).
    pub fn used_pages(&self) -> usize {
        self.fresh.load(Ordering::Acquire)
    }

    /// Each page's class, `u32::MAX` for a page in none (spare, released,
    /// draining, never used): what a warm restart needs to read the pages.
    pub fn page_classes(&self) -> Vec<u32> {
        (0..self.page_state.len())
            .map(|p| self.page_class(p).map_or(u32::MAX, u32::from))
            .collect()
    }

    /// The memory file, if the slab is in one.
    pub fn file(&self) -> Option<&std::fs::File> {
        self.region.file()
    }

    /// Model-checking hook: the caller is about to write the whole chunk it
    /// owns. Under loom this is a tracked mutable access, so a chunk handed to
    /// two owners, or reused while a reader can see it, is a reported race.
    #[inline]
    pub fn track_write(&self, _c: Chunk) {
        #[cfg(hotset_loom)]
        self.cells[self.cell_of(_c)].with_mut(|_| ());
    }

    /// Model-checking hook: the caller reads a chunk it reached through the
    /// index under a guard.
    #[inline]
    pub fn track_read(&self, _c: Chunk) {
        #[cfg(hotset_loom)]
        self.cells[self.cell_of(_c)].with(|_| ());
    }

    #[cfg(hotset_loom)]
    fn cell_of(&self, c: Chunk) -> usize {
        (c.0.as_ptr() as usize - self.base.as_ptr() as usize) / CHUNK_ALIGN
    }
}

#[cfg(all(test, not(hotset_loom)))]
mod tests {
    use super::*;

    fn slab(pages: usize, page: usize) -> Slab {
        Slab::new_in(
            pages * page,
            pages * page,
            page,
            Classes::explicit(&[64, 128, 256]).unwrap(),
            None,
        )
        .unwrap()
    }

    #[test]
    fn fast_division_is_exact() {
        let mut r = crate::rng::SplitMix64::new(5);
        for d in [1u32, 2, 3, 7, 64, 80, 160, 1000, 4096, 65_537, u32::MAX] {
            let f = FastDiv::new(d);
            for n in [0u32, 1, d - 1, d, d.wrapping_add(1), u32::MAX]
                .into_iter()
                .chain((0..1000).map(|_| r.next_u64() as u32))
            {
                assert_eq!(f.divmod(n), (n / d, n % d), "{n} / {d}");
            }
        }
    }

    #[test]
    fn chunk_ids_round_trip() {
        let s = slab(4, 1000);
        let mut mag = Magazine::new();
        while let Some(c) = s.alloc(1, &mut mag).map(FreeChunk::into_chunk) {
            let id = s.chunk_id(c, 1);
            assert_eq!(s.chunk_by_id(1, id), Some(c));
            assert_eq!(s.chunk_class(c), Some(1));
        }
    }

    #[test]
    fn budget_is_respected() {
        let s = slab(4, 1024);
        let mut mag = Magazine::new();
        let mut got = std::collections::HashSet::new();
        while let Some(c) = s.alloc(0, &mut mag).map(FreeChunk::into_chunk) {
            assert!(got.insert(c.0.as_ptr() as usize), "chunk handed out twice");
        }
        assert_eq!(got.len(), 4 * 1024 / 64);
        assert_eq!(s.used_pages(), 4);
        assert!(s.alloc(1, &mut mag).is_none());
    }

    #[test]
    fn released_chunks_come_back() {
        let s = slab(1, 1024);
        let mut mag = Magazine::new();
        let all: Vec<Chunk> =
            std::iter::from_fn(|| s.alloc(2, &mut mag).map(FreeChunk::into_chunk)).collect();
        assert_eq!(all.len(), 4);
        // SAFETY: allocated here, unused, released once.
        unsafe { s.release(&all[..2]) };
        assert_eq!(s.depot_len(2), 2);
        assert!(s.alloc(2, &mut mag).is_some());
        assert!(s.alloc(2, &mut mag).is_some());
        assert!(s.alloc(2, &mut mag).is_none());
    }

    #[test]
    fn drained_page_moves_to_another_class() {
        let s = slab(1, 1024);
        let mut mag = Magazine::new();
        let all: Vec<Chunk> =
            std::iter::from_fn(|| s.alloc(0, &mut mag).map(FreeChunk::into_chunk)).collect();
        assert_eq!(all.len(), 16);
        assert!(s.alloc(2, &mut Magazine::new()).is_none());
        // SAFETY: allocated here, unused, released once.
        unsafe { s.release(&all[..10]) };
        let chunks = s.drain(0, 0, 0, None).unwrap();
        assert_eq!(chunks.len(), 16);
        assert_eq!(s.class_pages(0), 0);
        // The other six come back through the reclaimer; then the page
        // waits one grace period (the caller retires it) before reuse.
        // SAFETY: allocated here, unused, released once.
        unsafe { s.release(&all[10..]) };
        let done = s.take_completed();
        assert_eq!(done.len(), 1);
        assert!(
            s.alloc(2, &mut Magazine::new()).is_none(),
            "not before its grace period"
        );
        // SAFETY: completed pages, given once, and nothing reads them.
        unsafe { s.spare_pages(&done) };
        let mut mag2 = Magazine::new();
        assert!(
            s.alloc(2, &mut mag2).is_some(),
            "the drained page serves class 2"
        );
        assert_eq!(s.class_pages(2), 1);
    }

    /// A page a reassign sends to another class stays in the classes: a
    /// lower limit must still drain one more page for it (it was counted as
    /// leaving, and a shrink stopped one page short). A page drained to
    /// the pool is leaving.
    #[test]
    fn a_page_on_its_way_to_a_class_is_not_counted_as_leaving() {
        for (to, excess) in [(Some(1), 1), (None, 0)] {
            let s = slab(3, 1024);
            let mut mag = Magazine::new();
            let all: Vec<Chunk> =
                std::iter::from_fn(|| s.alloc(0, &mut mag).map(FreeChunk::into_chunk)).collect();
            assert_eq!((all.len(), s.class_pages(0)), (48, 3));
            s.drain(0, 0, 1, to).unwrap();
            assert_eq!(s.set_limit(2), excess, "drained to {to:?}");
            assert_eq!(s.excess_pages(), excess, "drained to {to:?}");
        }
    }
}

// The loom model of magazines and depots.
#[cfg(all(test, hotset_loom))]
mod loom_slab;
