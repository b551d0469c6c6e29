//! Epoch reclamation behind one small seam, with two backends.
//!
//! - [`Backend::Crossbeam`]: crossbeam-epoch with a collector per cache. It
//!   can be model-checked under loom.
//! - [`Backend::Seize`]: seize (Hyaline). It has no loom support, so it is
//!   compiled out under `--cfg hotset_loom`.
//!
//! The engine never retires single chunks: a thread collects the chunks it
//! unlinked into a [`Retired`] batch and retires the batch as one object,
//! which returns its chunks to the slab when dropped. The batch holds an
//! `Arc` of the slab, so the memory outlives every pending reclamation even if
//! the cache is dropped first.

use crate::slab::{Chunk, Slab};
use std::sync::Arc;

/// Which epoch-based reclamation scheme protects readers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReclaimKind {
    /// crossbeam-epoch. Loom-checked.
    Crossbeam,
    /// seize (Hyaline).
    #[default]
    Seize,
}

impl ReclaimKind {
    /// The name used in configuration and reports.
    pub fn name(self) -> &'static str {
        match self {
            ReclaimKind::Crossbeam => "crossbeam",
            ReclaimKind::Seize => "seize",
        }
    }
}

impl std::str::FromStr for ReclaimKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "crossbeam" | "crossbeam-epoch" | "epoch" => Ok(ReclaimKind::Crossbeam),
            "seize" | "hyaline" => Ok(ReclaimKind::Seize),
            _ => Err(format!(
                "unknown reclamation backend {s:?} (crossbeam, seize)"
            )),
        }
    }
}

/// A cache's collector.
pub struct Backend {
    /// Tells this collector's guards and batches from another's.
    id: u64,
    inner: Collector,
}

enum Collector {
    Crossbeam(crossbeam_epoch::Collector),
    #[cfg(not(hotset_loom))]
    Seize(Box<seize::Collector>),
}

/// Source of [`Backend::id`]s. A std atomic even under models: it orders
/// nothing.
static NEXT_BACKEND: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Seize batches retirements per thread; a small batch keeps the memory in
/// limbo small. A flush needs at least as many entries as active threads, so
/// it must not be below the core count.
#[cfg(not(hotset_loom))]
const SEIZE_BATCH: usize = 8;

impl Backend {
    /// A new collector of this kind.
    pub fn new(kind: ReclaimKind) -> Backend {
        let inner = match kind {
            ReclaimKind::Crossbeam => Collector::Crossbeam(crossbeam_epoch::Collector::new()),
            #[cfg(not(hotset_loom))]
            ReclaimKind::Seize => {
                let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
                Collector::Seize(Box::new(
                    seize::Collector::new().batch_size(SEIZE_BATCH.max(cpus)),
                ))
            }
            #[cfg(hotset_loom)]
            ReclaimKind::Seize => Collector::Crossbeam(crossbeam_epoch::Collector::new()),
        };
        Backend {
            id: NEXT_BACKEND.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            inner,
        }
    }

    /// Which backend this is.
    pub fn kind(&self) -> ReclaimKind {
        match self.inner {
            Collector::Crossbeam(_) => ReclaimKind::Crossbeam,
            #[cfg(not(hotset_loom))]
            Collector::Seize(_) => ReclaimKind::Seize,
        }
    }

    /// Registers the current thread (crossbeam needs a handle per thread).
    pub fn local(&self) -> Local {
        match &self.inner {
            Collector::Crossbeam(c) => Local(Some(c.register())),
            #[cfg(not(hotset_loom))]
            Collector::Seize(_) => Local(None),
        }
    }

    /// Pins the current thread. Items read from the index stay valid until
    /// the guard is dropped. `local` should come from this backend's
    /// [`Backend::local`]; a foreign one is ignored (the pin registers anew).
    #[inline]
    pub fn pin<'a>(&'a self, local: &Local) -> Guard<'a> {
        let inner = match (&self.inner, &local.0) {
            (Collector::Crossbeam(c), Some(h)) if h.collector() == c => Pinned::Crossbeam(h.pin()),
            (Collector::Crossbeam(c), _) => Pinned::Crossbeam(c.register().pin()),
            #[cfg(not(hotset_loom))]
            (Collector::Seize(c), _) => Pinned::Seize(c.enter()),
        };
        Guard {
            owner: self.id,
            inner,
        }
    }

    /// An empty batch for chunks of `slab` whose items this backend's
    /// guards protect.
    pub fn batch(&self, slab: Arc<Slab>) -> Retired {
        Retired {
            owner: self.id,
            slab,
            chunks: Vec::new(),
            pages: Vec::new(),
            counted: false,
        }
    }

    /// Whether `g` pins this collector.
    #[inline]
    pub fn owns(&self, g: &Guard<'_>) -> bool {
        g.owner == self.id
    }
}

/// A thread's registration with a backend.
pub struct Local(Option<crossbeam_epoch::LocalHandle>);

/// Proof that the current thread is pinned on one [`Backend`].
pub struct Guard<'a> {
    /// The id of the backend pinned.
    owner: u64,
    inner: Pinned<'a>,
}

enum Pinned<'a> {
    Crossbeam(crossbeam_epoch::Guard),
    #[cfg(not(hotset_loom))]
    Seize(seize::LocalGuard<'a>),
    #[cfg(hotset_loom)]
    _Phantom(std::marker::PhantomData<&'a ()>),
}

/// Chunks unlinked from the index, waiting for their grace period.
pub struct Retired {
    /// The backend whose guards may retire this batch ([`Backend::batch`]).
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

    /// Bytes of chunks in the batch.
    pub fn bytes(&self) -> usize {
        self.chunks.iter().map(|&c| self.slab.chunk_bytes(c)).sum()
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

#[cfg(not(hotset_loom))]
unsafe fn reclaim_boxed(p: *mut Retired, _: &seize::Collector) {
    // SAFETY: `p` came from Box::into_raw in `Guard::retire`, and seize calls
    // this once, after the grace period.
    drop(unsafe { Box::from_raw(p) });
}

impl Guard<'_> {
    /// Retires every chunk in `batch` (leaving it empty): each returns to the
    /// slab once no thread that could have seen it is still pinned.
    ///
    /// # Panics
    /// If `batch` belongs to another backend than this guard's: its chunks'
    /// readers pin that one, so this grace period would not cover them.
    pub fn retire(&self, batch: &mut Retired) {
        if batch.is_empty() {
            return;
        }
        assert_eq!(
            batch.owner, self.owner,
            "hotset: a batch retired through another cache's guard"
        );
        let mut b = batch.take();
        b.slab.limbo_count(&b.chunks, true);
        b.counted = true;
        if cfg!(feature = "planted-reuse-before-grace") {
            // PLANTED BUG: free at once, without waiting for readers.
            drop(b);
            return;
        }
        match &self.inner {
            Pinned::Crossbeam(g) => {
                // SAFETY: every chunk was unlinked by its pusher's winning
                // CAS (`Retired::push`), so threads that pin from now on
                // cannot reach it; the closure only touches the slab it
                // keeps alive with an Arc.
                unsafe { g.defer_unchecked(move || drop(b)) };
            }
            #[cfg(not(hotset_loom))]
            Pinned::Seize(g) => {
                use seize::Guard as _;
                let p = Box::into_raw(Box::new(b));
                // SAFETY: as above; `reclaim_boxed` matches `Box::into_raw`.
                unsafe { g.defer_retire(p, reclaim_boxed) };
            }
            #[cfg(hotset_loom)]
            Pinned::_Phantom(_) => unreachable!(),
        }
    }

    /// Pushes this thread's pending retirements toward reclamation.
    pub fn flush(&self) {
        match &self.inner {
            Pinned::Crossbeam(g) => g.flush(),
            #[cfg(not(hotset_loom))]
            Pinned::Seize(g) => {
                use seize::Guard as _;
                g.flush()
            }
            #[cfg(hotset_loom)]
            Pinned::_Phantom(_) => {}
        }
    }
}
