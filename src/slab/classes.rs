//! Size classes: the chunk sizes a slab page can be carved into.

use std::fmt;

/// The smallest chunk: room for the 24-byte header, a short key and value.
pub const MIN_CHUNK: usize = 64;
/// Chunk sizes are multiples of this, so headers stay 8-aligned.
pub const CHUNK_ALIGN: usize = 8;
/// At most this many classes (class ids are one byte).
pub const MAX_CLASSES: usize = 200;

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
    /// Sizes growing by `factor` from [`MIN_CHUNK`] up to `largest` (which is
    /// always the last class), each rounded up to [`CHUNK_ALIGN`].
    pub fn geometric(factor: f64, largest: usize) -> Result<Classes, ClassError> {
        if !(factor.is_finite() && factor > 1.0 && factor <= 16.0) {
            return Err(ClassError(format!(
                "slab growth factor must be in (1, 16], got {factor}"
            )));
        }
        if largest < MIN_CHUNK {
            return Err(ClassError(format!(
                "largest class {largest} is below the {MIN_CHUNK}-byte minimum"
            )));
        }
        let mut sizes = Vec::new();
        let mut s = MIN_CHUNK as f64;
        while (s as usize) < largest {
            let size = (s as usize).next_multiple_of(CHUNK_ALIGN);
            if size >= largest {
                break;
            }
            if sizes.last() != Some(&size) {
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
        let c = Classes::geometric(1.25, 1 << 20).unwrap();
        let s = c.sizes();
        assert_eq!(s[0], 64);
        assert_eq!(s[1], 80);
        assert_eq!(*s.last().unwrap(), 1 << 20);
        assert!(s
            .windows(2)
            .all(|w| w[0] < w[1] && w[1] as f64 <= w[0] as f64 * 1.25 + 8.0));
        assert!(s.iter().all(|x| x % 8 == 0));
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
        assert!(Classes::geometric(1.0, 1 << 20).is_err());
        assert!(Classes::geometric(f64::NAN, 1 << 20).is_err());
    }
}
