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
pub enum Backend {
    /// crossbeam-epoch.
    Crossbeam(crossbeam_epoch::Collector),
    /// seize.
    #[cfg(not(hotset_loom))]
    Seize(Box<seize::Collector>),
}

/// Seize batches retirements per thread; a small batch keeps the memory in
/// limbo small. A flush needs at least as many entries as active threads, so
/// it must not be below the core count.
#[cfg(not(hotset_loom))]
const SEIZE_BATCH: usize = 8;

impl Backend {
    /// A new collector of this kind.
    pub fn new(kind: ReclaimKind) -> Backend {
        match kind {
            ReclaimKind::Crossbeam => Backend::Crossbeam(crossbeam_epoch::Collector::new()),
            #[cfg(not(hotset_loom))]
            ReclaimKind::Seize => {
                let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
                Backend::Seize(Box::new(
                    seize::Collector::new().batch_size(SEIZE_BATCH.max(cpus)),
                ))
            }
            #[cfg(hotset_loom)]
            ReclaimKind::Seize => Backend::Crossbeam(crossbeam_epoch::Collector::new()),
        }
    }

    /// Which backend this is.
    pub fn kind(&self) -> ReclaimKind {
        match self {
            Backend::Crossbeam(_) => ReclaimKind::Crossbeam,
            #[cfg(not(hotset_loom))]
            Backend::Seize(_) => ReclaimKind::Seize,
        }
    }

    /// Registers the current thread (crossbeam needs a handle per thread).
    pub fn local(&self) -> Local {
        match self {
            Backend::Crossbeam(c) => Local(Some(c.register())),
            #[cfg(not(hotset_loom))]
            Backend::Seize(_) => Local(None),
        }
    }

    /// Pins the current thread. Items read from the index stay valid until
    /// the guard is dropped.
    #[inline]
    pub fn pin<'a>(&'a self, local: &Local) -> Guard<'a> {
        match (self, &local.0) {
            (Backend::Crossbeam(_), Some(h)) => Guard::Crossbeam(h.pin()),
            (Backend::Crossbeam(c), None) => Guard::Crossbeam(c.register().pin()),
            #[cfg(not(hotset_loom))]
            (Backend::Seize(c), _) => Guard::Seize(c.enter()),
        }
    }
}

/// A thread's registration with a backend.
pub struct Local(Option<crossbeam_epoch::LocalHandle>);

/// Proof that the current thread is pinned.
pub enum Guard<'a> {
    /// crossbeam-epoch.
    Crossbeam(crossbeam_epoch::Guard),
    /// seize.
    #[cfg(not(hotset_loom))]
    Seize(seize::LocalGuard<'a>),
    #[doc(hidden)]
    _Phantom(std::marker::PhantomData<&'a ()>),
}

/// Chunks unlinked from the index, waiting for their grace period.
pub struct Retired {
    slab: Arc<Slab>,
    chunks: Vec<Chunk>,
    /// Drained pages, which become spare only after the grace period.
    pages: Vec<u32>,
    /// Whether the chunks were counted into the slab's limbo (the batch was
    /// handed to the reclaimer).
    counted: bool,
}

impl Retired {
    /// An empty batch for a slab.
    pub fn new(slab: Arc<Slab>) -> Retired {
        Retired {
            slab,
            chunks: Vec::new(),
            pages: Vec::new(),
            counted: false,
        }
    }

    /// Adds a page whose draining completed.
    pub fn push_page(&mut self, page: u32) {
        self.pages.push(page);
    }

    /// Adds a chunk; the caller won the CAS that unlinked it.
    pub fn push(&mut self, c: Chunk) {
        self.chunks.push(c);
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
        Retired {
            slab: self.slab.clone(),
            chunks: std::mem::take(&mut self.chunks),
            pages: std::mem::take(&mut self.pages),
            counted: false,
        }
    }
}

impl Drop for Retired {
    fn drop(&mut self) {
        if !self.chunks.is_empty() {
            self.slab.release(&self.chunks);
            if self.counted {
                self.slab.limbo_count(&self.chunks, false);
            }
        }
        if !self.pages.is_empty() {
            self.slab.spare_pages(&self.pages);
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
    /// Every chunk must have been unlinked (or never announced) by this
    /// thread, with its LIVE bit cleared.
    pub fn retire(&self, batch: &mut Retired) {
        if batch.is_empty() {
            return;
        }
        let mut b = batch.take();
        b.slab.limbo_count(&b.chunks, true);
        b.counted = true;
        if cfg!(feature = "planted-reuse-before-grace") {
            // PLANTED BUG: free at once, without waiting for readers.
            drop(b);
            return;
        }
        match self {
            Guard::Crossbeam(g) => {
                // SAFETY: the chunks are unreachable for threads that pin
                // from now on (unlinked by this thread's winning CAS), and the
                // closure only touches the slab it keeps alive with an Arc.
                unsafe { g.defer_unchecked(move || drop(b)) };
            }
            #[cfg(not(hotset_loom))]
            Guard::Seize(g) => {
                use seize::Guard as _;
                let p = Box::into_raw(Box::new(b));
                // SAFETY: as above; `reclaim_boxed` matches `Box::into_raw`.
                unsafe { g.defer_retire(p, reclaim_boxed) };
            }
            Guard::_Phantom(_) => unreachable!(),
        }
    }

    /// Pushes this thread's pending retirements toward reclamation.
    pub fn flush(&self) {
        match self {
            Guard::Crossbeam(g) => g.flush(),
            #[cfg(not(hotset_loom))]
            Guard::Seize(g) => {
                use seize::Guard as _;
                g.flush()
            }
            Guard::_Phantom(_) => {}
        }
    }
}
