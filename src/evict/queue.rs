//! Queue-based eviction in the live engine: S3-FIFO, SIEVE and CLOCK.
//!
//! A hit moves nothing and takes no lock: it sets a bit or bumps a two-bit
//! counter in the item's header (`evict::sample::bump_freq`). Insertion,
//! eviction and reinsertion go through per-class FIFO queues of 8-byte
//! entries, and a full class evicts by walking its queue in order: a
//! sequential read of ids and one header per entry, instead of K random
//! headers per victim.
//!
//! # Shape
//! - **Entries.** `chunk id | page generation << id bits | CAS unique <<
//!   (id bits + 8)`, the chunk id being `page × chunks per page + index` in
//!   the class's geometry. The CAS names the item and the generation the
//!   page's stay in its class: an entry whose chunk now holds another item
//!   (or none), or whose page left the class since, is *stale* and is
//!   dropped when it is reached.
//! - **Queues.** Per class, two [`Fifo`]s: S3-FIFO's small and main queues,
//!   SIEVE's unvisited and passed halves (whose roles swap when the hand
//!   wraps), or CLOCK's one queue. A FIFO is a deque of *segments* of up to
//!   [`SEG_MAX`] entries under a short lock, taken once per segment.
//! - **Per thread.** Each thread appends to its own open segment per queue
//!   and publishes it when full, and consumes a whole segment it took from
//!   the front: no lock and no shared write per entry, one short lock per
//!   segment (as the slab's depots are taken once per batch).
//! - **Counts.** How many live items each queue holds (S3-FIFO sizes its
//!   queues by them), as per-thread deltas folded into shared counters at
//!   every segment exchange, every [`FOLD_AT`] removals, and after a sweep
//!   or a flush.
//! - **Ghost** (S3-FIFO). A fixed table of 16-bit key fingerprints with
//!   16-bit insertion stamps, 8 to a bucket, sized to the index: a key is in
//!   the ghost if its fingerprint is in its bucket with a stamp less than
//!   0.9 × (the class chunks) insertions old. A hit consumes the cell.
//!
//! # Invariants
//! - The publisher of an item sets QUEUED after publishing it
//!   (`Held::enqueue`) and counts it in only if it was not GONE; the thread
//!   that unlinks it sets GONE (`Held::take_queued`) and counts it out only
//!   if it was QUEUED. Both are one atomic RMW on the vlen word, so exactly
//!   one order holds, and each +1 has one -1.
//! - A live, queued item has exactly one entry with its chunk, page
//!   generation and CAS (in a published segment or a thread's open or taken
//!   one), from its push until the thread that takes that entry either
//!   evicts it or pushes a new one. Stale entries are dropped when reached,
//!   and a class that never evicts compacts them away once its queue holds
//!   more than twice its chunks (`gc_queue`).
//! - The MAIN bit changes only by a CAS of the whole vlen word that requires
//!   LIVE and QUEUED and not GONE (`Held::promote`), so a move and an
//!   unlink never both count the item out.
//! - An entry is decoded only after checking that its page still belongs to
//!   the class (a page that moved carries another geometry).
//!
//! # How it differs from the exact simulators
//! - Order is exact per thread and per segment: a thread's open segment is
//!   invisible to evictors until published, so up to `threads × segment`
//!   newest items per queue sit out of order.
//! - A set of a present key builds a new item, which inherits the old one's
//!   queue and counts as a hit on it (S3-FIFO: frequency + 1; SIEVE and
//!   CLOCK: visited), and is pushed at the queue's head; the simulators
//!   keep the object where it is.
//! - The ghost is approximate: a full bucket loses its oldest fingerprint
//!   early, and fingerprints can collide (2^-16 per cell).
//! - Every item is admitted: the simulator's S3-FIFO refuses an object at
//!   least as large as the small queue, which in objects mode only matters
//!   below 20 objects.
//! - A page moving away takes its items out of their queue (they are
//!   rescued into other chunks, at the head of the same queue, or evicted).

pub use super::fifo::{Fifo, Lane, SEG_MAX};
pub use super::ghost::{Ghost, GHOST_PERMILLE};
use super::Policy;
use crate::config::ConfigError;
use crate::raw::item::{Held, GONE, MAIN, QUEUED};
use crate::raw::reclaim::{Guard, Local as ReclaimLocal};
use crate::raw::slab::{Chunk, Slab, MIN_CHUNK};
use crate::raw::store::Store;
use crate::sync::{AtomicUsize, Ordering};
use std::sync::atomic::AtomicI64;

/// A thread publishes its open segment once it holds this fraction of its
/// queue's target size (at least one entry, at most [`SEG_MAX`]): small
/// classes see their newest items soon, large ones lock once per 64.
const SEG_SHARE: usize = 256;
/// S3-FIFO: the small queue's share of the class, in tenths (⌊0.1·C⌋).
const SMALL_TENTHS: usize = 1;
/// S3-FIFO: a small-queue item seen this often moves to main.
const PROMOTE_FREQ: u8 = 2;
/// S3-FIFO: the frequency counter saturates here.
pub(crate) const FREQ_MAX: u8 = 3;
/// A queue is compacted once it holds more than twice its class's chunks
/// plus this many entries…
const GC_SLACK: usize = 1024;
/// …this many segments (4,096 entries) a step…
const GC_SEGMENTS: usize = 64;
/// …re-pinning every this many segments.
const GC_PIN_SEGMENTS: usize = 16;
/// A thread folds its count deltas for a class once they reach this many
/// removals, even if it takes no segment.
const FOLD_AT: i64 = 32;
/// An eviction call reads at most this many entries per item it must
/// evict, so that a queue of reinserted items cannot spin it.
pub(crate) const POP_BUDGET: usize = 64;
/// Queue numbers for S3-FIFO (also the index of a count: the MAIN bit).
const SMALL: usize = 0;
const MAINQ: usize = 1;

/// A class's queues.
struct ClassQueues {
    fifos: [Fifo; 2],
    /// Live queued items by MAIN bit (S3-FIFO: small, main; the others use
    /// slot 0), from the per-thread deltas folded in so far.
    count: [AtomicI64; 2],
    /// SIEVE: the fifo of items the hand has not passed in this round.
    cur: AtomicUsize,
}

/// A thread's part of one class's queues.
#[derive(Default)]
pub(crate) struct Local {
    lanes: [Lane; 2],
    /// Changes to `ClassQueues::count` not folded in yet.
    delta: [i64; 2],
}

/// A thread's side of the queues.
pub(crate) struct ThreadQueues {
    /// This thread's ends of each class's queues.
    classes: Vec<Local>,
    /// A queue this thread found over its bound, to compact at its next
    /// allocation (unpinned).
    pub(crate) gc_due: Option<(u8, usize)>,
    /// S3-FIFO: ghost insertions not yet added to the ghost's clock.
    ghost_ticks: u64,
}

/// What one step of a queue walk found ([`Queues::next_victim`]).
pub(crate) enum Step<'g, W> {
    /// The queues have nothing left to walk.
    Empty,
    /// The entry was stale, or its item stays (promoted or reinserted).
    Kept,
    /// The policy evicts this item; the caller unlinks it.
    Victim {
        it: Held<'g>,
        /// The hash of its key.
        hash: u64,
        /// What the caller's judge said of it: why it is dead, if it is.
        dead: Option<W>,
        /// Whether it came from S3-FIFO's small queue: once unlinked by
        /// eviction, its key goes to the ghost ([`Queues::evicted`]).
        small: bool,
    },
}

/// The queue policies' shared state: per-class queues and the ghost. Empty
/// for the sampled policies.
pub(crate) struct Queues {
    policy: Policy,
    /// Bits of an entry that hold the chunk id: enough for every chunk of
    /// the smallest class in every page.
    id_bits: u32,
    classes: Box<[ClassQueues]>,
    ghost: Option<Ghost>,
}

impl Queues {
    /// The queues for `policy` over `slab`, with a ghost of about
    /// `ghost_cells` fingerprints for S3-FIFO.
    pub(crate) fn new(
        policy: Policy,
        slab: &Slab,
        ghost_cells: usize,
    ) -> Result<Queues, ConfigError> {
        if !policy.is_queue() {
            return Ok(Queues {
                policy,
                id_bits: 32,
                classes: Box::new([]),
                ghost: None,
            });
        }
        let smallest = slab.classes().sizes()[0];
        if slab.total_pages() as u64 * (slab.page_size() / smallest) as u64 > u32::MAX as u64 {
            return Err(ConfigError(format!(
                "{} pages of {} chunks are too many for 32-bit queue entries",
                slab.total_pages(),
                slab.page_size() / smallest
            )));
        }
        let classes = (0..slab.classes().sizes().len())
            .map(|_| ClassQueues {
                fifos: [Fifo::new(), Fifo::new()],
                count: [AtomicI64::new(0), AtomicI64::new(0)],
                cur: AtomicUsize::new(0),
            })
            .collect();
        let most = (slab.total_pages() * (slab.page_size() / MIN_CHUNK)) as u64;
        let ghost = (policy == Policy::S3Fifo).then(|| Ghost::new(ghost_cells, most));
        let ids = slab.total_pages() as u64 * (slab.page_size() / smallest) as u64;
        Ok(Queues {
            policy,
            id_bits: (64 - ids.max(2).leading_zeros()).min(32),
            classes,
            ghost,
        })
    }

    /// A thread's empty side of the queues.
    pub(crate) fn thread(&self) -> ThreadQueues {
        ThreadQueues {
            classes: (0..self.classes.len()).map(|_| Local::default()).collect(),
            gc_due: None,
            ghost_ticks: 0,
        }
    }

    /// Bytes of the ghost table.
    pub(crate) fn ghost_bytes(&self) -> usize {
        self.ghost.as_ref().map_or(0, Ghost::bytes)
    }

    /// Entries in published segments, over all classes.
    pub(crate) fn entries(&self) -> usize {
        self.classes
            .iter()
            .flat_map(|c| &c.fifos)
            .map(Fifo::len)
            .sum()
    }
}

/// Bits of an entry for the page generation (mod 256).
const GEN_BITS: u32 = 8;

impl Queues {
    /// The entry for an item in chunk `id`, on a page of generation `gen`,
    /// with CAS unique `cas`: `id | gen << id_bits | cas << (id_bits + 8)`,
    /// the CAS truncated to the bits left (at least 24: 32 for id, 8 for
    /// the generation; 36 for a 64 MiB cache).
    #[inline]
    fn entry(&self, id: u32, gen: u32, cas: u64) -> u64 {
        let b = self.id_bits;
        id as u64 | ((gen as u64) & 0xff) << b | cas << (b + GEN_BITS)
    }

    /// The chunk id of an entry.
    #[inline]
    pub(crate) fn id_of(&self, e: u64) -> u32 {
        (e & ((1u64 << self.id_bits) - 1)) as u32
    }

    /// Whether entry `e` names the item with CAS unique `cas` on a page of
    /// generation `gen`.
    #[inline]
    pub(crate) fn names(&self, e: u64, gen: u32, cas: u64) -> bool {
        let b = self.id_bits;
        (e >> b) & 0xff == (gen as u64) & 0xff
            && e >> (b + GEN_BITS) == (cas << (b + GEN_BITS)) >> (b + GEN_BITS)
    }
}

/// The count slot of queue bits: MAIN or not.
#[inline]
fn slot(bits: u32) -> usize {
    (bits & MAIN != 0) as usize
}

impl Queues {
    /// S3-FIFO: whether a new key was evicted from a small queue recently,
    /// so that it goes straight to main. Consumes the ghost's memory of it.
    #[inline]
    pub(crate) fn ghost_hit(&self, slab: &Slab, hash: u64) -> bool {
        self.ghost
            .as_ref()
            .is_some_and(|gh| gh.take(hash, slab.chunks_in_classes() * GHOST_PERMILLE / 1000))
    }

    /// Starts fetching the ghost's bucket for `hash` (S3-FIFO).
    #[inline]
    pub(crate) fn prefetch_ghost(&self, hash: u64) {
        if let Some(gh) = &self.ghost {
            crate::prefetch(gh.bucket(hash).as_ptr() as *const u8);
        }
    }

    /// Before a new item replaces `old` of the same key: it takes over the
    /// old item's queue and counts as a hit on it.
    #[inline]
    pub(crate) fn inherit(&self, new: Held<'_>, old: Held<'_>) {
        if !self.policy.is_queue() {
            return;
        }
        let f = old.meta().freq;
        new.set_freq(match self.policy {
            Policy::S3Fifo => f.saturating_add(1).min(FREQ_MAX),
            _ => 1,
        });
        new.set_main(old.queue_bits() & MAIN != 0);
    }

    /// After `it` was published under a queue policy: count it in and push
    /// its entry at the head of its queue, unless its unlinker got there
    /// first (`Held::enqueue`).
    #[inline]
    pub(crate) fn queued(&self, slab: &Slab, t: &mut ThreadQueues, it: Held<'_>) {
        if !self.policy.is_queue() || !it.enqueue() {
            return;
        }
        let class = slab.class_of(Chunk::of(it.item()));
        let bits = it.queue_bits();
        t.classes[class as usize].delta[slot(bits)] += 1;
        let q = match self.policy {
            Policy::S3Fifo => slot(bits),
            Policy::Sieve => self.classes[class as usize].cur.load(Ordering::Relaxed),
            _ => 0,
        };
        let ch = Chunk::of(it.item());
        let e = self.entry(slab.chunk_id(ch, class), slab.page_generation(ch), it.cas());
        self.push(slab, t, class, q, e);
    }

    /// After this thread unlinked `it`: count it out of its queue, if its
    /// publisher counted it in.
    #[inline]
    pub(crate) fn unqueued(&self, slab: &Slab, t: &mut ThreadQueues, it: Held<'_>) {
        if !self.policy.is_queue() {
            return;
        }
        let bits = it.take_queued();
        if bits & QUEUED != 0 {
            let class = slab.class_of(Chunk::of(it.item()));
            let local = &mut t.classes[class as usize];
            local.delta[slot(bits)] -= 1;
            // A thread that only unlinks (the sweeper, a deleter) would
            // otherwise sit on its deltas until it next takes a segment.
            if local.delta[slot(bits)] <= -FOLD_AT {
                Self::fold(&self.classes[class as usize], local);
            }
        }
    }

    /// Folds every class's count deltas of this thread into the shared
    /// counts (at the end of a sweep or a flush).
    pub(crate) fn fold_counts(&self, t: &mut ThreadQueues) {
        for (cq, local) in self.classes.iter().zip(t.classes.iter_mut()) {
            Self::fold(cq, local);
        }
    }

    /// Appends an entry to this thread's open segment of queue `q`, and
    /// publishes the segment when it is full.
    fn push(&self, slab: &Slab, t: &mut ThreadQueues, class: u8, q: usize, e: u64) {
        let cap = self.seg_cap(slab, class, q);
        let cq = &self.classes[class as usize];
        let local = &mut t.classes[class as usize];
        if let Some(total) = local.lanes[q].push(e, cap, &cq.fifos[q]) {
            Self::fold(cq, local);
            if total > 2 * slab.class_chunks(class) + GC_SLACK {
                t.gc_due = Some((class, q));
            }
        }
    }

    /// How many entries an open segment of queue `q` collects before it is
    /// published.
    fn seg_cap(&self, slab: &Slab, class: u8, q: usize) -> usize {
        let chunks = slab.class_chunks(class);
        let target = match self.policy {
            Policy::S3Fifo if q == SMALL => chunks * SMALL_TENTHS / 10,
            Policy::S3Fifo => chunks - chunks * SMALL_TENTHS / 10,
            _ => chunks,
        };
        (target / SEG_SHARE).clamp(1, SEG_MAX)
    }

    /// Folds a thread's count deltas for a class into the shared counts.
    fn fold(cq: &ClassQueues, local: &mut Local) {
        for (c, d) in cq.count.iter().zip(local.delta.iter_mut()) {
            if *d != 0 {
                c.fetch_add(*d, Ordering::Relaxed);
                *d = 0;
            }
        }
    }

    /// Live items counted in slot `s` of a class: the shared count plus
    /// this thread's unfolded delta.
    fn count(&self, t: &ThreadQueues, class: u8, s: usize) -> i64 {
        self.classes[class as usize].count[s].load(Ordering::Relaxed)
            + t.classes[class as usize].delta[s]
    }

    /// The next entry of queue `q`, oldest first (`Lane::pop`).
    fn next_entry(&self, slab: &Slab, t: &mut ThreadQueues, class: u8, q: usize) -> Option<u64> {
        let cq = &self.classes[class as usize];
        let local = &mut t.classes[class as usize];
        let (e, took) = local.lanes[q].pop(&cq.fifos[q]);
        if took {
            Self::fold(cq, local);
        }
        // Start fetching the header a few entries ahead.
        if let Some(ahead) = local.lanes[q].peek_ahead(3) {
            if let Some(c) = slab.chunk_by_id(class, self.id_of(ahead)) {
                crate::prefetch(c.ptr().as_ptr());
            }
        }
        e
    }

    /// The item an entry names, if it is still that live, queued item.
    fn entry_item<'g>(&self, st: &Store, class: u8, e: u64, g: &'g Guard<'_>) -> Option<Held<'g>> {
        let ch = st.slab.chunk_by_id(class, self.id_of(e))?;
        // A page that left the class has another geometry, and one that is
        // draining takes its items out of the queue itself. The generation
        // tells a page that left and came back from the one the entry was
        // made on (a rescued item keeps its CAS unique, and may land in a
        // chunk it once had).
        let (now, it) = st.live_in(ch, g)?;
        (now == class
            && !st.slab.draining(ch)
            && self.names(e, st.slab.page_generation(ch), it.cas())
            && it.queue_bits() & (QUEUED | GONE) == QUEUED)
            .then_some(it)
    }

    /// S3-FIFO: which queue to evict from. Main if it is over its share or
    /// small is empty; else small.
    fn s3fifo_queue(&self, slab: &Slab, t: &ThreadQueues, class: u8) -> usize {
        let chunks = slab.class_chunks(class) as i64;
        let small_cap = chunks * SMALL_TENTHS as i64 / 10;
        let main = self.count(t, class, MAINQ);
        let small = self.count(t, class, SMALL);
        if main > chunks - small_cap || small <= 0 {
            MAINQ
        } else {
            SMALL
        }
    }

    /// One step of an eviction walk of `class`'s queues: takes the next
    /// entry of the queue the policy evicts from, and promotes, reinserts
    /// or names its item as the victim. `dead` judges an item: `Some` if it
    /// must go whatever the policy says (expired or flushed). An eviction
    /// reads at most [`POP_BUDGET`] entries per item it wants.
    #[inline]
    pub(crate) fn next_victim<'g, W>(
        &self,
        st: &Store,
        t: &mut ThreadQueues,
        g: &'g Guard<'_>,
        class: u8,
        dead: impl Fn(Held<'_>) -> Option<W>,
    ) -> Step<'g, W> {
        let cq = &self.classes[class as usize];
        let q = match self.policy {
            Policy::S3Fifo => self.s3fifo_queue(&st.slab, t, class),
            Policy::Sieve => cq.cur.load(Ordering::Acquire),
            _ => 0,
        };
        let e = match self.next_entry(&st.slab, t, class, q) {
            Some(e) => e,
            None => {
                return match self.policy {
                    // The chosen queue is empty: take from the other.
                    Policy::S3Fifo => match self.next_entry(&st.slab, t, class, 1 - q) {
                        Some(e) => self.s3fifo_step(st, t, g, class, 1 - q, e, dead),
                        None => Step::Empty,
                    },
                    // The hand reached the head: the passed items are the
                    // next round's.
                    Policy::Sieve => {
                        let other = 1 - q;
                        let has_other = !t.classes[class as usize].lanes[other].is_empty()
                            || !cq.fifos[other].is_empty();
                        if !has_other {
                            return Step::Empty;
                        }
                        let _ =
                            cq.cur
                                .compare_exchange(q, other, Ordering::AcqRel, Ordering::Relaxed);
                        Step::Kept
                    }
                    _ => Step::Empty,
                };
            }
        };
        self.prefetch_next_victim(st, t, g, class, q);
        match self.policy {
            Policy::S3Fifo => self.s3fifo_step(st, t, g, class, q, e, dead),
            _ => self.clock_step(st, t, g, class, q, e, dead),
        }
    }

    /// After the caller unlinked a victim that [`Queues::next_victim`]
    /// named `small`, because the policy evicted it: S3-FIFO remembers its
    /// key in the ghost.
    #[inline]
    pub(crate) fn evicted(&self, t: &mut ThreadQueues, hash: u64) {
        if let Some(gh) = &self.ghost {
            gh.insert(hash, &mut t.ghost_ticks);
        }
    }

    /// If the entry after the current one of queue `q` is an item its queue
    /// will evict, starts fetching its index bucket, so that the unlink
    /// finds it in cache (its header was prefetched a few entries earlier).
    #[inline]
    fn prefetch_next_victim(
        &self,
        st: &Store,
        t: &ThreadQueues,
        g: &Guard<'_>,
        class: u8,
        q: usize,
    ) {
        let Some(next) = t.classes[class as usize].lanes[q].peek_ahead(0) else {
            return;
        };
        let Some(it) = self.entry_item(st, class, next, g) else {
            return;
        };
        let f = it.meta().freq;
        let goes = match self.policy {
            Policy::S3Fifo if q == SMALL => f < PROMOTE_FREQ,
            _ => f == 0,
        };
        if goes {
            let hash = st.hash(it.key());
            st.index.prefetch(hash);
            if q == SMALL {
                self.prefetch_ghost(hash);
            }
        }
    }

    /// S3-FIFO, one entry of queue `q`: promote, reinsert or name it the
    /// victim.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn s3fifo_step<'g, W>(
        &self,
        st: &Store,
        t: &mut ThreadQueues,
        g: &'g Guard<'_>,
        class: u8,
        q: usize,
        e: u64,
        dead: impl Fn(Held<'_>) -> Option<W>,
    ) -> Step<'g, W> {
        let Some(it) = self.entry_item(st, class, e, g) else {
            return Step::Kept;
        };
        let f = it.meta().freq;
        let dead = dead(it);
        if dead.is_none() {
            if q == SMALL && f >= PROMOTE_FREQ {
                if it.promote() {
                    let local = &mut t.classes[class as usize];
                    local.delta[SMALL] -= 1;
                    local.delta[MAINQ] += 1;
                    it.set_freq(0);
                    self.push(&st.slab, t, class, MAINQ, e);
                }
                return Step::Kept;
            }
            if q == MAINQ && f >= 1 {
                it.set_freq(f.min(FREQ_MAX) - 1);
                self.push(&st.slab, t, class, MAINQ, e);
                return Step::Kept;
            }
        }
        Step::Victim {
            it,
            hash: st.hash(it.key()),
            small: q == SMALL,
            dead,
        }
    }

    /// SIEVE and CLOCK, one entry of queue `q`: a visited item stays (SIEVE:
    /// in the passed half; CLOCK: at the head) with its bit cleared; an
    /// unvisited one is the victim.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn clock_step<'g, W>(
        &self,
        st: &Store,
        t: &mut ThreadQueues,
        g: &'g Guard<'_>,
        class: u8,
        q: usize,
        e: u64,
        dead: impl Fn(Held<'_>) -> Option<W>,
    ) -> Step<'g, W> {
        let Some(it) = self.entry_item(st, class, e, g) else {
            return Step::Kept;
        };
        let dead = dead(it);
        if dead.is_none() && it.meta().freq != 0 {
            it.set_freq(0);
            let to = if self.policy == Policy::Sieve {
                1 - q
            } else {
                q
            };
            self.push(&st.slab, t, class, to, e);
            return Step::Kept;
        }
        Step::Victim {
            it,
            hash: st.hash(it.key()),
            small: false,
            dead,
        }
    }

    /// Gives a thread's queue state back: open segments are published,
    /// taken ones go back to the front of their fifo (in order), and count
    /// deltas are folded in.
    pub(crate) fn release(&self, t: &mut ThreadQueues) {
        for (cq, local) in self.classes.iter().zip(t.classes.iter_mut()) {
            for (lane, fifo) in local.lanes.iter_mut().zip(&cq.fifos) {
                lane.release(fifo);
            }
            Self::fold(cq, local);
        }
    }

    /// Compacts queue `q` of a class a bounded step at a time: takes its
    /// [`GC_SEGMENTS`] oldest segments, drops their stale entries, and
    /// publishes the live ones at the tail. Runs unpinned between operations
    /// (a thread that published past the bound asked for it), pinning per
    /// slice with `local`; a queue still over the bound asks again at the
    /// next publish.
    ///
    /// The live entries it keeps move from the head to the tail. A queue
    /// grows past twice its class only while the class is not evicting
    /// (an evicting class drops stale entries as it walks them), and then
    /// the order matters little; the cost is bounded per step instead of
    /// holding a whole queue (millions of entries, seconds) away from the
    /// evictors.
    pub(crate) fn gc(&self, st: &Store, local: &ReclaimLocal, class: u8, q: usize) {
        let fifo = &self.classes[class as usize].fifos[q];
        if fifo.len() <= 2 * st.slab.class_chunks(class) + GC_SLACK {
            return;
        }
        let mut cur = Vec::with_capacity(SEG_MAX);
        for segs in fifo.take_front(GC_SEGMENTS).chunks(GC_PIN_SEGMENTS) {
            let g = st.index.pin(local);
            for &e in segs.iter().flatten() {
                if self.entry_item(st, class, e, &g).is_some() {
                    cur.push(e);
                    if cur.len() == SEG_MAX {
                        fifo.publish(std::mem::replace(&mut cur, Vec::with_capacity(SEG_MAX)));
                    }
                }
            }
        }
        if !cur.is_empty() {
            fifo.publish(cur);
        }
    }

    /// For `check_consistency`: every entry of a class's queues, published
    /// ones only (threads must have released theirs), and its live-item
    /// counts per slot.
    pub(crate) fn contents(&self, class: u8) -> (Vec<u64>, [i64; 2]) {
        let cq = &self.classes[class as usize];
        let entries = cq.fifos.iter().flat_map(Fifo::contents).collect();
        let counts = [0, 1].map(|s| cq.count[s].load(Ordering::Relaxed));
        (entries, counts)
    }
}
