//! Loom models of the index's growth: a migration racing the operations
//! on the keys it moves.
//!
//! Each model starts from a one-bucket table holding keys 1 and 2 that may
//! grow to two buckets. One thread grows it (`start_growth`, then `settle`,
//! which moves the home and waits for the new table to become current);
//! the other, meanwhile:
//! - replaces key 1: afterwards key 1 holds the new item, key 2 the old;
//! - removes key 2: afterwards it is gone, and key 1 stays;
//! - unlinks key 2's item by its address, as an evictor does: it wins,
//!   and the key is gone;
//! - inserts key 3, helping the migration first (inserts move homes):
//!   afterwards all three are there, once each;
//! - looks both keys up, twice: neither is ever missing.
//!
//! In every case, once settled, the ctrl masks of the one table left agree
//! with its slots, and every key is in it exactly once.
use crate::raw::index::Index;
use crate::raw::index::Insert;
use crate::raw::item::Item;
use crate::raw::model::run_model;
use crate::raw::model::{find, insert, set, setup_buckets};
use crate::raw::reclaim::Guard;
use crate::raw::slab::Slab;
use loom::thread;
use std::sync::Arc;

/// A one-bucket index that may grow to two, with keys 1 and 2 in it, and
/// the remaining `extra` items (keys and values given) unpublished.
fn grown_setup(extra: &[(u8, u8)]) -> (Arc<Slab>, Arc<Index>, Vec<Item>) {
    let mut items = vec![(1, b'a'), (2, b'b')];
    items.extend_from_slice(extra);
    let (s, _, its, _) = setup_buckets(1, items.len(), &items);
    let index = Arc::new(crate::raw::model::index(1, 2));
    let local = index.local();
    let g = index.pin(&local);
    for (k, &it) in [1, 2].into_iter().zip(&its) {
        assert!(matches!(insert(&index, it, k, &g), Insert::Inserted));
    }
    drop(g);
    (s, index, its)
}

/// Grows the index and waits for the growth to finish.
fn grower(index: &Arc<Index>) -> thread::JoinHandle<()> {
    let index = index.clone();
    thread::spawn(move || {
        let local = index.local();
        let g = index.pin(&local);
        assert!(index.start_growth(&g));
        index.settle(&g);
    })
}

/// After the race: settled, one table of two buckets whose masks agree
/// with its slots; returns the keys and values in it.
fn settled(index: &Index, g: &Guard<'_>) -> Vec<(u8, u8)> {
    let t = index.settle(g);
    assert_eq!(t.buckets(), 2, "the index grew to two buckets");
    let mut kv = Vec::new();
    for b in 0..t.buckets() {
        assert_eq!(
            t.bucket_len(b),
            t.announced(b).count(),
            "bucket {b}: ctrl masks agree with the slots"
        );
        for f in t.announced(b) {
            assert_eq!(
                f.home(),
                t.home_bucket(crate::raw::model::hash(f.item().key()[0]))
            );
            kv.push((f.item().key()[0], f.item().value()[0]));
        }
    }
    kv.sort();
    kv
}

#[test]
fn growth_against_replace() {
    run_model(|| {
        let (s, index, its) = grown_setup(&[(1, b'n')]);
        let new = its[2];
        let grow = grower(&index);
        let (i2, s2) = (index.clone(), s.clone());
        let setter = thread::spawn(move || {
            let local = i2.local();
            let g = i2.pin(&local);
            let mut r = i2.batch(s2);
            let old = set(&i2, new, &mut r, &g);
            assert_eq!(
                old.map(|o| o.ptr()),
                Some(its[0].ptr()),
                "replaced the old item"
            );
            r.retire(&g);
        });
        grow.join().unwrap();
        setter.join().unwrap();
        let local = index.local();
        let g = index.pin(&local);
        assert_eq!(
            find(&index, 1, &g).map(|f| f.item().value()[0]),
            Some(b'n'),
            "the replace survived the migration"
        );
        assert_eq!(settled(&index, &g), vec![(1, b'n'), (2, b'b')]);
    });
}

#[test]
fn growth_against_remove() {
    run_model(|| {
        let (_s, index, _its) = grown_setup(&[]);
        let grow = grower(&index);
        let i2 = index.clone();
        let remover = thread::spawn(move || {
            let local = i2.local();
            let g = i2.pin(&local);
            let f = find(&i2, 2, &g).expect("key 2 is present");
            assert!(i2.remove(&f), "the only remover wins, wherever the key is");
        });
        grow.join().unwrap();
        remover.join().unwrap();
        let local = index.local();
        let g = index.pin(&local);
        assert!(
            find(&index, 2, &g).is_none(),
            "the removal survived the migration"
        );
        assert_eq!(settled(&index, &g), vec![(1, b'a')]);
    });
}

#[test]
fn growth_against_unlink() {
    run_model(|| {
        let (_s, index, its) = grown_setup(&[]);
        let victim = its[1];
        let grow = grower(&index);
        let i2 = index.clone();
        let evictor = thread::spawn(move || {
            let local = i2.local();
            let g = i2.pin(&local);
            assert!(
                i2.unlink(crate::raw::model::hash(2), victim, &g),
                "the only unlinker wins, wherever the item is"
            );
        });
        grow.join().unwrap();
        evictor.join().unwrap();
        let local = index.local();
        let g = index.pin(&local);
        assert!(
            find(&index, 2, &g).is_none(),
            "the unlink survived the migration"
        );
        assert_eq!(settled(&index, &g), vec![(1, b'a')]);
    });
}

#[test]
fn growth_against_insert() {
    run_model(|| {
        let (_s, index, its) = grown_setup(&[(3, b'c')]);
        let new = its[2];
        let grow = grower(&index);
        let i2 = index.clone();
        let inserter = thread::spawn(move || {
            let local = i2.local();
            let g = i2.pin(&local);
            assert!(matches!(insert(&i2, new, 3, &g), Insert::Inserted));
        });
        grow.join().unwrap();
        inserter.join().unwrap();
        let local = index.local();
        let g = index.pin(&local);
        assert_eq!(settled(&index, &g), vec![(1, b'a'), (2, b'b'), (3, b'c')]);
    });
}

#[test]
fn growth_against_lookups() {
    run_model(|| {
        let (_s, index, _its) = grown_setup(&[]);
        let grow = grower(&index);
        let i2 = index.clone();
        let reader = thread::spawn(move || {
            let local = i2.local();
            for _ in 0..2 {
                let g = i2.pin(&local);
                for (k, v) in [(1, b'a'), (2, b'b')] {
                    let f = find(&i2, k, &g);
                    assert_eq!(
                        f.map(|f| f.item().value()[0]),
                        Some(v),
                        "key {k} never missing"
                    );
                }
            }
        });
        grow.join().unwrap();
        reader.join().unwrap();
        let local = index.local();
        let g = index.pin(&local);
        assert_eq!(settled(&index, &g), vec![(1, b'a'), (2, b'b')]);
    });
}
