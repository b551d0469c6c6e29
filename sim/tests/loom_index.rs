//! Loom models of the index (a bucket's commit protocol).
//!
//! Properties:
//! - two inserts of one key: exactly one committed copy remains, and it is
//!   one of the two values; with `add`, exactly one insert succeeds;
//! - insert against remove: the bucket's committed mask matches its slots.
#![cfg(hotset_loom)]

use hotset::internals::Insert;
use loom::thread;
use sim::fixture::{find, insert, set, setup};
use sim::run_model;

#[test]
fn two_inserts_of_one_key() {
    run_model(|| {
        let (s, index, its, _) = setup(4, &[(1, b'a'), (1, b'b')]);
        let ths: Vec<_> = its
            .into_iter()
            .map(|it| {
                let (index, s) = (index.clone(), s.clone());
                thread::spawn(move || {
                    let local = index.local();
                    let g = index.pin(&local);
                    let mut r = index.batch(s);
                    set(&index, it, &mut r, &g);
                    g.retire(&mut r);
                })
            })
            .collect();
        for t in ths {
            t.join().unwrap();
        }
        let local = index.local();
        let g = index.pin(&local);
        let present: Vec<_> = index.announced(0, &g).collect();
        assert_eq!(present.len(), 1, "exactly one copy of the key");
        assert_eq!(index.bucket_len(0), 1, "ctrl mask agrees");
        let v = present[0].item().value()[0];
        assert!(v == b'a' || v == b'b');
    });
}

#[test]
fn two_adds_of_one_key() {
    run_model(|| {
        let (_s, index, its, _) = setup(4, &[(1, b'a'), (1, b'b')]);
        let ths: Vec<_> = its
            .into_iter()
            .map(|it| {
                let index = index.clone();
                thread::spawn(move || {
                    let local = index.local();
                    let g = index.pin(&local);
                    matches!(insert(&index, it, 1, &g), Insert::Inserted)
                })
            })
            .collect();
        let won: usize = ths.into_iter().map(|t| t.join().unwrap() as usize).sum();
        assert_eq!(won, 1, "exactly one add succeeds");
        let local = index.local();
        let g = index.pin(&local);
        assert_eq!(index.announced(0, &g).count(), 1);
        assert_eq!(index.bucket_len(0), 1);
    });
}

#[test]
fn insert_against_remove() {
    run_model(|| {
        let (_s, index, its, _) = setup(4, &[(2, b'o'), (1, b'n')]);
        let (old, new) = (its[0], its[1]);
        {
            let local = index.local();
            let g = index.pin(&local);
            assert!(matches!(insert(&index, old, 2, &g), Insert::Inserted));
        }
        let i1 = index.clone();
        let t1 = thread::spawn(move || {
            let local = i1.local();
            let g = i1.pin(&local);
            assert!(matches!(insert(&i1, new, 1, &g), Insert::Inserted));
        });
        let i2 = index.clone();
        let t2 = thread::spawn(move || {
            let local = i2.local();
            let g = i2.pin(&local);
            let f = find(&i2, 2, &g).expect("key 2 is present");
            assert!(i2.remove(&f), "the only remover wins");
        });
        t1.join().unwrap();
        t2.join().unwrap();
        let local = index.local();
        let g = index.pin(&local);
        assert!(find(&index, 1, &g).is_some());
        assert!(find(&index, 2, &g).is_none());
        assert_eq!(index.bucket_len(0), 1, "ctrl mask agrees with the slots");
    });
}
