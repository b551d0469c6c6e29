//! TTL: memcached's exptime rules.
//!
//! Times inside the engine are "cache seconds": seconds since the clock's
//! origin, plus one, so that 1 is always in the past and 0 can mean "never".
//! The engine checks expiry lazily on every access, and its sweeper
//! (`engine/sweep.rs`) walks the pages for what nobody accesses.

use crate::clock::Clock;

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
