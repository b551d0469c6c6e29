//! Workload generation. For now: YCSB's Zipfian key choosers.

mod zipf;

pub use zipf::{fnv64, ScrambledZipf, Zipf};
