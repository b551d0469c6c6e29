//! Simulation-driven tests for hotset.
//!
//! This crate is a catalogue of models; each lives in `tests/` and states the
//! property it checks. `sim/README.md` lists them, says how to run one model
//! and how to replay a failure, and tables the planted bugs each must catch.
//!
//! - `tests/loom_ttl.rs`: loom, exhaustive within a preemption bound, the
//!   whole cache (the component models live in the crate, beside the code
//!   they check: `src/raw/*/loom*.rs`, `src/evict/loom.rs`).
//! - `tests/shuttle_engine.rs`: the whole engine under shuttle's random and
//!   PCT schedulers, histories checked by [`lin`].
//! - `tests/dst.rs`: the deterministic simulation ([`dst`]) against a
//!   reference model, single- and multi-client.
//! - `tests/history.rs`: recorded histories on real threads.
//! - [`client`]: the recorded random client; [`lin`]: the Wing & Gong
//!   linearizability checker; [`fixture`]: small caches.

pub mod client;
pub mod dst;
pub mod lin;

/// Runs a loom model of a whole cache with preemption bound 1, or
/// `LOOM_MAX_PREEMPTIONS` if set. A store on a full cache takes thousands of
/// steps (eviction rounds, reclamation flushes), and bound 2 runs for hours;
/// bound 1 still explores every schedule with one preemption at any step,
/// which is what a lost race between two operations needs.
#[cfg(hotset_loom)]
pub fn run_engine_model(f: impl Fn() + Sync + Send + 'static) {
    run_model_bounded(1, f)
}

#[cfg(hotset_loom)]
fn run_model_bounded(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        b.preemption_bound = Some(bound);
    }
    if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
        // Whole-cache models take thousands of steps per execution (every
        // pin, flush and lock is one); the preemption bound, not this, keeps
        // the number of executions small.
        b.max_branches = 100_000;
    }
    b.check(f);
}

/// Helpers for the whole-cache models.
pub mod fixture {
    use std::sync::Arc;

    /// A whole cache of one 1-byte-key class with room for exactly `chunks`
    /// items, on a manual clock, with no sweeper thread, a fixed seed and
    /// the crossbeam backend (the one loom can check).
    pub fn tiny_cache(chunks: usize, clock: &hotset::ManualClock) -> hotset::Cache {
        let page = 64 * chunks;
        hotset::Cache::new(hotset::Config {
            memory: page,
            page_size: page,
            classes: hotset::SlabClasses::List(vec![64]),
            max_item_size: 64,
            sweep_hz: 0,
            clock: Some(Arc::new(clock.clone())),
            reclaim: hotset::ReclaimKind::Crossbeam,
            seed: Some(7),
            ..hotset::Config::default()
        })
        .expect("tiny cache")
    }

    /// The cache's value for `key`, if any.
    pub fn value(c: &hotset::Cache, key: &[u8]) -> Option<Vec<u8>> {
        let mut v = Vec::new();
        c.get(key, &mut v).map(|_| v)
    }
}
