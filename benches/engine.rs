//! Engine throughput against in-process peers:
//! `engine/<workload>/<impl>/<threads>`.
//!
//! Implementations: `hotset` (the default policy), `hotset-lru`,
//! `hotset-s3fifo`, `hotset-sieve`, `quick_cache` and `moka`. Keys are 16
//! bytes, values 100 bytes, and every implementation copies the value out
//! on a hit.
//!
//! Workloads:
//! - `zipf99`: YCSB scrambled Zipf θ = 0.99 over 1,000,000 keys, 90% get /
//!   10% set, a get miss followed by a set (cache-aside); each cache holds
//!   about 20% of the items. Each thread replays its own stream of 2^24
//!   operations, which no measurement (one criterion sample) exhausts, so
//!   the cache never sees a loop of the stream; a sample continues where
//!   the last one stopped.
//! - `hits`: 100,000 keys, uniform, in caches that hold them all; 90% get,
//!   10% overwrite.
//! - `get`: the same keys, gets only (all hits).
//! - `set`: the same keys, sets only (all overwrites of present keys).
//! - `evict`: sets of keys never seen before into a full cache of 200,000
//!   items, so that every set evicts.
//!
//! Streams are generated before timing, the same for every implementation.
//! Throughput is in operations (elements) per second; after each run the
//! bench prints the implementation's hit ratio over gets (`hit ratio …`).
//! `HOTSET_BENCH_THREADS=1,2,4,…` overrides the thread counts (default 1
//! and 2), `HOTSET_BENCH_WORKLOADS=get,set` and `HOTSET_BENCH_IMPLS=hotset,
//! quick_cache` pick a subset, and `HOTSET_BENCH_RECLAIM=crossbeam|seize`
//! picks hotset's reclamation backend (default: the engine's default).
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hotset::workload::ScrambledZipf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// zipf99's key space and cache size (items).
const KEYS: u64 = 1_000_000;
const HELD: u64 = KEYS / 5;
/// The key set of `hits`, `get` and `set`, and the size of their caches
/// (room to spare, so that no policy evicts any of them).
const FIT_KEYS: u64 = 100_000;
const FIT_ROOM: u64 = FIT_KEYS * 5 / 4;
const VALUE: usize = 100;
/// Operations per thread in a zipf99 stream: no sample exhausts it.
const ZIPF_STREAM: usize = 1 << 24;
/// Operations per thread in the other streams (uniform keys: a loop of
/// them is no special case for any policy).
const STREAM: usize = 1 << 20;
const OPS_PER_ITER: u64 = 10_000;
/// An op's top bit: a set rather than a get.
const SET: u32 = 1 << 31;

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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Workload {
    Zipf99,
    Hits,
    Get,
    Set,
    Evict,
}

const WORKLOADS: [(Workload, &str); 5] = [
    (Workload::Zipf99, "zipf99"),
    (Workload::Hits, "hits"),
    (Workload::Get, "get"),
    (Workload::Set, "set"),
    (Workload::Evict, "evict"),
];

impl Workload {
    /// Items the caches hold.
    fn capacity(self) -> u64 {
        match self {
            Workload::Zipf99 | Workload::Evict => HELD,
            Workload::Hits | Workload::Get | Workload::Set => FIT_ROOM,
        }
    }

    /// Thread `t`'s stream of ops (key index, `SET` bit); empty for
    /// `evict`, whose keys are a counter.
    fn stream(self, t: usize) -> Vec<u32> {
        let mut rng = hotset::rng::SplitMix64::with_stream(1, t as u64 + 1);
        match self {
            Workload::Zipf99 => {
                let z = ScrambledZipf::new(KEYS, 0.99);
                (0..ZIPF_STREAM)
                    .map(|_| {
                        let k = z.sample(rng.unit()) as u32;
                        if rng.below(10) == 0 {
                            k | SET
                        } else {
                            k
                        }
                    })
                    .collect()
            }
            Workload::Hits | Workload::Get | Workload::Set => (0..STREAM)
                .map(|_| {
                    let k = rng.below(FIT_KEYS) as u32;
                    let set = match self {
                        Workload::Hits => rng.below(10) == 0,
                        _ => self == Workload::Set,
                    };
                    if set {
                        k | SET
                    } else {
                        k
                    }
                })
                .collect(),
            Workload::Evict => Vec::new(),
        }
    }
}

fn key(i: u64) -> Key {
    let mut k = [0u8; 16];
    k.copy_from_slice(format!("key:{i:012}").as_bytes());
    k
}

/// `evict`'s `i`th key of thread `t`: never one of `key`'s, never repeated.
#[inline]
fn fresh_key(t: usize, i: u64) -> Key {
    let mut k = [b'n'; 16];
    k[..8].copy_from_slice(&i.to_le_bytes());
    k[8] = t as u8;
    k
}

/// Long-lived worker threads, one per stream, as a server's or a rayon
/// pool's threads are: per-thread state (hotset's magazines, epoch handle and
/// eviction pools) is set up once, not once per sample.
struct Pool<'a> {
    start: Barrier,
    done: Barrier,
    /// Gets and their hits, summed over the workers' runs.
    gets: AtomicU64,
    hits: AtomicU64,
    ops: AtomicU64,
    engine: &'a dyn Engine,
    keys: &'a [Key],
    workload: Workload,
}

impl Pool<'_> {
    fn worker(&self, t: usize, stream: &[u32]) {
        let value = [b'v'; VALUE];
        let mut out = Vec::with_capacity(VALUE);
        let mut pos = 0usize;
        // Streams are a power of two long: wrap with a mask, not a division.
        debug_assert!(stream.is_empty() || stream.len().is_power_of_two());
        let mask = stream.len().wrapping_sub(1);
        loop {
            self.start.wait();
            let ops = self.ops.load(Ordering::Acquire);
            if ops == u64::MAX {
                return;
            }
            let (mut hits, mut gets) = (0u64, 0u64);
            if self.workload == Workload::Evict {
                for _ in 0..ops {
                    self.engine.set(&fresh_key(t, pos as u64), &value);
                    pos += 1;
                }
            } else {
                for _ in 0..ops {
                    let op = stream[pos & mask];
                    pos += 1;
                    let k = &self.keys[(op & !SET) as usize];
                    if op & SET != 0 {
                        self.engine.set(k, &value);
                    } else {
                        out.clear();
                        gets += 1;
                        if self.engine.get(k, &mut out) {
                            hits += 1;
                        } else if self.workload == Workload::Zipf99 {
                            self.engine.set(k, &value);
                        }
                    }
                }
            }
            self.hits.fetch_add(hits, Ordering::Relaxed);
            self.gets.fetch_add(gets, Ordering::Relaxed);
            self.done.wait();
        }
    }

    /// Runs `ops` operations on every worker; returns the wall time.
    fn run(&self, ops: u64) -> Duration {
        self.ops.store(ops, Ordering::Release);
        let t = Instant::now();
        self.start.wait();
        self.done.wait();
        t.elapsed()
    }

    fn stop(&self) {
        self.ops.store(u64::MAX, Ordering::Release);
        self.start.wait();
    }
}

/// A budget of `items` chunks of the bench's item class.
fn hotset_budget(items: u64) -> usize {
    let probe = hotset::Cache::new(hotset::Config {
        memory: 1 << 20,
        sweep_hz: 0,
        ..Default::default()
    })
    .unwrap();
    let chunk = probe.chunk_size_for(16, VALUE, 0).unwrap();
    (items as usize * chunk).next_multiple_of(1 << 20)
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

fn make(name: &str, items: u64) -> Box<dyn Engine> {
    let hotset = |policy: Option<hotset::Policy>| -> Box<dyn Engine> {
        Box::new(
            hotset::Cache::new(hotset::Config {
                memory: hotset_budget(items),
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
            items as usize,
        )),
        "moka" => Box::new(moka::sync::Cache::<Key, Arc<[u8]>>::new(items)),
        other => {
            let policy = other.strip_prefix("hotset-").expect("a hotset policy");
            hotset(Some(policy.parse().expect("a policy name")))
        }
    }
}

/// A comma-separated list from the environment, or `all`.
///
/// # Panics
/// On a name not in `all`, naming it and the choices.
fn pick<'a>(var: &str, all: &[&'a str]) -> Vec<&'a str> {
    let Ok(s) = std::env::var(var) else {
        return all.to_vec();
    };
    for x in s.split(',').map(str::trim) {
        assert!(
            all.contains(&x),
            "{var}: unknown name {x:?} (one of {all:?})"
        );
    }
    all.iter()
        .copied()
        .filter(|n| s.split(',').any(|x| x.trim() == *n))
        .collect()
}

fn bench(c: &mut Criterion) {
    let keys: Vec<Key> = (0..KEYS).map(key).collect();
    let threads: Vec<usize> = std::env::var("HOTSET_BENCH_THREADS")
        .ok()
        .map(|s| s.split(',').filter_map(|t| t.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2]);
    let names: Vec<&str> = WORKLOADS.iter().map(|w| w.1).collect();
    let workloads = pick("HOTSET_BENCH_WORKLOADS", &names);
    let engines = pick("HOTSET_BENCH_IMPLS", &ENGINES);
    for (workload, wname) in WORKLOADS {
        if !workloads.contains(&wname) {
            continue;
        }
        let mut g = c.benchmark_group(format!("engine/{wname}"));
        g.sample_size(10)
            .warm_up_time(Duration::from_secs(2))
            .measurement_time(Duration::from_secs(5));
        for &t in &threads {
            // Streams for every thread, generated in parallel.
            let st: Vec<Vec<u32>> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..t)
                    .map(|i| s.spawn(move || workload.stream(i)))
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            g.throughput(Throughput::Elements(OPS_PER_ITER * t as u64));
            for &name in &engines {
                let e = make(name, workload.capacity());
                let pool = Pool {
                    start: Barrier::new(t + 1),
                    done: Barrier::new(t + 1),
                    gets: AtomicU64::new(0),
                    hits: AtomicU64::new(0),
                    ops: AtomicU64::new(0),
                    engine: e.as_ref(),
                    keys: &keys,
                    workload,
                };
                // Fill before timing: the key set of the fitting workloads,
                // or the cache to steady state.
                if matches!(workload, Workload::Hits | Workload::Get | Workload::Set) {
                    let value = [b'v'; VALUE];
                    for k in &keys[..FIT_KEYS as usize] {
                        e.set(k, &value);
                    }
                }
                std::thread::scope(|s| {
                    for (i, stream) in st.iter().enumerate() {
                        let pool = &pool;
                        s.spawn(move || pool.worker(i, stream));
                    }
                    let warm = match workload {
                        Workload::Zipf99 => STREAM as u64,
                        Workload::Evict => 2 * HELD / t as u64,
                        _ => 0,
                    };
                    pool.run(warm);
                    pool.hits.store(0, Ordering::Relaxed);
                    pool.gets.store(0, Ordering::Relaxed);
                    g.bench_with_input(BenchmarkId::new(name, t), &t, |b, _| {
                        b.iter_custom(|iters| pool.run(iters * OPS_PER_ITER))
                    });
                    pool.stop();
                    // The hit ratio explains much of the throughput: every
                    // miss costs a set.
                    let (hits, gets) = (
                        pool.hits.load(Ordering::Relaxed),
                        pool.gets.load(Ordering::Relaxed),
                    );
                    if gets > 0 {
                        eprintln!(
                            "hit ratio engine/{wname}/{name}/{t}: {:.3}",
                            hits as f64 / gets as f64
                        );
                    }
                });
            }
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
