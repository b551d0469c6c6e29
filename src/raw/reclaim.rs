//! Epoch reclamation behind one small seam, with two backends.
//!
//! - [`Backend::Crossbeam`]: crossbeam-epoch with a collector per cache. It
//!   can be model-checked under loom.
//! - [`Backend::Seize`]: seize (Hyaline). It has no loom support, so it is
//!   compiled out under `--cfg hotset_loom`.
//!
//! The seam knows nothing of what it reclaims: [`Guard::defer_drop`] drops
//! any value after the grace period. The slab's retirement batch
//! (`slab::Retired`) is the one value the engine defers.

pub use crate::config::ReclaimKind;

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

    /// This backend's id: guards and retirement batches carry it, so
    /// that a batch is never retired through another backend's guard.
    #[inline]
    pub fn id(&self) -> u64 {
        self.id
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

#[cfg(not(hotset_loom))]
unsafe fn drop_boxed<T>(p: *mut T, _: &seize::Collector) {
    // SAFETY: `p` came from Box::into_raw in `Guard::defer_drop`, and seize
    // calls this once, after the grace period.
    drop(unsafe { Box::from_raw(p) });
}

impl Guard<'_> {
    /// The id of the backend this guard pins ([`Backend::id`]).
    #[inline]
    pub fn owner(&self) -> u64 {
        self.owner
    }

    /// Drops `value` once no thread that is pinned now is still pinned:
    /// after the grace period of this guard's backend.
    ///
    /// # Safety
    /// Whatever `value`'s drop frees or hands back must be unreachable to
    /// threads that pin from now on, and reachable before only through
    /// this guard's backend (whose guards the grace period waits for).
    pub unsafe fn defer_drop<T: Send + 'static>(&self, value: T) {
        match &self.inner {
            Pinned::Crossbeam(g) => {
                // SAFETY: per this function's contract; the closure owns
                // `value` and touches nothing else.
                unsafe { g.defer_unchecked(move || drop(value)) };
            }
            #[cfg(not(hotset_loom))]
            Pinned::Seize(g) => {
                use seize::Guard as _;
                let p = Box::into_raw(Box::new(value));
                // SAFETY: as above; `drop_boxed` matches `Box::into_raw`.
                unsafe { g.defer_retire(p, drop_boxed::<T>) };
            }
            #[cfg(hotset_loom)]
            Pinned::_Phantom(_) => {
                let _ = value;
                unreachable!()
            }
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

// The loom models of reclamation under the index.
#[cfg(all(test, hotset_loom))]
mod loom_reclaim;
