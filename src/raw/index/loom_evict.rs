//! Loom models of eviction against access.
//!
//! An evictor (the sampler, the sweeper or a page drain) reaches an item
//! through the slab, not by key, and unlinks it with `Index::unlink`: a CAS
//! on that item's exact index word. Property: when it races a set or a
//! delete of the same key,
//! - exactly one of them unlinks the old item, and only that one retires it
//!   (a second retirement would free the chunk twice);
//! - a set's new value is never unlinked by the evictor, which was after
//!   the old one: after a race with a set, the key holds the new value.
use crate::raw::index::Index;
use crate::raw::item::Item;
use crate::raw::model::run_model;
use crate::raw::model::{find, hash, item, set, setup};
use crate::raw::slab::Chunk;
use crate::raw::slab::Slab;
use loom::thread;
use std::sync::Arc;

/// The evictor thread's work: unlink exactly `victim`; on a win, retire it.
/// Returns whether it won.
fn evict(index: &Index, s: Arc<Slab>, victim: Item) -> bool {
    let local = index.local();
    let g = index.pin(&local);
    let won = index.unlink(hash(1), victim, &g);
    if won {
        // SAFETY: our unlink won, so the chunk is ours until we push it.
        unsafe { victim.held(&g) }.clear_live();
        let mut r = index.batch(s);
        // SAFETY: our unlink won, so the chunk is ours to retire.
        unsafe { r.push(Chunk::of(victim)) };
        r.retire(&g);
    }
    won
}

#[test]
fn eviction_against_set_of_the_victim() {
    run_model(|| {
        let (s, index, its, mut mag) = setup(2, &[(1, b'a')]);
        let old = its[0];
        {
            let local = index.local();
            let g = index.pin(&local);
            let mut r = index.batch(s.clone());
            assert!(set(&index, old, &mut r, &g).is_none());
        }
        let new = item(s.alloc(0, &mut mag).unwrap().into_chunk(), 1, b'n', 2);
        let e = {
            let (i, s) = (index.clone(), s.clone());
            thread::spawn(move || evict(&i, s, old))
        };
        let st = {
            let (i, s) = (index.clone(), s.clone());
            thread::spawn(move || {
                let local = i.local();
                let g = i.pin(&local);
                let mut r = i.batch(s);
                let replaced = set(&i, new, &mut r, &g);
                r.retire(&g);
                replaced.is_some()
            })
        };
        let (evicted, replaced) = (e.join().unwrap(), st.join().unwrap());
        assert!(
            evicted ^ replaced,
            "the old item must be unlinked (and retired) exactly once: evicted {evicted}, replaced {replaced}"
        );
        let local = index.local();
        let g = index.pin(&local);
        let v = find(&index, 1, &g).map(|f| f.item().value()[0]);
        assert_eq!(v, Some(b'n'), "the set's value must survive the eviction");
    });
}

#[test]
fn eviction_against_delete_of_the_victim() {
    run_model(|| {
        let (s, index, its, _) = setup(1, &[(1, b'a')]);
        let old = its[0];
        {
            let local = index.local();
            let g = index.pin(&local);
            let mut r = index.batch(s.clone());
            assert!(set(&index, old, &mut r, &g).is_none());
        }
        let e = {
            let (i, s) = (index.clone(), s.clone());
            thread::spawn(move || evict(&i, s, old))
        };
        let d = {
            let i = index.clone();
            thread::spawn(move || {
                let local = i.local();
                let g = i.pin(&local);
                match find(&i, 1, &g) {
                    Some(f) => i.remove(&f, &g),
                    None => false,
                }
            })
        };
        let (evicted, deleted) = (e.join().unwrap(), d.join().unwrap());
        assert!(
            evicted ^ deleted,
            "exactly one unlinks: evicted {evicted}, deleted {deleted}"
        );
        let local = index.local();
        let g = index.pin(&local);
        assert!(index.bucket_len(0, &g) == 0 && index.announced(0, &g).next().is_none());
    });
}
