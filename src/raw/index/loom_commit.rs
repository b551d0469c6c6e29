//! Loom models of the index (a bucket's commit protocol).
//!
//! Properties:
//! - two inserts of one key: exactly one committed copy remains, and it is
//!   one of the two values; with `add`, exactly one insert succeeds;
//! - insert against remove: the bucket's committed mask matches its slots;
//! - two adds of one key whose home is crowded, so that either may land in
//!   the alternate bucket: exactly one succeeds, and one copy remains;
//! - an insert into the alternate against the removal of another key
//!   there: both change the home's ctrl, and the masks agree with the slots;
//! - the same two adds when the home and the next bucket (crowded by its
//!   own keys) are both past their share: both head for the far alternate,
//!   and still exactly one wins;
//! - an add that loses reports a key that a lookup right after finds;
//! - an add against a delete and re-add of its key: exactly one add wins;
//! - an add against a replace of its key (which leaves ctrl alone): the
//!   add reports the key present.
use crate::raw::index::Index;
use crate::raw::index::Insert;
use crate::raw::item::Item;
use crate::raw::model::run_model;
use crate::raw::model::{find, insert, set, setup, setup_buckets};
use crate::raw::reclaim::Guard;
use crate::raw::slab::Slab;
use loom::thread;
use std::sync::Arc;

/// Two threads add key 1, one with each item; returns how many succeeded.
fn racing_adds(index: &Arc<Index>, its: &[Item]) -> usize {
    let ths: Vec<_> = its
        .iter()
        .map(|&it| {
            let index = index.clone();
            thread::spawn(move || {
                let local = index.local();
                let g = index.pin(&local);
                matches!(insert(&index, it, 1, &g), Insert::Inserted)
            })
        })
        .collect();
    ths.into_iter().map(|t| t.join().unwrap() as usize).sum()
}

/// One thread inserts `new` under key 1 while another removes key 2; both
/// must succeed.
fn insert_1_against_remove_of_2(index: &Arc<Index>, new: Item) {
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
        assert!(i2.remove(&f, &g), "the only remover wins");
    });
    t1.join().unwrap();
    t2.join().unwrap();
}

/// Key 1 is in exactly one of the first `buckets` buckets, and their ctrl
/// masks agree with their slots.
fn assert_one_copy_of_1(index: &Index, buckets: usize, g: &Guard<'_>) {
    let copies = (0..buckets)
        .flat_map(|b| index.announced(b, g).collect::<Vec<_>>())
        .filter(|f| f.item().key() == [1])
        .count();
    assert_eq!(copies, 1, "one copy of the key");
    masks_agree(index, buckets, g);
}

/// The ctrl masks covering each of the first `buckets` buckets count its
/// announced slots (quiescent, every committed word is announced).
fn masks_agree(index: &Index, buckets: usize, g: &Guard<'_>) {
    for b in 0..buckets {
        assert_eq!(
            index.bucket_len(b, g),
            index.announced(b, g).count(),
            "bucket {b}: ctrl masks agree with the slots"
        );
    }
}

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
                    r.retire(&g);
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
        assert_eq!(index.bucket_len(0, &g), 1, "ctrl mask agrees");
        let v = present[0].item().value()[0];
        assert!(v == b'a' || v == b'b');
    });
}

#[test]
fn two_adds_of_one_key() {
    run_model(|| {
        let (_s, index, its, _) = setup(4, &[(1, b'a'), (1, b'b')]);
        assert_eq!(racing_adds(&index, &its), 1, "exactly one add succeeds");
        let local = index.local();
        let g = index.pin(&local);
        assert_eq!(index.announced(0, &g).count(), 1);
        assert_eq!(index.bucket_len(0, &g), 1);
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
        insert_1_against_remove_of_2(&index, new);
        let local = index.local();
        let g = index.pin(&local);
        assert!(find(&index, 1, &g).is_some());
        assert!(find(&index, 2, &g).is_none());
        assert_eq!(
            index.bucket_len(0, &g),
            1,
            "ctrl mask agrees with the slots"
        );
    });
}

/// Four keys fill the home past its share (`HOME_BELOW` is 5), so of two
/// racing adds of one key the first to reserve may take the home's fifth
/// slot and the second, counting five, the alternate's: two commits in two
/// buckets, which only the home's ctrl serializes.
#[test]
fn two_adds_of_one_key_past_a_crowded_home() {
    run_model(|| {
        let crowd = [(10, b'x'), (11, b'x'), (12, b'x'), (13, b'x')];
        let mut items = crowd.to_vec();
        items.extend([(1, b'a'), (1, b'b')]);
        let (_s, index, its, _) = setup_buckets(2, 6, &items);
        {
            let local = index.local();
            let g = index.pin(&local);
            for (it, &(k, _)) in its.iter().zip(&crowd) {
                assert!(matches!(insert(&index, *it, k, &g), Insert::Inserted));
            }
        }
        assert_eq!(
            racing_adds(&index, &its[4..]),
            1,
            "exactly one add succeeds"
        );
        let local = index.local();
        let g = index.pin(&local);
        assert_one_copy_of_1(&index, 2, &g);
        assert!(find(&index, 1, &g).is_some());
        assert_eq!(
            index.bucket_len(0, &g) + index.bucket_len(1, &g),
            5,
            "ctrl masks agree"
        );
    });
}

/// An insert and a remove that both change the home's ctrl from the
/// alternate bucket: key 2 lives in the alternate (the home held five when
/// it came), key 1 goes there too, and key 2 is deleted meanwhile.
#[test]
fn alternate_insert_against_alternate_remove() {
    run_model(|| {
        let crowd = [(10, b'x'), (11, b'x'), (12, b'x'), (13, b'x'), (14, b'x')];
        let mut items = crowd.to_vec();
        items.extend([(2, b'o'), (1, b'n')]);
        let (_s, index, its, _) = setup_buckets(2, 7, &items);
        {
            let local = index.local();
            let g = index.pin(&local);
            for (it, &(k, _)) in its.iter().zip(&items[..6]) {
                assert!(matches!(insert(&index, *it, k, &g), Insert::Inserted));
            }
            assert_eq!(find(&index, 2, &g).map(|f| f.bucket()), Some(1));
        }
        let new = its[6];
        insert_1_against_remove_of_2(&index, new);
        let local = index.local();
        let g = index.pin(&local);
        assert_eq!(find(&index, 1, &g).map(|f| f.bucket()), Some(1));
        assert!(find(&index, 2, &g).is_none());
        masks_agree(&index, 2, &g);
    });
}

/// Four buckets, so a key has all three candidates: bucket 0 (its home),
/// 1 and 2. The home is crowded by five of its own keys and bucket 1 by
/// five keys whose home it is, so two racing adds of key 1 both head for
/// the far alternate (placement 2), the third candidate: the third ctrl mask
/// and its placement bits under a race.
#[test]
fn two_adds_of_one_key_past_two_crowded_buckets() {
    run_model(|| {
        let home: Vec<(u8, u8)> = (10..15).map(|k| (k, b'x')).collect();
        let next: Vec<(u8, u8)> = (20..25).map(|k| (k, b'y')).collect();
        let mut items = home.clone();
        items.extend(&next);
        items.extend([(1, b'a'), (1, b'b')]);
        let (_s, index, its, _) = setup_buckets(4, items.len(), &items);
        // A hash of tag `k` whose home, in four buckets, is bucket 1.
        let home_1 = |k: u8| (k as u64) << 49 | 1 << 46;
        {
            let local = index.local();
            let g = index.pin(&local);
            for (it, &(k, _)) in its.iter().zip(&home) {
                assert!(matches!(insert(&index, *it, k, &g), Insert::Inserted));
            }
            for (it, &(k, _)) in its[5..].iter().zip(&next) {
                // SAFETY: a fixture item (complete, LIVE, of the model's
                // slab, with key [k]), published once.
                let r = unsafe { index.insert(home_1(k), *it, &[k], &g) };
                assert!(matches!(r, Insert::Inserted));
            }
            assert_eq!(index.bucket_len(0, &g), 5);
            assert_eq!(index.bucket_len(1, &g), 5);
        }
        assert_eq!(
            racing_adds(&index, &its[10..]),
            1,
            "exactly one add succeeds"
        );
        let local = index.local();
        let g = index.pin(&local);
        let found = find(&index, 1, &g).expect("key 1 is present");
        assert_eq!(found.bucket(), 2, "past two crowded buckets, the far one");
        assert_one_copy_of_1(&index, 4, &g);
        // Bucket 1's keys are found through their own home.
        for k in 20..25 {
            assert!(index.find(home_1(k), &[k], &g).is_some());
        }
    });
}

/// An add that loses to a racing insert of its key sees the winner: once
/// it reports the key present, a lookup finds it, even if the winner has
/// committed but not yet announced (the loser announces it).
#[test]
fn a_losing_add_then_a_get_finds_the_winner() {
    run_model(|| {
        let (_s, index, its, _) = setup(4, &[(1, b'a'), (1, b'b')]);
        // Either may lose; the loser then looks the key up.
        let add = |index: &Index, it| {
            let local = index.local();
            let g = index.pin(&local);
            if let Insert::Exists(_) = insert(index, it, 1, &g) {
                assert!(
                    find(index, 1, &g).is_some(),
                    "an add lost to a key a get misses"
                );
            }
        };
        let i1 = index.clone();
        let first = its[0];
        let t1 = thread::spawn(move || add(&i1, first));
        add(&index, its[1]);
        t1.join().unwrap();
    });
}

/// A one-bucket index holding the item of key 1 with value `a`, and two
/// more unpublished items of key 1 (`b`, `c`): the slab, the index, and
/// all three items.
fn key_1_present() -> (Arc<Slab>, Arc<Index>, Vec<Item>) {
    let (s, index, its, _) = setup(4, &[(1, b'a'), (1, b'b'), (1, b'c')]);
    let local = index.local();
    let g = index.pin(&local);
    assert!(matches!(insert(&index, its[0], 1, &g), Insert::Inserted));
    drop(g);
    (s, index, its)
}

/// An add of a key against a delete and a re-add of it. The add's absence
/// check may run while the old copy is being removed (BUSY under a ctrl
/// that still marks it, or already unmarked), and a miss is validated only
/// by its commit CAS: exactly one of the two adds succeeds, and one copy
/// remains.
#[test]
fn an_add_against_a_delete_and_re_add_of_its_key() {
    run_model(|| {
        let (_s, index, its) = key_1_present();
        let i1 = index.clone();
        let again = its[2];
        let t1 = thread::spawn(move || {
            let local = i1.local();
            let g = i1.pin(&local);
            // Only this thread removes, so the first copy is still there.
            let f = find(&i1, 1, &g).expect("the first copy is present");
            assert!(i1.remove(&f, &g), "the only remover wins");
            matches!(insert(&i1, again, 1, &g), Insert::Inserted) as usize
        });
        let added = {
            let local = index.local();
            let g = index.pin(&local);
            matches!(insert(&index, its[1], 1, &g), Insert::Inserted) as usize
        };
        let re_added = t1.join().unwrap();
        assert_eq!(added + re_added, 1, "exactly one add succeeds");
        let local = index.local();
        let g = index.pin(&local);
        assert_one_copy_of_1(&index, 1, &g);
    });
}

/// An add of a key against a replace of it. A replace swaps the slot's
/// word without touching ctrl, so the add's scan meets the old word or the
/// new one, and must report the key present either way.
#[test]
fn an_add_against_a_replace_of_its_key() {
    run_model(|| {
        let (_s, index, its) = key_1_present();
        let i1 = index.clone();
        let newer = its[2];
        let t1 = thread::spawn(move || {
            let local = i1.local();
            let g = i1.pin(&local);
            let f = find(&i1, 1, &g).expect("the first copy is present");
            // SAFETY: fixture items are complete and LIVE, of the model's
            // slab, unpublished, with the same key as the one replaced.
            let won = unsafe { i1.replace(&f, newer, &g) };
            assert!(won, "the only replacer wins");
        });
        {
            let local = index.local();
            let g = index.pin(&local);
            assert!(
                matches!(insert(&index, its[1], 1, &g), Insert::Exists(_)),
                "an add missed a key that was present throughout"
            );
        }
        t1.join().unwrap();
        let local = index.local();
        let g = index.pin(&local);
        assert_one_copy_of_1(&index, 1, &g);
        assert_eq!(find(&index, 1, &g).expect("present").item().value(), b"c");
    });
}
