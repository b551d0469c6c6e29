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
//! Two movers racing on a home holding key 1 alone (each helps the
//! other; neither waits):
//! - both settle, then one removes key 1 from the new table: a slow mover
//!   must not put it back;
//! - the first copy attempt finds the new table full, so that the key is
//!   dropped while the other mover may be copying it: it ends in exactly
//!   one of the table and the orphans handed to the engine.
//!
//! In every case, once settled, the ctrl masks of the one table left agree
//! with its slots, and every key is in it exactly once.
//!
//! The models run with preemption bound 1: a writer that meets a frozen
//! home moves it itself, so two threads run the whole migration at once,
//! and at bound 2 `growth_against_replace` went from 26 s (when writers
//! waited for the mover) to over ten minutes. The planted growth bugs
//! each need one preemption to show.
use crate::raw::index::Index;
use crate::raw::index::Insert;
use crate::raw::item::Item;
use crate::raw::model::run_model_bounded;
use crate::raw::model::{find, insert, set, setup_buckets};
use crate::raw::reclaim::Guard;
use crate::raw::slab::Slab;
use loom::thread;
use std::sync::Arc;

fn run(f: impl Fn() + Sync + Send + 'static) {
    run_model_bounded(1, f)
}

/// A one-bucket index that may grow to two, with keys 1 and 2 in it, and
/// the remaining `extra` items (keys and values given) unpublished.
fn grown_setup(extra: &[(u8, u8)]) -> (Arc<Slab>, Arc<Index>, Vec<Item>) {
    setup_with(&[(1, b'a'), (2, b'b')], extra)
}

/// A one-bucket index that may grow to two, with the `present` items in
/// it, and the `extra` ones unpublished.
fn setup_with(present: &[(u8, u8)], extra: &[(u8, u8)]) -> (Arc<Slab>, Arc<Index>, Vec<Item>) {
    let mut items = present.to_vec();
    items.extend_from_slice(extra);
    let (s, _, its, _) = setup_buckets(1, items.len(), &items);
    let index = Arc::new(crate::raw::model::index(1, 2));
    let local = index.local();
    let g = index.pin(&local);
    for (&(k, _), &it) in present.iter().zip(&its) {
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
    run(|| {
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
    run(|| {
        let (_s, index, _its) = grown_setup(&[]);
        let grow = grower(&index);
        let i2 = index.clone();
        let remover = thread::spawn(move || {
            let local = i2.local();
            let g = i2.pin(&local);
            let f = find(&i2, 2, &g).expect("key 2 is present");
            assert!(
                i2.remove(&f, &g),
                "the only remover wins, wherever the key is"
            );
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
    run(|| {
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
    run(|| {
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
    run(|| {
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

/// A one-bucket index holding key 1, already growing into two buckets.
fn growing_with_key_1() -> (Arc<Slab>, Arc<Index>, Vec<Item>) {
    let (s, index, its) = setup_with(&[(1, b'a')], &[]);
    {
        let local = index.local();
        assert!(index.start_growth(&index.pin(&local)));
    }
    (s, index, its)
}

/// Settles the index from a second thread too, so that two movers race on
/// its one home.
fn mover(index: &Arc<Index>) -> thread::JoinHandle<()> {
    let index = index.clone();
    thread::spawn(move || {
        let local = index.local();
        let g = index.pin(&local);
        index.settle(&g);
    })
}

#[test]
fn two_movers_then_a_remove() {
    run(|| {
        let (_s, index, _its) = growing_with_key_1();
        let slow = mover(&index);
        let i2 = index.clone();
        let remover = thread::spawn(move || {
            let local = i2.local();
            let g = i2.pin(&local);
            i2.settle(&g);
            let f = find(&i2, 1, &g).expect("key 1 is present");
            assert!(i2.remove(&f, &g), "the only remover wins");
        });
        slow.join().unwrap();
        remover.join().unwrap();
        let local = index.local();
        let g = index.pin(&local);
        assert!(
            find(&index, 1, &g).is_none(),
            "a slow mover did not put the removed key back"
        );
        assert_eq!(settled(&index, &g), vec![]);
    });
}

#[test]
fn a_drop_against_a_copy() {
    run(|| {
        let (_s, index, its) = growing_with_key_1();
        // The first copy attempt finds no room; the other may land.
        index.fail_copy(0);
        let a = mover(&index);
        let b = mover(&index);
        a.join().unwrap();
        b.join().unwrap();
        let local = index.local();
        let g = index.pin(&local);
        let orphans: Vec<_> = index.take_orphans().iter().map(|o| o.ptr()).collect();
        let kept = settled(&index, &g);
        if orphans.is_empty() {
            assert_eq!(kept, vec![(1, b'a')], "a key not dropped is kept");
        } else {
            assert_eq!(orphans, vec![its[0].ptr()], "a dropped key is dropped once");
            assert_eq!(kept, vec![], "a dropped key is not in the table");
        }
    });
}
