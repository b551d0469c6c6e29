//! Simulation-driven tests for hotset.
//!
//! This crate is a catalogue of models; each lives in `tests/` and states the
//! property it checks. See `sim/README.md` for how to run one model and how
//! to replay a failure.
//!
//! - `tests/loom_index.rs`: index insert/get/remove races, and readers never
//!   see a freed or reused chunk (loom, exhaustive).
//! - `tests/loom_slab.rs`: magazine ↔ depot exchange between two threads
//!   (loom, exhaustive).
//! - `tests/smoke.rs`: the catalogue builds and the engine answers.
//! - `lin`: a linearizability checker for per-key cache histories (Wing &
//!   Gong, compositional per key), tested on hand-made histories.

pub mod lin;

/// Runs a loom model with the preemption bound from `LOOM_MAX_PREEMPTIONS`
/// (default 2 here, so the CI stage stays bounded).
#[cfg(hotset_loom)]
pub fn run_model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        b.preemption_bound = Some(2);
    }
    b.check(f);
}

/// Helpers to build items in a slab for the models.
pub mod fixture {
    use hotset::item::{Item, NewItem};
    use hotset::slab::{Chunk, Classes, Slab};
    use std::sync::Arc;

    /// A slab of one page of `chunks` 64-byte chunks.
    pub fn slab(chunks: usize) -> Arc<Slab> {
        let page = 64 * chunks;
        Arc::new(Slab::new(page, page, Classes::explicit(&[64]).expect("one class")).expect("slab"))
    }

    /// Writes a LIVE item with a one-byte key and value into a chunk the
    /// caller owns.
    pub fn item(c: Chunk, key: u8, value: u8, cas: u64) -> Item {
        let it = unsafe {
            Item::write(
                c.0,
                &NewItem {
                    key: &[key],
                    value: &[&[value]],
                    flags: 0,
                    exptime: 0,
                    cas,
                    class: 0,
                    atime: 0,
                    freq: 0,
                },
            )
        };
        it.mark_live();
        it
    }

    /// Hash whose bucket is 0 and tag is `key`.
    pub fn hash(key: u8) -> u64 {
        (key as u64) << 48
    }
}
