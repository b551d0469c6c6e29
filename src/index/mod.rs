//! The lock-free hash index.
//!
//! # Shape
//! The table is an array of buckets, each one 64-byte cache line:
//!
//! ```text
//! ctrl: AtomicU64   bits 0..7: committed-slot mask; bits 8..64: commit version
//! slot: [AtomicU64; 7]   0 = empty, else tag (16 bits) << 48 | item address (48 bits)
//!                        address bit 0 = RES (reserved, or committed but not announced)
//! ```
//!
//! A key lives only in its home bucket (the hash's low 48 bits mapped onto
//! the bucket count by a multiply and a shift): the index is
//! set-associative, so a lookup reads exactly one cache line and never
//! degrades with load. The 16-bit tag (the hash's top bits) is compared before
//! an item is touched, so a mismatch costs no item access (a false tag match
//! has probability 7/65536 per lookup). When a new key finds its bucket full,
//! the caller evicts one of the bucket's seven items (`Bucket::victim`).
//!
//! The table is sized from the memory budget (`Index::for_budget`) and never
//! resized.
//!
//! # Protocol
//! Slot states: `0` free; `RES | w` reserved by an inserter, or committed but
//! not yet announced (the ctrl bit tells which); `w` announced; `BUSY` being
//! removed. Invariants: a slot is `0` only while its ctrl bit is clear, and a
//! reservation is made only on a `0` slot. Every ctrl change bumps the version.
//!
//! - **Lookup**: scan the seven slots; skip `0`, `BUSY` and `RES` words; on a
//!   tag match compare the key. No ctrl read, no lock, no write.
//! - **Replace** (key present): CAS the exact old word to the new one.
//! - **Remove**: CAS the exact old word to `BUSY`, clear its ctrl bit (bumping
//!   the version), store `0`. The winner of the CAS, and only it, retires the
//!   old item.
//! - **Insert** (key absent): read ctrl, scan the slots whose bit is set for
//!   the key, and re-read ctrl: an unchanged ctrl proves those slots held
//!   committed items during the scan. Reserve a `0` slot (CAS `0 → RES|new`),
//!   then commit with a CAS on ctrl from the value under which the key was
//!   absent, setting the slot's bit and bumping the version. Commits and
//!   removals in a bucket are thus serialized: if ctrl moved, re-check for the
//!   key before trying again. This is what keeps two concurrent inserts of
//!   one key from both landing. After the commit, a CAS clears `RES` (it fails
//!   harmlessly if the item was already replaced or removed).
//!
//! Every word ever stored in a slot is an item with LIVE set (see `item.rs`);
//! it is freed only by retiring it, never directly, because a reader may have
//! loaded the word at any moment.
//!
//! All slot loads are `SeqCst`: that is what seize's `protect` asks for, and on
//! x86-64 it compiles to a plain load, like `Acquire`.
//!
//! # Guards
//! The index owns the collector that retires its items ([`reclaim`]). Every
//! lookup takes a guard and checks that it pins that collector (a foreign
//! guard panics, as papaya's maps do), and hands back entries that borrow
//! the guard ([`Found`], [`Held`]), so a key or value can never outlive the
//! pin that protects it. Publishing ([`Index::insert`], [`Index::replace`])
//! is `unsafe`: the caller vouches for the item it stores.

pub mod reclaim;

use crate::item::{Held, Item};
use crate::sync::{AtomicU64, Ordering};
use reclaim::{Backend, Guard, Local, ReclaimKind, Retired};
use std::marker::PhantomData;
use std::ptr::NonNull;

/// Slots per bucket.
pub const WAYS: usize = 7;
const RES: u64 = 1;
const BUSY: u64 = RES;
const ADDR_MASK: u64 = (1 << 48) - 1;
const MASK_BITS: u64 = (1 << WAYS) - 1;
const VERSION_ONE: u64 = 1 << 8;
const LOAD: Ordering = Ordering::SeqCst;

/// Budget bytes per index slot when sizing from the budget. A
/// memcached-typical item (a 16-byte key and a 100-byte value) takes a
/// 136-byte chunk, so a full cache of such items fills 76% of the slots; at
/// that load a little over half the evictions are a full bucket's worst of
/// seven (`hotset_index_evictions`), as with the 160-byte chunks and one
/// slot per 128 bytes before. The bucket count is not rounded to a power
/// of two, so the index takes 64 / (7 × 104) = 8.8% of the budget whatever
/// the budget; larger items leave it emptier (`--index-bytes-per-slot`).
pub const BUDGET_BYTES_PER_SLOT: usize = 104;

/// A slot word: tag + address (+ RES).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Word(u64);

impl Word {
    fn new(tag: u16, item: Item) -> Word {
        let a = item.ptr().as_ptr() as u64;
        debug_assert!(a & !ADDR_MASK == 0 && a & 7 == 0);
        Word((tag as u64) << 48 | a)
    }
    fn tag(self) -> u16 {
        (self.0 >> 48) as u16
    }
    /// The item this word points to.
    fn item(self) -> Item {
        let a = (self.0 & ADDR_MASK & !RES) as *mut u8;
        // SAFETY: `item` is only called on words that are neither 0 nor BUSY,
        // which hold the address of an item published by `Index::insert` or
        // `Index::replace` (whose callers vouch that it is a chunk start of
        // the slab this index serves), so it is non-null and a valid handle.
        unsafe { Item::from_ptr(NonNull::new_unchecked(a)) }
    }
}

/// The tag of a hash: its top 16 bits (the low 48 pick the bucket).
#[inline]
fn tag_of(hash: u64) -> u16 {
    (hash >> 48) as u16
}

/// One cache line of the index.
#[repr(C, align(64))]
struct Bucket {
    ctrl: AtomicU64,
    slots: [AtomicU64; WAYS],
}

/// A slot of the index and the item it held when read under a guard.
///
/// It borrows that guard: its item is [`Held`] for as long.
#[derive(Clone, Copy, Debug)]
pub struct Found<'g> {
    bucket: usize,
    slot: usize,
    word: Word,
    _guard: PhantomData<&'g ()>,
}

impl<'g> Found<'g> {
    /// The item, readable while the guard lives.
    #[inline]
    pub fn item(&self) -> Held<'g> {
        let it = self.word.item();
        // SAFETY: the word was read from the index under the guard 'g
        // borrows, which `Index` checked pins the collector retiring its
        // items: the item is complete (published with a Release CAS after
        // `mark_live`) and cannot be reclaimed before that guard drops.
        unsafe { it.held_unchecked() }
    }

    /// The bucket the slot is in.
    pub fn bucket(&self) -> usize {
        self.bucket
    }
}

/// The outcome of [`Index::insert`].
#[derive(Debug)]
pub enum Insert<'g> {
    /// The new item is committed.
    Inserted,
    /// The key is present (committed, possibly not yet announced); nothing
    /// was stored.
    Exists(Found<'g>),
    /// The bucket has no free slot; nothing was stored.
    Full,
}

/// A slot found by a bucket scan, before it is tied to a guard.
#[derive(Clone, Copy)]
struct Slot {
    slot: usize,
    word: Word,
}

impl Bucket {
    fn new() -> Bucket {
        Bucket {
            ctrl: AtomicU64::new(0),
            slots: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Finds the announced item with this tag for which `eq` holds. The
    /// caller must be pinned.
    #[inline]
    fn find(&self, tag: u16, mut eq: impl FnMut(Item) -> bool) -> Option<Slot> {
        // PLANTED BUG (planted-relaxed-publish): a Relaxed load does not
        // acquire the writes that built the item before it was published.
        let load = if cfg!(feature = "planted-relaxed-publish") {
            Ordering::Relaxed
        } else {
            LOAD
        };
        for (i, s) in self.slots.iter().enumerate() {
            let w = s.load(load);
            if w == 0 || w & RES != 0 || Word(w).tag() != tag {
                continue;
            }
            let word = Word(w);
            if eq(word.item()) {
                return Some(Slot { slot: i, word });
            }
        }
        None
    }

    /// Finds the committed item (announced or not) for which `eq` holds,
    /// under a ctrl value that did not change during the scan. Returns that
    /// value.
    fn find_committed(&self, tag: u16, eq: &mut impl FnMut(Item) -> bool) -> (Option<Slot>, u64) {
        let mut ctrl = self.ctrl.load(Ordering::Acquire);
        loop {
            let mut found = None;
            for (i, s) in self.slots.iter().enumerate() {
                if ctrl & (1 << i) == 0 {
                    continue;
                }
                let w = s.load(LOAD);
                if w == 0 || w == BUSY || Word(w).tag() != tag {
                    continue;
                }
                let word = Word(w);
                if eq(word.item()) {
                    found = Some(Slot { slot: i, word });
                    break;
                }
            }
            let now = self.ctrl.load(Ordering::Acquire);
            if now == ctrl {
                return (found, ctrl);
            }
            ctrl = now;
        }
    }

    /// Inserts an item whose key is not in the bucket. See the module docs.
    fn insert(
        &self,
        tag: u16,
        item: Item,
        mut eq: impl FnMut(Item) -> bool,
    ) -> Result<(), Option<Slot>> {
        let new = Word::new(tag, item);
        let (found, mut ctrl) = self.find_committed(tag, &mut eq);
        if let Some(f) = found {
            return Err(Some(f));
        }
        let Some(slot) = (0..WAYS).find(|&i| {
            self.slots[i]
                .compare_exchange(0, new.0 | RES, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        }) else {
            return Err(None);
        };
        if cfg!(feature = "planted-blind-commit") {
            // PLANTED BUG: commit without checking that no other commit came
            // in since the key was seen absent.
            self.ctrl
                .fetch_add(VERSION_ONE + (1 << slot), Ordering::AcqRel);
            self.announce(slot, new);
            return Ok(());
        }
        loop {
            let next = (ctrl | 1 << slot).wrapping_add(VERSION_ONE);
            match self
                .ctrl
                .compare_exchange(ctrl, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    self.announce(slot, new);
                    return Ok(());
                }
                Err(_) => {
                    let (found, now) = self.find_committed(tag, &mut eq);
                    if let Some(f) = found {
                        // Lost to a concurrent insert of the same key. The
                        // reservation was never committed, so no other thread
                        // acts on it: give the slot back.
                        self.slots[slot].store(0, Ordering::Release);
                        return Err(Some(f));
                    }
                    ctrl = now;
                }
            }
        }
    }

    /// Clears RES on a committed slot. Fails harmlessly if someone already
    /// replaced or removed the word, which is theirs to handle.
    fn announce(&self, slot: usize, new: Word) {
        let _ = self.slots[slot].compare_exchange(
            new.0 | RES,
            new.0,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }

    fn replace(&self, slot: usize, old: Word, new: Word) -> bool {
        self.slots[slot]
            .compare_exchange(old.0, new.0, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    fn remove(&self, slot: usize, old: Word) -> bool {
        if self.slots[slot]
            .compare_exchange(old.0, BUSY, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // The bit is set (the word was committed) and only we clear it: one
        // add both clears it and bumps the version.
        self.ctrl
            .fetch_add(VERSION_ONE.wrapping_sub(1 << slot), Ordering::AcqRel);
        self.slots[slot].store(0, Ordering::Release);
        true
    }

    fn unlink(&self, tag: u16, item: Item) -> bool {
        let want = Word::new(tag, item);
        let found = (0..WAYS).find(|&i| {
            let w = self.slots[i].load(LOAD);
            if cfg!(feature = "planted-evict-by-tag") {
                // PLANTED BUG: match the tag, not the exact item, so a
                // newer item of the key (or another key with the tag) goes.
                w != 0 && w & RES == 0 && Word(w).tag() == tag
            } else {
                w == want.0
            }
        });
        match found {
            Some(slot) if cfg!(feature = "planted-evict-by-tag") => {
                let w = Word(self.slots[slot].load(LOAD));
                self.remove(slot, w)
            }
            Some(slot) => self.remove(slot, want),
            None => false,
        }
    }

    fn announced(&self) -> impl Iterator<Item = Slot> + '_ {
        (0..WAYS).filter_map(|i| {
            let w = self.slots[i].load(LOAD);
            (w != 0 && w & RES == 0).then_some(Slot {
                slot: i,
                word: Word(w),
            })
        })
    }

    fn len(&self) -> usize {
        (self.ctrl.load(Ordering::Relaxed) & MASK_BITS).count_ones() as usize
    }
}

/// Where the buckets live: a huge-page region, or (under loom or shuttle,
/// whose atomics cannot be zero-initialized in place, or if mapping fails) a
/// boxed slice.
enum Buckets {
    #[cfg(not(any(hotset_loom, feature = "shuttle")))]
    Mapped(crate::region::Region, usize),
    Boxed(Box<[Bucket]>),
}

impl std::ops::Deref for Buckets {
    type Target = [Bucket];
    #[inline]
    fn deref(&self) -> &[Bucket] {
        match self {
            #[cfg(not(any(hotset_loom, feature = "shuttle")))]
            // SAFETY: the region holds n * size_of::<Bucket>() zeroed bytes,
            // 2 MiB-aligned; all-zero is a valid Bucket (its fields are
            // AtomicU64), and the region lives as long as `self`.
            Buckets::Mapped(r, n) => unsafe {
                std::slice::from_raw_parts(r.base().as_ptr() as *const Bucket, *n)
            },
            Buckets::Boxed(b) => b,
        }
    }
}

/// The index: an array of buckets, and the collector that retires the
/// items they hold.
pub struct Index {
    buckets: Buckets,
    /// The number of buckets, at least 1 and below 2^48.
    n: u64,
    backend: Backend,
}

impl Index {
    /// An index with at least `slots` slots (rounded up to whole buckets),
    /// whose items `reclaim` retires.
    pub fn with_slots(slots: usize, reclaim: ReclaimKind) -> Index {
        let n = slots.div_ceil(WAYS).clamp(1, 1 << 40);
        let backend = Backend::new(reclaim);
        #[cfg(not(any(hotset_loom, feature = "shuttle")))]
        if let Some(r) = crate::region::Region::new(n * std::mem::size_of::<Bucket>()) {
            return Index {
                buckets: Buckets::Mapped(r, n),
                n: n as u64,
                backend,
            };
        }
        Index {
            buckets: Buckets::Boxed((0..n).map(|_| Bucket::new()).collect()),
            n: n as u64,
            backend,
        }
    }

    /// An index sized for a memory budget: one slot per
    /// [`BUDGET_BYTES_PER_SLOT`] bytes.
    pub fn for_budget(budget: usize, reclaim: ReclaimKind) -> Index {
        Self::with_slots(budget / BUDGET_BYTES_PER_SLOT, reclaim)
    }

    /// The reclamation backend.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Registers the current thread with the collector.
    pub fn local(&self) -> Local {
        self.backend.local()
    }

    /// Pins the current thread.
    #[inline]
    pub fn pin(&self, local: &Local) -> Guard<'_> {
        self.backend.pin(local)
    }

    /// An empty retirement batch for items of `slab` held by this index.
    pub fn batch(&self, slab: std::sync::Arc<crate::slab::Slab>) -> Retired {
        self.backend.batch(slab)
    }

    /// Panics unless `g` pins this index's collector: a foreign guard would
    /// not keep this index's items from being reclaimed.
    #[inline]
    fn check(&self, g: &Guard<'_>) {
        assert!(
            self.backend.owns(g),
            "hotset: index used with another cache's guard"
        );
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        (((hash & ADDR_MASK) as u128 * self.n as u128) >> 48) as usize
    }

    #[inline]
    fn found<'g>(bucket: usize, s: Slot) -> Found<'g> {
        Found {
            bucket,
            slot: s.slot,
            word: s.word,
            _guard: PhantomData,
        }
    }

    /// Reads the home bucket of `hash` into the cache ahead of a lookup.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        crate::prefetch(&self.buckets[self.home(hash)] as *const Bucket as *const u8);
    }

    /// The announced item with this key, looked up under `g`: the tag
    /// first, the key bytes only on a tag match.
    #[inline]
    pub fn find<'g>(&self, hash: u64, key: &[u8], g: &'g Guard<'_>) -> Option<Found<'g>> {
        self.check(g);
        let b = self.home(hash);
        let s = self.buckets[b].find(tag_of(hash), |it| {
            // SAFETY: the bucket's items are complete and held while `g`
            // (checked above) is pinned.
            unsafe { it.held(g) }.key() == key
        })?;
        Some(Self::found(b, s))
    }

    /// The announced item in the home bucket of `hash` whose header
    /// satisfies `pred` (compared without reading its key).
    pub fn find_where<'g>(
        &self,
        hash: u64,
        g: &'g Guard<'_>,
        mut pred: impl FnMut(Held<'g>) -> bool,
    ) -> Option<Found<'g>> {
        self.check(g);
        let b = self.home(hash);
        let s = self.buckets[b].find(tag_of(hash), |it| {
            // SAFETY: read from the index under `g`, checked above.
            pred(unsafe { it.held(g) })
        })?;
        Some(Self::found(b, s))
    }

    /// Inserts `item`, whose key `key` hashes to `hash` and is not in the
    /// index (or reports the one that is, or a full bucket). See the module
    /// docs for the commit protocol.
    ///
    /// # Safety
    /// `item` must be a complete item with LIVE set, in a chunk the caller
    /// owns and has not published, of the slab whose chunks this index
    /// holds (a slab that outlives the index and its guards, and whose
    /// chunks only this index's collector retires), with key `key`. On
    /// `Exists` or `Full` it was not published but may have been seen by
    /// readers, so it must be retired, not freed.
    pub unsafe fn insert<'g>(
        &self,
        hash: u64,
        item: Item,
        key: &[u8],
        g: &'g Guard<'_>,
    ) -> Insert<'g> {
        self.check(g);
        let b = self.home(hash);
        let eq = |it: Item| {
            // SAFETY: as in `find`.
            unsafe { it.held(g) }.key() == key
        };
        match self.buckets[b].insert(tag_of(hash), item, eq) {
            Ok(()) => Insert::Inserted,
            Err(Some(s)) => Insert::Exists(Self::found(b, s)),
            Err(None) => Insert::Full,
        }
    }

    /// Replaces the exact item `old` found under a guard with `new`. On
    /// success the caller owns `old` and must retire it.
    ///
    /// # Safety
    /// As for [`Index::insert`]: `new` is complete, LIVE, unpublished, owned
    /// by the caller, of this index's slab, with the same key as `old`.
    pub unsafe fn replace(&self, old: &Found<'_>, new: Item) -> bool {
        let w = Word::new(old.word.tag(), new);
        self.buckets[old.bucket].replace(old.slot, old.word, w)
    }

    /// Removes the exact item `old` found under a guard. On success the
    /// caller owns it and must retire it.
    pub fn remove(&self, old: &Found<'_>) -> bool {
        self.buckets[old.bucket].remove(old.slot, old.word)
    }

    /// Unlinks exactly this item, whose key hashes to `hash`: for evictors,
    /// the sweeper and page drains, which reach it through the slab rather
    /// than by key. If the key was replaced or deleted meanwhile, its slot no
    /// longer holds this exact word and nothing happens. Returns whether this
    /// caller unlinked it (and so must retire it).
    pub fn unlink(&self, hash: u64, item: Item) -> bool {
        self.buckets[self.home(hash)].unlink(tag_of(hash), item)
    }

    /// The announced items of bucket `i`, under `g`.
    pub fn announced<'g>(
        &self,
        i: usize,
        g: &'g Guard<'_>,
    ) -> impl Iterator<Item = Found<'g>> + '_ {
        self.check(g);
        self.buckets[i].announced().map(move |s| Self::found(i, s))
    }

    /// The announced items of the home bucket of `hash`, for choosing a
    /// victim when it is full.
    pub fn neighbours<'g>(
        &self,
        hash: u64,
        g: &'g Guard<'_>,
    ) -> impl Iterator<Item = Found<'g>> + '_ {
        self.announced(self.home(hash), g)
    }

    /// The home bucket of a hash.
    pub fn home_bucket(&self, hash: u64) -> usize {
        self.home(hash)
    }

    /// Committed slots of bucket `i`.
    pub fn bucket_len(&self, i: usize) -> usize {
        self.buckets[i].len()
    }

    /// Number of buckets.
    pub fn buckets(&self) -> usize {
        self.buckets.len()
    }

    /// Total slots.
    pub fn capacity(&self) -> usize {
        self.buckets.len() * WAYS
    }

    /// Bytes the index occupies.
    pub fn memory(&self) -> usize {
        self.buckets.len() * std::mem::size_of::<Bucket>()
    }
}
