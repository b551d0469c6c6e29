//! The cost of one eviction, per policy: `cargo bench --bench evict`.
//!
//! A cache of one 160-byte class (16-byte keys, 100-byte values) with an
//! index roomy enough that no bucket overflows, so every eviction is the
//! policy's. It is filled past capacity, then takes `EVICT_OPS` sets of new
//! keys, each of which evicts one item (timed); then the same sets go into a
//! cache large enough to hold them all, whose memory they have touched
//! before and given back (timed, no eviction). The difference per set is the
//! eviction's cost in time.
//! `results/engine/evict-cost.sh` runs the same program under callgrind for
//! the instructions.
//!
//! Arguments (after `--`): policy names (default `lru s3fifo sieve clock`).
//! `EVICT_OPS` sets the count (default 1,000,000).
#![allow(missing_docs)]

use hotset::{Cache, Config, Policy, SlabClasses};
use std::time::Instant;

const HELD: usize = 100_000;

fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k.copy_from_slice(format!("key:{i:012}").as_bytes());
    k
}

fn cache(policy: Policy, items: usize) -> Cache {
    let page = 1 << 20;
    Cache::new(Config {
        memory: (items * 160).next_multiple_of(page),
        page_size: page,
        classes: SlabClasses::List(vec![160]),
        max_item_size: 160,
        sweep_hz: 0,
        policy,
        index_slots: Some(items * 8),
        seed: Some(1),
        ..Config::default()
    })
    .expect("bench cache")
}

/// Sets keys `from..from + n` with one value; returns ns per set.
fn sets(c: &Cache, keys: &[[u8; 16]]) -> f64 {
    let v = [b'v'; 100];
    let t = Instant::now();
    for k in keys {
        let _ = c.set(k, &v, 0, 0);
    }
    t.elapsed().as_nanos() as f64 / keys.len() as f64
}

fn main() {
    let ops: usize = std::env::var("EVICT_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut policies: Vec<Policy> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .map(|a| a.parse().unwrap_or_else(|e| panic!("{e}")))
        .collect();
    if policies.is_empty() {
        // By name, so that the program also builds against older engines.
        policies = ["lru", "s3fifo", "sieve", "clock"]
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect();
    }
    let fill: Vec<[u8; 16]> = (0..2 * HELD as u64).map(key).collect();
    let fresh: Vec<[u8; 16]> = (10_000_000..10_000_000 + ops as u64).map(key).collect();
    println!("| policy | ns per set, evicting | ns per set, not evicting | ns per eviction | evictions per set |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for policy in policies {
        let full = cache(policy, HELD);
        sets(&full, &fill);
        let before = full.stats().evictions;
        let evicting = sets(&full, &fresh);
        let evictions = full.stats().evictions - before;
        let roomy = cache(policy, (2 * HELD + ops) * 11 / 10);
        sets(&roomy, &fill);
        // Touch the memory the timed sets will use, and give it back, so
        // that they neither evict nor fault pages in.
        sets(&roomy, &fresh);
        for k in &fresh {
            roomy.delete(k);
        }
        roomy.quiesce();
        let plain = sets(&roomy, &fresh);
        let st = roomy.stats();
        assert!(
            st.evictions * 1000 <= ops as u64,
            "the large cache must not evict ({} evictions)",
            st.evictions
        );
        let per_set = evictions as f64 / ops as f64;
        println!(
            "| {policy} | {evicting:.0} | {plain:.0} | {:.0} | {per_set:.2} |",
            (evicting - plain) / per_set.max(1e-9)
        );
        // Every eviction the run made, fill included, for per-eviction
        // instruction counts.
        println!("# {policy} evictions {}", full.stats().evictions);
    }
}
