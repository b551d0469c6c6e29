//! Cache configuration.

use crate::clock::{Clock, CoarseClock};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The default slab growth factor above 256 bytes: memcached's. A finer
/// one (1.08 rounds a 1 KiB value up by 4% on average rather than 12%) makes
/// more classes than a small budget has pages: at 64 MiB, 133 classes left
/// a mix of 16 B to 70 KB values without pages for 4% of its stores.
pub const DEFAULT_GROWTH: f64 = 1.25;

/// How chunk sizes are chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum SlabClasses {
    /// 8-byte steps from 64 up to 256 bytes, then geometric growth by this
    /// factor up to the page size (memcached's `-f`).
    Growth(f64),
    /// An explicit list, e.g. the seed's `64,128,256,1024,4096`.
    List(Vec<usize>),
}

/// Everything a [`crate::Cache`] is built from. `Config::default()` is a
/// 64 MiB cache with memcached-like settings.
#[derive(Clone)]
pub struct Config {
    /// Item memory budget in bytes. Item memory never exceeds it.
    pub memory: usize,
    /// The largest budget [`crate::Cache::set_memory_limit`] may set later
    /// (address space is reserved for it, never committed). `None`: four
    /// times `memory`, less if the chunk ids of a queue policy would not
    /// fit 32 bits.
    pub memory_max: Option<usize>,
    /// Slab page size (default 1 MiB).
    pub page_size: usize,
    /// Size classes (default: 8-byte steps up to 256 bytes, then a growth
    /// factor of 1.25; see `slab::classes`).
    pub classes: SlabClasses,
    /// Largest item (header + key + value) accepted, default 1 MiB. Capped by
    /// the largest class.
    pub max_item_size: usize,
    /// The smallest chunk of [`SlabClasses::Growth`] classes, rounded up
    /// to 8 bytes (memcached's `-n` is this less the item header); `None`:
    /// 64. The factor's chain starts from it.
    pub smallest_chunk: Option<usize>,
    /// Whether a full class evicts live items to make room (memcached's
    /// `-M` turns it off). Without evictions a store into a full class
    /// reclaims only expired or flushed items, takes no page from another
    /// class, and otherwise fails with out of memory.
    pub evictions: bool,
    /// Eviction policy.
    pub policy: Policy,
    /// Chunks sampled per eviction round (K, default 5).
    pub samples: usize,
    /// Eviction-pool size per thread and class (default 16; 0 disables it).
    pub evict_pool: usize,
    /// Sweeper ticks per second; 0 disables the sweeper thread.
    pub sweep_hz: u32,
    /// Time the sweeper may spend per tick.
    pub sweep_budget: Duration,
    /// Index slots at start; `None`: one per KiB of the budget. The index
    /// grows with its items from there.
    pub index_slots: Option<usize>,
    /// The most index slots growth may reach (never fewer than at start);
    /// `None`: two per chunk of the smallest class in the largest budget.
    /// At the cap, a new key whose candidate buckets are full evicts one of
    /// their items.
    pub index_max_slots: Option<usize>,
    /// The clock. `None` starts a [`CoarseClock`].
    pub clock: Option<Arc<dyn Clock>>,
    /// The reclamation backend.
    pub reclaim: ReclaimKind,
    /// Keep the slab's pages in this file (memcached's `-e`; put it on
    /// tmpfs), so that [`crate::Cache::save_warm`] lets the next start with
    /// the same settings serve the same items. `None`: anonymous memory.
    pub memory_file: Option<std::path::PathBuf>,
    /// Seed for the key hasher and the samplers' random streams. `None`
    /// draws one at random for each cache, so that keys chosen to collide in
    /// one process's buckets do not collide in another's. `Some` makes every
    /// random choice of the cache replay exactly: simulations and model
    /// checks set it.
    pub seed: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            memory: 64 << 20,
            memory_max: None,
            page_size: DEFAULT_PAGE_SIZE,
            classes: SlabClasses::Growth(DEFAULT_GROWTH),
            max_item_size: DEFAULT_PAGE_SIZE,
            smallest_chunk: None,
            evictions: true,
            policy: Policy::Lru,
            samples: 5,
            evict_pool: 16,
            sweep_hz: 10,
            sweep_budget: Duration::from_millis(1),
            index_slots: None,
            index_max_slots: None,
            clock: None,
            reclaim: ReclaimKind::default(),
            memory_file: None,
            seed: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("memory", &self.memory)
            .field("memory_max", &self.memory_max)
            .field("page_size", &self.page_size)
            .field("classes", &self.classes)
            .field("max_item_size", &self.max_item_size)
            .field("smallest_chunk", &self.smallest_chunk)
            .field("evictions", &self.evictions)
            .field("policy", &self.policy)
            .field("samples", &self.samples)
            .field("evict_pool", &self.evict_pool)
            .field("sweep_hz", &self.sweep_hz)
            .field("sweep_budget", &self.sweep_budget)
            .field("index_slots", &self.index_slots)
            .field("index_max_slots", &self.index_max_slots)
            .field("clock", &self.clock)
            .field("reclaim", &self.reclaim)
            .field("memory_file", &self.memory_file)
            .field("seed", &self.seed)
            .finish()
    }
}

/// A configuration that cannot be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// The page size for a largest item of `max_item_size` bytes: the
    /// default 1 MiB, or the next power of two that holds the item (a page
    /// holds at least one chunk of the largest class).
    pub fn page_size_for(max_item_size: usize) -> usize {
        DEFAULT_PAGE_SIZE.max(
            max_item_size
                .checked_next_power_of_two()
                .unwrap_or(usize::MAX),
        )
    }

    /// A config with this memory budget and defaults otherwise.
    pub fn with_memory(memory: usize) -> Config {
        Config {
            memory,
            ..Config::default()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.samples == 0 || self.samples > 64 {
            return Err(ConfigError(format!(
                "samples must be 1..=64, got {}",
                self.samples
            )));
        }
        if self.evict_pool > 1024 {
            return Err(ConfigError(format!(
                "evict_pool must be at most 1024, got {}",
                self.evict_pool
            )));
        }
        if self.max_item_size > self.page_size {
            return Err(ConfigError(format!(
                "max_item_size {} exceeds the page size {}",
                self.max_item_size, self.page_size
            )));
        }
        if self.memory_max.is_some_and(|m| m < self.memory) {
            return Err(ConfigError(format!(
                "memory_max {} is below the budget {}",
                self.memory_max.unwrap_or(0),
                self.memory
            )));
        }
        if self.sweep_hz > 1000 {
            return Err(ConfigError(format!(
                "sweep_hz must be at most 1000, got {}",
                self.sweep_hz
            )));
        }
        Ok(())
    }

    /// The address space to reserve: `memory_max`, or by default four
    /// times the budget, capped where a queue policy's 32-bit chunk ids
    /// (one per smallest chunk) would run out, and never below the budget.
    pub(crate) fn ceiling(&self, smallest_chunk: usize) -> usize {
        self.memory_max.unwrap_or_else(|| {
            let ids = if self.policy.is_queue() {
                (u32::MAX as usize).saturating_mul(smallest_chunk)
            } else {
                usize::MAX
            };
            self.memory.saturating_mul(4).min(ids).max(self.memory)
        })
    }

    pub(crate) fn clock(&self) -> Arc<dyn Clock> {
        self.clock
            .clone()
            .unwrap_or_else(|| Arc::new(CoarseClock::new()))
    }
}

/// The default slab page size, and so the default largest item: 1 MiB.
pub const DEFAULT_PAGE_SIZE: usize = 1 << 20;

/// Which epoch-based reclamation scheme protects readers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReclaimKind {
    /// crossbeam-epoch. Loom-checked.
    Crossbeam,
    /// seize (Hyaline).
    #[default]
    Seize,
}

impl ReclaimKind {
    /// The name used in configuration and reports.
    pub fn name(self) -> &'static str {
        match self {
            ReclaimKind::Crossbeam => "crossbeam",
            ReclaimKind::Seize => "seize",
        }
    }
}

impl std::str::FromStr for ReclaimKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "crossbeam" | "crossbeam-epoch" | "epoch" => Ok(ReclaimKind::Crossbeam),
            "seize" | "hyaline" => Ok(ReclaimKind::Seize),
            _ => Err(format!(
                "unknown reclamation backend {s:?} (crossbeam, seize)"
            )),
        }
    }
}

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

/// Parses a size as the command line and workload specs write it:
/// `64MiB`, `64m`, `512k`, `1g`, `1048576`. Units are powers of 1024; a
/// bad number, an unknown unit or an overflow is an error that says so.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (try 64MiB, 512k, 1g)"))?;
    let mul: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {s:?} (use k, m, g, KiB, MiB, GiB)"
            ))
        }
    };
    n.checked_mul(mul)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert!(parse_size("12x").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999999999999g").is_err());
    }
}
