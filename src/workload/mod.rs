//! Workloads: specs, the generator, YCSB's Zipfian key choosers, and trace
//! readers.

pub mod gen;
pub mod spec;
pub mod trace;
mod zipf;

pub use zipf::{fnv64, ScrambledZipf, Zipf};
