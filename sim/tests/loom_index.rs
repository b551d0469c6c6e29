//! Loom models of the index (a bucket's commit protocol).
//!
//! Properties:
//! - two inserts of one key: exactly one committed copy remains, and it is
//!   one of the two values; with `add`, exactly one insert succeeds;
//! - insert against remove: the bucket's committed mask matches its slots.
#![cfg(hotset_loom)]

use hotset::index::reclaim::Retired;
use hotset::index::{tag_of, Insert};
use loom::thread;
use sim::fixture::{hash, key_is, set, setup};
use sim::run_model;

#[test]
fn two_inserts_of_one_key() {
    run_model(|| {
        let (s, index, backend, its, _) = setup(4, &[(1, b'a'), (1, b'b')]);
        let ths: Vec<_> = its
            .into_iter()
            .map(|it| {
                let (index, backend, s) = (index.clone(), backend.clone(), s.clone());
                thread::spawn(move || {
                    let local = backend.local();
                    let g = backend.pin(&local);
                    let mut r = Retired::new(s);
                    set(&index, it, &mut r);
                    g.retire(&mut r);
                })
            })
            .collect();
        for t in ths {
            t.join().unwrap();
        }
        let b = index.bucket(hash(1));
        let present: Vec<_> = b.announced().collect();
        assert_eq!(present.len(), 1, "exactly one copy of the key");
        assert_eq!(b.len(), 1, "ctrl mask agrees");
        let v = unsafe { present[0].word.item().value() }[0];
        assert!(v == b'a' || v == b'b');
    });
}

#[test]
fn two_adds_of_one_key() {
    run_model(|| {
        let (_s, index, _, its, _) = setup(4, &[(1, b'a'), (1, b'b')]);
        let ths: Vec<_> = its
            .into_iter()
            .map(|it| {
                let index = index.clone();
                thread::spawn(move || {
                    let h = hash(1);
                    matches!(
                        index.bucket(h).insert(tag_of(h), it, key_is(1)),
                        Insert::Inserted
                    )
                })
            })
            .collect();
        let won: usize = ths.into_iter().map(|t| t.join().unwrap() as usize).sum();
        assert_eq!(won, 1, "exactly one add succeeds");
        let b = index.bucket(hash(1));
        assert_eq!(b.announced().count(), 1);
        assert_eq!(b.len(), 1);
    });
}

#[test]
fn insert_against_remove() {
    run_model(|| {
        let (_s, index, _, its, _) = setup(4, &[(2, b'o'), (1, b'n')]);
        let (old, new) = (its[0], its[1]);
        let h2 = hash(2);
        assert!(matches!(
            index.bucket(h2).insert(tag_of(h2), old, key_is(2)),
            Insert::Inserted
        ));
        let i1 = index.clone();
        let t1 = thread::spawn(move || {
            let h = hash(1);
            assert!(matches!(
                i1.bucket(h).insert(tag_of(h), new, key_is(1)),
                Insert::Inserted
            ));
        });
        let i2 = index.clone();
        let t2 = thread::spawn(move || {
            let b = i2.bucket(h2);
            let f = b.find(tag_of(h2), key_is(2)).expect("key 2 is present");
            assert!(b.remove(f.slot, f.word), "the only remover wins");
        });
        t1.join().unwrap();
        t2.join().unwrap();
        let b = index.bucket(hash(1));
        assert!(b.find(tag_of(hash(1)), key_is(1)).is_some());
        assert!(b.find(tag_of(h2), key_is(2)).is_none());
        assert_eq!(b.len(), 1, "ctrl mask agrees with the slots");
    });
}
