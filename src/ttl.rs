//! TTL: memcached's exptime rules, and the sweeper.
//!
//! Expiry is checked lazily on every access. The sweeper also walks the slab
//! pages incrementally, a bounded slice per tick, and unlinks expired (or
//! flushed) items so their memory comes back without any access.
//!
//! Times inside the engine are "cache seconds": seconds since the clock's
//! origin, plus one, so that 1 is always in the past and 0 can mean "never".
//!
//! flush_all lives here too: it is expiry of everything at once.

use crate::cache::{Engine, ThreadCtx, Why};
use crate::clock::Clock;
use crate::stats::Ctr;
use crate::sync::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The sweeper checks its time budget, and re-pins, every this many chunks.
const SWEEP_SLICE: usize = 256;
/// flush_all re-pins every this many buckets.
const FLUSH_SLICE: usize = 4096;

/// exptime values up to this many seconds are relative; larger ones are
/// absolute Unix times (memcached's REALTIME_MAXDELTA, 30 days).
pub const MAX_RELATIVE_EXPTIME: i64 = 60 * 60 * 24 * 30;

/// A cache-seconds value that is always in the past.
pub const EXPIRED: u32 = 1;

/// The current time in cache seconds.
#[inline]
pub fn now_secs(now_ms: u64) -> u32 {
    (now_ms / 1000).min(u32::MAX as u64 - 2) as u32 + 1
}

/// Converts a memcached exptime to cache seconds: 0 never expires (returns
/// 0); up to 30 days is relative; larger is an absolute Unix time; negative,
/// or absolute in the past, is already expired ([`EXPIRED`]).
pub fn expiry(clock: &dyn Clock, exptime: i64) -> u32 {
    let now = now_secs(clock.now_ms());
    if exptime == 0 {
        0
    } else if exptime < 0 {
        EXPIRED
    } else if exptime <= MAX_RELATIVE_EXPTIME {
        now.saturating_add(exptime as u32).min(u32::MAX - 1)
    } else {
        let origin = clock.origin_unix_secs() as i64;
        let rel = exptime - origin + 1;
        if rel <= now as i64 {
            EXPIRED
        } else {
            rel.min(u32::MAX as i64 - 1) as u32
        }
    }
}

/// Whether an item with this expiry is expired at `now` (cache seconds).
#[inline]
pub fn expired(exptime: u32, now: u32) -> bool {
    exptime != 0 && now >= exptime
}

/// Starts the sweeper thread: every `1 / hz` seconds it sweeps for at most
/// the engine's sweep budget. It stops when the cache is dropped.
pub(crate) fn spawn_sweeper(e: &Arc<Engine>, hz: u32) -> std::thread::JoinHandle<()> {
    let weak = Arc::downgrade(e);
    let period = Duration::from_secs(1) / hz;
    std::thread::Builder::new()
        .name("hotset-sweeper".into())
        .spawn(move || loop {
            std::thread::park_timeout(period);
            let Some(e) = weak.upgrade() else { return };
            if e.closing.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            let budget = e.sweep_budget;
            e.with_ctx(|e, ctx| {
                e.sweep(ctx, usize::MAX, Some(Instant::now() + budget));
                // Page moves finish even on an idle cache: a lowered
                // memory limit is met, and drained pages pass their grace
                // period and reach the pool, a reassign's class or the OS.
                if e.slab.excess_pages() > 0 {
                    e.shrink(ctx);
                } else if e.slab.pages_in_flight() > 0 {
                    e.collect(ctx, 1);
                }
            });
            // Leave no state behind in case this was the last tick.
            drop(e);
        })
        .expect("hotset: cannot spawn the sweeper thread")
}

impl Engine {
    /// Walks the used pages from the cursor, unlinking expired items, for
    /// at most `max_chunks` chunks or until `deadline`. Returns the items
    /// unlinked and whether the walk wrapped around.
    pub(crate) fn sweep(
        &self,
        ctx: &mut ThreadCtx,
        max_chunks: usize,
        deadline: Option<Instant>,
    ) -> (usize, bool) {
        let Ok(_one_sweeper) = self.sweep_lock.try_lock() else {
            return (0, false);
        };
        ctx.counters.inc(Ctr::SweepPasses);
        let now_ms = self.clock.now_ms();
        self.due_flush(ctx, now_ms);
        let now = now_secs(now_ms);
        let cur = self.sweep_cursor.load(Ordering::Relaxed);
        let (mut page, mut idx) = ((cur >> 32) as usize, (cur & 0xffff_ffff) as usize);
        let (mut seen, mut reclaimed, mut wrapped) = (0usize, 0usize, false);
        let mut g = self.index.pin(&ctx.local);
        'walk: while seen < max_chunks {
            if page >= self.slab.used_pages() {
                page = 0;
                idx = 0;
                if wrapped || self.slab.used_pages() == 0 {
                    break;
                }
                wrapped = true;
            }
            let Some((class, chunks)) = self.slab.page_chunks(page) else {
                page += 1;
                idx = 0;
                continue;
            };
            for ch in chunks.skip(idx) {
                if self.slab.page_class(page) != Some(class) {
                    // The page is draining, or moved to another class while
                    // we were re-pinned: its geometry is no longer ours.
                    break;
                }
                idx += 1;
                seen += 1;
                if let Some(it) = self.live(ch, &g) {
                    if expired(it.exptime(), now) {
                        let hash = self.hash(it.key());
                        if self.unlink_item(ctx, &g, it.item(), hash, Why::Expire) {
                            reclaimed += 1;
                        }
                    }
                }
                if seen >= max_chunks {
                    break 'walk;
                }
                if seen % SWEEP_SLICE == 0 {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        break 'walk;
                    }
                    // Never hold one guard long: it would stall reclamation
                    // for every thread.
                    self.retire_batch(ctx, &g);
                    drop(g);
                    g = self.index.pin(&ctx.local);
                }
            }
            page += 1;
            idx = 0;
        }
        self.sweep_cursor
            .store((page as u64) << 32 | idx as u64, Ordering::Relaxed);
        ctx.counters.add(Ctr::SweepReclaimed, reclaimed as u64);
        // The sweeper only unlinks: fold what it counted out of the queues.
        self.fold_counts(ctx);
        self.retire_batch(ctx, &g);
        g.flush();
        (reclaimed, wrapped)
    }

    /// flush_all now: walks the index and unlinks everything.
    pub(crate) fn flush_now(&self, ctx: &mut ThreadCtx) {
        ctx.counters.inc(Ctr::Flushes);
        let mut i = 0;
        while i < self.index.buckets() {
            let g = self.index.pin(&ctx.local);
            let end = (i + FLUSH_SLICE).min(self.index.buckets());
            for bi in i..end {
                for f in self.index.announced(bi, &g) {
                    if self.index.remove(&f) {
                        // SAFETY: our remove won.
                        unsafe { self.unlinked(ctx, &g, f.item().item(), Why::Flush) };
                    }
                }
            }
            self.retire_batch(ctx, &g);
            i = end;
        }
        self.fold_counts(ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn memcached_exptime_rules() {
        let c = ManualClock::new();
        c.advance_secs(100);
        let now = now_secs(c.now_ms());
        assert_eq!(now, 101);
        assert_eq!(expiry(&c, 0), 0);
        assert_eq!(expiry(&c, -1), EXPIRED);
        assert_eq!(expiry(&c, 10), 111);
        assert_eq!(
            expiry(&c, MAX_RELATIVE_EXPTIME),
            101 + MAX_RELATIVE_EXPTIME as u32
        );
        // Absolute: origin + 200 is 100 s from now.
        let abs = ManualClock::DEFAULT_ORIGIN_UNIX as i64 + 200;
        assert_eq!(expiry(&c, abs), 201);
        assert!(!expired(expiry(&c, abs), now));
        // Absolute, in the past.
        assert_eq!(expiry(&c, MAX_RELATIVE_EXPTIME + 1), EXPIRED);
        assert_eq!(
            expiry(&c, ManualClock::DEFAULT_ORIGIN_UNIX as i64 + 50),
            EXPIRED
        );
        assert!(expired(EXPIRED, now));
        assert!(!expired(0, now));
    }
}
