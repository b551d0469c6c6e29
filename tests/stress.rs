//! Multi-threaded stress with self-checking values: each value encodes its
//! key, a version and a checksum, so a torn, stale-slot or foreign value fails.
//! Memory is tight so eviction runs throughout; some items carry a TTL on a
//! clock another thread moves.

use hotset::{Cache, Config, ManualClock, Policy, ReclaimKind, Stored};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const THREADS: usize = 4;
const OPS: usize = 60_000;
const KEYS: u64 = 20_000;

fn value(key: u64, version: u64, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len.max(24));
    v.extend_from_slice(&key.to_le_bytes());
    v.extend_from_slice(&version.to_le_bytes());
    let mut r = hotset::rng::SplitMix64::new(key ^ version.rotate_left(17));
    while v.len() < len.max(24) - 8 {
        v.push((r.next_u64() >> 56) as u8);
    }
    let sum = v
        .iter()
        .fold(0u64, |a, &b| a.wrapping_mul(31).wrapping_add(b as u64));
    v.extend_from_slice(&sum.to_le_bytes());
    v
}

fn check(key: u64, v: &[u8]) {
    assert!(v.len() >= 24, "short value for key {key}");
    let k = u64::from_le_bytes(v[0..8].try_into().unwrap());
    assert_eq!(k, key, "value of another key");
    let (body, sum) = v.split_at(v.len() - 8);
    let want = body
        .iter()
        .fold(0u64, |a, &b| a.wrapping_mul(31).wrapping_add(b as u64));
    assert_eq!(
        u64::from_le_bytes(sum.try_into().unwrap()),
        want,
        "torn value for key {key}"
    );
}

fn run(reclaim: ReclaimKind, policy: Policy) {
    let clock = ManualClock::new();
    let cache = Cache::new(Config {
        // 64 pages of 64 KiB: tight enough that eviction never stops, with a
        // page for every class the value sizes touch.
        memory: 4 << 20,
        page_size: 64 << 10,
        max_item_size: 64 << 10,
        sweep_hz: 50,
        clock: Some(Arc::new(clock.clone())),
        reclaim,
        policy,
        ..Config::default()
    })
    .unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                clock.advance(std::time::Duration::from_millis(100));
                std::thread::yield_now();
            }
        });
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let cache = &cache;
                s.spawn(move || {
                    let mut rng = hotset::rng::SplitMix64::with_stream(1, t as u64 + 1);
                    let mut out = Vec::new();
                    for i in 0..OPS {
                        let x = rng.next_u64();
                        let key = x % KEYS;
                        let k = format!("key:{key:012}");
                        let len = 24 + (x >> 40) as usize % 600;
                        match (x >> 20) % 16 {
                            0..=8 => {
                                out.clear();
                                if cache.get(k.as_bytes(), &mut out).is_some() {
                                    check(key, &out);
                                }
                            }
                            9..=11 => {
                                let ttl = if x % 3 == 0 { 2 } else { 0 };
                                let r = cache.set(k.as_bytes(), &value(key, i as u64, len), 0, ttl);
                                assert!(matches!(
                                    r,
                                    Ok(Stored::Stored) | Err(hotset::Error::OutOfMemory)
                                ));
                            }
                            12 => {
                                cache.delete(k.as_bytes());
                            }
                            13 => {
                                let _ = cache.add(k.as_bytes(), &value(key, i as u64, len), 0, 0);
                            }
                            14 => {
                                out.clear();
                                if let Some(h) = cache.get(k.as_bytes(), &mut out) {
                                    check(key, &out);
                                    let _ = cache.cas(
                                        k.as_bytes(),
                                        &value(key, i as u64 + 1, len),
                                        0,
                                        0,
                                        h.cas,
                                    );
                                }
                            }
                            _ => {
                                out.clear();
                                if cache.get_and_touch(k.as_bytes(), 5, &mut out).is_some() {
                                    check(key, &out);
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    let s = cache.stats();
    assert!(s.evictions > 0, "eviction should have been active");
    assert!(s.get_hits > 0);
    assert!(s.bytes <= 4 << 20);
}

#[test]
fn stress_crossbeam() {
    run(ReclaimKind::Crossbeam, Policy::Lru);
}

#[test]
fn stress_seize() {
    run(ReclaimKind::Seize, Policy::Lru);
}

#[test]
fn stress_s3fifo() {
    run(ReclaimKind::Seize, Policy::S3Fifo);
}

#[test]
fn stress_sieve() {
    run(ReclaimKind::Crossbeam, Policy::Sieve);
}
