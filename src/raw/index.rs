//! The lock-free hash index.
//!
//! # Shape
//! The table is an array of buckets, each one 64-byte cache line:
//!
//! ```text
//! ctrl: AtomicU64   bits 0..21: three 7-bit masks of committed slots whose
//!                   items have this bucket as home: its own slots (0..7),
//!                   its first alternate's (7..14), its second's (14..21);
//!                   bits 21..64: commit version
//! slot: [AtomicU64; 7]   0 = empty, else tag (16 bits) << 48 | item address
//!                        (48 bits), whose three low bits (items are 8-aligned)
//!                        hold RES (bit 0: reserved, or committed but not
//!                        announced) and the placement (bits 1..3: 0 home,
//!                        1 first alternate, 2 second alternate)
//! ```
//!
//! A key's home bucket is the hash's low 48 bits mapped onto the bucket
//! count by a multiply and a shift. A key lives in one of three candidate
//! buckets: its home `h`, the next one `h + 1`, or the one half the table
//! away `h + n/2` (mod n; fewer candidates in a table of under 4 buckets).
//! A new key goes home while its home holds fewer than [`HOME_BELOW`]
//! items, else to `h + 1` while that does, and otherwise to the emptiest
//! candidate. The alternates are
//! functions of the home, not of the key, so the home's ctrl can record
//! every committed copy of every key that calls it home: that one word
//! serializes all commits of a key, wherever they land. The 16-bit tag (the
//! hash's top bits) and the placement are compared before an item is
//! touched, so a mismatch costs no item access. When a new key finds all
//! its candidates full, the caller evicts one of their items
//! (`Engine::evict_from_bucket`).
//!
//! The table is sized from the memory budget (`Index::for_budget`) and never
//! resized.
//!
//! # Protocol
//! Slot states: `0` free; `RES | w` reserved by an inserter, or committed but
//! not yet announced (its home's ctrl bit tells which); `w` announced; `BUSY`
//! being removed. Invariants: a slot is `0` only while no ctrl bit for it is
//! set (its own bucket's own mask, and the masks of the two buckets whose
//! alternate it is), a reservation is made only on a `0` slot, and every
//! bit set for a slot was set by the committer of the word in it (or of
//! the word it replaced in place). Every ctrl change bumps the version.
//!
//! - **Lookup**: read the home's ctrl, scan the home's seven slots, then the
//!   alternates' slots that ctrl marks; skip `0`, `BUSY` and `RES` words and
//!   words of another placement; on a tag match compare the key. No lock, no
//!   write.
//! - **Replace** (key present): CAS the exact old word to the new one, which
//!   keeps the old placement.
//! - **Remove**: CAS the exact old word to `BUSY`, clear its bit in its
//!   home's ctrl (bumping the version), store `0`. The winner of the CAS, and
//!   only it, retires the old item.
//! - **Insert** (key absent): read the home's ctrl and scan the slots its
//!   masks mark for the key (one load per committed item). A key found there
//!   counts only if a re-read of ctrl is unchanged, which proves the slot
//!   held a committed item of the home during the scan; a key not found needs
//!   no re-read, because the commit below succeeds only if ctrl has not moved
//!   since that read. Reserve a `0`
//!   slot in a candidate (CAS `0 → RES|placement|new`), then commit with a
//!   CAS on the home's ctrl from the value the absence scan read (its
//!   success proves ctrl held that value throughout),
//!   setting the slot's bit and bumping the version. All commits and
//!   removals of a home's keys are thus serialized on one word: if it moved,
//!   re-check for the key before trying again. This is what keeps two
//!   concurrent inserts of one key from both landing, even in two different
//!   buckets. After the commit, a CAS clears `RES` (it fails harmlessly if
//!   the item was already replaced, removed or announced). An insert that
//!   finds its key committed but not announced announces it itself, so an
//!   insert never reports a key that a lookup after it would miss.
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

use crate::raw::item::{Held, Item};
use crate::raw::reclaim::{Backend, Guard, Local, ReclaimKind};
use crate::raw::slab::{Retired, Slab};
use crate::sync::{AtomicU64, Ordering};
use std::marker::PhantomData;
use std::ptr::NonNull;

/// Slots per bucket.
pub const WAYS: usize = 7;
const RES: u64 = 1;
const BUSY: u64 = RES;
/// The placement bits of a slot word (see the module docs).
const PLACE_SHIFT: u32 = 1;
const PLACE_MASK: u64 = 3 << PLACE_SHIFT;
const ADDR_MASK: u64 = (1 << 48) - 1;
const WAY_MASK: u64 = (1 << WAYS) - 1;
/// Candidate buckets per key: the home and two alternates.
const PLACES: usize = 3;
const VERSION_ONE: u64 = 1 << (WAYS * PLACES);
/// The three commit masks of a ctrl word.
const MASKS: u64 = VERSION_ONE - 1;
const LOAD: Ordering = Ordering::SeqCst;

/// A new key goes to its home bucket while the home holds fewer than this
/// many items, else to the adjacent alternate while that does, and
/// otherwise to whichever candidate holds fewest. On the 100-byte fill of
/// `results/memory/run.sh` (a full 64 MiB cache, index load 0.76), 3.6% of
/// the evictions are then a full candidate set's, against 57.6% with the
/// home alone. A model of that fill puts about a third of the items away
/// from home, where a hit costs a second cache line; 6 or 7 keep more at
/// home, but the model's overflow share rises to 8–9%.
pub const HOME_BELOW: usize = 5;

/// Budget bytes per index slot when sizing from the budget. A
/// memcached-typical item (a 16-byte key and a 100-byte value) takes a
/// 136-byte chunk, so a full cache of such items fills 76% of the slots.
/// The bucket count is not rounded to a power of two, so the index takes
/// 64 / (7 × 104) = 8.8% of the budget whatever the budget; larger items
/// leave it emptier (`--index-bytes-per-slot`).
pub const BUDGET_BYTES_PER_SLOT: usize = 104;

/// The ctrl bit of slot `slot` of a key's candidate `place`.
#[inline]
fn bit(place: usize, slot: usize) -> u64 {
    1 << (place * WAYS + slot)
}

/// The mask of committed slots of candidate `place` in a home's ctrl.
#[inline]
fn mask(ctrl: u64, place: usize) -> u64 {
    (ctrl >> (place * WAYS)) & WAY_MASK
}

/// `i` mod `n`, for `i < 2n` (no division on the lookup path).
#[inline]
fn wrap(i: usize, n: usize) -> usize {
    if i >= n {
        i - n
    } else {
        i
    }
}

/// A slot word: tag + address (+ placement, + RES).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Word(u64);

impl Word {
    fn new(tag: u16, item: Item, place: usize) -> Word {
        let a = item.ptr().as_ptr() as u64;
        debug_assert!(a & !ADDR_MASK == 0 && a & 7 == 0 && place < PLACES);
        Word((tag as u64) << 48 | a | (place as u64) << PLACE_SHIFT)
    }
    fn tag(self) -> u16 {
        (self.0 >> 48) as u16
    }
    /// Which of its key's candidates the word's bucket is.
    fn place(self) -> usize {
        ((self.0 & PLACE_MASK) >> PLACE_SHIFT) as usize
    }
    /// Whether the word holds an announced item of this tag and placement.
    #[inline]
    fn is(self, tag: u16, place: usize) -> bool {
        self.0 != 0 && self.0 & RES == 0 && self.tag() == tag && self.place() == place
    }
    /// The item this word points to.
    fn item(self) -> Item {
        let a = (self.0 & ADDR_MASK & !(RES | PLACE_MASK)) as *mut u8;
        // SAFETY: `item` is only called on words that are neither 0 nor BUSY,
        // which hold the address of an item published by `Index::insert` or
        // `Index::replace` (whose callers vouch that it is a chunk start of
        // the slab this index serves). Chunk starts are 8-aligned, so the
        // three low bits masked off are RES and the placement, never the
        // address's: it is non-null and a valid handle.
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
    /// The commit masks of the keys whose home this is, wherever they
    /// live, and the version (module docs).
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
    /// The key is present (committed; announced by this call if its
    /// inserter had not yet); nothing was stored.
    Exists(Found<'g>),
    /// Every candidate bucket is full; nothing was stored.
    Full,
}

/// A slot found by a scan, before it is tied to a guard.
#[derive(Clone, Copy)]
struct Slot {
    bucket: usize,
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

    /// Finds, among the slots in `ways`, the announced item of this tag and
    /// placement for which `eq` holds. The caller must be pinned.
    #[inline]
    fn find(
        &self,
        ways: u64,
        tag: u16,
        place: usize,
        eq: &mut impl FnMut(Item) -> bool,
    ) -> Option<(usize, Word)> {
        // PLANTED BUG (planted-relaxed-publish): a Relaxed load does not
        // acquire the writes that built the item before it was published.
        let load = if cfg!(feature = "planted-relaxed-publish") {
            Ordering::Relaxed
        } else {
            LOAD
        };
        for (i, s) in self.slots.iter().enumerate() {
            if ways & (1 << i) == 0 {
                continue;
            }
            let word = Word(s.load(load));
            if word.is(tag, place) && eq(word.item()) {
                return Some((i, word));
            }
        }
        None
    }

    /// The mask of the bucket's free slots, as read now.
    fn free(&self) -> u64 {
        let mut free = 0;
        for (i, s) in self.slots.iter().enumerate() {
            if s.load(LOAD) == 0 {
                free |= 1 << i;
            }
        }
        free
    }

    /// Reserves one of the slots in `free` for `word` (with RES set).
    /// Returns its number.
    fn reserve(&self, mut free: u64, word: Word) -> Option<usize> {
        while free != 0 {
            let i = free.trailing_zeros() as usize;
            free &= free - 1;
            if self.slots[i]
                .compare_exchange(0, word.0 | RES, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return Some(i);
            }
        }
        None
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

    /// The announced words of the bucket.
    fn announced(&self) -> impl Iterator<Item = (usize, Word)> + '_ {
        (0..WAYS).filter_map(|i| {
            let w = self.slots[i].load(LOAD);
            (w != 0 && w & RES == 0).then_some((i, Word(w)))
        })
    }
}

/// Where the buckets live: a huge-page region, or (under loom or shuttle,
/// whose atomics cannot be zero-initialized in place, or if mapping fails) a
/// boxed slice.
enum Buckets {
    #[cfg(not(any(hotset_loom, feature = "shuttle")))]
    Mapped(crate::raw::region::Region, usize),
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
    n: usize,
    /// Candidate buckets per key: 3, or fewer in a table too small for
    /// three distinct ones (1 bucket: 1; 2 or 3 buckets: 2).
    places: usize,
    backend: Backend,
}

impl Index {
    /// An index with at least `slots` slots (rounded up to whole buckets),
    /// whose items `reclaim` retires.
    pub fn with_slots(slots: usize, reclaim: ReclaimKind) -> Index {
        let n = slots.div_ceil(WAYS).clamp(1, 1 << 40);
        let places = match n {
            1 => 1,
            2 | 3 => 2,
            _ => PLACES,
        };
        let backend = Backend::new(reclaim);
        #[cfg(not(any(hotset_loom, feature = "shuttle")))]
        if let Some(r) = crate::raw::region::Region::new(n * std::mem::size_of::<Bucket>()) {
            return Index {
                buckets: Buckets::Mapped(r, n),
                n,
                places,
                backend,
            };
        }
        Index {
            buckets: Buckets::Boxed((0..n).map(|_| Bucket::new()).collect()),
            n,
            places,
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
    pub fn batch(&self, slab: std::sync::Arc<Slab>) -> Retired {
        Retired::new(&self.backend, slab)
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

    /// The bucket that is candidate `place` of keys whose home is `home`.
    #[inline]
    fn place_of(&self, home: usize, place: usize) -> usize {
        match place {
            0 => home,
            1 => wrap(home + 1, self.n),
            _ => wrap(home + self.n / 2, self.n),
        }
    }

    /// The home of the keys for which `bucket` is candidate `place`: the
    /// inverse of [`Index::place_of`].
    #[inline]
    fn home_of_place(&self, bucket: usize, place: usize) -> usize {
        match place {
            0 => bucket,
            1 => wrap(bucket + self.n - 1, self.n),
            _ => wrap(bucket + self.n - self.n / 2, self.n),
        }
    }

    #[inline]
    fn found<'g>(s: Slot) -> Found<'g> {
        Found {
            bucket: s.bucket,
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

    /// The announced item of home `h` and tag `tag` for which `eq` holds:
    /// the home's slots, then the alternates' slots its ctrl marks.
    #[inline]
    fn lookup(&self, h: usize, tag: u16, mut eq: impl FnMut(Item) -> bool) -> Option<Slot> {
        let home = &self.buckets[h];
        let ctrl = home.ctrl.load(Ordering::Acquire);
        if let Some((slot, word)) = home.find(WAY_MASK, tag, 0, &mut eq) {
            return Some(Slot {
                bucket: h,
                slot,
                word,
            });
        }
        (1..self.places).find_map(|place| {
            let ways = mask(ctrl, place);
            if ways == 0 {
                return None;
            }
            let bucket = self.place_of(h, place);
            let (slot, word) = self.buckets[bucket].find(ways, tag, place, &mut eq)?;
            Some(Slot { bucket, slot, word })
        })
    }

    /// Finds the committed item (announced or not) of home `h` for which
    /// `eq` holds. Returns it with a value of the home's ctrl that did not
    /// change while it was found, so its word is committed, not merely
    /// reserved; or, if the key is absent, `None` with the ctrl value the
    /// scan read, which the caller's commit CAS then validates: a commit,
    /// or a finished removal, of any of the home's keys since would have
    /// moved it. A removal between its CAS to BUSY and its ctrl update has
    /// not, but its key is already gone (lookups skip BUSY), and the old
    /// copy's bit, which it then clears, is not the new one's.
    #[inline(always)]
    fn find_committed(
        &self,
        h: usize,
        tag: u16,
        eq: &mut impl FnMut(Item) -> bool,
    ) -> (Option<Slot>, u64) {
        let ctrl_word = &self.buckets[h].ctrl;
        let mut ctrl = ctrl_word.load(Ordering::Acquire);
        loop {
            let Some(found) = self.scan_committed(h, ctrl, tag, eq) else {
                if cfg!(feature = "planted-stale-absence") {
                    // PLANTED BUG: report the key absent under a ctrl read
                    // after the scan, which a commit or removal that came in
                    // during the scan may already have moved.
                    return (None, ctrl_word.load(Ordering::Acquire));
                }
                return (None, ctrl);
            };
            let now = ctrl_word.load(Ordering::Acquire);
            if now == ctrl {
                return (Some(found), ctrl);
            }
            ctrl = now;
        }
    }

    /// Scans the slots that `ctrl`, a value read from home `h`'s ctrl,
    /// marks committed (they still are while ctrl keeps that value), for
    /// the word of this tag whose item `eq` accepts: one load per marked
    /// slot, in bit order (the home's own slots first).
    #[inline]
    fn scan_committed(
        &self,
        h: usize,
        ctrl: u64,
        tag: u16,
        eq: &mut impl FnMut(Item) -> bool,
    ) -> Option<Slot> {
        let mut bits = ctrl & MASKS;
        while bits != 0 {
            let b = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let (place, slot) = (b / WAYS, b % WAYS);
            let bucket = self.place_of(h, place);
            let w = self.buckets[bucket].slots[slot].load(LOAD);
            let word = Word(w);
            if w == 0 || w == BUSY || word.tag() != tag || word.place() != place {
                continue;
            }
            if eq(word.item()) {
                return Some(Slot { bucket, slot, word });
            }
        }
        None
    }

    /// Reserves a free slot for `item` in one of home `h`'s candidates, by
    /// the placement rule ([`HOME_BELOW`]). Returns the placement, the slot
    /// and the word (without RES).
    #[inline]
    fn reserve(&self, h: usize, tag: u16, item: Item) -> Option<(usize, usize, Word)> {
        let free = self.buckets[h].free();
        if WAYS - (free.count_ones() as usize) < HOME_BELOW {
            let word = Word::new(tag, item, 0);
            if let Some(slot) = self.buckets[h].reserve(free, word) {
                return Some((0, slot, word));
            }
        }
        self.reserve_away(h, tag, item, free)
    }

    /// [`Index::reserve`] for a crowded home (or one whose free slot was
    /// just taken), given the home's free mask as read. Out of line but not
    /// cold: at a full cache's load most homes hold five or more items.
    #[inline(never)]
    fn reserve_away(
        &self,
        h: usize,
        tag: u16,
        item: Item,
        home_free: u64,
    ) -> Option<(usize, usize, Word)> {
        let take = |place: usize, free: u64| {
            let word = Word::new(tag, item, place);
            let slot = self.buckets[self.place_of(h, place)].reserve(free, word)?;
            Some((place, slot, word))
        };
        let used = |free: u64| WAYS - free.count_ones() as usize;
        // The adjacent alternate (often in the same 128-byte pair of lines)
        // while it has room to spare.
        let near = if self.places > 1 {
            self.buckets[self.place_of(h, 1)].free()
        } else {
            0
        };
        if self.places > 1 && used(near) < HOME_BELOW {
            if let Some(r) = take(1, near) {
                return Some(r);
            }
        }
        let far = if self.places > 2 {
            self.buckets[self.place_of(h, 2)].free()
        } else {
            0
        };
        // Else the emptiest (a tie goes to the home, then the nearer
        // alternate); if a racing insert took its free slots meanwhile, any
        // candidate with a free slot left.
        let frees = [home_free, near, far];
        let frees = &frees[..self.places];
        let (best, _) = frees.iter().enumerate().min_by_key(|&(_, &f)| used(f))?;
        take(best, frees[best]).or_else(|| {
            frees
                .iter()
                .enumerate()
                .find_map(|(place, &f)| take(place, f))
        })
    }

    /// Inserts an item of home `h` whose key is not there. See the module
    /// docs.
    fn insert_at(
        &self,
        h: usize,
        tag: u16,
        item: Item,
        mut eq: impl FnMut(Item) -> bool,
    ) -> Result<(), Option<Slot>> {
        let (found, mut ctrl) = self.find_committed(h, tag, &mut eq);
        if let Some(f) = found {
            return Err(Some(self.help_announce(f)));
        }
        let Some((place, slot, new)) = self.reserve(h, tag, item) else {
            return Err(None);
        };
        let bucket = &self.buckets[self.place_of(h, place)];
        let ctrl_word = &self.buckets[h].ctrl;
        if cfg!(feature = "planted-blind-commit")
            || (cfg!(feature = "planted-blind-alternate-commit") && place != 0)
        {
            // PLANTED BUGS: commit without checking that no other commit
            // came in since the key was seen absent (blind-commit: every
            // commit; blind-alternate-commit: one in an alternate, trusting
            // its slot reservation as if it made the key's copy unique).
            ctrl_word.fetch_add(VERSION_ONE + bit(place, slot), Ordering::AcqRel);
            bucket.announce(slot, new);
            return Ok(());
        }
        loop {
            let next = (ctrl | bit(place, slot)).wrapping_add(VERSION_ONE);
            match ctrl_word.compare_exchange(ctrl, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    bucket.announce(slot, new);
                    return Ok(());
                }
                Err(_) => {
                    let (found, now) = self.find_committed(h, tag, &mut eq);
                    if let Some(f) = found {
                        // Lost to a concurrent insert of the same key. The
                        // reservation was never committed, so no other thread
                        // acts on it: give the slot back.
                        bucket.slots[slot].store(0, Ordering::Release);
                        return Err(Some(self.help_announce(f)));
                    }
                    ctrl = now;
                }
            }
        }
    }

    /// Announces a committed word that an insert of the same key found
    /// (`find_committed` reads them under a stable ctrl, so one with RES
    /// set is committed, not merely reserved), and returns it announced.
    /// Without this, an `add` could fail on a key that a get right after it
    /// still misses, because its inserter has not announced it yet. If the
    /// word was replaced or removed meanwhile, the CAS fails and the caller
    /// holds a stale word, as with any lookup.
    fn help_announce(&self, f: Slot) -> Slot {
        if f.word.0 & RES == 0 {
            return f;
        }
        let word = Word(f.word.0 & !RES);
        self.buckets[f.bucket].announce(f.slot, word);
        Slot { word, ..f }
    }

    /// Removes the exact word `old` from `slot` of `bucket`: CAS it to BUSY,
    /// clear its bit in its home's ctrl, free the slot.
    fn remove_slot(&self, bucket: usize, slot: usize, old: Word) -> bool {
        let b = &self.buckets[bucket];
        if b.slots[slot]
            .compare_exchange(old.0, BUSY, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // The bit is set (the word was committed) and only we clear it: one
        // add both clears it and bumps the version.
        let place = old.place();
        self.buckets[self.home_of_place(bucket, place)]
            .ctrl
            .fetch_add(VERSION_ONE.wrapping_sub(bit(place, slot)), Ordering::AcqRel);
        b.slots[slot].store(0, Ordering::Release);
        true
    }

    /// The announced item with this key, looked up under `g`: the tag
    /// first, the key bytes only on a tag match.
    #[inline]
    pub fn find<'g>(&self, hash: u64, key: &[u8], g: &'g Guard<'_>) -> Option<Found<'g>> {
        self.check(g);
        let s = self.lookup(self.home(hash), tag_of(hash), |it| {
            // SAFETY: the index's items are complete and held while `g`
            // (checked above) is pinned.
            unsafe { it.held(g) }.key() == key
        })?;
        Some(Self::found(s))
    }

    /// The announced item of the key hashing to `hash` whose header
    /// satisfies `pred` (compared without reading its key).
    pub fn find_where<'g>(
        &self,
        hash: u64,
        g: &'g Guard<'_>,
        mut pred: impl FnMut(Held<'g>) -> bool,
    ) -> Option<Found<'g>> {
        self.check(g);
        let s = self.lookup(self.home(hash), tag_of(hash), |it| {
            // SAFETY: read from the index under `g`, checked above.
            pred(unsafe { it.held(g) })
        })?;
        Some(Self::found(s))
    }

    /// Inserts `item`, whose key `key` hashes to `hash` and is not in the
    /// index (or reports the one that is, or that every candidate bucket is
    /// full). See the module docs for the commit protocol.
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
        let eq = |it: Item| {
            // SAFETY: as in `find`.
            unsafe { it.held(g) }.key() == key
        };
        match self.insert_at(self.home(hash), tag_of(hash), item, eq) {
            Ok(()) => Insert::Inserted,
            Err(Some(s)) => Insert::Exists(Self::found(s)),
            Err(None) => Insert::Full,
        }
    }

    /// Replaces the exact item `old` found under a guard with `new`, in the
    /// same slot. On success the caller owns `old` and must retire it.
    ///
    /// # Safety
    /// As for [`Index::insert`]: `new` is complete, LIVE, unpublished, owned
    /// by the caller, of this index's slab, with the same key as `old`.
    pub unsafe fn replace(&self, old: &Found<'_>, new: Item) -> bool {
        let w = Word::new(old.word.tag(), new, old.word.place());
        self.buckets[old.bucket].replace(old.slot, old.word, w)
    }

    /// Removes the exact item `old` found under a guard. On success the
    /// caller owns it and must retire it.
    pub fn remove(&self, old: &Found<'_>) -> bool {
        self.remove_slot(old.bucket, old.slot, old.word)
    }

    /// Unlinks exactly this item, whose key hashes to `hash`: for evictors,
    /// the sweeper and page drains, which reach it through the slab rather
    /// than by key. If the key was replaced or deleted meanwhile, no slot
    /// holds this exact word and nothing happens. Returns whether this
    /// caller unlinked it (and so must retire it).
    pub fn unlink(&self, hash: u64, item: Item) -> bool {
        let (h, tag) = (self.home(hash), tag_of(hash));
        for place in 0..self.places {
            let bucket = self.place_of(h, place);
            let want = Word::new(tag, item, place);
            let slots = &self.buckets[bucket].slots;
            let found = (0..WAYS).find_map(|i| {
                let w = Word(slots[i].load(LOAD));
                if cfg!(feature = "planted-evict-by-tag") {
                    // PLANTED BUG: match the tag, not the exact item, so a
                    // newer item of the key (or another key with the tag)
                    // goes.
                    w.is(tag, place).then_some((i, w))
                } else {
                    (w == want).then_some((i, want))
                }
            });
            if let Some((slot, w)) = found {
                return self.remove_slot(bucket, slot, w);
            }
        }
        false
    }

    /// The announced items of bucket `i` (whatever their home), under `g`.
    pub fn announced<'g>(
        &self,
        i: usize,
        g: &'g Guard<'_>,
    ) -> impl Iterator<Item = Found<'g>> + '_ {
        self.check(g);
        self.buckets[i].announced().map(move |(slot, word)| {
            Self::found(Slot {
                bucket: i,
                slot,
                word,
            })
        })
    }

    /// The announced items of the candidate buckets of `hash`, for choosing
    /// a victim when all of them are full.
    pub fn neighbours<'g>(
        &self,
        hash: u64,
        g: &'g Guard<'_>,
    ) -> impl Iterator<Item = Found<'g>> + '_ {
        let h = self.home(hash);
        self.check(g);
        (0..self.places).flat_map(move |place| {
            let bucket = self.place_of(h, place);
            self.buckets[bucket]
                .announced()
                .map(move |(slot, word)| Self::found(Slot { bucket, slot, word }))
        })
    }

    /// The home bucket of a hash.
    pub fn home_bucket(&self, hash: u64) -> usize {
        self.home(hash)
    }

    /// The home bucket of the key of `f`, by where its slot is and the
    /// placement its word records (for audits: it must be the key's hash's
    /// [`Index::home_bucket`]).
    pub fn home_of(&self, f: &Found<'_>) -> usize {
        self.home_of_place(f.bucket, f.word.place())
    }

    /// Committed slots of bucket `i`, by the ctrl masks that cover it (its
    /// own, and those of the homes it is an alternate of).
    pub fn bucket_len(&self, i: usize) -> usize {
        (0..self.places)
            .map(|place| {
                let ctrl = self.buckets[self.home_of_place(i, place)]
                    .ctrl
                    .load(Ordering::Relaxed);
                mask(ctrl, place).count_ones() as usize
            })
            .sum()
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

#[cfg(all(test, not(any(hotset_loom, feature = "shuttle"))))]
mod tests {
    use super::*;

    /// Each key's candidates are distinct buckets, and each placement maps
    /// back to its home, in tables of every small size and a large one.
    #[test]
    fn candidates_are_distinct_and_invert() {
        for n in (1..=9).chain([1000, 1001]) {
            let index = Index::with_slots(n * WAYS, ReclaimKind::Crossbeam);
            assert_eq!(index.buckets(), n);
            let places = match n {
                1 => 1,
                2 | 3 => 2,
                _ => 3,
            };
            assert_eq!(index.places, places);
            for h in 0..n {
                let mut seen = Vec::new();
                for place in 0..index.places {
                    let b = index.place_of(h, place);
                    assert!(b < n, "n {n} home {h} place {place}");
                    assert_eq!(
                        index.home_of_place(b, place),
                        h,
                        "n {n} home {h} place {place}"
                    );
                    assert!(!seen.contains(&b), "n {n} home {h}: candidate {b} twice");
                    seen.push(b);
                }
            }
        }
    }

    #[test]
    fn ctrl_fields_do_not_overlap() {
        let all: Vec<u64> = (0..PLACES)
            .flat_map(|p| (0..WAYS).map(move |s| bit(p, s)))
            .collect();
        let or = all.iter().fold(0, |a, b| a | b);
        assert_eq!(or.count_ones() as usize, WAYS * PLACES);
        assert!(or < VERSION_ONE);
        for p in 0..PLACES {
            assert_eq!(mask(or, p), WAY_MASK);
        }
    }
}
