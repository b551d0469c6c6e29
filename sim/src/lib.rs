//! Simulation-driven tests for hotset.
//!
//! This crate is a catalogue of models; each lives in `tests/` and states the
//! property it checks. `sim/README.md` lists them, says how to run one model
//! and how to replay a failure, and tables the planted bugs each must catch.
//!
//! - `tests/loom_{index,reclaim,slab,evict,ttl}.rs`: loom, exhaustive within
//!   a preemption bound, one file per component.
//! - `tests/shuttle_engine.rs`: the whole engine under shuttle's random and
//!   PCT schedulers, histories checked by [`lin`].
//! - `tests/dst.rs`: the deterministic simulation ([`dst`]) against a
//!   reference model, single- and multi-client.
//! - `tests/history.rs`: recorded histories on real threads.
//! - [`client`]: the recorded random client; [`lin`]: the Wing & Gong
//!   linearizability checker; [`fixture`]: small slabs, items and caches.

pub mod client;
pub mod dst;
pub mod lin;

/// Runs a loom model of a component (a few dozen atomic steps per thread)
/// with preemption bound 2, or `LOOM_MAX_PREEMPTIONS` if set.
#[cfg(hotset_loom)]
pub fn run_model(f: impl Fn() + Sync + Send + 'static) {
    run_model_bounded(2, f)
}

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

/// Helpers to build items in a slab for the models.
pub mod fixture {
    use hotset::internals::{
        Chunk, Classes, Found, Guard, Index, Insert, Item, Magazine, NewItem, Retired, Slab,
    };
    use hotset::ReclaimKind;
    use std::sync::Arc;

    /// A slab of one page of `chunks` 64-byte chunks.
    pub fn slab(chunks: usize) -> Arc<Slab> {
        let page = 64 * chunks;
        Arc::new(
            Slab::new(
                page,
                page,
                page,
                Classes::explicit(&[64]).expect("one class"),
            )
            .expect("slab"),
        )
    }

    /// Writes a LIVE item with a one-byte key and value into a chunk the
    /// caller owns (fresh from [`Slab::alloc`]).
    pub fn item(c: Chunk, key: u8, value: u8, cas: u64) -> Item {
        // SAFETY: the caller owns the chunk (its contract above); 64 bytes
        // hold a 20-byte header, a 1-byte key and a 1-byte value.
        let it = unsafe {
            Item::write(
                c.ptr(),
                64,
                &NewItem {
                    key: &[key],
                    value: &[value],
                    flags: 0,
                    exptime: 0,
                    cas,
                    atime: 0,
                    freq: 0,
                    qbits: 0,
                    gen: 0,
                },
            )
        };
        it.mark_live();
        it.item()
    }

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

    /// What [`setup`] builds.
    pub type Parts = (Arc<Slab>, Arc<Index>, Vec<Item>, Magazine);

    /// A slab of `chunks` chunks, a one-bucket index on crossbeam, and
    /// `items` (key, value) items written into the first chunks; also
    /// returns the magazine holding the remaining chunks.
    pub fn setup(chunks: usize, items: &[(u8, u8)]) -> Parts {
        setup_buckets(1, chunks, items)
    }

    /// [`setup`] with an index of `buckets` buckets. Every fixture key's
    /// home is bucket 0 ([`hash`]), so from 2 buckets on, bucket 1 is its
    /// first alternate.
    pub fn setup_buckets(buckets: usize, chunks: usize, items: &[(u8, u8)]) -> Parts {
        let s = slab(chunks);
        let index = Arc::new(index(buckets, buckets));
        let mut mag = Magazine::new();
        let its = items
            .iter()
            .enumerate()
            .map(|(i, &(k, v))| {
                item(
                    s.alloc(0, &mut mag).expect("room").into_chunk(),
                    k,
                    v,
                    i as u64 + 1,
                )
            })
            .collect();
        (s, index, its, mag)
    }

    /// An index of `buckets` buckets on crossbeam that grows to at most
    /// `max` buckets, hashing fixture keys with [`hash`].
    pub fn index(buckets: usize, max: usize) -> Index {
        Index::new(
            7 * buckets,
            7 * max,
            ReclaimKind::Crossbeam,
            Box::new(|k: &[u8]| hash(k.first().copied().unwrap_or(0))),
        )
    }

    /// Hash whose bucket is 0 and tag is `key`.
    pub fn hash(key: u8) -> u64 {
        (key as u64) << 49
    }

    /// The entry for the one-byte key `k`, looked up under `g`.
    pub fn find<'g>(index: &Index, k: u8, g: &'g Guard<'_>) -> Option<Found<'g>> {
        index.find(hash(k), &[k], g)
    }

    /// Inserts the fixture item `it` under the one-byte key `k`.
    pub fn insert<'g>(index: &Index, it: Item, k: u8, g: &'g Guard<'_>) -> Insert<'g> {
        // SAFETY: fixture items are complete and LIVE (`item`), in chunks
        // of the model's slab that the model owns and publishes once.
        unsafe { index.insert(hash(k), it, &[k], g) }
    }

    /// Upserts `it` (key 1) as `Cache::set` does: insert, or replace what is
    /// there. Returns the item it replaced, which it queued in `retired`.
    pub fn set(index: &Index, it: Item, retired: &mut Retired, g: &Guard<'_>) -> Option<Item> {
        loop {
            match insert(index, it, 1, g) {
                Insert::Inserted => return None,
                Insert::Exists(f) => {
                    // SAFETY: as in `insert`; same key.
                    if unsafe { index.replace(&f, it) } {
                        let old = f.item();
                        old.clear_live();
                        // SAFETY: our replace won, so the old chunk is ours.
                        unsafe { retired.push(Chunk::of(old.item())) };
                        return Some(old.item());
                    }
                }
                Insert::Full => unreachable!("one key cannot fill a bucket"),
            }
        }
    }
}
