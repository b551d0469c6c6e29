//! Exact-simulator speed, `simulate/zipf99/<policy>`, in requests per second:
//! a 1,000,000-request YCSB Zipf(0.99) trace over 1,000,000 keys (scrambled),
//! objects mode, cache = 10% of the distinct objects. libCacheSim's figures on
//! such a trace, one core of this machine: LRU 11.0, FIFO 12.5, CLOCK 11.4,
//! SIEVE 13.5, S3-FIFO 5.9, Bélády 6.3 Mreq/s. `mrc/zipf99/*`: the whole
//! LRU miss-ratio curve of the same trace in one pass (exact, both units,
//! and SHARDS at 1%).
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hotset::policy::{simulate, Exact, Req, Unit};
use hotset::workload::ScrambledZipf;
use std::collections::HashMap;
use std::time::Duration;

fn zipf_trace(n: usize) -> Vec<Req> {
    let z = ScrambledZipf::new(1_000_000, 0.99);
    let mut rng = hotset::rng::SplitMix64::new(0x2545_F491_4F6C_DD1D);
    let mut t: Vec<Req> = (0..n)
        .map(|_| Req {
            id: z.sample(rng.unit()),
            size: 100,
            next: -1,
        })
        .collect();
    let mut last: HashMap<u64, usize> = HashMap::new();
    for i in 0..t.len() {
        if let Some(j) = last.insert(t[i].id, i) {
            t[j].next = i as i64 + 1;
        }
    }
    t
}

fn bench(c: &mut Criterion) {
    let trace = zipf_trace(1_000_000);
    let distinct = trace
        .iter()
        .map(|r| r.id)
        .collect::<std::collections::HashSet<_>>()
        .len() as u64;
    let cap = distinct / 10;
    let mut g = c.benchmark_group("simulate/zipf99");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(trace.len() as u64));
    for p in Exact::ALL {
        g.bench_function(p.name(), |b| {
            b.iter(|| simulate(p, cap, Unit::Objects, &trace))
        });
    }
    g.finish();
    // The whole LRU curve in one pass, against one size simulated above.
    let mut g = c.benchmark_group("mrc/zipf99");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(trace.len() as u64));
    g.bench_function("exact-lru-objects", |b| {
        b.iter(|| hotset::mrc::exact_lru(&trace, Unit::Objects))
    });
    g.bench_function("exact-lru-bytes", |b| {
        b.iter(|| hotset::mrc::exact_lru(&trace, Unit::Bytes))
    });
    g.bench_function("shards-0.01", |b| {
        b.iter(|| hotset::mrc::shards(&trace, Unit::Objects, hotset::mrc::Sampling::Rate(0.01), 0))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
