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

use std::fmt;

/// An eviction policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Policy {
    /// Least recently used: badness is the time since the last access (ms).
    #[default]
    Lru,
    /// Least frequently used, with Redis's decaying logarithmic counter.
    Lfu,
    /// First in, first out: insertion order is CAS order.
    Fifo,
    /// Uniformly random among the sample.
    Random,
    /// Hyperbolic caching: evict the lowest accesses / age, age counted in
    /// insertions since the item was stored.
    Hyperbolic,
    /// S3-FIFO (Yang et al., SOSP '23): a small FIFO queue for new items, a
    /// main FIFO queue with reinsertion for items seen twice, and a ghost of
    /// recently evicted keys (queue-based, see `evict::queue`).
    S3Fifo,
    /// SIEVE (Zhang et al., NSDI '24): one FIFO queue and a hand that keeps
    /// visited items in place (queue-based).
    Sieve,
    /// CLOCK: one FIFO queue; a visited item is reinserted with its bit
    /// cleared (queue-based).
    Clock,
}

impl Policy {
    /// Every policy, in a stable order.
    pub const ALL: [Policy; 8] = [
        Policy::Lru,
        Policy::Lfu,
        Policy::Fifo,
        Policy::Random,
        Policy::Hyperbolic,
        Policy::S3Fifo,
        Policy::Sieve,
        Policy::Clock,
    ];

    /// Whether the policy evicts from per-class queues (S3-FIFO, SIEVE,
    /// CLOCK) rather than by sampling.
    pub fn is_queue(self) -> bool {
        matches!(self, Policy::S3Fifo | Policy::Sieve | Policy::Clock)
    }

    /// The policy's name in configuration and reports.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Lru => "lru",
            Policy::Lfu => "lfu",
            Policy::Fifo => "fifo",
            Policy::Random => "random",
            Policy::Hyperbolic => "hyperbolic",
            Policy::S3Fifo => "s3fifo",
            Policy::Sieve => "sieve",
            Policy::Clock => "clock",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Policy::ALL.iter().map(|p| p.name()).collect();
                format!("unknown policy {s:?} ({})", names.join(", "))
            })
    }
}
