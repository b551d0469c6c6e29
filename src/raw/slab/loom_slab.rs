//! Loom model of the slab's magazines and depot.
//!
//! Property: two threads allocating, freeing (through `Slab::release`, as
//! the reclaimer does) and flushing their magazines never hold the same
//! chunk at once, and every chunk is accounted for at the end. A chunk handed
//! to two owners would be two unsynchronized `track_write`s, which loom
//! reports.
use crate::raw::model::run_model;
use crate::raw::model::slab;
use crate::raw::slab::Magazine;
use loom::thread;

#[test]
fn magazine_depot_exchange() {
    run_model(|| {
        let s = slab(4);
        let ths: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || {
                    let mut mag = Magazine::new();
                    let a = s.alloc(0, &mut mag).map(|c| c.into_chunk());
                    let b = s.alloc(0, &mut mag).map(|c| c.into_chunk());
                    if let Some(a) = a {
                        // SAFETY: allocated by this thread and never used
                        // again, as the reclaimer would give it back.
                        unsafe { s.release(&[a]) };
                    }
                    s.flush_magazine(0, &mut mag);
                    b
                })
            })
            .collect();
        let held: Vec<_> = ths.into_iter().filter_map(|t| t.join().unwrap()).collect();
        if held.len() == 2 {
            assert_ne!(held[0], held[1], "one chunk handed to two threads");
        }
        // Every chunk is either held or free in the depot.
        assert_eq!(s.depot_len(0) + held.len(), 4);
    });
}
