//! Deterministic simulation of the whole engine against the reference
//! model (`sim::dst`): seeded streams of every memcached operation, with
//! TTLs, clock steps and flush_all, run by one or three client threads in
//! the order the seed gives, with ample memory (exact answers) and tight
//! memory (the cache may forget, never invent).
//!
//! Each seed runs under one eviction policy, in turn: every sampled one and
//! every queue one (S3-FIFO, SIEVE, CLOCK).
//!
//! `SEED=<n>` runs one seed; `SEEDS=<n>` the first n (default 160, 20 per
//! policy); `POLICY=<name>` runs every seed under one policy; `OPS` the
//! stream length (default 300). A failure prints the setting (policy
//! included), the seed, the failing step, and the stream shrunk to the
//! fewest steps that still fail.
#![cfg(not(any(hotset_loom, feature = "shuttle")))]

use hotset::{Policy, ReclaimKind};
use sim::dst::{Mode, Sim};

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}"))
    })
}

fn simulate(mode: Mode, clients: usize) {
    let seeds: Vec<u64> = match env("SEED") {
        Some(s) => vec![s],
        None => (1..=env("SEEDS").unwrap_or(160)).collect(),
    };
    let ops = env("OPS").unwrap_or(300) as usize;
    let pinned: Option<Policy> = std::env::var("POLICY")
        .ok()
        .map(|p| p.parse().unwrap_or_else(|e| panic!("POLICY: {e}")));
    for seed in seeds {
        let policy = pinned.unwrap_or(Policy::ALL[seed as usize % Policy::ALL.len()]);
        for reclaim in [ReclaimKind::Crossbeam, ReclaimKind::Seize] {
            let sim = Sim {
                mode,
                clients,
                reclaim,
                policy,
            };
            if let Err(e) = sim.check_seed(seed, ops) {
                panic!("{e}\nreplay with SEED={seed}");
            }
        }
    }
}

#[test]
fn one_client_exact() {
    simulate(Mode::Exact, 1);
}

#[test]
fn three_clients_exact() {
    simulate(Mode::Exact, 3);
}

#[test]
fn one_client_forgetful() {
    simulate(Mode::Forgetful, 1);
}

#[test]
fn three_clients_forgetful() {
    simulate(Mode::Forgetful, 3);
}
