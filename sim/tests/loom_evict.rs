//! Loom models of eviction against access.
//!
//! An evictor (the sampler, the sweeper or a page drain) reaches an item
//! through the slab, not by key, and unlinks it with `Bucket::unlink`: a CAS
//! on that item's exact index word. Property: when it races a set or a
//! delete of the same key,
//! - exactly one of them unlinks the old item, and only that one retires it
//!   (a second retirement would free the chunk twice);
//! - a set's new value is never unlinked by the evictor, which was after
//!   the old one: after a race with a set, the key holds the new value.
#![cfg(hotset_loom)]

use hotset::index::reclaim::Retired;
use hotset::index::tag_of;
use hotset::item::Item;
use hotset::slab::Chunk;
use loom::thread;
use sim::fixture::{hash, item, key_is, set, setup};
use sim::run_model;

/// The evictor thread's work: unlink exactly `victim`; on a win, retire it.
/// Returns whether it won.
fn evict(
    index: &hotset::index::Index,
    backend: &hotset::index::reclaim::Backend,
    s: std::sync::Arc<hotset::slab::Slab>,
    victim: Item,
) -> bool {
    let local = backend.local();
    let g = backend.pin(&local);
    let h = hash(1);
    let won = index.bucket(h).unlink(tag_of(h), victim);
    if won {
        victim.clear_live();
        let mut r = Retired::new(s);
        r.push(Chunk(victim.ptr()));
        g.retire(&mut r);
    }
    won
}

#[test]
fn eviction_against_set_of_the_victim() {
    run_model(|| {
        let (s, index, backend, its, mut mag) = setup(2, &[(1, b'a')]);
        let old = its[0];
        let mut r = Retired::new(s.clone());
        assert!(set(&index, old, &mut r).is_none());
        let new = item(s.alloc(0, &mut mag).unwrap(), 1, b'n', 2);
        let e = {
            let (i, b, s) = (index.clone(), backend.clone(), s.clone());
            thread::spawn(move || evict(&i, &b, s, old))
        };
        let st = {
            let (i, b, s) = (index.clone(), backend.clone(), s.clone());
            thread::spawn(move || {
                let local = b.local();
                let g = b.pin(&local);
                let mut r = Retired::new(s);
                let replaced = set(&i, new, &mut r);
                g.retire(&mut r);
                replaced.is_some()
            })
        };
        let (evicted, replaced) = (e.join().unwrap(), st.join().unwrap());
        assert!(
            evicted ^ replaced,
            "the old item must be unlinked (and retired) exactly once: evicted {evicted}, replaced {replaced}"
        );
        let h = hash(1);
        let f = index.bucket(h).find(tag_of(h), key_is(1));
        let v = f.map(|f| unsafe { f.word.item().value() }[0]);
        assert_eq!(v, Some(b'n'), "the set's value must survive the eviction");
    });
}

#[test]
fn eviction_against_delete_of_the_victim() {
    run_model(|| {
        let (s, index, backend, its, _) = setup(1, &[(1, b'a')]);
        let old = its[0];
        let mut r = Retired::new(s.clone());
        assert!(set(&index, old, &mut r).is_none());
        let e = {
            let (i, b, s) = (index.clone(), backend.clone(), s.clone());
            thread::spawn(move || evict(&i, &b, s, old))
        };
        let d = {
            let (i, b) = (index.clone(), backend.clone());
            thread::spawn(move || {
                let local = b.local();
                let _g = b.pin(&local);
                let h = hash(1);
                let bk = i.bucket(h);
                match bk.find(tag_of(h), key_is(1)) {
                    Some(f) => bk.remove(f.slot, f.word),
                    None => false,
                }
            })
        };
        let (evicted, deleted) = (e.join().unwrap(), d.join().unwrap());
        assert!(
            evicted ^ deleted,
            "exactly one unlinks: evicted {evicted}, deleted {deleted}"
        );
        let b = index.bucket(hash(1));
        assert!(b.is_empty() && b.announced().next().is_none());
    });
}
