//! Loom models of reclamation (the index plus crossbeam-epoch).
//!
//! Property: a chunk is never reused while a guard can still see it. A
//! reader pins and looks a key up while a writer replaces or deletes it,
//! retires the old chunk, drives reclamation and reuses every chunk it gets
//! back. Each chunk carries a loom cell (`Slab::track_write` on every
//! allocation, `Slab::track_read` where a reader uses an item), so a reuse
//! the reader could overlap is a causality violation; a freed or torn value
//! fails the value check.
use crate::raw::index::Index;
use crate::raw::model::run_model;
use crate::raw::model::{find, item, set, setup};
use crate::raw::reclaim::Local;
use crate::raw::slab::Chunk;
use crate::raw::slab::Magazine;
use crate::raw::slab::Slab;
use loom::thread;
use std::sync::Arc;

/// Pins, finds key 1 and reads its value, which must be one of `ok`.
fn reader(index: Arc<Index>, s: Arc<Slab>, ok: &'static [u8]) {
    let local = index.local();
    let g = index.pin(&local);
    if let Some(f) = find(&index, 1, &g) {
        let it = f.item();
        s.track_read(Chunk::of(it.item()));
        let v = it.value()[0];
        assert!(ok.contains(&v), "torn or foreign value {v}");
    }
}

/// After unpinning, lets grace periods pass and reuses every chunk that
/// comes back (the write is what loom checks against the reader).
fn reuse(index: &Index, local: &Local, s: &Slab) {
    let mut mag = Magazine::new();
    for _ in 0..3 {
        index.pin(local).flush();
        if let Some(c) = s.alloc(0, &mut mag).map(|c| c.into_chunk()) {
            let _ = item(c, 9, b'z', 3);
            break;
        }
    }
}

#[test]
fn get_during_replace_never_sees_a_reused_chunk() {
    run_model(|| {
        let (s, index, its, mut mag) = setup(2, &[(1, b'a')]);
        {
            let local = index.local();
            let g = index.pin(&local);
            let mut r = index.batch(s.clone());
            assert!(set(&index, its[0], &mut r, &g).is_none());
        }
        let rd = {
            let (i, s) = (index.clone(), s.clone());
            thread::spawn(move || reader(i, s, b"ab"))
        };
        let wr = {
            let (wi, ws) = (index.clone(), s.clone());
            thread::spawn(move || {
                let local = wi.local();
                let mut r = wi.batch(ws.clone());
                // Allocated here, as a store does: the allocation is the
                // tracked write that the reader's publication must see.
                let b_chunk = ws.alloc(0, &mut mag).unwrap().into_chunk();
                {
                    let g = wi.pin(&local);
                    set(&wi, item(b_chunk, 1, b'b', 2), &mut r, &g);
                    r.retire(&g);
                    g.flush();
                }
                reuse(&wi, &local, &ws);
            })
        };
        rd.join().unwrap();
        wr.join().unwrap();
    });
}

#[test]
fn get_during_delete_never_sees_a_reused_chunk() {
    run_model(|| {
        let (s, index, its, _) = setup(1, &[(1, b'a')]);
        {
            let local = index.local();
            let g = index.pin(&local);
            let mut r = index.batch(s.clone());
            assert!(set(&index, its[0], &mut r, &g).is_none());
        }
        let rd = {
            let (i, s) = (index.clone(), s.clone());
            thread::spawn(move || reader(i, s, b"a"))
        };
        let wr = {
            let (wi, ws) = (index.clone(), s.clone());
            thread::spawn(move || {
                let local = wi.local();
                let mut r = wi.batch(ws.clone());
                {
                    let g = wi.pin(&local);
                    let f = find(&wi, 1, &g).expect("present");
                    assert!(wi.remove(&f, &g));
                    let old = f.item();
                    old.clear_live();
                    // SAFETY: our remove won, so the chunk is ours to retire.
                    unsafe { r.push(Chunk::of(old.item())) };
                    r.retire(&g);
                    g.flush();
                }
                reuse(&wi, &local, &ws);
            })
        };
        rd.join().unwrap();
        wr.join().unwrap();
    });
}
