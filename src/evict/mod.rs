//! Eviction: the policies, and what a store does when its class is full.
//!
//! - `sample`: the sampled policies (Redis's way): a priority function over
//!   the header, K samples per round and a per-thread eviction pool;
//! - `queue`: the queue-based policies (S3-FIFO, SIEVE, CLOCK): per-class
//!   FIFO queues of chunk ids, where a hit only sets a bit or bumps a
//!   counter in the header;
//!
//! The engine's allocation loop (`engine/alloc.rs`) asks them for victims
//! and unlinks them.

mod fifo;
mod ghost;
pub(crate) mod queue;
pub(crate) mod sample;

pub use crate::config::Policy;

// The loom models of the queues' FIFO and ghost.
#[cfg(all(test, hotset_loom))]
mod loom_queue;
