//! Shuttle models of the whole engine: random and PCT schedules.
//!
//! Each iteration builds a small cache (four 1 KiB pages, three size
//! classes, so eviction and page moves are constant) on a manual clock and
//! runs `WORKERS` client threads of random set / add / incr / delete / get
//! on a few hot keys (a quarter of the writes with a TTL), plus a janitor
//! thread that advances the clock and runs the sweeper. Every operation is
//! recorded with logical call and response times.
//!
//! Properties, checked after every iteration:
//! - the history is linearizable for a cache that may forget keys
//!   (`sim::lin`): no get or incr ever sees a value that is neither the
//!   latest completed write nor a concurrent one;
//! - `Cache::check_consistency`: no chunk leaked or freed twice, every index
//!   entry is a LIVE item, and `curr_items` agrees.
//!
//! Environment: `MAX_ITERATIONS` (default 400 per scheduler), `SEED` (the
//! schedulers' seed; default 1, so CI is repeatable), `SCHEDULE` (replay the
//! schedule string shuttle prints on a failure, with the same features).
#![cfg(feature = "shuttle")]

use hotset::{Cache, Config, ManualClock, ReclaimKind, SlabClasses};
use shuttle::rand::{thread_rng, RngCore};
use shuttle::scheduler::{PctScheduler, RandomScheduler};
use shuttle::{Config as ShuttleConfig, Runner};
use sim::client::Client;
use sim::lin::check;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const WORKERS: u64 = 4;
const OPS: usize = 8;
const KEYS: u64 = 3;
/// PCT's bound on the number of priority changes (bug depth).
const PCT_DEPTH: usize = 3;

fn env(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}")),
        Err(_) => default,
    }
}

/// One iteration: the threads, then the checks.
fn scenario(reclaim: ReclaimKind) -> impl Fn() + Send + Sync + 'static {
    move || {
        let clock = ManualClock::new();
        let cache = Arc::new(
            Cache::new(Config {
                memory: 4 << 10,
                page_size: 1 << 10,
                classes: SlabClasses::List(vec![64, 128, 256]),
                max_item_size: 256,
                sweep_hz: 0,
                clock: Some(Arc::new(clock.clone())),
                reclaim,
                seed: Some(1),
                ..Config::default()
            })
            .expect("model cache"),
        );
        let time = Arc::new(AtomicU64::new(0));
        let history = Arc::new(Mutex::new(Vec::new()));
        let mut threads: Vec<_> = (0..WORKERS)
            .map(|t| {
                let (cache, time, history) = (cache.clone(), time.clone(), history.clone());
                shuttle::thread::spawn(move || {
                    let mut client = Client::new(t);
                    client.max_pad = 200;
                    client.max_ttl = 2;
                    let mut rng = thread_rng();
                    let mut mine = Vec::new();
                    for _ in 0..OPS {
                        mine.extend(client.step(&cache, rng.next_u64(), KEYS, &time));
                    }
                    cache.release_thread();
                    history.lock().unwrap().extend(mine);
                })
            })
            .collect();
        threads.push({
            let cache = cache.clone();
            shuttle::thread::spawn(move || {
                for _ in 0..3 {
                    clock.advance_secs(1);
                    cache.sweep(64);
                }
                cache.release_thread();
            })
        });
        for t in threads {
            t.join().unwrap();
        }
        let h = history.lock().unwrap().clone();
        if let Err(e) = check(&h) {
            panic!("not linearizable ({reclaim:?}): {e}");
        }
        if let Err(e) = cache.check_consistency() {
            panic!("inconsistent after the run ({reclaim:?}): {e}");
        }
        let st = cache.stats();
        EVICTIONS.fetch_add(st.evictions + st.slab_reassigned, Ordering::Relaxed);
        RESCUES.fetch_add(st.slab_rescues, Ordering::Relaxed);
    }
}

/// Items moved out of draining pages over all iterations (`Cache::rescue`).
static RESCUES: AtomicU64 = AtomicU64::new(0);

/// Evictions and page moves over all iterations: the scenario must cause
/// them, or it tests an idle cache.
static EVICTIONS: AtomicU64 = AtomicU64::new(0);

fn run(reclaim: ReclaimKind, pct: bool) {
    if let Ok(s) = std::env::var("SCHEDULE") {
        shuttle::replay(scenario(reclaim), &s);
        return;
    }
    let (seed, iters) = (env("SEED", 1), env("MAX_ITERATIONS", 400) as usize);
    eprintln!(
        "shuttle: {} scheduler, SEED={seed}, MAX_ITERATIONS={iters}, {reclaim:?}",
        if pct { "PCT" } else { "random" }
    );
    let mut cfg = ShuttleConfig::new();
    cfg.silence_warnings = true;
    if pct {
        Runner::new(PctScheduler::new_from_seed(seed, PCT_DEPTH, iters), cfg)
            .run(scenario(reclaim));
    } else {
        Runner::new(RandomScheduler::new_from_seed(seed, iters), cfg).run(scenario(reclaim));
    }
    assert!(
        EVICTIONS.load(Ordering::Relaxed) > 0,
        "the scenario must make the cache evict"
    );
    eprintln!(
        "shuttle: {} evictions and page moves, {} rescues so far",
        EVICTIONS.load(Ordering::Relaxed),
        RESCUES.load(Ordering::Relaxed)
    );
}

#[test]
fn random_schedules_crossbeam() {
    run(ReclaimKind::Crossbeam, false);
}

#[test]
fn pct_schedules_crossbeam() {
    run(ReclaimKind::Crossbeam, true);
}

#[test]
fn random_schedules_seize() {
    run(ReclaimKind::Seize, false);
}

#[test]
fn pct_schedules_seize() {
    run(ReclaimKind::Seize, true);
}
