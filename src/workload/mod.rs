//! Workloads: YCSB's Zipfian key choosers, and trace readers.

pub mod trace;
mod zipf;

pub use zipf::{fnv64, ScrambledZipf, Zipf};
