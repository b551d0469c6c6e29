//! The engine's histories are linearizable: threads run random set / add /
//! get / delete on a small, evicting cache, each operation stamped with a
//! logical invocation and response time, and `sim::lin` checks every key.
//! Failures print the seed; `SEED=<n>` replays one.
#![cfg(not(hotset_loom))]

use hotset::{Cache, Config, ManualClock, ReclaimKind, Stored};
use sim::lin::{check, Event, Op, Ret};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const THREADS: u64 = 3;
const OPS: u64 = 400;
const KEYS: u64 = 48;

/// Returns the evictions the run caused.
fn run(seed: u64, reclaim: ReclaimKind) -> Result<u64, String> {
    // Two 16 KiB pages for a dozen size classes: pages move and items are
    // evicted all the time.
    let cache = Cache::new(Config {
        memory: 32 << 10,
        page_size: 16 << 10,
        max_item_size: 16 << 10,
        sweep_hz: 0,
        clock: Some(Arc::new(ManualClock::new())),
        reclaim,
        ..Config::default()
    })
    .unwrap();
    let time = AtomicU64::new(0);
    let history = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (cache, time, history) = (&cache, &time, &history);
            s.spawn(move || {
                let mut x = seed ^ (t + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let mut mine = Vec::new();
                let mut out = Vec::new();
                // Values are unique per (thread, op), padded to many sizes.
                let pad = [b'.'; 600];
                for i in 0..OPS {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = x % KEYS;
                    let k = format!("k{key}");
                    let v = t << 32 | i;
                    let mut val = v.to_le_bytes().to_vec();
                    val.extend_from_slice(&pad[..(x >> 20) as usize % pad.len()]);
                    let call = time.fetch_add(1, Ordering::SeqCst);
                    let (op, ret) = match (x >> 8) % 8 {
                        0..=2 => {
                            let r = cache.set(k.as_bytes(), &val, 0, 0);
                            (
                                Op::Set(v),
                                if r == Ok(Stored::Stored) {
                                    Ret::Ok
                                } else {
                                    continue;
                                },
                            )
                        }
                        3 => {
                            let r = cache.add(k.as_bytes(), &val, 0, 0);
                            match r {
                                Ok(Stored::Stored) => (Op::Add(v), Ret::Bool(true)),
                                Ok(Stored::NotStored) => (Op::Add(v), Ret::Bool(false)),
                                _ => continue,
                            }
                        }
                        4 => (Op::Delete, Ret::Bool(cache.delete(k.as_bytes()))),
                        _ => {
                            out.clear();
                            let got = cache
                                .get(k.as_bytes(), &mut out)
                                .map(|_| u64::from_le_bytes(out[..8].try_into().unwrap()));
                            (Op::Get, Ret::Value(got))
                        }
                    };
                    let resp = time.fetch_add(1, Ordering::SeqCst);
                    mine.push(Event {
                        key,
                        op,
                        ret,
                        call,
                        resp,
                    });
                }
                history.lock().unwrap().extend(mine);
            });
        }
    });
    let h = history.into_inner().unwrap();
    check(&h).map_err(|e| format!("seed {seed} ({reclaim:?}): {e}"))?;
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
        for r in [ReclaimKind::Crossbeam, ReclaimKind::Seize] {
            match run(seed, r) {
                Ok(n) => evictions += n,
                Err(e) => panic!("{e}\nreplay with SEED={seed}"),
            }
        }
    }
    assert!(evictions > 0, "the scenario must make the cache evict");
}
