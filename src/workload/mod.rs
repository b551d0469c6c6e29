//! Workloads: specs, the generator, YCSB's Zipfian key choosers, and trace
//! readers.

mod error;
pub mod gen;
pub mod lcs;
pub mod spec;
pub mod text;
pub mod trace;
pub mod vscsi;
mod zipf;

pub use zipf::{fnv64, ScrambledZipf, Zipf};

/// The bytes of key `id` at `size` bytes: `key:<id>`, padded with dots (never
/// cut, and at most 250 bytes). Replays and the load generator share it.
pub fn key_bytes(id: u64, size: u8, buf: &mut Vec<u8>) {
    use std::io::Write as _;
    buf.clear();
    let _ = write!(buf, "key:{id}");
    buf.resize((size as usize).max(buf.len()).min(crate::MAX_KEY_LEN), b'.');
}
