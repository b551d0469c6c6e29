//! Loom models of the index with crossbeam-epoch reclamation.
//!
//! Properties:
//! - two inserts of one key: exactly one committed copy remains, and it is
//!   one of the two values; with `add`, exactly one insert succeeds;
//! - insert against remove: the bucket's committed mask matches its slots;
//! - get during a replace, and retire-then-reuse: a reader never reads a
//!   chunk that has been freed and handed out again while it was pinned
//!   (checked by loom's cell tracking on every chunk: `Slab::track_read` in
//!   the reader, `Slab::track_write` on every allocation).
#![cfg(hotset_loom)]

use hotset::index::reclaim::{Backend, ReclaimKind, Retired};
use hotset::index::{tag_of, Index, Insert};
use hotset::item::Item;
use hotset::slab::{Chunk, Slab};
use loom::thread;
use sim::fixture::{hash, item, slab};
use sim::run_model;
use std::sync::Arc;

/// A slab of `chunks` chunks, a one-bucket index, a crossbeam backend, and
/// `items` (key, value) items written into the first chunks.
fn setup(
    chunks: usize,
    items: &[(u8, u8)],
) -> (Arc<Slab>, Arc<Index>, Arc<Backend>, Vec<Item>, Vec<Chunk>) {
    let s = slab(chunks);
    let index = Arc::new(Index::with_slots(7));
    let backend = Arc::new(Backend::new(ReclaimKind::Crossbeam));
    let mut mag = Vec::new();
    let its = items
        .iter()
        .enumerate()
        .map(|(i, &(k, v))| item(s.alloc(0, &mut mag).unwrap(), k, v, i as u64 + 1))
        .collect();
    (s, index, backend, its, mag)
}

fn key_is(k: u8) -> impl FnMut(Item) -> bool {
    move |it| unsafe { it.key() } == [k]
}

/// Upsert as `Cache::set` does it: insert, or replace what is there.
fn set(index: &Index, it: Item, retired: &mut Retired) {
    let h = hash(1);
    let b = index.bucket(h);
    loop {
        match b.insert(tag_of(h), it, key_is(1)) {
            Insert::Inserted => return,
            Insert::Exists(f) => {
                if b.replace(f.slot, f.word, tag_of(h), it) {
                    f.word.item().clear_live();
                    retired.push(Chunk(f.word.item().ptr()));
                    return;
                }
            }
            Insert::Full => unreachable!("one key cannot fill a bucket"),
        }
    }
}

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

/// A reader pins and reads key 1 while a writer replaces it, retires the old
/// chunk, drives reclamation, and reuses every chunk it gets back. Loom's cell
/// tracking reports any reuse of a chunk the reader could still see.
#[test]
fn get_during_replace_never_sees_a_reused_chunk() {
    run_model(|| {
        let (s, index, backend, its, mut mag) = setup(2, &[(1, b'a')]);
        let a = its[0];
        let h = hash(1);
        assert!(matches!(
            index.bucket(h).insert(tag_of(h), a, key_is(1)),
            Insert::Inserted
        ));
        let b_chunk = s.alloc(0, &mut mag).unwrap();

        let (ri, rb, rs) = (index.clone(), backend.clone(), s.clone());
        let reader = thread::spawn(move || {
            let local = rb.local();
            let _g = rb.pin(&local);
            if let Some(f) = ri.bucket(h).find(tag_of(h), key_is(1)) {
                let it = f.word.item();
                rs.track_read(Chunk(it.ptr()));
                let v = unsafe { it.value() }[0];
                assert!(v == b'a' || v == b'b', "torn or foreign value {v}");
            }
        });

        let (wi, wb, ws) = (index.clone(), backend.clone(), s.clone());
        let writer = thread::spawn(move || {
            let local = wb.local();
            let mut r = Retired::new(ws.clone());
            {
                let g = wb.pin(&local);
                let b = item(b_chunk, 1, b'b', 2);
                set(&wi, b, &mut r);
                g.retire(&mut r);
                g.flush();
            }
            // Try to get the old chunk back and reuse it.
            let mut mag = Vec::new();
            for _ in 0..3 {
                wb.pin(&local).flush();
                if let Some(c) = ws.alloc(0, &mut mag) {
                    let _ = item(c, 9, b'z', 3);
                    break;
                }
            }
        });
        reader.join().unwrap();
        writer.join().unwrap();
    });
}
