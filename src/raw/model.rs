//! What the loom models of the raw core and `evict` share: a bounded loom
//! runner, and small slabs, items and indexes to race on. Built only for
//! those models (`--cfg hotset_loom`, `cargo test --lib`; see
//! `sim/README.md`).

/// Runs a loom model of a component (a few dozen atomic steps per thread)
/// with preemption bound 2, or `LOOM_MAX_PREEMPTIONS` if set.
pub(crate) fn run_model(f: impl Fn() + Sync + Send + 'static) {
    run_model_bounded(2, f)
}

/// [`run_model`] with preemption bound `bound` (unless
/// `LOOM_MAX_PREEMPTIONS` is set), for models whose threads take many
/// more steps.
pub(crate) fn run_model_bounded(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        b.preemption_bound = Some(bound);
    }
    if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
        b.max_branches = 100_000;
    }
    b.check(f);
}

use crate::config::ReclaimKind;
use crate::raw::index::{Found, Index, Insert};
use crate::raw::item::{Item, NewItem};
use crate::raw::reclaim::Guard;
use crate::raw::slab::{Chunk, Classes, Magazine, Retired, Slab};
use std::sync::Arc;

/// A slab of one page of `chunks` 64-byte chunks.
pub(crate) fn slab(chunks: usize) -> Arc<Slab> {
    let page = 64 * chunks;
    Arc::new(
        Slab::new_in(
            page,
            page,
            page,
            Classes::explicit(&[64]).expect("one class"),
            None,
        )
        .expect("slab"),
    )
}

/// Writes a LIVE item with a one-byte key and value into a chunk the
/// caller owns (fresh from [`Slab::alloc`]).
pub(crate) fn item(c: Chunk, key: u8, value: u8, cas: u64) -> Item {
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

/// What [`setup`] builds.
pub(crate) type Parts = (Arc<Slab>, Arc<Index>, Vec<Item>, Magazine);

/// A slab of `chunks` chunks, a one-bucket index on crossbeam, and
/// `items` (key, value) items written into the first chunks; also
/// returns the magazine holding the remaining chunks.
pub(crate) fn setup(chunks: usize, items: &[(u8, u8)]) -> Parts {
    setup_buckets(1, chunks, items)
}

/// [`setup`] with an index of `buckets` buckets. Every fixture key's
/// home is bucket 0 ([`hash`]), so from 2 buckets on, bucket 1 is its
/// first alternate.
pub(crate) fn setup_buckets(buckets: usize, chunks: usize, items: &[(u8, u8)]) -> Parts {
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
pub(crate) fn index(buckets: usize, max: usize) -> Index {
    Index::new(
        7 * buckets,
        7 * max,
        ReclaimKind::Crossbeam,
        Box::new(|k: &[u8]| hash(k.first().copied().unwrap_or(0))),
    )
}

/// Hash whose bucket is 0 and tag is `key`.
pub(crate) fn hash(key: u8) -> u64 {
    (key as u64) << 49
}

/// The entry for the one-byte key `k`, looked up under `g`.
pub(crate) fn find<'g>(index: &Index, k: u8, g: &'g Guard<'_>) -> Option<Found<'g>> {
    index.find(hash(k), &[k], g)
}

/// Inserts the fixture item `it` under the one-byte key `k`.
pub(crate) fn insert<'g>(index: &Index, it: Item, k: u8, g: &'g Guard<'_>) -> Insert<'g> {
    // SAFETY: fixture items are complete and LIVE (`item`), in chunks
    // of the model's slab that the model owns and publishes once.
    unsafe { index.insert(hash(k), it, &[k], g) }
}

/// Upserts `it` (key 1) as `Cache::set` does: insert, or replace what is
/// there. Returns the item it replaced, which it queued in `retired`.
pub(crate) fn set(index: &Index, it: Item, retired: &mut Retired, g: &Guard<'_>) -> Option<Item> {
    loop {
        match insert(index, it, 1, g) {
            Insert::Inserted => return None,
            Insert::Exists(f) => {
                // SAFETY: as in `insert`; same key.
                if unsafe { index.replace(&f, it, g) } {
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
