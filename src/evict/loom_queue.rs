//! Loom models of the queue policies' structures (`evict::queue`).
//!
//! Properties:
//! - **fifo**: two producers push chunk ids through their own lanes
//!   (publishing a segment every two entries) while a consumer takes
//!   entries from the fifo: no id is lost, none is handed out twice, and
//!   each producer's ids come out in the order it pushed them;
//! - **ghost**: a key remembered once and looked up by two threads at the
//!   same time is found by exactly one of them (an eviction is remembered
//!   once).
use crate::evict::queue::Fifo;
use crate::evict::queue::Ghost;
use crate::evict::queue::Lane;
use crate::raw::model::run_model;
use loom::thread;
use std::sync::Arc;

/// Ids producer `p` pushes: `p * 10 + 1 ..`.
const PER_PRODUCER: u64 = 3;

#[test]
fn two_producers_and_a_consumer() {
    run_model(|| {
        let fifo = Arc::new(Fifo::new());
        let producers: Vec<_> = (0..2u64)
            .map(|p| {
                let fifo = fifo.clone();
                thread::spawn(move || {
                    let mut lane = Lane::new();
                    for i in 1..=PER_PRODUCER {
                        lane.push(p * 10 + i, 2, &fifo);
                    }
                    lane.release(&fifo);
                })
            })
            .collect();
        let consumer = {
            let fifo = fifo.clone();
            thread::spawn(move || {
                let mut lane = Lane::new();
                let mut got = Vec::new();
                for _ in 0..3 {
                    if let (Some(e), _) = lane.pop(&fifo) {
                        got.push(e);
                    }
                }
                lane.release(&fifo);
                got
            })
        };
        for p in producers {
            p.join().unwrap();
        }
        let mut all = consumer.join().unwrap();
        all.extend(fifo.contents());
        let mut sorted = all.clone();
        sorted.sort_unstable();
        let want: Vec<u64> = (0..2)
            .flat_map(|p| (1..=PER_PRODUCER).map(move |i| p * 10 + i))
            .collect();
        assert_eq!(
            sorted, want,
            "every id exactly once, consumed or still queued: {all:?}"
        );
        for p in 0..2 {
            let mine: Vec<u64> = all.iter().copied().filter(|e| e / 10 == p).collect();
            assert!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "producer {p} out of order: {all:?}"
            );
        }
    });
}

#[test]
fn a_ghost_hit_is_taken_once() {
    run_model(|| {
        let ghost = Arc::new(Ghost::new(8, 64));
        let mut ticks = 0;
        ghost.insert(0xabcd_0000_1234_5678, &mut ticks);
        let ths: Vec<_> = (0..2)
            .map(|_| {
                let ghost = ghost.clone();
                thread::spawn(move || ghost.take(0xabcd_0000_1234_5678, 64))
            })
            .collect();
        let hits: u32 = ths.into_iter().map(|t| t.join().unwrap() as u32).sum();
        assert_eq!(hits, 1, "one remembered eviction, found {hits} times");
    });
}
