//! S3-FIFO's ghost: a fixed table of key fingerprints with insertion stamps
//! (see `evict::queue`).

use crate::sync::{AtomicU32, AtomicU64, Ordering};

/// S3-FIFO: the ghost remembers this many evictions per 1000 chunks.
pub const GHOST_PERMILLE: usize = 900;

/// Fingerprint cells per ghost bucket (32 bytes).
const GHOST_WAYS: usize = 8;

/// S3-FIFO's ghost: fingerprints of keys recently evicted from a small
/// queue. See the module docs.
pub struct Ghost {
    cells: Box<[AtomicU32]>,
    /// Buckets − 1 (a power of two).
    mask: usize,
    /// Ghost insertions so far, advanced in per-thread steps of
    /// [`GHOST_TICK`].
    clock: AtomicU64,
    /// Stamps count insertions in units of 2^shift, so that 16 bits span
    /// twice the largest ghost.
    shift: u32,
}

/// Threads advance the ghost's clock this many insertions at a time.
const GHOST_TICK: u64 = 16;

impl Ghost {
    /// A ghost of about `cells` fingerprints (rounded to whole buckets of 8,
    /// a power of two of them), for a cache of at most `most` items.
    pub fn new(cells: usize, most: u64) -> Ghost {
        let buckets = (cells / GHOST_WAYS).max(1).next_power_of_two();
        let most = most * GHOST_PERMILLE as u64 / 1000;
        let bits = 64 - (2 * most.max(1)).leading_zeros();
        Ghost {
            cells: (0..buckets * GHOST_WAYS)
                .map(|_| AtomicU32::new(0))
                .collect(),
            mask: buckets - 1,
            clock: AtomicU64::new(0),
            shift: bits.saturating_sub(16),
        }
    }

    pub(crate) fn bucket(&self, hash: u64) -> &[AtomicU32] {
        let b = (hash.rotate_right(24) as usize) & self.mask;
        &self.cells[b * GHOST_WAYS..(b + 1) * GHOST_WAYS]
    }

    /// The hash's top 16 bits, never 0 (0 is an empty cell).
    fn fingerprint(hash: u64) -> u32 {
        ((hash >> 48) as u32).max(1) << 16
    }

    fn now(&self) -> u32 {
        ((self.clock.load(Ordering::Relaxed) >> self.shift) & 0xffff) as u32
    }

    /// How many stamp units `entries` insertions are.
    fn span(&self, entries: usize) -> u32 {
        ((entries as u64) >> self.shift).clamp(1, 0x8000) as u32
    }

    /// The age of a cell, in stamp units.
    fn age(now: u32, cell: u32) -> u32 {
        now.wrapping_sub(cell & 0xffff) & 0xffff
    }

    /// Remembers `hash`, replacing the bucket's oldest or an expired cell.
    /// `ticks` is the caller's count of insertions not yet added to the
    /// ghost's clock.
    pub fn insert(&self, hash: u64, ticks: &mut u64) {
        *ticks += 1;
        if *ticks >= GHOST_TICK {
            self.clock.fetch_add(*ticks, Ordering::Relaxed);
            *ticks = 0;
        }
        let now = self.now();
        let b = self.bucket(hash);
        let mut at = 0;
        let mut oldest = 0;
        for (i, c) in b.iter().enumerate() {
            let v = c.load(Ordering::Relaxed);
            let age = if v == 0 { u32::MAX } else { Self::age(now, v) };
            if age >= oldest {
                oldest = age;
                at = i;
            }
        }
        b[at].store(Self::fingerprint(hash) | now, Ordering::Relaxed);
    }

    /// Bytes of the table.
    pub(crate) fn bytes(&self) -> usize {
        self.cells.len() * 4
    }

    /// Whether `hash` was remembered within the last `entries` insertions;
    /// a hit forgets it, so that one eviction is remembered once.
    pub fn take(&self, hash: u64, entries: usize) -> bool {
        let (now, span, fp) = (self.now(), self.span(entries), Self::fingerprint(hash));
        for c in self.bucket(hash) {
            let v = c.load(Ordering::Relaxed);
            if v != 0 && v & 0xffff_0000 == fp && Self::age(now, v) < span {
                // PLANTED BUG (planted-ghost-double-hit): clear the cell with
                // a plain store after the check, so two racing lookups can
                // both consume one memory of an eviction.
                if cfg!(feature = "planted-ghost-double-hit") {
                    c.store(0, Ordering::Relaxed);
                    return true;
                }
                if c.compare_exchange(v, 0, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    return true;
                }
                // Taken or overwritten meanwhile: another cell may hold it.
            }
        }
        false
    }
}
