//! The lock-free hash index.
//!
//! # Shape
//! A table is an array of buckets, each one 64-byte cache line:
//!
//! ```text
//! ctrl: AtomicU64   bits 0..21: three 7-bit masks of committed slots whose
//!                   items have this bucket as home: its own slots (0..7),
//!                   its first alternate's (7..14), its second's (14..21);
//!                   bit 21 FROZEN, bit 22 MOVED (growth, below);
//!                   bits 23..64: commit version
//! slot: [AtomicU64; 7]   0 = empty, else tag (14 bits) << 50 | COPIED
//!                        (bit 49) | FROZEN_WORD (bit 48) | item address
//!                        (48 bits), whose three low
//!                        bits (items are 8-aligned) hold RES (bit 0:
//!                        reserved, or committed but not announced) and the
//!                        placement (bits 1..3: 0 home, 1 first alternate,
//!                        2 second alternate)
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
//! serializes all commits of a key, wherever they land. The 14-bit tag (the
//! hash's top bits) and the placement are compared before an item is
//! touched, so a mismatch costs no item access. When a new key finds all
//! its candidates full, the index grows (below); only a table at its
//! largest size (or one still being moved into) reports `Full`, and the
//! caller then evicts one of the candidates' items
//! (`Engine::evict_from_bucket`).
//!
//! # Growth
//! The index starts small and grows by half whenever a new key finds its
//! candidate buckets full, so its size follows the item count: lookups
//! never degrade, and full buckets do not choose victims. Growth links a
//! table of 1.5× the buckets as the current table's `next` and moves the
//! old table's homes into it one at a time; the index's `cur` pointer
//! moves to the new table once every home has, and the old table is
//! retired through the collector, like an item.
//!
//! Moving home `h` (any number of threads at once: whoever needs it moved
//! does every step itself, so none waits for another):
//! 1. CAS `h`'s ctrl to FROZEN, unless it is already. No commit to `h` can
//!    succeed after it (commits CAS ctrl from a value without FROZEN), and
//!    a removal's bit clear still can, so the masks only lose bits.
//! 2. Freeze each committed word: load it, check that its bit is still set
//!    (then it is the committed word, or BUSY mid-removal: skipped), and
//!    CAS it to itself with FROZEN_WORD set (RES cleared: this announces an
//!    unannounced one), or take it as frozen if another mover did. A
//!    replace or removal CASes the exact unfrozen word, and fails on it.
//! 3. Copy each frozen item into the next table, by its key's hash there
//!    (the index keeps the hash function), inserting it by identity; then
//!    CAS its word from frozen to frozen | COPIED. Until the home is MOVED
//!    only movers put `h`'s keys into the next table, so the item itself
//!    identifies its key's copy there, and the commit protocol lets one
//!    copy land however many movers try. Each checks, before its commit
//!    CAS, that the word is still frozen and not COPIED (`Table::insert_at`'s
//!    `still`): a slow mover must not land the item after the home is
//!    MOVED, when a writer may have replaced or removed it there.
//! 4. If every candidate there is full, CAS the word to DROPPING (frozen |
//!    RES: lookups skip it), bump the version of the key's home's ctrl in
//!    the next table (a copy that checked the word before the mark now
//!    fails its commit CAS, then sees the mark), remove any copy that
//!    landed before, and CAS the word to BUSY: the winner clears its bit
//!    and hands the item to the engine to retire as an eviction
//!    (`take_orphans`). Any mover finishes a drop it finds.
//! 5. Once every word is COPIED or dropped, set MOVED on `h`'s ctrl; the
//!    mover that set it counts the home, and the one that counts the last
//!    swings `cur` to the next table and retires the old one (`settle`
//!    does the same without waiting for the count).
//!
//! Who moves what: an insert that finds its home full moves that home
//! first; while a growth is in progress, every insert moves the next
//! [`MIGRATE_STEP`] homes of a shared sweep; a writer of a key whose home
//! is FROZEN moves it; the sweeper thread, walks (flush_all) and the audit
//! finish what is left (`settle`).
//!
//! Readers never wait and never help: a lookup reads the home's ctrl, and
//! if MOVED looks in the next table; otherwise it reads this table, where a
//! frozen word reads like any other (its item is the one the next table
//! will hold). A lookup that read `h` before MOVED and returns a frozen
//! item that a later write in the next table replaced is linearizable at
//! its ctrl read, when that item was current. Writers of a key whose home
//! is FROZEN finish moving it (a home holds at most 21 items), then act in
//! the next table; a replace or removal whose CAS meets the frozen word
//! finds its item's new slot there by the item's address (`relocate`), so
//! it fails only if the item was genuinely replaced or removed (or
//! dropped). An unlink by address does the same.
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
use crate::sync::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::marker::PhantomData;
use std::ptr::NonNull;
// Statistics and the prefetch hint: they order nothing, so they stay std
// atomics under a model checker (see `sync.rs`).
use std::sync::atomic::AtomicUsize as StatUsize;

/// Slots per bucket.
pub const WAYS: usize = 7;
const RES: u64 = 1;
const BUSY: u64 = RES;
/// The placement bits of a slot word (see the module docs).
const PLACE_SHIFT: u32 = 1;
const PLACE_MASK: u64 = 3 << PLACE_SHIFT;
const ADDR_MASK: u64 = (1 << 48) - 1;
/// Set in a slot word by the migration that copies it into the next
/// table: from then the word is never replaced or removed in this table.
/// A frozen word with RES set is being dropped by the migration (no room
/// in the next table): lookups skip it, as they skip any RES word.
const FROZEN_WORD: u64 = 1 << 48;
/// A frozen word being dropped: its item goes from both tables.
const DROPPING: u64 = FROZEN_WORD | RES;
/// Set on a frozen word once its item is committed in the next table.
const COPIED: u64 = 1 << 49;
/// A slot word's tag: the hash's top 14 bits.
const TAG_SHIFT: u32 = 50;
/// The bits of a slot word a lookup compares: tag, placement and RES.
const MATCH: u64 = !(ADDR_MASK | FROZEN_WORD | COPIED) | PLACE_MASK | RES;
const WAY_MASK: u64 = (1 << WAYS) - 1;
/// Candidate buckets per key: the home and two alternates.
const PLACES: usize = 3;
/// The three commit masks of a ctrl word.
const MASKS: u64 = (1 << (WAYS * PLACES)) - 1;
/// ctrl: a migration owns the home; its keys are about to move to the
/// next table, and nothing commits to it here any more.
const FROZEN: u64 = 1 << (WAYS * PLACES);
/// ctrl: the home's keys are in the next table.
const MOVED: u64 = FROZEN << 1;
const VERSION_ONE: u64 = MOVED << 1;
const LOAD: Ordering = Ordering::SeqCst;

/// A new key goes to its home bucket while the home holds fewer than this
/// many items, else to the adjacent alternate while that does, and
/// otherwise to whichever candidate holds fewest. On the 100-byte fill of
/// `results/memory/run.sh` at index load 0.76, 3.6% of the evictions were
/// then a full candidate set's, against 57.6% with the home alone; growth
/// (below) now takes their place. A model of that fill puts about a third
/// of the items away from home, where a hit costs a second cache line; 6
/// or 7 keep more at home, but more candidate sets fill up.
pub const HOME_BELOW: usize = 5;

/// Homes an insert moves into the next table while the index grows, on
/// top of its own when that was full: growth finishes after the table's
/// bucket count / 8 inserts, and no insert moves more than 8 × 21 items.
const MIGRATE_STEP: usize = 8;

/// The bucket count a table of `n` buckets grows to: half as many again.
/// Doubling would halve the load at each step and leave a full cache's
/// index at anywhere from 1/2 to 1 of the load that fills a candidate set;
/// × 1.5 keeps it between 2/3 and 1, for 3 moves per item over a fill
/// rather than 2.
fn grown(n: usize) -> usize {
    n + (n / 2).max(1)
}

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

/// A slot word: tag + address (+ placement, + RES, + FROZEN_WORD).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Word(u64);

impl Word {
    fn new(tag: u16, item: Item, place: usize) -> Word {
        let a = item.ptr().as_ptr() as u64;
        debug_assert!(a & !ADDR_MASK == 0 && a & 7 == 0 && place < PLACES);
        Word((tag as u64) << TAG_SHIFT | a | (place as u64) << PLACE_SHIFT)
    }
    fn tag(self) -> u16 {
        (self.0 >> TAG_SHIFT) as u16
    }
    /// Which of its key's candidates the word's bucket is.
    fn place(self) -> usize {
        ((self.0 & PLACE_MASK) >> PLACE_SHIFT) as usize
    }
    /// Whether the word holds an announced item of this tag and placement
    /// (frozen or not).
    #[inline]
    fn is(self, tag: u16, place: usize) -> bool {
        self.0 != 0 && self.0 & RES == 0 && self.tag() == tag && self.place() == place
    }
    /// The word without its migration marks (frozen, copied).
    fn thawed(self) -> Word {
        Word(self.0 & !(FROZEN_WORD | COPIED))
    }
    /// Whether `now`, read from this word's slot, is this (announced) word
    /// frozen by a migration: copied, being copied, or being dropped.
    fn frozen_in(self, now: u64) -> bool {
        now & FROZEN_WORD != 0 && Word(now).thawed().0 & !RES == self.0
    }
    /// The item this word points to.
    fn item(self) -> Item {
        let a = (self.0 & ADDR_MASK & !(RES | PLACE_MASK)) as *mut u8;
        // SAFETY: `item` is only called on words that are neither 0 nor BUSY,
        // which hold the address of an item published by `Index::insert` or
        // `Index::replace` (whose callers vouch that it is a chunk start of
        // the slab this index serves). Chunk starts are 8-aligned, so the
        // three low bits masked off are RES and the placement, never the
        // address's, and the frozen mark lies above the 48 address bits: it
        // is non-null and a valid handle.
        unsafe { Item::from_ptr(NonNull::new_unchecked(a)) }
    }
}

/// The tag of a hash: its top 14 bits (the low 48 pick the bucket).
#[inline]
fn tag_of(hash: u64) -> u16 {
    (hash >> TAG_SHIFT) as u16
}

/// One cache line of the index.
#[repr(C, align(64))]
struct Bucket {
    /// The commit masks of the keys whose home this is, wherever they
    /// live, FROZEN and MOVED, and the version (module docs).
    ctrl: AtomicU64,
    slots: [AtomicU64; WAYS],
}

/// A slot of the index and the item it held when read under a guard.
///
/// It borrows that guard: its item is [`Held`] for as long, and so is the
/// table the slot is in.
#[derive(Clone, Copy)]
pub struct Found<'g> {
    table: &'g Table,
    bucket: usize,
    slot: usize,
    /// The word read, without the frozen mark.
    word: Word,
    _guard: PhantomData<&'g ()>,
}

impl std::fmt::Debug for Found<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Found")
            .field("bucket", &self.bucket)
            .field("slot", &self.slot)
            .field("word", &self.word)
            .finish()
    }
}

impl<'g> Found<'g> {
    fn new(table: &'g Table, s: Slot) -> Found<'g> {
        Found {
            table,
            bucket: s.bucket,
            slot: s.slot,
            word: s.word.thawed(),
            _guard: PhantomData,
        }
    }

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

    /// The bucket the slot is in (in the table it was found in).
    #[cfg(all(test, hotset_loom))]
    pub fn bucket(&self) -> usize {
        self.bucket
    }

    /// The home bucket of the key, by where its slot is and the placement
    /// its word records (for audits: in a settled index it must be the
    /// key's hash's [`Index::home_bucket`]).
    pub fn home(&self) -> usize {
        self.table.home_of_place(self.bucket, self.word.place())
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
    /// Every candidate bucket is full and the index cannot grow (it is at
    /// its largest, or still moving into its last growth); nothing was
    /// stored.
    Full,
}

/// A slot found by a scan (or frozen by a migration), before it is tied
/// to a table and a guard.
#[derive(Clone, Copy)]
struct Slot {
    bucket: usize,
    slot: usize,
    word: Word,
}

/// Why an insert into one table did not commit.
enum Miss {
    /// The key is there.
    Exists(Slot),
    /// Every candidate bucket is full.
    Full,
    /// The home is frozen or moved: its keys go to the next table.
    Frozen,
    /// A migration's copy found its source word no longer frozen (copied
    /// or dropped by another mover) before it could commit.
    Stale,
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
        // One masked compare per slot: tag, placement and RES (which
        // also rejects BUSY) at once; 0 matches only the all-zero want.
        let want = (tag as u64) << TAG_SHIFT | (place as u64) << PLACE_SHIFT;
        for (i, s) in self.slots.iter().enumerate() {
            if ways & (1 << i) == 0 {
                continue;
            }
            let w = s.load(load);
            if w & MATCH == want && w != 0 && eq(Word(w).item()) {
                return Some((i, Word(w)));
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
    /// replaced, removed, announced or froze the word, which is theirs to
    /// handle.
    fn announce(&self, slot: usize, new: Word) {
        let _ = self.slots[slot].compare_exchange(
            new.0 | RES,
            new.0,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }

    /// The announced words of the bucket (frozen ones too).
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

impl Buckets {
    /// `n` zeroed buckets in a huge-page region, if the OS gives one.
    #[cfg(not(any(hotset_loom, feature = "shuttle")))]
    fn mapped(n: usize) -> Option<Buckets> {
        crate::raw::region::Region::new(n * std::mem::size_of::<Bucket>())
            .map(|r| Buckets::Mapped(r, n))
    }

    /// Under a model checker, always boxed.
    #[cfg(any(hotset_loom, feature = "shuttle"))]
    fn mapped(_n: usize) -> Option<Buckets> {
        None
    }
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

/// One table of buckets. The index has one, or two while it grows: the
/// current one and, linked from it, the larger `next` its homes move into.
pub struct Table {
    buckets: Buckets,
    /// The number of buckets, at least 1 and below 2^48.
    n: usize,
    /// Candidate buckets per key: 3, or fewer in a table too small for
    /// three distinct ones (1 bucket: 1; 2 or 3 buckets: 2).
    places: usize,
    /// The table this one grows into: null until growth starts, then set
    /// once (before any home is frozen) and never changed.
    next: AtomicPtr<Table>,
    /// The next home the inserts' shared sweep moves (`MIGRATE_STEP` at a
    /// time); homes a full insert moved first are skipped.
    claim: AtomicUsize,
    /// Homes moved; the migration that brings it to `n` retires the table.
    moved: AtomicUsize,
}

impl Table {
    fn new(n: usize) -> Table {
        let n = n.clamp(1, 1 << 40);
        let places = match n {
            1 => 1,
            2 | 3 => 2,
            _ => PLACES,
        };
        let buckets = Buckets::mapped(n)
            .unwrap_or_else(|| Buckets::Boxed((0..n).map(|_| Bucket::new()).collect()));
        Table {
            buckets,
            n,
            places,
            next: AtomicPtr::new(std::ptr::null_mut()),
            claim: AtomicUsize::new(0),
            moved: AtomicUsize::new(0),
        }
    }

    /// Number of buckets.
    pub fn buckets(&self) -> usize {
        self.n
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
    /// inverse of [`Table::place_of`].
    #[inline]
    fn home_of_place(&self, bucket: usize, place: usize) -> usize {
        match place {
            0 => bucket,
            1 => wrap(bucket + self.n - 1, self.n),
            _ => wrap(bucket + self.n - self.n / 2, self.n),
        }
    }

    /// The table this one grows into.
    ///
    /// # Panics
    /// If growth has not started: callers reach here only after seeing a
    /// home FROZEN or MOVED, which happens after `next` is set.
    fn next(&self) -> &Table {
        let p = self.next.load(Ordering::Acquire);
        assert!(!p.is_null(), "hotset: a frozen home without a next table");
        // SAFETY: `next` is set once, to a table that outlives this one:
        // it becomes the index's current table before this one is retired,
        // and is itself retired only after a later grace period, which
        // waits for every guard under which this one was reached.
        unsafe { &*p }
    }

    /// The announced item of home `h` and tag `tag` for which `eq` holds:
    /// the home's slots, then the alternates' slots its ctrl marks; or
    /// `Err` if the home moved to the next table.
    #[inline]
    fn lookup(
        &self,
        h: usize,
        tag: u16,
        eq: &mut impl FnMut(Item) -> bool,
    ) -> Result<Option<Slot>, ()> {
        let home = &self.buckets[h];
        let ctrl = home.ctrl.load(Ordering::Acquire);
        if ctrl & MOVED != 0 {
            return Err(());
        }
        if let Some((slot, word)) = home.find(WAY_MASK, tag, 0, eq) {
            return Ok(Some(Slot {
                bucket: h,
                slot,
                word,
            }));
        }
        Ok((1..self.places).find_map(|place| {
            let ways = mask(ctrl, place);
            if ways == 0 {
                return None;
            }
            let bucket = self.place_of(h, place);
            let (slot, word) = self.buckets[bucket].find(ways, tag, place, eq)?;
            Some(Slot { bucket, slot, word })
        }))
    }

    /// Finds the committed item (announced or not) of home `h` for which
    /// `eq` holds. Returns it with a value of the home's ctrl that did not
    /// change while it was found, so its word is committed, not merely
    /// reserved; or, if the key is absent, `None` with the ctrl value the
    /// scan read, which the caller's commit CAS then validates: a commit,
    /// a freeze, or a finished removal of any of the home's keys since
    /// would have moved it. A removal between its CAS to BUSY and its ctrl
    /// update has not, but its key is already gone (lookups skip BUSY), and
    /// the old copy's bit, which it then clears, is not the new one's.
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
            // (A frozen word with RES is being dropped by a migration: its
            // key is leaving, and announcing it would revive it.)
            if w == 0
                || w == BUSY
                || w & DROPPING == DROPPING
                || word.tag() != tag
                || word.place() != place
            {
                continue;
            }
            if eq(word.item()) {
                return Some(Slot { bucket, slot, word });
            }
        }
        None
    }

    /// The slot holding exactly `item` (announced; frozen or not) among the
    /// candidates of home `h`, for unlinking by address.
    #[inline]
    fn find_exact(&self, h: usize, tag: u16, item: Item) -> Option<Slot> {
        let base = Word::new(tag, item, 0).0;
        for place in 0..self.places {
            let bucket = self.place_of(h, place);
            let want = base | (place as u64) << PLACE_SHIFT;
            for (slot, s) in self.buckets[bucket].slots.iter().enumerate() {
                let w = s.load(LOAD);
                let hit = if cfg!(feature = "planted-evict-by-tag") {
                    // PLANTED BUG: match the tag, not the exact item, so a
                    // newer item of the key (or another key with the tag)
                    // goes.
                    Word(w).is(tag, place)
                } else {
                    w & !(FROZEN_WORD | COPIED) == want
                };
                if hit {
                    return Some(Slot {
                        bucket,
                        slot,
                        word: Word(w),
                    });
                }
            }
        }
        None
    }

    /// Reserves a free slot for `item` in one of home `h`'s candidates, by
    /// the placement rule ([`HOME_BELOW`]). Returns the placement, the slot
    /// and the word (without RES).
    #[inline(always)]
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

    /// [`Table::reserve`] for a crowded home (or one whose free slot was
    /// just taken), given the home's free mask as read. Out of line but not
    /// cold: at a full cache's load many homes hold five or more items.
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
    /// `still` is checked before each commit CAS (always true but for a
    /// migration's copies, which must not commit once their source word is
    /// no longer frozen).
    #[inline(always)]
    fn insert_at(
        &self,
        h: usize,
        tag: u16,
        item: Item,
        eq: &mut impl FnMut(Item) -> bool,
        still: impl Fn() -> bool,
    ) -> Result<(), Miss> {
        let (found, mut ctrl) = self.find_committed(h, tag, eq);
        if let Some(f) = found {
            return Err(Miss::Exists(self.help_announce(f)));
        }
        if ctrl & (FROZEN | MOVED) != 0 {
            return Err(Miss::Frozen);
        }
        let Some((place, slot, new)) = self.reserve(h, tag, item) else {
            return Err(Miss::Full);
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
            // PLANTED BUG (planted-unchecked-copy): a copy commits without
            // checking that its source word is still frozen, so a slow
            // mover can put back an item another mover already copied and
            // a writer then replaced or removed, or one being dropped.
            if !cfg!(feature = "planted-unchecked-copy") && !still() {
                // Never committed: no other thread acts on the slot.
                bucket.slots[slot].store(0, Ordering::Release);
                return Err(Miss::Stale);
            }
            let next = (ctrl | bit(place, slot)).wrapping_add(VERSION_ONE);
            match ctrl_word.compare_exchange(ctrl, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    bucket.announce(slot, new);
                    return Ok(());
                }
                Err(_) => {
                    let (found, now) = self.find_committed(h, tag, eq);
                    if found.is_some() || now & (FROZEN | MOVED) != 0 {
                        // Lost to a concurrent insert of the same key, or to
                        // a migration. The reservation was never committed,
                        // so no other thread acts on it: give the slot back.
                        bucket.slots[slot].store(0, Ordering::Release);
                        return Err(match found {
                            Some(f) => Miss::Exists(self.help_announce(f)),
                            None => Miss::Frozen,
                        });
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
    /// word was replaced, removed or frozen meanwhile, the CAS fails and
    /// the caller holds a stale word, as with any lookup.
    fn help_announce(&self, f: Slot) -> Slot {
        if f.word.0 & RES == 0 {
            return f;
        }
        let word = Word(f.word.0 & !RES);
        self.buckets[f.bucket].announce(f.slot, word);
        Slot { word, ..f }
    }

    /// Removes the exact word `old` from `slot` of `bucket`: CAS it to BUSY,
    /// clear its bit in its home's ctrl, free the slot. On failure, the
    /// word the slot held.
    fn remove_slot(&self, bucket: usize, slot: usize, old: Word) -> Result<(), u64> {
        let b = &self.buckets[bucket];
        b.slots[slot].compare_exchange(old.0, BUSY, Ordering::AcqRel, Ordering::Acquire)?;
        self.clear(bucket, slot, old);
        Ok(())
    }

    /// The rest of a removal whose CAS to BUSY won: clear the word's bit in
    /// its home's ctrl (the bit is set, the word was committed, and only
    /// the winner clears it: one add both clears it and bumps the version),
    /// then free the slot.
    fn clear(&self, bucket: usize, slot: usize, old: Word) {
        let place = old.place();
        self.buckets[self.home_of_place(bucket, place)]
            .ctrl
            .fetch_add(VERSION_ONE.wrapping_sub(bit(place, slot)), Ordering::AcqRel);
        self.buckets[bucket].slots[slot].store(0, Ordering::Release);
    }

    /// The announced items of bucket `i` (whatever their home).
    pub fn announced<'g>(&'g self, i: usize) -> impl Iterator<Item = Found<'g>> + 'g {
        self.buckets[i].announced().map(move |(slot, word)| {
            Found::new(
                self,
                Slot {
                    bucket: i,
                    slot,
                    word,
                },
            )
        })
    }

    /// The home bucket of a hash.
    pub fn home_bucket(&self, hash: u64) -> usize {
        self.home(hash)
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

    fn memory(&self) -> usize {
        self.n * std::mem::size_of::<Bucket>()
    }
}

/// The hash function of an index's keys.
pub type KeyHash = Box<dyn Fn(&[u8]) -> u64 + Send + Sync>;

/// The index: its table (two while it grows), the collector that retires
/// the items they hold, and the hash function that places keys.
pub struct Index {
    /// The oldest live table, never null. Growth links a larger one as its
    /// `next`, moves every home into it, then points this at it and retires
    /// the old one.
    cur: AtomicPtr<Table>,
    /// Growth stops at this many buckets; a full candidate set then
    /// reports [`Insert::Full`].
    max_buckets: usize,
    /// The hash of a key, as every caller computes it: a migration
    /// re-homes items by their keys.
    hasher: KeyHash,
    /// Items a migration could not place (every candidate in the next
    /// table full), unlinked and waiting for the engine to retire them as
    /// evictions ([`Index::take_orphans`]): a stack that movers push onto
    /// with a CAS and the engine empties with one swap (no pop of a single
    /// node, so no ABA), null when empty.
    orphans: AtomicPtr<Orphan>,
    /// Roughly how many are on it, for [`Index::has_orphans`], which the
    /// engine asks often (a std atomic: it orders nothing).
    orphan_count: StatUsize,
    /// For the models: the migration's next copy attempt numbered this
    /// (from 0) finds the next table full ([`Index::fail_copy`]).
    #[cfg(all(test, hotset_loom))]
    fail_copy: (StatUsize, StatUsize),
    /// The current table's base address and bucket count, for
    /// [`Index::prefetch`], which is not pinned and so never dereferences.
    hint: (StatUsize, StatUsize),
    /// Bytes of the live tables.
    bytes: StatUsize,
    backend: Backend,
}

impl Index {
    /// An index of at least `slots` slots (rounded up to whole buckets),
    /// growing to at most `max_slots` (but never below its start), whose
    /// items `reclaim` retires and whose keys `hash` places.
    pub fn new(slots: usize, max_slots: usize, reclaim: ReclaimKind, hash: KeyHash) -> Index {
        let t = Box::new(Table::new(slots.div_ceil(WAYS)));
        let index = Index {
            max_buckets: max_slots.div_ceil(WAYS).clamp(t.n, 1 << 40),
            hasher: hash,
            orphans: AtomicPtr::new(std::ptr::null_mut()),
            orphan_count: StatUsize::new(0),
            #[cfg(all(test, hotset_loom))]
            fail_copy: (StatUsize::new(0), StatUsize::new(usize::MAX)),
            hint: (StatUsize::new(0), StatUsize::new(0)),
            bytes: StatUsize::new(t.memory()),
            backend: Backend::new(reclaim),
            cur: AtomicPtr::new(Box::into_raw(t)),
        };
        // SAFETY: just made, not shared yet.
        index.set_hint(unsafe { &*index.cur.load(Ordering::Relaxed) });
        index
    }

    fn set_hint(&self, t: &Table) {
        self.hint.0.store(
            t.buckets.as_ptr() as usize,
            std::sync::atomic::Ordering::Relaxed,
        );
        self.hint.1.store(t.n, std::sync::atomic::Ordering::Relaxed);
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
    /// not keep this index's items (or tables) from being reclaimed.
    #[inline]
    fn check(&self, g: &Guard<'_>) {
        assert!(
            self.backend.owns(g),
            "hotset: index used with another cache's guard"
        );
    }

    /// The current table, for as long as `g` (checked by the caller) pins.
    #[inline]
    fn table<'g>(&self, _g: &'g Guard<'_>) -> &'g Table {
        // SAFETY: `cur` is never null, and a table leaves it only in
        // `finish`, which defers its drop past the grace period of every
        // guard pinned then, `g` among them (it pins this index's
        // collector: the caller checked).
        unsafe { &*self.cur.load(Ordering::Acquire) }
    }

    /// Finishes moving home `h` of `t` (frozen by a migration), helping
    /// whoever started, and returns the table it moved to.
    fn moved<'g>(&self, t: &'g Table, h: usize, g: &Guard<'_>) -> &'g Table {
        self.migrate_home(t, h, g);
        debug_assert!(t.buckets[h].ctrl.load(Ordering::Acquire) & MOVED != 0);
        t.next()
    }

    /// Starts fetching the home bucket of `hash` into the cache, ahead of a
    /// lookup (unpinned: the address is only a hint, never dereferenced).
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        let base = self.hint.0.load(std::sync::atomic::Ordering::Relaxed);
        let n = self.hint.1.load(std::sync::atomic::Ordering::Relaxed);
        let h = (((hash & ADDR_MASK) as u128 * n as u128) >> 48) as usize;
        crate::prefetch(base.wrapping_add(h * std::mem::size_of::<Bucket>()) as *const u8);
    }

    /// The announced item of the key hashing to `hash` for which `eq`
    /// holds, in the table its home is in now.
    #[inline]
    fn lookup<'g>(
        &self,
        hash: u64,
        g: &'g Guard<'_>,
        mut eq: impl FnMut(Item) -> bool,
    ) -> Option<Found<'g>> {
        self.check(g);
        let tag = tag_of(hash);
        let mut t = self.table(g);
        loop {
            match t.lookup(t.home(hash), tag, &mut eq) {
                Ok(s) => return s.map(|s| Found::new(t, s)),
                Err(()) => t = t.next(),
            }
        }
    }

    /// The announced item with this key, looked up under `g`: the tag
    /// first, the key bytes only on a tag match.
    #[inline]
    pub fn find<'g>(&self, hash: u64, key: &[u8], g: &'g Guard<'_>) -> Option<Found<'g>> {
        self.lookup(hash, g, |it| {
            // SAFETY: the index's items are complete and held while `g`
            // (checked by `lookup`) is pinned.
            unsafe { it.held(g) }.key() == key
        })
    }

    /// The announced item of the key hashing to `hash` whose header
    /// satisfies `pred` (compared without reading its key).
    pub fn find_where<'g>(
        &self,
        hash: u64,
        g: &'g Guard<'_>,
        mut pred: impl FnMut(Held<'g>) -> bool,
    ) -> Option<Found<'g>> {
        self.lookup(hash, g, |it| {
            // SAFETY: read from the index under `g`, checked by `lookup`.
            pred(unsafe { it.held(g) })
        })
    }

    /// Inserts `item`, whose key `key` hashes to `hash` and is not in the
    /// index (or reports the one that is, or that every candidate bucket is
    /// full). See the module docs for the commit protocol and growth.
    ///
    /// # Safety
    /// `item` must be a complete item with LIVE set, in a chunk the caller
    /// owns and has not published, of the slab whose chunks this index
    /// holds (a slab that outlives the index and its guards, and whose
    /// chunks only this index's collector retires), with key `key`, which
    /// the index's hash function maps to `hash`. On `Exists` or `Full` it
    /// was not published but may have been seen by readers, so it must be
    /// retired, not freed.
    pub unsafe fn insert<'g>(
        &self,
        hash: u64,
        item: Item,
        key: &[u8],
        g: &'g Guard<'_>,
    ) -> Insert<'g> {
        self.check(g);
        let mut eq = |it: Item| {
            // SAFETY: as in `find`.
            unsafe { it.held(g) }.key() == key
        };
        let tag = tag_of(hash);
        let mut t = self.table(g);
        if !t.next.load(Ordering::Acquire).is_null() {
            self.migrate_some(t, g);
            t = self.table(g);
        }
        loop {
            let h = t.home(hash);
            match t.insert_at(h, tag, item, &mut eq, || true) {
                Ok(()) => return Insert::Inserted,
                Err(Miss::Exists(s)) => return Insert::Exists(Found::new(t, s)),
                Err(Miss::Frozen | Miss::Stale) => t = self.moved(t, h, g),
                Err(Miss::Full) => match self.grow(t, h, g) {
                    Some(next) => t = next,
                    None => return Insert::Full,
                },
            }
        }
    }

    /// Replaces the exact item `old` found under a guard with `new`, in the
    /// same slot (or, if a migration moved it meanwhile, in its slot in the
    /// next table). On success the caller owns `old` and must retire it.
    ///
    /// # Safety
    /// As for [`Index::insert`]: `new` is complete, LIVE, unpublished, owned
    /// by the caller, of this index's slab, with the same key as `old`.
    pub unsafe fn replace(&self, old: &Found<'_>, new: Item, g: &Guard<'_>) -> bool {
        self.check(g);
        let mut at = *old;
        loop {
            let w = Word::new(at.word.tag(), new, at.word.place());
            match at.table.buckets[at.bucket].slots[at.slot].compare_exchange(
                at.word.0,
                w.0,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => match self.relocate(&at, now, old, g) {
                    Some(moved) => at = moved,
                    None => return false,
                },
            }
        }
    }

    /// Removes the exact item `old` found under `g` (wherever a migration
    /// moved it since). On success the caller owns it and must retire it.
    pub fn remove(&self, old: &Found<'_>, g: &Guard<'_>) -> bool {
        self.check(g);
        let mut at = *old;
        loop {
            match at.table.remove_slot(at.bucket, at.slot, at.word) {
                Ok(()) => return true,
                Err(now) => match self.relocate(&at, now, old, g) {
                    Some(moved) => at = moved,
                    None => return false,
                },
            }
        }
    }

    /// After a CAS on `at`'s slot failed, finding `now` there: if that is
    /// the same word frozen, its item's slot in the next table (once its
    /// home has moved: this helps move it), else `None` (the item was
    /// replaced or removed, or dropped by the migration).
    fn relocate<'g>(
        &self,
        at: &Found<'g>,
        now: u64,
        old: &Found<'g>,
        g: &Guard<'_>,
    ) -> Option<Found<'g>> {
        if !at.word.frozen_in(now) {
            return None;
        }
        let next = self.moved(at.table, at.home(), g);
        let hash = (self.hasher)(old.item().key());
        let s = next.find_exact(next.home(hash), tag_of(hash), at.word.item())?;
        Some(Found::new(next, s))
    }

    /// Unlinks exactly this item, whose key hashes to `hash`: for evictors,
    /// the sweeper and page drains, which reach it through the slab rather
    /// than by key. If the key was replaced or deleted meanwhile, no slot
    /// holds this exact word and nothing happens. Returns whether this
    /// caller unlinked it (and so must retire it).
    pub fn unlink(&self, hash: u64, item: Item, g: &Guard<'_>) -> bool {
        self.check(g);
        let tag = tag_of(hash);
        let mut t = self.table(g);
        loop {
            let h = t.home(hash);
            let Some(s) = t.find_exact(h, tag, item) else {
                // Not here. If the home has moved, the item may be one
                // inserted into the next table since; if it has not, it
                // had not when the scan ran (a migration freezes words in
                // place, so a moved item would have been found frozen).
                if t.buckets[h].ctrl.load(Ordering::Acquire) & MOVED != 0 {
                    t = t.next();
                    continue;
                }
                return false;
            };
            match t.remove_slot(s.bucket, s.slot, s.word.thawed()) {
                Ok(()) => return true,
                Err(now) if s.word.thawed().frozen_in(now) => t = self.moved(t, h, g),
                Err(_) => return false,
            }
        }
    }

    /// The announced items of the candidate buckets of `hash`, for choosing
    /// a victim when all of them are full (in the table where its home is
    /// now; waiting out a migration of it).
    pub fn neighbours<'g>(
        &self,
        hash: u64,
        g: &'g Guard<'_>,
    ) -> impl Iterator<Item = Found<'g>> + 'g {
        self.check(g);
        let mut t = self.table(g);
        let h = loop {
            let h = t.home(hash);
            let ctrl = t.buckets[h].ctrl.load(Ordering::Acquire);
            if ctrl & (FROZEN | MOVED) == 0 {
                break h;
            }
            t = self.moved(t, h, g);
        };
        (0..t.places).flat_map(move |place| t.announced(t.place_of(h, place)))
    }

    /// Grows the index after an insert found home `h` of `t` full: links a
    /// larger table (unless one is linked), moves `h` into it (helping
    /// whoever started), and returns it. `None` if `t` may not grow: it is
    /// at the largest size, or is itself still being moved into.
    fn grow<'g>(&self, t: &'g Table, h: usize, g: &'g Guard<'_>) -> Option<&'g Table> {
        if !self.link_next(t) {
            return None;
        }
        Some(self.moved(t, h, g))
    }

    /// For the models: the copy attempt numbered `attempt` (from 0, over
    /// all movers) finds the next table full, so that the item is dropped
    /// while another mover may be copying it.
    #[cfg(all(test, hotset_loom))]
    pub fn fail_copy(&self, attempt: usize) {
        self.fail_copy
            .1
            .store(attempt, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether this copy attempt is the one [`Index::fail_copy`] chose.
    #[inline]
    fn copy_fails(&self) -> bool {
        #[cfg(all(test, hotset_loom))]
        {
            use std::sync::atomic::Ordering::Relaxed;
            self.fail_copy.0.fetch_add(1, Relaxed) == self.fail_copy.1.load(Relaxed)
        }
        #[cfg(not(all(test, hotset_loom)))]
        false
    }

    /// Starts growing the index now, as a full candidate set would (for
    /// the models): links a larger table, whose homes the inserts then
    /// move. Returns whether a growth is in progress.
    #[cfg(all(test, hotset_loom))]
    pub fn start_growth(&self, g: &Guard<'_>) -> bool {
        self.check(g);
        self.link_next(self.table(g))
    }

    /// Links a larger table after `t` unless one is linked. `false` if `t`
    /// may not grow: it is at the largest size, or is itself still being
    /// moved into (not the current table).
    fn link_next(&self, t: &Table) -> bool {
        if !t.next.load(Ordering::Acquire).is_null() {
            return true;
        }
        let cur = self.cur.load(Ordering::Acquire);
        if !std::ptr::eq(cur, t) || t.n >= self.max_buckets {
            return false;
        }
        let fresh = Box::into_raw(Box::new(Table::new(grown(t.n).min(self.max_buckets))));
        match t.next.compare_exchange(
            std::ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                // SAFETY: published just now; tables are dropped only
                // through `finish` or the index's drop.
                let n = unsafe { &*fresh }.memory();
                self.bytes
                    .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            }
            // SAFETY: never shared: another thread linked its table.
            Err(_) => drop(unsafe { Box::from_raw(fresh) }),
        }
        true
    }

    /// An insert's share of a growth in progress: the next
    /// [`MIGRATE_STEP`] homes of the sweep.
    fn migrate_some(&self, t: &Table, g: &Guard<'_>) {
        let start = t.claim.fetch_add(MIGRATE_STEP, Ordering::Relaxed);
        for h in start..(start + MIGRATE_STEP).min(t.n) {
            self.migrate_home(t, h, g);
        }
    }

    /// Moves home `h` of `t` into `t.next`, or helps whoever started to:
    /// returns once the home is MOVED. See "Growth" in the module docs.
    fn migrate_home(&self, t: &Table, h: usize, g: &Guard<'_>) {
        let ctrl_word = &t.buckets[h].ctrl;
        let mut ctrl = ctrl_word.load(Ordering::Acquire);
        while ctrl & FROZEN == 0 {
            if ctrl & MOVED != 0 {
                return;
            }
            let frozen = (ctrl | FROZEN).wrapping_add(VERSION_ONE);
            match ctrl_word.compare_exchange(ctrl, frozen, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => ctrl = frozen,
                Err(now) => ctrl = now,
            }
        }
        if ctrl & MOVED != 0 {
            return;
        }
        // Nothing commits to the home now, and its bits only clear. Freeze
        // each committed word (or take it as another mover froze it): a
        // word read while its bit is still set after the read was the
        // committed one (a removal clears the bit only after taking the
        // slot to BUSY, and frees the slot after that).
        let mut words = [Slot {
            bucket: 0,
            slot: 0,
            word: Word(0),
        }; WAYS * PLACES];
        let mut k = 0;
        let mut bits = ctrl & MASKS;
        while bits != 0 {
            let b = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let (place, slot) = (b / WAYS, b % WAYS);
            let bucket = t.place_of(h, place);
            let s = &t.buckets[bucket].slots[slot];
            loop {
                let w = s.load(LOAD);
                if ctrl_word.load(Ordering::Acquire) & bit(place, slot) == 0 || w == BUSY {
                    break; // removed, or being removed: not moved
                }
                if w & FROZEN_WORD != 0 {
                    words[k] = Slot {
                        bucket,
                        slot,
                        word: Word(w & !(COPIED | RES)),
                    };
                    k += 1;
                    break;
                }
                // Committed but not announced: freezing announces it.
                let frozen = Word((w & !RES) | FROZEN_WORD);
                // PLANTED BUG (planted-unfrozen-copy): copy the word without
                // freezing it, so a replace or removal that lands in this
                // table before the home is MOVED is lost.
                if cfg!(feature = "planted-unfrozen-copy") {
                    words[k] = Slot {
                        bucket,
                        slot,
                        word: Word(w & !RES),
                    };
                    k += 1;
                    break;
                }
                if s.compare_exchange(w, frozen.0, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    words[k] = Slot {
                        bucket,
                        slot,
                        word: frozen,
                    };
                    k += 1;
                    break;
                }
            }
        }
        let next = t.next();
        for &f in &words[..k] {
            self.copy(t, next, f, g);
        }
        // Every frozen word is now copied or dropped: the home has moved.
        if ctrl_word.fetch_or(MOVED, Ordering::AcqRel) & MOVED == 0
            && t.moved.fetch_add(1, Ordering::AcqRel) + 1 == t.n
        {
            self.finish(t, g);
        }
    }

    /// Copies the item of the frozen word `f` (a slot of `t`) into `next`,
    /// unless another mover did or is dropping it: returns once the word is
    /// COPIED, or dropped from both tables.
    ///
    /// Movers may copy one word at once: the insert into `next` goes by the
    /// item's identity, so the commit protocol lets only one of them land
    /// it, and each checks before its commit CAS that the word is still
    /// frozen and not COPIED. That check is what keeps a slow mover from
    /// committing the item after the home is MOVED (every word COPIED or
    /// dropped), when a writer may have replaced or removed it in `next`:
    /// such a writer changed the home's ctrl there after the slow mover
    /// read it (a writer acts only after MOVED, which the check had not
    /// seen), so the slow commit's CAS fails, and its retry sees the mark.
    fn copy(&self, t: &Table, next: &Table, f: Slot, g: &Guard<'_>) {
        let (s, frozen) = (&t.buckets[f.bucket].slots[f.slot], f.word);
        let item = frozen.item();
        // SAFETY: the word is committed in this index and frozen (it leaves
        // only by `drop_frozen`, whose retirement waits for `g`), and `g`
        // pins this index's collector.
        let key = unsafe { item.held(g) }.key();
        let hash = (self.hasher)(key);
        let (nh, tag) = (next.home(hash), tag_of(hash));
        loop {
            let w = s.load(LOAD);
            if w == frozen.0 | RES {
                return self.drop_frozen(t, next, f, nh, tag);
            }
            if w != frozen.0 {
                return; // COPIED, or dropped and freed
            }
            let still = || s.load(LOAD) == frozen.0;
            let copied = if self.copy_fails() {
                Err(Miss::Full)
            } else {
                next.insert_at(nh, tag, item, &mut |it| it == item, still)
            };
            match copied {
                Ok(()) | Err(Miss::Exists(_)) => {
                    let _ = s.compare_exchange(
                        frozen.0,
                        frozen.0 | COPIED,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    );
                }
                Err(Miss::Stale) => {}
                Err(Miss::Full | Miss::Frozen) => {
                    // No room in any candidate: drop the item (an eviction).
                    let _ = s.compare_exchange(
                        frozen.0,
                        frozen.0 | RES,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    );
                }
            }
        }
    }

    /// Drops the item of a frozen word marked DROPPING (`frozen | RES`)
    /// from both tables; the mover whose CAS then frees the word hands it
    /// to the engine to retire as an eviction (`take_orphans`). Any mover
    /// may run it, any number of times.
    ///
    /// Another mover may have committed the item to `next` before the mark
    /// (or be about to, having checked the word just before it): bumping
    /// the version of its home's ctrl there makes any such commit that is
    /// not in yet fail (and its retry then sees the mark), so the search
    /// after the bump finds every copy that did land, and removes it. The
    /// home cannot be MOVED while the word is DROPPING, so no writer has
    /// touched the key in `next`.
    fn drop_frozen(&self, t: &Table, next: &Table, f: Slot, nh: usize, tag: u16) {
        let (frozen, item) = (f.word, f.word.item());
        // PLANTED BUG (planted-drop-without-bump): search without bumping
        // the version, so a copy that checked the word just before the
        // mark still commits after the search, and the item is both in the
        // next table and retired.
        if !cfg!(feature = "planted-drop-without-bump") {
            next.buckets[nh]
                .ctrl
                .fetch_add(VERSION_ONE, Ordering::AcqRel);
        }
        while let (Some(c), _) = next.find_committed(nh, tag, &mut |it| it == item) {
            let c = next.help_announce(c);
            if next.remove_slot(c.bucket, c.slot, c.word).is_ok() {
                break;
            }
        }
        let s = &t.buckets[f.bucket].slots[f.slot];
        if s.compare_exchange(frozen.0 | RES, BUSY, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            t.clear(f.bucket, f.slot, frozen);
            self.push_orphan(item);
        }
    }

    /// Every home of `t` has moved: make its next table the current one and
    /// retire `t` after the grace period. Any thread may call it, any
    /// number of times, once every home is MOVED.
    fn finish(&self, t: &Table, g: &Guard<'_>) {
        let next = t.next.load(Ordering::Acquire);
        let old = t as *const Table as *mut Table;
        if self
            .cur
            .compare_exchange(old, next, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // SAFETY: `next` is set (homes froze after it was).
            let nt = unsafe { &*next };
            self.set_hint(nt);
            self.bytes
                .fetch_sub(t.memory(), std::sync::atomic::Ordering::Relaxed);
            // SAFETY: `t` came from Box::into_raw and is no longer reachable
            // from `cur`, nor from any table's `next` (it was the oldest);
            // threads pinned now may still hold it, and the drop waits for
            // them. This CAS is the one that unlinked it, so it is dropped
            // once.
            unsafe { g.defer_drop(Box::from_raw(old)) };
        }
    }

    /// The current table once no growth is in progress: moves every home
    /// still in the old table (helping the threads that move them), for
    /// walks that must see every item once.
    pub fn settle<'g>(&self, g: &'g Guard<'_>) -> &'g Table {
        self.check(g);
        loop {
            let t = self.table(g);
            if t.next.load(Ordering::Acquire).is_null() {
                return t;
            }
            for h in 0..t.n {
                self.migrate_home(t, h, g);
            }
            // Every home is MOVED (the mover that counts the last may not
            // have yet): finish without waiting for it.
            self.finish(t, g);
        }
    }

    /// Whether a migration left items for [`Index::take_orphans`].
    #[inline]
    pub fn has_orphans(&self) -> bool {
        self.orphan_count.load(std::sync::atomic::Ordering::Relaxed) != 0
    }

    /// Hands a dropped item to the engine (lock-free: one CAS, retried
    /// only if another mover pushed meanwhile).
    fn push_orphan(&self, item: Item) {
        let node = Box::into_raw(Box::new(Orphan {
            item,
            next: std::ptr::null_mut(),
        }));
        let mut head = self.orphans.load(Ordering::Relaxed);
        loop {
            // SAFETY: `node` came from Box::into_raw above and is this
            // thread's until the CAS below publishes it.
            unsafe { (*node).next = head };
            match self
                .orphans
                .compare_exchange(head, node, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => head = now,
            }
        }
        self.orphan_count
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    /// Items a migration unlinked because the next table had no room for
    /// them: each is handed out once, to be retired as an eviction.
    pub fn take_orphans(&self) -> Vec<Item> {
        let mut p = self.orphans.swap(std::ptr::null_mut(), Ordering::Acquire);
        let mut taken = Vec::new();
        while !p.is_null() {
            // SAFETY: the swap took the whole stack: its nodes came from
            // Box::into_raw in `push_orphan`, were published with Release
            // (the Acquire swap sees them whole), and no other thread can
            // reach them now. Each is freed once, here.
            let node = unsafe { Box::from_raw(p) };
            taken.push(node.item);
            p = node.next;
        }
        self.orphan_count
            .fetch_sub(taken.len(), std::sync::atomic::Ordering::AcqRel);
        taken
    }

    /// The announced items of bucket `i` of the current table (whatever
    /// their home), under `g`.
    pub fn announced<'g>(
        &self,
        i: usize,
        g: &'g Guard<'_>,
    ) -> impl Iterator<Item = Found<'g>> + 'g {
        self.check(g);
        self.table(g).announced(i)
    }

    /// Committed slots of bucket `i` of the current table.
    #[cfg(all(test, hotset_loom))]
    pub fn bucket_len(&self, i: usize, g: &Guard<'_>) -> usize {
        self.check(g);
        self.table(g).bucket_len(i)
    }

    /// Buckets of the current table.
    pub fn buckets(&self) -> usize {
        self.hint.1.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Slots of the current table.
    pub fn capacity(&self) -> usize {
        self.buckets() * WAYS
    }

    /// Bytes the index's tables occupy (two while it grows).
    pub fn memory(&self) -> usize {
        self.bytes.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// An item on the index's stack of dropped items.
struct Orphan {
    item: Item,
    next: *mut Orphan,
}

impl Drop for Index {
    fn drop(&mut self) {
        // Free the stack's nodes (the items are the slab's).
        self.take_orphans();
        let mut p = self.cur.load(Ordering::Acquire);
        while !p.is_null() {
            // SAFETY: the index owns its current table and the one it was
            // growing into (from Box::into_raw); no guard outlives it.
            let t = unsafe { Box::from_raw(p) };
            p = t.next.load(Ordering::Acquire);
        }
    }
}

// The loom models of the commit protocol, growth, and unlinking by address.
#[cfg(all(test, hotset_loom))]
mod loom_commit;
#[cfg(all(test, hotset_loom))]
mod loom_evict;
#[cfg(all(test, hotset_loom))]
mod loom_grow;

#[cfg(all(test, not(any(hotset_loom, feature = "shuttle"))))]
mod tests {
    use super::*;

    /// Each key's candidates are distinct buckets, and each placement maps
    /// back to its home, in tables of every small size and a large one.
    #[test]
    fn candidates_are_distinct_and_invert() {
        for n in (1..=9).chain([1000, 1001]) {
            let index = Table::new(n);
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
