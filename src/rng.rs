//! SplitMix64 (Steele, Lea and Flood): the one small, fast, seedable
//! generator the crate uses where quality needs are modest and the stream
//! must replay exactly: per-thread seeds in the cache, the workload
//! generator, and the simulations and fuzzers built on the crate.

/// Golden-ratio increment of SplitMix64.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's finalizer: a bijection of 64 bits that mixes every input bit
/// into every output bit. Also the hash of spatial sampling (`mrc`), where
/// an object is in the sample when its hashed id falls below a threshold.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A SplitMix64 stream.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// The stream starting from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// Stream `stream` of a seed: independent streams for one seed (one per
    /// chunk of a trace, say). Each starts at a hashed point of the state's
    /// 2^64 cycle, so two streams would have to run for about 2^64 / (streams²)
    /// steps to overlap. (A start of `seed ^ c·GAMMA` would make stream c
    /// stream 0 shifted by about c steps.)
    pub fn with_stream(seed: u64, stream: u64) -> SplitMix64 {
        SplitMix64(mix64(
            seed ^ mix64(stream.wrapping_add(1).wrapping_mul(GAMMA)),
        ))
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        mix64(self.0)
    }

    /// Uniform in `[0, n)` (Lemire's multiply-shift; 0 when `n` is 0).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::SplitMix64;

    /// The streams of small seeds share no outputs: a stream that is
    /// another shifted (the trace generator's chunks, each a stream) would
    /// repeat its values.
    #[test]
    fn streams_do_not_overlap() {
        for seed in [0, 1, 3, 42] {
            let mut seen = std::collections::HashSet::new();
            for stream in 0..64 {
                let mut r = SplitMix64::with_stream(seed, stream);
                for _ in 0..4096 {
                    assert!(seen.insert(r.next_u64()), "seed {seed} stream {stream}");
                }
            }
        }
    }
}
