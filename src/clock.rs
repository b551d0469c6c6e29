//! Time: a coarse ticking clock for the server and a manual clock for tests.
//!
//! The engine reads time on every access (lazy expiry, LRU access time), so
//! reading it must cost one load of a read-mostly cache line. [`CoarseClock`]
//! keeps that value fresh from a ticker thread; [`ManualClock`] only moves when
//! a test moves it, so no test ever sleeps to wait for expiry.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A monotonic source of time for a cache.
///
/// Time is measured in milliseconds since the clock's *origin*. Expiry times
/// are stored as seconds since that origin; absolute Unix exptimes are
/// converted with [`Clock::origin_unix_secs`].
pub trait Clock: Send + Sync + fmt::Debug {
    /// Milliseconds elapsed since the origin. Never decreases.
    fn now_ms(&self) -> u64;
    /// The Unix time, in whole seconds, of the origin.
    fn origin_unix_secs(&self) -> u64;
}

/// How often [`CoarseClock`]'s ticker refreshes the time.
///
/// One millisecond is the resolution of LRU access times. A finer tick costs
/// wake-ups; a coarser one makes more items tie in the eviction sample.
pub const TICK: Duration = Duration::from_millis(1);

/// A clock whose value is refreshed every [`TICK`] by a background thread.
///
/// Reading it is a single relaxed load. The ticker stops when the last clone
/// of the clock is dropped.
pub struct CoarseClock {
    inner: Arc<Ticking>,
}

struct Ticking {
    now_ms: AtomicU64,
    origin_unix: u64,
    stop: AtomicBool,
}

impl CoarseClock {
    /// Starts a clock at zero, with a ticker thread.
    pub fn new() -> Self {
        let origin_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let inner = Arc::new(Ticking {
            now_ms: AtomicU64::new(0),
            origin_unix,
            stop: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&inner);
        let start = Instant::now();
        let spawned = std::thread::Builder::new()
            .name("hotset-clock".into())
            .spawn(move || loop {
                std::thread::sleep(TICK);
                let Some(t) = weak.upgrade() else { return };
                if t.stop.load(Ordering::Relaxed) {
                    return;
                }
                let ms = start.elapsed().as_millis() as u64;
                t.now_ms.store(ms, Ordering::Relaxed);
            });
        // Without a ticker the clock would stand still; fail loudly rather than
        // serve items that never expire.
        spawned.expect("hotset: cannot spawn the clock thread");
        CoarseClock { inner }
    }
}

impl Default for CoarseClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for CoarseClock {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Relaxed);
    }
}

impl fmt::Debug for CoarseClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoarseClock")
            .field("now_ms", &self.now_ms())
            .finish()
    }
}

impl Clock for CoarseClock {
    #[inline]
    fn now_ms(&self) -> u64 {
        self.inner.now_ms.load(Ordering::Relaxed)
    }
    fn origin_unix_secs(&self) -> u64 {
        self.inner.origin_unix
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    now_ms: Arc<AtomicU64>,
    origin_unix: u64,
}

impl ManualClock {
    /// The Unix time a manual clock starts at unless told otherwise
    /// (2023-11-14T22:13:20Z): far enough from zero that absolute exptimes
    /// before and after it can both be tested.
    pub const DEFAULT_ORIGIN_UNIX: u64 = 1_700_000_000;

    /// A clock at zero whose origin is [`Self::DEFAULT_ORIGIN_UNIX`].
    pub fn new() -> Self {
        Self::with_origin(Self::DEFAULT_ORIGIN_UNIX)
    }

    /// A clock at zero whose origin is the given Unix time.
    pub fn with_origin(origin_unix_secs: u64) -> Self {
        ManualClock {
            now_ms: Arc::new(AtomicU64::new(0)),
            origin_unix: origin_unix_secs,
        }
    }

    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        self.now_ms
            .fetch_add(by.as_millis() as u64, Ordering::Relaxed);
    }

    /// Moves time forward to `ms` since the origin, if it is behind (never
    /// backward). Replays use it to drive logical time from many threads.
    pub fn advance_to_ms(&self, ms: u64) {
        self.now_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// Moves time forward by whole seconds.
    pub fn advance_secs(&self, secs: u64) {
        self.advance(Duration::from_secs(secs));
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::Relaxed)
    }
    fn origin_unix_secs(&self) -> u64 {
        self.origin_unix
    }
}
