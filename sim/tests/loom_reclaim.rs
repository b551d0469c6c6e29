//! Loom models of reclamation (the index plus crossbeam-epoch).
//!
//! Property: a chunk is never reused while a guard can still see it. A
//! reader pins and looks a key up while a writer replaces or deletes it,
//! retires the old chunk, drives reclamation and reuses every chunk it gets
//! back. Each chunk carries a loom cell (`Slab::track_write` on every
//! allocation, `Slab::track_read` where a reader uses an item), so a reuse
//! the reader could overlap is a causality violation; a freed or torn value
//! fails the value check.
#![cfg(hotset_loom)]

use hotset::index::reclaim::{Backend, Retired};
use hotset::index::{tag_of, Index};
use hotset::slab::{Chunk, Slab};
use loom::thread;
use sim::fixture::{hash, item, key_is, set, setup};
use sim::run_model;
use std::sync::Arc;

/// Pins, finds key 1 and reads its value, which must be one of `ok`.
fn reader(index: Arc<Index>, backend: Arc<Backend>, s: Arc<Slab>, ok: &'static [u8]) {
    let local = backend.local();
    let _g = backend.pin(&local);
    let h = hash(1);
    if let Some(f) = index.bucket(h).find(tag_of(h), key_is(1)) {
        let it = f.word.item();
        s.track_read(Chunk(it.ptr()));
        // SAFETY: found under `_g`.
        let v = unsafe { it.value() }[0];
        assert!(ok.contains(&v), "torn or foreign value {v}");
    }
}

/// After unpinning, lets grace periods pass and reuses every chunk that
/// comes back (the write is what loom checks against the reader).
fn reuse(backend: &Backend, local: &hotset::index::reclaim::Local, s: &Slab) {
    let mut mag = Vec::new();
    for _ in 0..3 {
        backend.pin(local).flush();
        if let Some(c) = s.alloc(0, &mut mag) {
            let _ = item(c, 9, b'z', 3);
            break;
        }
    }
}

#[test]
fn get_during_replace_never_sees_a_reused_chunk() {
    run_model(|| {
        let (s, index, backend, its, mut mag) = setup(2, &[(1, b'a')]);
        let mut r = Retired::new(s.clone());
        assert!(set(&index, its[0], &mut r).is_none());
        let rd = {
            let (i, b, s) = (index.clone(), backend.clone(), s.clone());
            thread::spawn(move || reader(i, b, s, b"ab"))
        };
        let wr = {
            let (wi, wb, ws) = (index.clone(), backend.clone(), s.clone());
            thread::spawn(move || {
                let local = wb.local();
                let mut r = Retired::new(ws.clone());
                // Allocated here, as a store does: the allocation is the
                // tracked write that the reader's publication must see.
                let b_chunk = ws.alloc(0, &mut mag).unwrap();
                {
                    let g = wb.pin(&local);
                    set(&wi, item(b_chunk, 1, b'b', 2), &mut r);
                    g.retire(&mut r);
                    g.flush();
                }
                reuse(&wb, &local, &ws);
            })
        };
        rd.join().unwrap();
        wr.join().unwrap();
    });
}

#[test]
fn get_during_delete_never_sees_a_reused_chunk() {
    run_model(|| {
        let (s, index, backend, its, _) = setup(1, &[(1, b'a')]);
        let mut r = Retired::new(s.clone());
        assert!(set(&index, its[0], &mut r).is_none());
        let rd = {
            let (i, b, s) = (index.clone(), backend.clone(), s.clone());
            thread::spawn(move || reader(i, b, s, b"a"))
        };
        let wr = {
            let (wi, wb, ws) = (index.clone(), backend.clone(), s.clone());
            thread::spawn(move || {
                let local = wb.local();
                let mut r = Retired::new(ws.clone());
                {
                    let g = wb.pin(&local);
                    let h = hash(1);
                    let b = wi.bucket(h);
                    let f = b.find(tag_of(h), key_is(1)).expect("present");
                    assert!(b.remove(f.slot, f.word));
                    f.word.item().clear_live();
                    r.push(Chunk(f.word.item().ptr()));
                    g.retire(&mut r);
                    g.flush();
                }
                reuse(&wb, &local, &ws);
            })
        };
        rd.join().unwrap();
        wr.join().unwrap();
    });
}
