//! Loom models of the TTL sweeper against access, on a whole (tiny) cache.
//!
//! Properties, with key `a` stored with a 1 s TTL and the manual clock moved
//! past its expiry:
//! - the sweeper against a get of `a`: the get misses (an expired item is
//!   never served), and the item is unlinked and retired exactly once,
//!   whoever of the two gets there first;
//! - the sweeper against a set of a fresh `a`: the new value survives (the
//!   sweeper unlinks only the exact expired item it walked to).
//! - a set against three flush_alls, then a fourth flush: nothing is left.
//!   A set built before the first flush and published after the third's
//!   walk carries a generation three behind; if it stayed in the index, the
//!   fourth flush would bring the 2-bit generation round to its own and it
//!   would read as live again.
//!
//! All end with `Cache::check_consistency`: no chunk leaked or freed
//! twice, and `curr_items` agrees with the index.
#![cfg(hotset_loom)]

use hotset::{Cache, ManualClock, Stored};
use loom::thread;
use sim::fixture::{tiny_cache, value};
use sim::run_engine_model;
use std::sync::Arc;

/// A cache of three chunks holding `a` (TTL 1 s, expired) and `b` (no TTL),
/// with one chunk free for a set.
fn expiring() -> Arc<Cache> {
    let clock = ManualClock::new();
    let c = Arc::new(tiny_cache(3, &clock));
    assert_eq!(c.set(b"a", b"1", 0, 1), Ok(Stored::Stored));
    assert_eq!(c.set(b"b", b"2", 0, 0), Ok(Stored::Stored));
    clock.advance_secs(2);
    c.release_thread();
    c
}

/// Runs `f` on a model thread that then hands its cache state back (loom
/// runs no thread-local destructors).
fn on_thread<T: Send + 'static>(
    c: &Arc<Cache>,
    f: impl FnOnce(&Cache) -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    let c = c.clone();
    thread::spawn(move || {
        let r = f(&c);
        c.release_thread();
        r
    })
}

#[test]
fn sweeper_against_get_of_an_expiring_key() {
    run_engine_model(|| {
        let c = expiring();
        let sw = on_thread(&c, |c| c.sweep(16).0);
        let get = on_thread(&c, |c| value(c, b"a"));
        let (_swept, got) = (sw.join().unwrap(), get.join().unwrap());
        assert_eq!(got, None, "an expired item was served");
        assert_eq!(c.stats().curr_items, 1, "only b is left");
        if let Err(e) = c.check_consistency() {
            panic!("after sweep against get: {e}");
        }
    });
}

#[test]
fn sweeper_against_set_of_an_expiring_key() {
    run_engine_model(|| {
        let c = expiring();
        let sw = on_thread(&c, |c| c.sweep(16).0);
        let set = on_thread(&c, |c| c.set(b"a", b"N", 0, 0));
        let (_swept, stored) = (sw.join().unwrap(), set.join().unwrap());
        assert_eq!(stored, Ok(Stored::Stored));
        assert_eq!(
            value(&c, b"a").as_deref(),
            Some(&b"N"[..]),
            "the sweeper took the new value"
        );
        if let Err(e) = c.check_consistency() {
            panic!("after sweep against set: {e}");
        }
    });
}

#[test]
fn a_set_published_behind_three_flushes_stays_flushed() {
    run_engine_model(|| {
        let clock = ManualClock::new();
        let c = Arc::new(tiny_cache(3, &clock));
        let set = on_thread(&c, |c| c.set(b"a", b"1", 0, 0));
        let flush = on_thread(&c, |c| {
            for _ in 0..3 {
                c.flush_all(0);
            }
        });
        assert_eq!(set.join().unwrap(), Ok(Stored::Stored));
        flush.join().unwrap();
        // Both are done, so the set came before this flush.
        c.flush_all(0);
        assert_eq!(value(&c, b"a"), None, "a flushed item came back");
        assert_eq!(c.stats().curr_items, 0);
        if let Err(e) = c.check_consistency() {
            panic!("after set against flushes: {e}");
        }
    });
}
