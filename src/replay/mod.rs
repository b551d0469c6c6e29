//! Live replay: a trace driven through the real engine from rayon worker
//! threads, with per-op latency in HDR histograms (per thread, then merged).
//!
//! Ops are handed out in blocks of [`BLOCK`] in trace order. Time is logical:
//! op `i` happens at `i / op_rate` seconds on a [`ManualClock`] that workers
//! push forward, so TTLs in the trace mean the same on any machine. With
//! `cache_aside`, a get miss is followed by a set of the key.

use crate::policy::{simulate_counting, Exact, Params, Req, Unit};
use crate::workload::spec::Spec;
use crate::workload::trace::{compute_next, Op, Record};
use crate::{Cache, Config, ManualClock, Policy};
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The most ops a replay generates from a spec (about 4.8 GB of records):
/// a replay holds its trace in memory, 24 bytes an op.
pub const MAX_REPLAY_OPS: u64 = 200_000_000;

/// The records of a workload spec, generated for a replay; refused past
/// [`MAX_REPLAY_OPS`].
pub fn records_from_spec(spec: &Spec) -> Result<Vec<Record>, String> {
    if spec.ops > MAX_REPLAY_OPS {
        return Err(format!(
            "{} ops; replay holds the trace in memory and takes at most {MAX_REPLAY_OPS}",
            spec.ops
        ));
    }
    Ok(crate::workload::gen::generate(spec))
}

/// The policies and budgets to replay: those given, else the spec's
/// `compare` table, else LRU at 64 MiB. A budget in the spec that is not a
/// size is an error naming it.
pub fn plan(
    spec: Option<&Spec>,
    policies: &[Policy],
    memory: &[usize],
) -> Result<(Vec<Policy>, Vec<usize>), String> {
    let policies = if !policies.is_empty() {
        policies.to_vec()
    } else {
        spec.map(|s| {
            s.compare
                .policies
                .iter()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<Policy>>()
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| vec![Policy::Lru])
    };
    let memory = if !memory.is_empty() {
        memory.to_vec()
    } else {
        let from_spec = spec.map_or(Ok(vec![]), |s| {
            s.compare
                .memory
                .iter()
                .map(|m| crate::parse_size(m))
                .collect::<Result<Vec<usize>, String>>()
        });
        match from_spec {
            Ok(v) if !v.is_empty() => v,
            Ok(_) => vec![64 << 20],
            Err(e) => return Err(format!("compare.memory: {e}")),
        }
    };
    Ok((policies, memory))
}

/// Ops a worker takes at a time.
pub const BLOCK: u64 = 1024;

/// What to replay against.
#[derive(Clone, Debug)]
pub struct ReplayConfig {
    /// Policies to run the live engine with.
    pub policies: Vec<Policy>,
    /// Memory budgets in bytes.
    pub memory: Vec<usize>,
    /// Worker threads.
    pub threads: usize,
    /// Samples per eviction (K).
    pub samples: usize,
    /// Eviction pool size (0: none).
    pub evict_pool: usize,
    /// Budget bytes per index slot; `None` for the engine's default.
    pub index_bytes_per_slot: Option<usize>,
    /// A get miss is followed by a set.
    pub cache_aside: bool,
    /// Ops per logical second.
    pub op_rate: u64,
    /// Also run the exact simulators (objects mode, C = the live cache's
    /// item count) for these policies.
    pub compare_exact: Vec<Exact>,
}

/// Latency of one op type, nanoseconds.
#[derive(Clone, Debug)]
pub struct Latency {
    /// Op name: get, set or delete.
    pub op: &'static str,
    /// The merged histogram.
    pub hist: Histogram<u64>,
}

/// One (policy, memory) run.
#[derive(Clone, Debug)]
pub struct LiveRow {
    /// Policy name.
    pub policy: String,
    /// Memory budget, bytes.
    pub memory: usize,
    /// Ops replayed (trace ops; cache-aside sets not included).
    pub requests: u64,
    /// Gets.
    pub gets: u64,
    /// Get misses.
    pub misses: u64,
    /// Value bytes of all gets.
    pub get_bytes: u64,
    /// Value bytes of missed gets.
    pub miss_bytes: u64,
    /// Wall-clock throughput, ops (including cache-aside sets) per second.
    pub ops_per_sec: f64,
    /// Items evicted.
    pub evictions: u64,
    /// Expired items reclaimed.
    pub expirations: u64,
    /// Items stored at the end.
    pub items: u64,
    /// Latency per op type.
    pub latency: Vec<Latency>,
}

/// An exact simulator's result beside a live row.
#[derive(Clone, Debug)]
pub struct ExactRow {
    /// Policy name.
    pub policy: String,
    /// Capacity, in `unit`.
    pub cache_size: u64,
    /// Always objects here.
    pub unit: Unit,
    /// The live run it mirrors (memory budget).
    pub memory: usize,
    /// Gets counted.
    pub gets: u64,
    /// Get misses.
    pub misses: u64,
    /// Bytes (key + value) of the gets counted.
    pub get_bytes: u64,
    /// Bytes of the missed gets.
    pub miss_bytes: u64,
}

/// Replays `trace` once per (policy, memory) and returns the live rows.
pub fn replay(
    trace: &[Record],
    cfg: &ReplayConfig,
    mut progress: impl FnMut(&str),
) -> Vec<LiveRow> {
    let max_value = trace.iter().map(|r| r.value_size).max().unwrap_or(1) as usize;
    let value = vec![b'v'; max_value];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads.max(1))
        .build()
        .expect("replay threads");
    let mut rows = Vec::new();
    for &policy in &cfg.policies {
        for &memory in &cfg.memory {
            progress(&format!("replay {policy} at {} MiB", memory >> 20));
            let clock = ManualClock::new();
            let cache = match Cache::new(Config {
                memory,
                policy,
                samples: cfg.samples,
                evict_pool: cfg.evict_pool,
                index_slots: cfg.index_bytes_per_slot.map(|b| memory / b.max(1)),
                sweep_hz: 0,
                clock: Some(Arc::new(clock.clone())),
                ..Config::default()
            }) {
                Ok(c) => c,
                Err(e) => {
                    progress(&format!("skipped {policy} at {memory} bytes: {e}"));
                    continue;
                }
            };
            let next = AtomicU64::new(0);
            let hists = Mutex::new([
                crate::latency::new_histogram(),
                crate::latency::new_histogram(),
                crate::latency::new_histogram(),
            ]);
            let totals = Mutex::new([0u64; 5]); // gets, misses, get_bytes, miss_bytes, ops
            let start = Instant::now();
            pool.broadcast(|_| {
                let mut h = [
                    crate::latency::new_histogram(),
                    crate::latency::new_histogram(),
                    crate::latency::new_histogram(),
                ];
                let mut t = [0u64; 5];
                let mut key = Vec::with_capacity(64);
                let mut out = Vec::with_capacity(max_value);
                loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    let lo = b * BLOCK;
                    if lo >= trace.len() as u64 {
                        break;
                    }
                    let hi = (lo + BLOCK).min(trace.len() as u64);
                    clock.advance_to_ms(lo * 1000 / cfg.op_rate.max(1));
                    for r in &trace[lo as usize..hi as usize] {
                        crate::workload::key_bytes(r.key, r.key_size, &mut key);
                        let v = &value[..r.value_size as usize];
                        t[4] += 1;
                        let t0 = Instant::now();
                        match r.op {
                            Op::Get => {
                                out.clear();
                                let hit = cache.get(&key, &mut out).is_some();
                                let _ = h[0].record(t0.elapsed().as_nanos() as u64);
                                t[0] += 1;
                                t[2] += r.value_size as u64;
                                if !hit {
                                    t[1] += 1;
                                    t[3] += r.value_size as u64;
                                    if cfg.cache_aside {
                                        let t1 = Instant::now();
                                        let _ = cache.set(&key, v, 0, r.ttl as i64);
                                        let _ = h[1].record(t1.elapsed().as_nanos() as u64);
                                        t[4] += 1;
                                    }
                                }
                            }
                            Op::Set => {
                                let _ = cache.set(&key, v, 0, r.ttl as i64);
                                let _ = h[1].record(t0.elapsed().as_nanos() as u64);
                            }
                            Op::Delete => {
                                cache.delete(&key);
                                let _ = h[2].record(t0.elapsed().as_nanos() as u64);
                            }
                        }
                    }
                }
                let mut all = hists.lock().unwrap_or_else(|e| e.into_inner());
                for (a, b) in all.iter_mut().zip(&h) {
                    let _ = a.add(b);
                }
                let mut tt = totals.lock().unwrap_or_else(|e| e.into_inner());
                for (a, b) in tt.iter_mut().zip(t) {
                    *a += b;
                }
                cache.release_thread();
            });
            let secs = start.elapsed().as_secs_f64();
            let s = cache.stats();
            let [g, se, d] = hists.into_inner().unwrap_or_else(|e| e.into_inner());
            let t = totals.into_inner().unwrap_or_else(|e| e.into_inner());
            rows.push(LiveRow {
                policy: policy.to_string(),
                memory,
                requests: trace.len() as u64,
                gets: t[0],
                misses: t[1],
                get_bytes: t[2],
                miss_bytes: t[3],
                ops_per_sec: t[4] as f64 / secs.max(1e-9),
                evictions: s.evictions,
                expirations: s.reclaimed,
                items: s.curr_items,
                latency: [("get", g), ("set", se), ("delete", d)]
                    .into_iter()
                    .filter(|(_, h)| !h.is_empty())
                    .map(|(op, hist)| Latency { op, hist })
                    .collect(),
            });
        }
    }
    rows
}

/// Whether the exact simulators can stand beside a live replay of `trace`.
///
/// They admit every object they miss and know no deletes, so they model the
/// live cache only when a get miss is followed by a set of the key
/// (`cache_aside`; the simulator's admission on the miss *is* that set) and
/// the trace deletes nothing. Otherwise the comparison would be wrong, and
/// this says why.
pub fn exact_comparable(trace: &[Record], cache_aside: bool) -> Result<(), String> {
    if !cache_aside {
        return Err(
            "the exact simulators admit every missed object, so they compare \
             with a live replay only under cache-aside (set `mix.cache_aside = true`)"
                .into(),
        );
    }
    if let Some(i) = trace.iter().position(|r| r.op == Op::Delete) {
        return Err(format!(
            "the exact simulators know no deletes, and op {i} of the trace is one"
        ));
    }
    Ok(())
}

/// Runs the exact simulators beside the live runs: objects mode, capacity =
/// the item count at the end of the live run of the same policy at that
/// memory (else of the live LRU run, else of the first run), counting get
/// misses only (sets update the cache as accesses). Refused, with the
/// reason, where [`exact_comparable`] says the comparison would be wrong.
/// `sampled-lru` samples and pools as the live engine was told to.
pub fn compare_exact(
    trace: &[Record],
    live: &[LiveRow],
    cfg: &ReplayConfig,
) -> Result<Vec<ExactRow>, String> {
    let policies = &cfg.compare_exact;
    if policies.is_empty() {
        return Ok(Vec::new());
    }
    exact_comparable(trace, cfg.cache_aside)?;
    let params = Params {
        samples: cfg.samples,
        pool: cfg.evict_pool,
        ..Params::default()
    };
    let mut reqs: Vec<Req> = trace
        .iter()
        .map(|r| Req {
            id: r.key,
            size: r.key_size as u64 + r.value_size as u64,
            next: -1,
        })
        .collect();
    compute_next(&mut reqs);
    // Capacity per memory budget: the live LRU run's item count (the
    // comparison that matters is sampled LRU against exact LRU), else the
    // first run's; a policy that also ran live uses its own run's count.
    let mut sizes: Vec<(usize, u64)> = Vec::new();
    for r in live {
        match sizes.iter_mut().find(|s| s.0 == r.memory) {
            Some(s) if r.policy == "lru" => s.1 = r.items,
            Some(_) => {}
            None => sizes.push((r.memory, r.items)),
        }
    }
    let mut out = Vec::new();
    for &p in policies {
        for &(memory, default_items) in &sizes {
            let items = live
                .iter()
                .find(|r| r.memory == memory && r.policy == p.name())
                .map_or(default_items, |r| r.items);
            if let Err(e) = p.check_capacity(items.max(1)) {
                eprintln!("hotset: no exact {p} row at {memory} bytes of memory: {e} objects");
                continue;
            }
            let c = simulate_counting(p, &params, items.max(1), Unit::Objects, &reqs, |i| {
                trace[i].op == Op::Get
            });
            out.push(ExactRow {
                policy: p.name().to_string(),
                cache_size: items.max(1),
                unit: Unit::Objects,
                memory,
                gets: c.requests,
                misses: c.misses,
                get_bytes: c.bytes,
                miss_bytes: c.miss_bytes,
            });
        }
    }
    Ok(out)
}
