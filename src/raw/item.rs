//! Item layout inside a slab chunk.
//!
//! ```text
//! offset  size  field
//!      0     8  meta     AtomicU64: atime ms (32) | freq (8) | klen (8) |
//!                        bits (8: HAS_FLAGS, FETCHED, flush generation (2)) |
//!                        CAS unique, bits 32..40 (8)
//!      8     4  cas      AtomicU32: CAS unique, bits 0..32
//!     12     4  exptime  AtomicU32: seconds since the clock origin; 0 = never
//!     16     4  vlen     AtomicU32: LIVE (31) | QUEUED (30) | MAIN (29) | GONE (28) |
//!                        STALE (27) | TOKEN (26) | value length
//!     20  0|4   flags    client flags, present only when non-zero (bit HAS_FLAGS)
//!      …  klen  key
//!      …  vlen  value
//! ```
//!
//! The fixed header is [`HEADER_SIZE`] = 20 bytes; with the 8-byte index slot
//! that points at it, each item carries 28 bytes of fixed metadata. Two
//! things are not in it:
//! - **the slab class**: a live item's page says it (`Slab::class_of`),
//!   and a page changes class only a grace period after its last item left;
//! - **CAS bits above 40**: uniques are 40 bits ([`CAS_BITS`]), 10^12 of
//!   them before they repeat (12 days of a million stores a second), and a
//!   repeat matters only to a `cas` whose `gets` is that far behind.
//!
//! An item is immutable once published, except `meta`'s access time and
//! frequency (advisory, updated with plain relaxed stores, so a lost update
//! only costs precision) and `exptime` (touch). Everything in the header is an
//! atomic because eviction samplers and the sweeper read headers of chunks they
//! reach through the slab rather than through the index: such a chunk may be
//! free or being rewritten.
//!
//! ## The LIVE bit
//! A sampler must read a chunk's key to find its index slot, and a chunk it
//! found in the slab may be rewritten under it. The LIVE bit makes that safe:
//! - the writer sets LIVE (Release) after writing the item and *before* its
//!   first store into any index slot;
//! - the thread that wins the CAS that unlinks the item clears LIVE, and only
//!   then retires it; an item with LIVE set is never freed without retiring.
//!
//! So a pinned reader that loads LIVE (Acquire) as set knows the bytes are
//! complete and that the chunk's retirement, if any, comes after the load,
//! hence after its pin: the chunk cannot be reused before the reader unpins.
//!
//! These atomics are `core`'s even under loom: they live in raw slab memory.
//!
//! ## Who may read what
//! - An [`Item`] is a bare chunk address. Making one is `unsafe`
//!   ([`Item::from_ptr`]): the caller promises a chunk start of a slab that
//!   outlives the handle. Its header reads are then safe (atomics, valid for
//!   any bit pattern); its key and value are not reachable from it.
//! - A [`Held`] is an item whose bytes are complete and cannot be reused for
//!   as long as the reclamation guard it borrows lives. The index hands one
//!   out for every entry it finds under a guard; everywhere else, making one
//!   ([`Item::held`]) is `unsafe`. Only a `Held` gives the key and value,
//!   and they borrow from the guard.

use crate::raw::reclaim::Guard;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Size of the fixed item header in bytes.
pub const HEADER_SIZE: usize = 20;
/// CAS uniques are this many bits wide (they wrap, skipping 0).
pub const CAS_BITS: u32 = 40;
/// The largest CAS unique.
pub const CAS_MAX: u64 = (1 << CAS_BITS) - 1;
/// Whether CAS unique `a` was handed out before `b`, modulo the 40-bit
/// wrap: `b` is less than half the unique space ahead of `a`. A value above
/// [`CAS_MAX`] was never handed out, and is before nothing.
pub fn cas_before(a: u64, b: u64) -> bool {
    a <= CAS_MAX && a != b && (b.wrapping_sub(a) & CAS_MAX) < 1 << (CAS_BITS - 1)
}

// Where the header's words are, from the chunk start.
const CAS_AT: usize = 8;
const EXPTIME_AT: usize = 12;
const VLEN_AT: usize = 16;
/// Size of an index slot in bytes.
pub const SLOT_SIZE: usize = 8;
/// The longest key memcached accepts, and so do we.
pub const MAX_KEY_LEN: usize = 250;

const HAS_FLAGS: u64 = 1;
const FETCHED: u8 = 2;
/// Where the flush generation sits in `bits` (two bits: see `Held::flush_gen`).
const GEN_SHIFT: u8 = 2;
/// Flush generations wrap at this many.
pub const FLUSH_GENS: u8 = 4;
const LIVE: u32 = 1 << 31;
/// Queue policies: the item is counted in one of its class's queues
/// (`evict::queue`). Set after its publication by the thread that
/// published it (`Held::enqueue`).
pub const QUEUED: u32 = 1 << 30;
/// Queue policies: the item is in its class's main queue (S3-FIFO), not the
/// small one. Changed only with a CAS of the whole word (`Held::promote`).
pub const MAIN: u32 = 1 << 29;
/// Queue policies: the item was unlinked, and counted out of its queue if
/// it was QUEUED (`Held::take_queued`). QUEUED and GONE are set with one
/// atomic RMW each on this word, so of a publisher's enqueue and an
/// unlinker's take, exactly one sees the other: the item is counted in and
/// out, or neither.
pub const GONE: u32 = 1 << 28;
/// Meta protocol: the item is stale (`md … I`, or an `ms … I` whose CAS
/// was older): `mg` answers `X` and offers one client the recache. Set
/// before the item is published, never after.
pub const STALE: u32 = 1 << 27;
/// Meta protocol: a client has been handed the recache (`W`); the others
/// see `Z`. Set before publication by a vivifying `mg`, or after it by the
/// one atomic RMW that wins (`Held::take_token`).
pub const TOKEN: u32 = 1 << 26;
/// The bits of the vlen word that are not the length.
const VLEN_BITS: u32 = LIVE | QUEUED | MAIN | GONE | STALE | TOKEN;
/// The largest value length the header can hold (64 MiB - 1).
pub const MAX_VALUE_LEN: usize = (TOKEN - 1) as usize;

/// Bytes an item with this key, value and flags occupies in its chunk.
pub fn footprint(klen: usize, vlen: usize, flags: u32) -> usize {
    HEADER_SIZE + if flags != 0 { 4 } else { 0 } + klen + vlen
}

/// [`Item::write`]'s refusal of an item larger than its chunk, out of line.
#[cold]
#[inline(never)]
fn does_not_fit(size: usize) -> ! {
    panic!("hotset: an item that does not fit its chunk of {size} bytes")
}

/// The header's words, borrowed from the chunk. Not a `#[repr(C)]` struct
/// over the chunk: its size would round up to 24 bytes and cover the flags
/// or key after the 20 header bytes.
struct Header<'g> {
    meta: &'g AtomicU64,
    cas: &'g AtomicU32,
    exptime: &'g AtomicU32,
    vlen: &'g AtomicU32,
}

const _: () = assert!(
    CAS_AT == 8
        && EXPTIME_AT == CAS_AT + 4
        && VLEN_AT == EXPTIME_AT + 4
        && VLEN_AT + 4 == HEADER_SIZE
);

/// The address of an item at the start of a slab chunk: a bare handle.
///
/// Copyable, and nothing can be read through it: header, key and value are
/// reached through a [`Held`], which only a guard (or ownership) gives.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Item(NonNull<u8>);

/// An item whose bytes are complete and stay put for `'g`: the lifetime of
/// the reclamation guard it was found under (or of the caller's ownership of
/// its chunk). Its header, key and value can be read, and its atomic
/// metadata written.
#[derive(Clone, Copy, Debug)]
pub struct Held<'g> {
    it: Item,
    _guard: PhantomData<&'g ()>,
}

// SAFETY: an `Item` is an address; all shared access to the memory behind it
// goes through atomics or through immutable bytes published by a Release CAS.
unsafe impl Send for Item {}
// SAFETY: as for Send.
unsafe impl Sync for Item {}

/// Decoded `meta` word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    /// Last access, in clock milliseconds (truncated to 32 bits).
    pub atime: u32,
    /// Policy-specific frequency counter.
    pub freq: u8,
    /// Key length.
    pub klen: u8,
    bits: u8,
    /// The CAS unique's bits 32..40 (the word is stored whole, and these
    /// never change once the item is built).
    cas_hi: u8,
}

impl Meta {
    fn pack(self) -> u64 {
        self.atime as u64
            | (self.freq as u64) << 32
            | (self.klen as u64) << 40
            | (self.bits as u64) << 48
            | (self.cas_hi as u64) << 56
    }
    fn unpack(w: u64) -> Meta {
        Meta {
            atime: w as u32,
            freq: (w >> 32) as u8,
            klen: (w >> 40) as u8,
            bits: (w >> 48) as u8,
            cas_hi: (w >> 56) as u8,
        }
    }
}

/// What goes into a new item.
pub struct NewItem<'a> {
    /// Key bytes, at most [`MAX_KEY_LEN`].
    pub key: &'a [u8],
    /// Value bytes, at most [`MAX_VALUE_LEN`].
    pub value: &'a [u8],
    /// Client flags.
    pub flags: u32,
    /// Expiry, seconds since the clock origin; 0 = never.
    pub exptime: u32,
    /// CAS unique; non-zero, at most [`CAS_MAX`].
    pub cas: u64,
    /// Access time to start with.
    pub atime: u32,
    /// Frequency counter to start with.
    pub freq: u8,
    /// [`MAIN`] to start in S3-FIFO's main queue; 0 otherwise (the other
    /// queue bits are set later, by the queue).
    pub qbits: u32,
    /// The cache's flush generation when the item was built, modulo
    /// [`FLUSH_GENS`] (a copy keeps its original's).
    pub gen: u8,
}

impl Item {
    /// Wraps a chunk address.
    ///
    /// # Safety
    /// `p` must be the start of a chunk of a slab (8-aligned, at least
    /// [`HEADER_SIZE`] bytes). Reading through the handle needs more
    /// (see [`Item::held`]); the handle alone is an address.
    pub unsafe fn from_ptr(p: NonNull<u8>) -> Item {
        Item(p)
    }

    /// The item as held for the lifetime of `_g`.
    ///
    /// # Safety
    /// The item must be complete and its chunk unreclaimable, and its page
    /// must keep its class's geometry, until `_g` is dropped: either it was
    /// read from the index under `_g`, or its LIVE bit was seen set under
    /// `_g` while its page was in its class (see the module docs). `_g` must
    /// pin the collector that retires this slab's chunks, and the slab must
    /// outlive `_g`.
    #[inline]
    pub unsafe fn held<'g>(self, _g: &'g Guard<'_>) -> Held<'g> {
        Held {
            it: self,
            _guard: PhantomData,
        }
    }

    /// The item as held for a lifetime the caller picks, with no guard:
    /// for an item whose chunk the caller owns (built and not published, or
    /// unlinked by the caller's winning CAS and not yet retired), and for
    /// the index, whose entries borrow the guard they were read under.
    ///
    /// # Safety
    /// As for [`Item::held`], for all of `'g`: the caller owns the chunk for
    /// that long, or is pinned (on the collector retiring it) since before
    /// it could have been reclaimed, for that long.
    #[inline]
    pub unsafe fn held_unchecked<'g>(self) -> Held<'g> {
        Held {
            it: self,
            _guard: PhantomData,
        }
    }

    /// The chunk address.
    pub fn ptr(self) -> NonNull<u8> {
        self.0
    }

    /// Writes a whole item into a chunk of `size` bytes the caller owns,
    /// LIVE still clear. Returns it held for as long as the caller owns the
    /// chunk.
    ///
    /// # Panics
    /// If the item does not fit `size` bytes (its [`footprint`]). A key over
    /// [`MAX_KEY_LEN`] or a value over [`MAX_VALUE_LEN`] is the caller's
    /// error (checked in debug builds): its header would record a shorter
    /// length, never a longer one, so reads stay inside the chunk.
    ///
    /// # Safety
    /// The chunk must be owned by the caller (allocated and not published),
    /// at least `size` bytes long and 8-aligned; the returned `Held` must
    /// not be used beyond that ownership (or a pin held since, once
    /// published).
    #[inline]
    pub unsafe fn write<'a>(chunk: NonNull<u8>, size: usize, new: &NewItem<'_>) -> Held<'a> {
        let vlen = new.value.len();
        debug_assert!(new.key.len() <= MAX_KEY_LEN && vlen <= MAX_VALUE_LEN);
        if footprint(new.key.len(), vlen, new.flags) > size {
            does_not_fit(size);
        }
        // SAFETY: the caller owns the chunk (contract above).
        let it = unsafe { Item(chunk).held_unchecked::<'a>() };
        let h = it.hdr();
        debug_assert!(new.cas != 0 && new.cas <= CAS_MAX);
        let meta = Meta {
            atime: new.atime,
            freq: new.freq,
            klen: new.key.len() as u8,
            cas_hi: (new.cas >> 32) as u8,
            bits: if new.flags != 0 { HAS_FLAGS as u8 } else { 0 }
                | (new.gen % FLUSH_GENS) << GEN_SHIFT,
        };
        h.meta.store(meta.pack(), Ordering::Relaxed);
        h.exptime.store(new.exptime, Ordering::Relaxed);
        h.vlen.store(
            vlen as u32 | (new.qbits & (MAIN | STALE | TOKEN)),
            Ordering::Relaxed,
        );
        let mut off = HEADER_SIZE;
        let base = chunk.as_ptr();
        if new.flags != 0 {
            // SAFETY: within the chunk (caller's size contract); 4-byte aligned
            // because HEADER_SIZE is.
            unsafe { (base.add(off) as *mut u32).write(new.flags) };
            off += 4;
        }
        for part in [new.key, new.value] {
            // SAFETY: within the chunk (caller's size contract); the caller owns
            // the chunk and LIVE is clear, so nobody reads these bytes yet.
            unsafe { std::ptr::copy_nonoverlapping(part.as_ptr(), base.add(off), part.len()) };
            off += part.len();
        }
        h.cas.store(new.cas as u32, Ordering::Relaxed);
        it
    }
}

impl<'g> Held<'g> {
    /// The chunk address.
    #[inline]
    pub fn ptr(self) -> NonNull<u8> {
        self.it.0
    }

    fn hdr(&self) -> Header<'g> {
        let b = self.it.0.as_ptr();
        // SAFETY: a Held points at a chunk start of a live slab (at least
        // HEADER_SIZE bytes, 8-aligned: classes are multiples of 8 from an
        // aligned base) whose geometry holds for 'g (`Item::held`). The
        // four words lie inside the header, each aligned for its type, and
        // are atomics, valid for any bit pattern.
        unsafe {
            Header {
                meta: &*(b as *const AtomicU64),
                cas: &*(b.add(CAS_AT) as *const AtomicU32),
                exptime: &*(b.add(EXPTIME_AT) as *const AtomicU32),
                vlen: &*(b.add(VLEN_AT) as *const AtomicU32),
            }
        }
    }

    /// The decoded meta word.
    #[inline]
    pub fn meta(self) -> Meta {
        Meta::unpack(self.hdr().meta.load(Ordering::Relaxed))
    }

    /// The CAS unique.
    #[inline]
    pub fn cas(self) -> u64 {
        let h = self.hdr();
        let hi = Meta::unpack(h.meta.load(Ordering::Relaxed)).cas_hi as u64;
        hi << 32 | h.cas.load(Ordering::Relaxed) as u64
    }

    /// Sets LIVE: the item is complete and about to be stored in the index.
    /// From now on it may only be reclaimed by retiring it.
    pub fn mark_live(self) {
        self.hdr().vlen.fetch_or(LIVE, Ordering::Release);
    }

    /// Clears LIVE; called by the unique winner of the unlinking CAS (or the
    /// writer whose item never got published), right before retiring it.
    pub fn clear_live(self) {
        self.hdr().vlen.fetch_and(!LIVE, Ordering::Relaxed);
    }

    /// Whether LIVE is set. A `true` read under a guard makes the item's bytes
    /// readable until the guard is dropped (see the module docs).
    #[inline]
    pub fn is_live(self) -> bool {
        self.hdr().vlen.load(Ordering::Acquire) & LIVE != 0
    }

    /// Expiry, in seconds since the clock origin; 0 = never.
    #[inline]
    pub fn exptime(self) -> u32 {
        self.hdr().exptime.load(Ordering::Relaxed)
    }

    /// Whether the item was ever read (for `expired_unfetched` and
    /// `evicted_unfetched`).
    pub fn fetched(self) -> bool {
        self.meta().bits & FETCHED != 0
    }

    /// The flush generation the item was built in, modulo [`FLUSH_GENS`]:
    /// an item of an older generation than the cache's was invalidated by
    /// flush_all.
    pub fn flush_gen(self) -> u8 {
        (self.meta().bits >> GEN_SHIFT) % FLUSH_GENS
    }

    /// Bytes the item occupies in its chunk.
    pub fn footprint(self) -> usize {
        let m = self.meta();
        Self::key_offset(m) + m.klen as usize + self.vlen()
    }

    /// Changes the expiry in place (touch).
    pub fn set_exptime(self, exptime: u32) {
        self.hdr().exptime.store(exptime, Ordering::Relaxed)
    }

    /// Value length.
    #[inline]
    pub fn vlen(self) -> usize {
        (self.hdr().vlen.load(Ordering::Relaxed) & !VLEN_BITS) as usize
    }

    /// The queue bits ([`QUEUED`], [`MAIN`], [`GONE`]) as they are now.
    #[inline]
    pub fn queue_bits(self) -> u32 {
        self.hdr().vlen.load(Ordering::Acquire) & (QUEUED | MAIN | GONE)
    }

    /// The meta protocol's bits ([`STALE`], [`TOKEN`]) as they are now.
    #[inline]
    pub fn swr_bits(self) -> u32 {
        self.hdr().vlen.load(Ordering::Acquire) & (STALE | TOKEN)
    }

    /// Takes the recache token: `true` if this call set [`TOKEN`], so
    /// that of any number of clients exactly one wins.
    #[inline]
    pub fn take_token(self) -> bool {
        self.hdr().vlen.fetch_or(TOKEN, Ordering::AcqRel) & TOKEN == 0
    }

    /// Sets [`STALE`] and [`TOKEN`] to `bits` on an item the caller built
    /// and has not published yet.
    pub fn set_swr(self, bits: u32) {
        let v = self.hdr().vlen;
        v.fetch_and(!(STALE | TOKEN), Ordering::Relaxed);
        v.fetch_or(bits & (STALE | TOKEN), Ordering::Relaxed);
    }

    /// After publishing the item: sets QUEUED. Returns whether the item was
    /// not GONE yet, that is, whether the caller counts it in (else its
    /// unlinker already passed, and counted nothing).
    #[inline]
    pub fn enqueue(self) -> bool {
        self.hdr().vlen.fetch_or(QUEUED, Ordering::AcqRel) & GONE == 0
    }

    /// After unlinking the item (the caller won the CAS): sets GONE and
    /// returns the queue bits it had before; if QUEUED was among them, the
    /// caller counts the item out of the queue MAIN names.
    #[inline]
    pub fn take_queued(self) -> u32 {
        self.hdr().vlen.fetch_or(GONE, Ordering::AcqRel) & (QUEUED | MAIN | GONE)
    }

    /// Sets or clears MAIN on an item the caller built and has not
    /// published yet.
    pub fn set_main(self, main: bool) {
        if main {
            self.hdr().vlen.fetch_or(MAIN, Ordering::Relaxed);
        } else {
            self.hdr().vlen.fetch_and(!MAIN, Ordering::Relaxed);
        }
    }

    /// Moves a queued, live item from the small queue to the main one: sets
    /// MAIN if the item is still LIVE and QUEUED, not GONE and not in main
    /// yet. Returns whether it did (and so counts the move).
    #[inline]
    pub fn promote(self) -> bool {
        let h = self.hdr();
        let w = h.vlen.load(Ordering::Acquire);
        w & (LIVE | QUEUED | MAIN | GONE) == LIVE | QUEUED
            && h.vlen
                .compare_exchange(w, w | MAIN, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
    }

    fn key_offset(meta: Meta) -> usize {
        HEADER_SIZE
            + if meta.bits as u64 & HAS_FLAGS != 0 {
                4
            } else {
                0
            }
    }

    /// Sets the frequency counter (and nothing else) to `freq`, for a
    /// writer adjusting an item it built and has not published yet, or a
    /// queue policy demoting an item it popped.
    pub fn set_freq(self, freq: u8) {
        let h = self.hdr();
        let mut m = Meta::unpack(h.meta.load(Ordering::Relaxed));
        m.freq = freq;
        h.meta.store(m.pack(), Ordering::Relaxed);
    }

    /// Records an access: stores the new meta only when it changed, so a hot
    /// item read by many threads in the same millisecond is written once.
    #[inline]
    pub fn record_access(self, now_ms: u64, bump: impl FnOnce(Meta) -> u8) {
        let h = self.hdr();
        let old = h.meta.load(Ordering::Relaxed);
        let mut m = Meta::unpack(old);
        m.freq = bump(m);
        m.atime = now_ms as u32;
        m.bits |= FETCHED;
        let new = m.pack();
        if new != old {
            h.meta.store(new, Ordering::Relaxed);
        }
    }
    /// The bare handle, for header reads and exact-word comparisons.
    #[inline]
    pub fn item(self) -> Item {
        self.it
    }

    /// The key, valid while the guard lives.
    #[inline]
    pub fn key(self) -> &'g [u8] {
        let m = self.meta();
        // SAFETY: a Held's bytes are complete and immutable until its guard
        // is dropped (`Item::held`), and 'g is that guard's borrow; the key
        // lies inside the chunk (written by `Item::write` within its size).
        unsafe {
            std::slice::from_raw_parts(self.it.0.as_ptr().add(Self::key_offset(m)), m.klen as usize)
        }
    }

    /// Client flags.
    #[inline]
    pub fn flags(self) -> u32 {
        if self.meta().bits as u64 & HAS_FLAGS == 0 {
            return 0;
        }
        // SAFETY: HAS_FLAGS says the 4 bytes after the header hold flags,
        // written before publication and immutable while the guard lives
        // (`Item::held`); 4-aligned because HEADER_SIZE is.
        unsafe { (self.it.0.as_ptr().add(HEADER_SIZE) as *const u32).read() }
    }

    /// The value, valid while the guard lives.
    #[inline]
    pub fn value(self) -> &'g [u8] {
        let m = self.meta();
        let off = Self::key_offset(m) + m.klen as usize;
        // SAFETY: as for `key`.
        unsafe { std::slice::from_raw_parts(self.it.0.as_ptr().add(off), self.vlen()) }
    }
}

/// An item as the bytes of a saved slab chunk hold it: a warm restart reads
/// them from an earlier run's memory file, and trusts nothing in them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SavedItem<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// Client flags.
    pub flags: u32,
    /// CAS unique (never 0).
    pub cas: u64,
    /// Expiry in the earlier run's clock seconds; 0 = never.
    pub exptime: u32,
    /// The flush generation it was built in.
    pub gen: u8,
    /// Whether it is a stale copy (meta protocol).
    pub stale: bool,
}

impl<'a> SavedItem<'a> {
    /// The item at the start of `chunk` (one whole chunk), if the chunk
    /// holds a live item whose header fits it: LIVE set, a key of 1 to
    /// [`MAX_KEY_LEN`] bytes, key and value inside the chunk, a CAS unique.
    pub fn parse(chunk: &'a [u8]) -> Option<SavedItem<'a>> {
        let u32_at = |at: usize| -> Option<u32> {
            Some(u32::from_ne_bytes(chunk.get(at..at + 4)?.try_into().ok()?))
        };
        let meta = Meta::unpack(u64::from_ne_bytes(chunk.get(..8)?.try_into().ok()?));
        let vword = u32_at(VLEN_AT)?;
        if vword & LIVE == 0 {
            return None;
        }
        let klen = meta.klen as usize;
        if klen == 0 || klen > MAX_KEY_LEN {
            return None;
        }
        let has_flags = meta.bits as u64 & HAS_FLAGS != 0;
        let key_at = HEADER_SIZE + if has_flags { 4 } else { 0 };
        let vlen = (vword & !VLEN_BITS) as usize;
        let key = chunk.get(key_at..key_at + klen)?;
        let value = chunk.get(key_at + klen..key_at.checked_add(klen + vlen)?)?;
        let flags = if has_flags { u32_at(HEADER_SIZE)? } else { 0 };
        let cas = (meta.cas_hi as u64) << 32 | u32_at(CAS_AT)? as u64;
        if cas == 0 || (has_flags && flags == 0) {
            return None;
        }
        Some(SavedItem {
            key,
            value,
            flags,
            cas,
            exptime: u32_at(EXPTIME_AT)?,
            gen: (meta.bits >> GEN_SHIFT) % FLUSH_GENS,
            stale: vword & STALE != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_item_is_read_back_and_garbage_is_not() {
        let mut chunk = vec![0u64; 16]; // 128 bytes, 8-aligned
        let p = NonNull::new(chunk.as_mut_ptr() as *mut u8).unwrap();
        let new = NewItem {
            key: b"key",
            value: b"value",
            flags: 9,
            exptime: 77,
            cas: (5 << 32) | 3,
            atime: 1,
            freq: 0,
            qbits: 0,
            gen: 2,
        };
        // SAFETY: the chunk is this test's, 128 bytes, 8-aligned, and the
        // item's 32 bytes fit it.
        let it = unsafe { Item::write(p, 128, &new) };
        let bytes = |c: &Vec<u64>| c.iter().flat_map(|w| w.to_ne_bytes()).collect::<Vec<u8>>();
        assert_eq!(SavedItem::parse(&bytes(&chunk)), None, "not LIVE yet");
        it.mark_live();
        let b = bytes(&chunk);
        let s = SavedItem::parse(&b).unwrap();
        assert_eq!(
            (s.key, s.value, s.flags, s.cas, s.exptime, s.gen, s.stale),
            (&b"key"[..], &b"value"[..], 9, (5 << 32) | 3, 77, 2, false)
        );
        assert_eq!(SavedItem::parse(&b[..30]), None, "cut short");
        let mut long = b.clone();
        long[VLEN_AT] = 200; // a value longer than the chunk
        assert_eq!(SavedItem::parse(&long), None);
        let mut nokey = b.clone();
        nokey[5] = 0; // klen 0
        assert_eq!(SavedItem::parse(&nokey), None);
    }

    #[test]
    fn cas_order_survives_the_wrap() {
        assert!(cas_before(1, 2) && !cas_before(2, 1) && !cas_before(5, 5));
        assert!(cas_before(CAS_MAX - 1, 3), "3 came after the wrap");
        assert!(!cas_before(3, CAS_MAX - 1));
        assert!(!cas_before(CAS_MAX + 1, 5), "never handed out");
    }
}
