//! The engine's histories are linearizable on real threads: three threads
//! run random set / add / incr / delete / get (`sim::client`) on a small,
//! evicting cache, each operation stamped with a logical invocation and
//! response time, and `sim::lin` checks every key; then
//! `Cache::check_consistency` audits the memory. Seeds take sampled LRU,
//! S3-FIFO and SIEVE in turn. Failures print the seed;
//! `SEED=<n>` replays one seed's operations (the interleaving is the OS
//! scheduler's: the shuttle models are the replayable ones).
#![cfg(not(any(hotset_loom, feature = "shuttle")))]

use hotset::{Cache, Config, ManualClock, Policy, ReclaimKind};
use sim::client::Client;
use sim::lin::check;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

const THREADS: u64 = 3;
const OPS: u64 = 400;
const KEYS: u64 = 48;

/// Returns the evictions the run caused.
fn run(seed: u64, reclaim: ReclaimKind, policy: Policy) -> Result<u64, String> {
    // Two 16 KiB pages for a dozen size classes: pages move and items are
    // evicted all the time.
    let cache = Cache::new(Config {
        memory: 32 << 10,
        page_size: 16 << 10,
        max_item_size: 16 << 10,
        sweep_hz: 0,
        clock: Some(Arc::new(ManualClock::new())),
        reclaim,
        policy,
        seed: Some(seed),
        ..Config::default()
    })
    .map_err(|e| e.to_string())?;
    let time = AtomicU64::new(0);
    let history = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (cache, time, history) = (&cache, &time, &history);
            s.spawn(move || {
                let mut rng = hotset::rng::SplitMix64::with_stream(seed, t + 1);
                let mut client = Client::new(t);
                client.max_pad = 600;
                let mut mine = Vec::new();
                for _ in 0..OPS {
                    mine.extend(client.step(cache, rng.next_u64(), KEYS, time));
                }
                cache.release_thread();
                history.lock().unwrap().extend(mine);
            });
        }
    });
    let h = history.into_inner().unwrap();
    check(&h).map_err(|e| format!("seed {seed} ({reclaim:?}, {policy}): {e}"))?;
    cache
        .check_consistency()
        .map_err(|e| format!("seed {seed} ({reclaim:?}, {policy}): {e}"))?;
    Ok(cache.stats().evictions)
}

#[test]
fn engine_histories_are_linearizable() {
    let seeds: Vec<u64> = match std::env::var("SEED") {
        Ok(s) => vec![s.parse().expect("SEED must be a number")],
        Err(_) => (1..=30).collect(),
    };
    let mut evictions = 0;
    for seed in seeds {
        // Sampled LRU, and the queue policies in turn.
        let policy = [Policy::Lru, Policy::S3Fifo, Policy::Sieve][seed as usize % 3];
        for r in [ReclaimKind::Crossbeam, ReclaimKind::Seize] {
            match run(seed, r, policy) {
                Ok(n) => evictions += n,
                Err(e) => panic!("{e}\nreplay with SEED={seed}"),
            }
        }
    }
    assert!(evictions > 0, "the scenario must make the cache evict");
}
