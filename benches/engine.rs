//! Engine throughput against in-process peers, `engine/zipf99/<impl>/<threads>`:
//! `hotset` (the default policy), `hotset-lru`, `hotset-s3fifo`,
//! `hotset-sieve`, `quick_cache` and `moka`.
//!
//! - 1,000,000 keys of 16 bytes (`key:%012d`), 100-byte values;
//! - YCSB scrambled Zipf θ = 0.99; 90% get / 10% set; a get miss is followed
//!   by a set (cache-aside);
//! - each cache holds about 20% of the items;
//! - every implementation copies the value out on a hit.
//!
//! Throughput is in operations (elements) per second; after each
//! implementation the bench prints its hit ratio over gets (`hit ratio …`). Each thread replays its
//! own precomputed op stream, so generation costs nothing inside the timing.
//! `HOTSET_BENCH_THREADS=1,2,4,…` overrides the thread counts (for scaling
//! sweeps on bigger machines); `HOTSET_BENCH_RECLAIM=crossbeam|seize` picks
//! hotset's reclamation backend (default: the engine's default).
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hotset::workload::ScrambledZipf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEYS: u64 = 1_000_000;
const VALUE: usize = 100;
const HELD: u64 = KEYS / 5;
const STREAM: usize = 1 << 20;
const OPS_PER_ITER: u64 = 10_000;

type Key = [u8; 16];

trait Engine: Sync {
    fn get(&self, k: &Key, out: &mut Vec<u8>) -> bool;
    fn set(&self, k: &Key, v: &[u8]);
}

impl Engine for hotset::Cache {
    fn get(&self, k: &Key, out: &mut Vec<u8>) -> bool {
        hotset::Cache::get(self, k, out).is_some()
    }
    fn set(&self, k: &Key, v: &[u8]) {
        let _ = hotset::Cache::set(self, k, v, 0, 0);
    }
}

impl Engine for quick_cache::sync::Cache<Key, Arc<[u8]>> {
    fn get(&self, k: &Key, out: &mut Vec<u8>) -> bool {
        match quick_cache::sync::Cache::get(self, k) {
            Some(v) => {
                out.extend_from_slice(&v);
                true
            }
            None => false,
        }
    }
    fn set(&self, k: &Key, v: &[u8]) {
        self.insert(*k, Arc::from(v));
    }
}

impl Engine for moka::sync::Cache<Key, Arc<[u8]>> {
    fn get(&self, k: &Key, out: &mut Vec<u8>) -> bool {
        match moka::sync::Cache::get(self, k) {
            Some(v) => {
                out.extend_from_slice(&v);
                true
            }
            None => false,
        }
    }
    fn set(&self, k: &Key, v: &[u8]) {
        self.insert(*k, Arc::from(v));
    }
}

fn key(i: u64) -> Key {
    let mut k = [0u8; 16];
    k.copy_from_slice(format!("key:{i:012}").as_bytes());
    k
}

/// Per-thread streams of (key index, is_set).
fn streams(threads: usize) -> Vec<Vec<(u32, bool)>> {
    let z = ScrambledZipf::new(KEYS, 0.99);
    (0..threads)
        .map(|t| {
            let mut rng = hotset::rng::SplitMix64::with_stream(1, t as u64 + 1);
            (0..STREAM)
                .map(|_| {
                    let u = rng.unit();
                    (z.sample(u) as u32, rng.below(10) == 0)
                })
                .collect()
        })
        .collect()
}

/// Long-lived worker threads, one per stream, as a server's or a rayon
/// pool's threads are: per-thread state (hotset's magazines, epoch handle and
/// eviction pools) is set up once, not once per sample.
struct Pool<'a> {
    start: std::sync::Barrier,
    done: std::sync::Barrier,
    /// Gets and their hits, summed over the workers' runs.
    gets: std::sync::atomic::AtomicU64,
    hits: std::sync::atomic::AtomicU64,
    ops: std::sync::atomic::AtomicU64,
    engine: &'a dyn Engine,
    keys: &'a [Key],
}

impl Pool<'_> {
    fn worker(&self, stream: &[(u32, bool)]) {
        let value = [b'v'; VALUE];
        let mut out = Vec::with_capacity(VALUE);
        let mut pos = 0usize;
        loop {
            self.start.wait();
            let ops = self.ops.load(std::sync::atomic::Ordering::Acquire);
            if ops == u64::MAX {
                return;
            }
            let (mut hits, mut gets) = (0u64, 0u64);
            for _ in 0..ops {
                let (k, is_set) = stream[pos % STREAM];
                pos += 1;
                let k = &self.keys[k as usize];
                if is_set {
                    self.engine.set(k, &value);
                } else {
                    out.clear();
                    gets += 1;
                    if self.engine.get(k, &mut out) {
                        hits += 1;
                    } else {
                        self.engine.set(k, &value);
                    }
                }
            }
            self.hits
                .fetch_add(hits, std::sync::atomic::Ordering::Relaxed);
            self.gets
                .fetch_add(gets, std::sync::atomic::Ordering::Relaxed);
            self.done.wait();
        }
    }

    /// Runs `ops` operations on every worker; returns the wall time.
    fn run(&self, ops: u64) -> Duration {
        self.ops.store(ops, std::sync::atomic::Ordering::Release);
        let t = Instant::now();
        self.start.wait();
        self.done.wait();
        t.elapsed()
    }

    fn stop(&self) {
        self.ops
            .store(u64::MAX, std::sync::atomic::Ordering::Release);
        self.start.wait();
    }
}

fn hotset_budget() -> usize {
    // Enough chunks of the item's class for HELD items.
    let probe = hotset::Cache::new(hotset::Config {
        memory: 1 << 20,
        sweep_hz: 0,
        ..Default::default()
    })
    .unwrap();
    let chunk = probe.chunk_size_for(16, VALUE, 0).unwrap();
    (HELD as usize * chunk).next_multiple_of(1 << 20)
}

/// The implementations, by benchmark name: hotset with its default policy,
/// hotset with each of three policies, and the peers.
const ENGINES: [&str; 6] = [
    "hotset",
    "hotset-lru",
    "hotset-s3fifo",
    "hotset-sieve",
    "quick_cache",
    "moka",
];

fn make(name: &str) -> Box<dyn Engine> {
    let hotset = |policy: Option<hotset::Policy>| -> Box<dyn Engine> {
        Box::new(
            hotset::Cache::new(hotset::Config {
                memory: hotset_budget(),
                policy: policy.unwrap_or_default(),
                reclaim: std::env::var("HOTSET_BENCH_RECLAIM")
                    .ok()
                    .map(|s| s.parse().expect("HOTSET_BENCH_RECLAIM: crossbeam or seize"))
                    .unwrap_or_default(),
                ..Default::default()
            })
            .unwrap(),
        )
    };
    match name {
        "hotset" => hotset(None),
        "quick_cache" => Box::new(quick_cache::sync::Cache::<Key, Arc<[u8]>>::new(
            HELD as usize,
        )),
        "moka" => Box::new(moka::sync::Cache::<Key, Arc<[u8]>>::new(HELD)),
        other => {
            let policy = other.strip_prefix("hotset-").expect("a hotset policy");
            hotset(Some(policy.parse().expect("a policy name")))
        }
    }
}

fn bench(c: &mut Criterion) {
    let keys: Vec<Key> = (0..KEYS).map(key).collect();
    let threads: Vec<usize> = std::env::var("HOTSET_BENCH_THREADS")
        .ok()
        .map(|s| s.split(',').filter_map(|t| t.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2]);
    let mut g = c.benchmark_group("engine/zipf99");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(3))
        .measurement_time(Duration::from_secs(6));
    for &t in &threads {
        let st = streams(t);
        g.throughput(Throughput::Elements(OPS_PER_ITER * t as u64));
        for name in ENGINES {
            let e = make(name);
            let pool = Pool {
                start: std::sync::Barrier::new(t + 1),
                done: std::sync::Barrier::new(t + 1),
                gets: std::sync::atomic::AtomicU64::new(0),
                hits: std::sync::atomic::AtomicU64::new(0),
                ops: std::sync::atomic::AtomicU64::new(0),
                engine: e.as_ref(),
                keys: &keys,
            };
            std::thread::scope(|s| {
                for stream in &st {
                    let pool = &pool;
                    s.spawn(move || pool.worker(stream));
                }
                // Fill to steady state before timing.
                pool.run(STREAM as u64);
                pool.hits.store(0, std::sync::atomic::Ordering::Relaxed);
                pool.gets.store(0, std::sync::atomic::Ordering::Relaxed);
                g.bench_with_input(BenchmarkId::new(name, t), &t, |b, _| {
                    b.iter_custom(|iters| pool.run(iters * OPS_PER_ITER))
                });
                pool.stop();
                // The hit ratio explains much of the throughput: every miss
                // costs a set.
                let (hits, gets) = (
                    pool.hits.load(std::sync::atomic::Ordering::Relaxed),
                    pool.gets.load(std::sync::atomic::Ordering::Relaxed),
                );
                eprintln!(
                    "hit ratio engine/zipf99/{name}/{t}: {:.3}",
                    hits as f64 / gets.max(1) as f64
                );
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
