//! Size classes: the chunk sizes a slab page can be carved into.

use std::fmt;

/// The smallest chunk: room for the 20-byte header, a short key and value.
pub const MIN_CHUNK: usize = 64;
/// Chunk sizes are multiples of this, so headers stay 8-aligned.
pub const CHUNK_ALIGN: usize = 8;
/// At most this many classes (class ids are one byte).
pub const MAX_CLASSES: usize = 200;
/// Up to this chunk size, geometric classes step by [`CHUNK_ALIGN`] (8
/// bytes) rather than by the factor. Small items are where a cache's items
/// are dense (a 16-byte key and a 100-byte value take 136 bytes), and
/// where a factor's rounding costs the most per byte stored: at 1.25 a
/// 136-byte item would take a 160-byte chunk. 25 classes cover 64..=256,
/// where memcached's factor makes 7; at 1.25 that is 62 classes up to 1 MiB
/// rather than 44, few enough for a small budget's pages to go round.
pub const FINE_UP_TO: usize = 256;

/// An error in the slab's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassError(pub String);

impl fmt::Display for ClassError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ClassError {}

/// The ordered list of chunk sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classes {
    sizes: Vec<usize>,
}

impl Classes {
    /// Sizes from `smallest` (at least [`MIN_CHUNK`], rounded up to
    /// [`CHUNK_ALIGN`]) up to `largest` (which is always the last class):
    /// every multiple of [`CHUNK_ALIGN`] up to [`FINE_UP_TO`], then those of
    /// a chain growing by `factor` from `smallest`, each rounded up to
    /// [`CHUNK_ALIGN`] (from 64 at 1.25: 312, 384, 480, 600, …).
    pub fn geometric(factor: f64, smallest: usize, largest: usize) -> Result<Classes, ClassError> {
        if !(factor.is_finite() && factor > 1.0 && factor <= 16.0) {
            return Err(ClassError(format!(
                "slab growth factor must be in (1, 16], got {factor}"
            )));
        }
        if largest < smallest.max(MIN_CHUNK) {
            return Err(ClassError(format!(
                "largest class {largest} is below the smallest, {}",
                smallest.max(MIN_CHUNK)
            )));
        }
        let smallest = smallest.max(MIN_CHUNK).next_multiple_of(CHUNK_ALIGN);
        let mut sizes: Vec<usize> = (smallest..=FINE_UP_TO.min(largest - 1))
            .step_by(CHUNK_ALIGN)
            .collect();
        // The factor's classes are the ones it makes from the smallest (as
        // memcached's do), those above the fine ones.
        let mut s = smallest as f64;
        while (s as usize) < largest {
            let size = (s as usize).next_multiple_of(CHUNK_ALIGN);
            if size >= largest {
                break;
            }
            if size > FINE_UP_TO && sizes.last() != Some(&size) {
                sizes.push(size);
            }
            s *= factor;
        }
        sizes.push(largest / CHUNK_ALIGN * CHUNK_ALIGN);
        Self::check(sizes)
    }

    /// An explicit, strictly increasing list of sizes, each a multiple of
    /// [`CHUNK_ALIGN`] and at least [`MIN_CHUNK`]. The seed's list is
    /// `64,128,256,1024,4096`.
    pub fn explicit(sizes: &[usize]) -> Result<Classes, ClassError> {
        Self::check(sizes.to_vec())
    }

    fn check(sizes: Vec<usize>) -> Result<Classes, ClassError> {
        if sizes.is_empty() {
            return Err(ClassError("no slab classes".into()));
        }
        if sizes.len() > MAX_CLASSES {
            return Err(ClassError(format!(
                "{} slab classes, at most {MAX_CLASSES}",
                sizes.len()
            )));
        }
        for w in sizes.windows(2) {
            if w[0] >= w[1] {
                return Err(ClassError(format!(
                    "slab classes must increase: {} then {}",
                    w[0], w[1]
                )));
            }
        }
        for &s in &sizes {
            if s < MIN_CHUNK || s % CHUNK_ALIGN != 0 {
                return Err(ClassError(format!(
                    "slab class {s} must be at least {MIN_CHUNK} and a multiple of {CHUNK_ALIGN}"
                )));
            }
        }
        Ok(Classes { sizes })
    }

    /// The chunk sizes, smallest first.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// The smallest class that fits `bytes`, or `None` if none does.
    #[inline]
    pub fn class_for(&self, bytes: usize) -> Option<u8> {
        let i = self.sizes.partition_point(|&s| s < bytes);
        (i < self.sizes.len()).then_some(i as u8)
    }

    /// The largest chunk size.
    pub fn largest(&self) -> usize {
        self.sizes[self.sizes.len() - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometric_default() {
        for f in [1.25, crate::config::DEFAULT_GROWTH] {
            let c = Classes::geometric(f, MIN_CHUNK, 1 << 20).unwrap();
            let s = c.sizes();
            // Every multiple of 8 up to 256: a 136-byte item fits exactly.
            assert_eq!(&s[..25], &(64..=256).step_by(8).collect::<Vec<_>>()[..]);
            assert_eq!(c.class_for(136).map(|i| s[i as usize]), Some(136));
            assert_eq!(*s.last().unwrap(), 1 << 20);
            assert!(s
                .windows(2)
                .all(|w| w[0] < w[1] && w[1] as f64 <= w[0] as f64 * f + 8.0));
            assert!(s[25] > 256 && s[25] as f64 <= 256.0 * f + 8.0);
            assert!(s.iter().all(|x| x % 8 == 0));
            assert!(s.len() <= MAX_CLASSES, "{f}: {} classes", s.len());
        }
    }

    #[test]
    fn geometric_from_a_larger_smallest() {
        let c = Classes::geometric(2.0, 100, 1 << 20).unwrap();
        let s = c.sizes();
        assert_eq!(&s[..3], &[104, 112, 120]);
        // The chain doubles from 104: 208 is fine-stepped, then 416, 832….
        assert_eq!(s[s.iter().position(|&x| x > 256).unwrap()], 416);
        assert!(Classes::geometric(2.0, 2 << 20, 1 << 20).is_err());
        assert_eq!(Classes::geometric(2.0, 0, 1 << 20).unwrap().sizes()[0], 64);
    }

    #[test]
    fn seed_list_and_lookup() {
        let c = Classes::explicit(&[64, 128, 256, 1024, 4096]).unwrap();
        assert_eq!(c.class_for(1), Some(0));
        assert_eq!(c.class_for(64), Some(0));
        assert_eq!(c.class_for(65), Some(1));
        assert_eq!(c.class_for(4096), Some(4));
        assert_eq!(c.class_for(4097), None);
    }

    #[test]
    fn bad_lists() {
        assert!(Classes::explicit(&[]).is_err());
        assert!(Classes::explicit(&[128, 64]).is_err());
        assert!(Classes::explicit(&[60]).is_err());
        assert!(Classes::explicit(&[72, 100]).is_err());
        assert!(Classes::geometric(1.0, MIN_CHUNK, 1 << 20).is_err());
        assert!(Classes::geometric(f64::NAN, MIN_CHUNK, 1 << 20).is_err());
    }
}
