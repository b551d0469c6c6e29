//! Zipfian key choosers, after Gray et al., "Quickly Generating
//! Billion-Record Synthetic Databases" (SIGMOD '94), as YCSB implements them.
//!
//! [`Zipf`] draws ranks in `[0, n)` with P(rank i) ∝ 1/(i+1)^θ, so rank 0 is
//! the hottest. [`ScrambledZipf`] spreads the hot ranks over the key space by
//! hashing them with FNV-64, as YCSB's `ScrambledZipfianGenerator` does: it
//! draws from a Zipfian over 10^10 items (θ = 0.99, with YCSB's precomputed
//! ζ) and maps each draw to `fnv64(draw) % n`.

/// A Zipfian distribution over `[0, n)`.
#[derive(Clone, Debug)]
pub struct Zipf {
    n: u64,
    theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
    half_pow_theta: f64,
}

fn zeta(n: u64, theta: f64) -> f64 {
    (1..=n).map(|i| 1.0 / (i as f64).powf(theta)).sum()
}

impl Zipf {
    /// A Zipfian over `n` items with skew `theta` (0 < θ < 1; YCSB uses 0.99).
    ///
    /// Computing ζ(n) costs `n` powers; for very large `n` use
    /// [`Zipf::with_zeta`].
    pub fn new(n: u64, theta: f64) -> Zipf {
        Self::with_zeta(n, theta, zeta(n, theta))
    }

    /// As [`Zipf::new`], with ζ(n, θ) given.
    pub fn with_zeta(n: u64, theta: f64, zetan: f64) -> Zipf {
        assert!(
            n >= 1 && theta > 0.0 && theta < 1.0,
            "Zipf needs n >= 1 and 0 < theta < 1"
        );
        let zeta2 = zeta(2.min(n), theta);
        let eta = (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta2 / zetan);
        Zipf {
            n,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta,
            half_pow_theta: 0.5f64.powf(theta),
        }
    }

    /// The rank for a uniform `u` in [0, 1).
    #[inline]
    pub fn sample(&self, u: f64) -> u64 {
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + self.half_pow_theta {
            return 1.min(self.n - 1);
        }
        let r = (self.n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        r.min(self.n - 1)
    }

    /// The skew θ.
    pub fn theta(&self) -> f64 {
        self.theta
    }
}

/// YCSB's FNV-64 of a u64's eight little-endian bytes, with the sign bit
/// cleared (YCSB takes `Math.abs` of the signed result).
#[inline]
pub fn fnv64(v: u64) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    let mut v = v;
    for _ in 0..8 {
        h ^= v & 0xff;
        h = h.wrapping_mul(1_099_511_628_211);
        v >>= 8;
    }
    (h as i64).unsigned_abs()
}

/// YCSB's scrambled Zipfian over `[0, n)`.
#[derive(Clone, Debug)]
pub struct ScrambledZipf {
    inner: Zipf,
    n: u64,
}

/// YCSB draws scrambled keys from a Zipfian over this many items…
const YCSB_ITEMS: u64 = 10_000_000_000;
/// …whose ζ at θ = 0.99 YCSB precomputes as this constant.
const YCSB_ZETAN_099: f64 = 26.469_028_201_783_02;

impl ScrambledZipf {
    /// Scrambled Zipfian over `n` keys. At θ = 0.99 it matches YCSB exactly;
    /// at other θ it draws from a Zipfian over `n` items before hashing.
    pub fn new(n: u64, theta: f64) -> ScrambledZipf {
        let inner = if (theta - 0.99).abs() < 1e-12 {
            Zipf::with_zeta(YCSB_ITEMS, theta, YCSB_ZETAN_099)
        } else {
            Zipf::new(n, theta)
        };
        ScrambledZipf { inner, n }
    }

    /// The key for a uniform `u` in [0, 1).
    #[inline]
    pub fn sample(&self, u: f64) -> u64 {
        fnv64(self.inner.sample(u)) % self.n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_is_skewed_and_in_range() {
        let z = Zipf::new(1000, 0.99);
        let mut counts = vec![0u32; 1000];
        let mut r = crate::rng::SplitMix64::new(1);
        for _ in 0..200_000 {
            counts[z.sample(r.unit()) as usize] += 1;
        }
        // P(rank 0) = 1/zeta(1000, .99) ≈ 0.133.
        let p0 = counts[0] as f64 / 200_000.0;
        assert!((p0 - 1.0 / zeta(1000, 0.99)).abs() < 0.01, "p0 = {p0}");
        assert!(counts[0] > counts[1] && counts[1] > counts[10] && counts[10] > counts[500]);
    }

    #[test]
    fn fnv_matches_ycsb() {
        // FNV-1a over the bytes of 0: offset basis xor 0, times prime, 8 times.
        let mut h: u64 = 0xCBF2_9CE4_8422_2325;
        for _ in 0..8 {
            h = h.wrapping_mul(1_099_511_628_211);
        }
        assert_eq!(fnv64(0), (h as i64).unsigned_abs());
        assert!(fnv64(u64::MAX) <= i64::MAX as u64);
    }

    #[test]
    fn scrambled_spreads_hot_keys() {
        let z = ScrambledZipf::new(1_000_000, 0.99);
        let hot: Vec<u64> = (0..4).map(|i| fnv64(i) % 1_000_000).collect();
        assert_eq!(z.sample(0.0), hot[0]);
        assert!(
            hot.windows(2).all(|w| w[0].abs_diff(w[1]) > 1000),
            "hot keys are spread: {hot:?}"
        );
    }
}
