//! The operations: get (and get-and-touch), the stores, delete, and the
//! read-modify-writes (append, prepend, incr, decr), with memcached's
//! semantics.
//!
//! Every removal is a CAS of the exact index word, and every change of a
//! present key builds a new item and swaps it in with a CAS on the exact old
//! word, so a reader never sees a torn value and only one thread ever
//! retires an item.

use super::{Cond, Engine, Error, ItemRef, Stored, ThreadCtx, Why};
use crate::evict::sample::{bump_freq, initial_freq};
use crate::raw::item::{footprint, Held, NewItem, MAX_KEY_LEN, STALE, TOKEN};
use crate::raw::slab::Chunk;
use crate::raw::store::{Fresh, Insert};
use crate::stats::Ctr;
use crate::sync::{fence, Ordering};
use crate::ttl::{expiry, now_secs};

/// Without evictions, a new key whose candidate index buckets stay full of
/// live items after this many tries (each yields to a growth that may be
/// under way) is refused with out of memory.
const FULL_TRIES: u32 = 64;

/// How a read-modify-write ended.
pub(crate) enum Rmw {
    /// The key is absent (or expired).
    Missing,
    /// The key's CAS unique is not the one expected.
    Mismatch,
    /// Stored: the new item's CAS unique and exptime, and for arithmetic
    /// the new value.
    Done { cas: u64, exptime: u32, value: u64 },
}

impl Rmw {
    /// `Done` for the item just published (read under the caller's pin).
    fn done(it: Held<'_>) -> Rmw {
        Rmw::Done {
            cas: it.cas(),
            exptime: it.exptime(),
            value: 0,
        }
    }
}

/// How a read-modify-write rewrites an item, beyond its value.
#[derive(Clone, Copy, Default)]
pub(crate) struct Rewrite {
    /// Only the item of this CAS unique.
    pub(crate) expect: Option<u64>,
    /// Mark the new item stale (`md … I`), its token cleared.
    pub(crate) stale: bool,
    /// Give it this exptime (cache seconds) rather than the old one.
    pub(crate) exptime: Option<u32>,
}

/// An item's access fields as a lookup found them, before it changed them.
pub(crate) struct Before {
    /// The clock when the lookup ran.
    pub(crate) now_ms: u64,
    /// Last access, in clock milliseconds (32 bits).
    pub(crate) atime: u32,
    /// Whether it had been read.
    pub(crate) fetched: bool,
    /// Its exptime, before a touch.
    pub(crate) exptime: u32,
}

impl Engine {
    #[inline]
    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        self.store.hash(key)
    }

    /// Runs a due delayed flush_all. Called at the start of every operation.
    #[inline]
    pub(crate) fn due_flush(&self, ctx: &mut ThreadCtx, now_ms: u64) {
        let at = self.flush_at.load(Ordering::Relaxed);
        if at != 0
            && now_ms + 1 >= at
            && self
                .flush_at
                .compare_exchange(at, 0, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.flush_now(ctx);
        }
    }

    /// flush_all: now, or at a deadline.
    pub(crate) fn flush_all(&self, ctx: &mut ThreadCtx, delay_secs: u32) {
        if delay_secs == 0 {
            self.flush_at.store(0, Ordering::Relaxed);
            self.flush_now(ctx);
        } else {
            let at = self.clock.now_ms() + delay_secs as u64 * 1000;
            self.flush_at.store(at + 1, Ordering::Relaxed);
        }
    }

    pub(crate) fn get_and_touch<R>(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        exptime: i64,
        f: impl FnOnce(ItemRef<'_>) -> R,
    ) -> Option<R> {
        let exp = expiry(&*self.clock, exptime);
        ctx.counters.inc(Ctr::CmdTouch);
        let r = self.get(ctx, key, Some(exp), f);
        ctx.counters.inc(if r.is_some() {
            Ctr::TouchHits
        } else {
            Ctr::TouchMisses
        });
        r
    }

    pub(crate) fn get<R>(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        touch: Option<u32>,
        f: impl FnOnce(ItemRef<'_>) -> R,
    ) -> Option<R> {
        self.lookup(ctx, key, touch, true, true, |it, _| {
            f(ItemRef {
                value: it.value(),
                flags: it.flags(),
                cas: it.cas(),
            })
        })
    }

    /// Looks `key` up and, on a live hit, sets the new exptime `touch`,
    /// records the access (unless not `bump`), and calls `f` with the item
    /// and how it was before this access. `count`: as a get, in the
    /// counters.
    pub(crate) fn lookup<R>(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        touch: Option<u32>,
        bump: bool,
        count: bool,
        f: impl FnOnce(Held<'_>, Before) -> R,
    ) -> Option<R> {
        let now_ms = self.clock.now_ms();
        self.due_flush(ctx, now_ms);
        let counted = |ctx: &mut ThreadCtx, c: Ctr| {
            if count {
                ctx.counters.inc(c);
            }
        };
        counted(ctx, Ctr::CmdGet);
        let hash = self.hash(key);
        let g = self.store.index.pin(&ctx.local);
        let Some(found) = self.store.index.find(hash, key, &g) else {
            counted(ctx, Ctr::GetMisses);
            return None;
        };
        let it = found.item();
        self.store.slab.track_read(Chunk::of(it.item()));
        // PLANTED BUG (planted-skip-expiry): serve the item without checking
        // its expiry.
        let dead = self.dead(it, now_secs(now_ms));
        if let Some(why) = dead.filter(|_| !cfg!(feature = "planted-skip-expiry")) {
            if let Some(gone) = self.store.remove(&found, &g) {
                self.unlinked(ctx, &g, gone, why);
            }
            counted(
                ctx,
                if why == Why::Flush {
                    Ctr::GetFlushed
                } else {
                    Ctr::GetExpired
                },
            );
            counted(ctx, Ctr::GetMisses);
            return None;
        }
        let meta = it.meta();
        let before = Before {
            now_ms,
            atime: meta.atime,
            fetched: it.fetched(),
            exptime: it.exptime(),
        };
        if let Some(exp) = touch {
            it.set_exptime(exp);
            // A page move may have copied the item (same CAS unique) before
            // this store reached it: set the copy's expiry too (`rescue`).
            fence(Ordering::SeqCst);
            let (ptr, cas) = (it.ptr(), it.cas());
            if let Some(moved) = self
                .store
                .index
                .find_where(hash, &g, |x| x.ptr() != ptr && x.cas() == cas)
            {
                moved.item().set_exptime(exp);
            }
        }
        if bump {
            let rnd = ctx.rand();
            let policy = self.policy;
            it.record_access(now_ms, |m| bump_freq(policy, m, now_ms, rnd));
        }
        counted(ctx, Ctr::GetHits);
        let r = f(it, before);
        self.maybe_retire(ctx, &g);
        Some(r)
    }

    /// delete, counted as memcached counts it.
    pub(crate) fn delete_counted(&self, ctx: &mut ThreadCtx, key: &[u8]) -> bool {
        let hit = self.delete(ctx, key);
        ctx.counters.inc(if hit {
            Ctr::DeleteHits
        } else {
            Ctr::DeleteMisses
        });
        hit
    }

    /// Unlinks the key; `true` if it was present and not expired.
    pub(crate) fn delete(&self, ctx: &mut ThreadCtx, key: &[u8]) -> bool {
        let now_ms = self.clock.now_ms();
        self.due_flush(ctx, now_ms);
        let hash = self.hash(key);
        let g = self.store.index.pin(&ctx.local);
        loop {
            let Some(f) = self.store.index.find(hash, key, &g) else {
                return false;
            };
            if let Some(gone) = self.store.remove(&f, &g) {
                let dead = self.dead(f.item(), now_secs(now_ms));
                let live = dead.is_none();
                let why = dead.unwrap_or(Why::Delete);
                self.unlinked(ctx, &g, gone, why);
                self.maybe_retire(ctx, &g);
                return live;
            }
        }
    }

    /// Validates a key and value size, returning the slab class.
    fn class_for(&self, key: &[u8], vlen: usize, flags: u32) -> Result<u8, Error> {
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            return Err(Error::BadKey);
        }
        let size = footprint(key.len(), vlen, flags);
        if size > self.max_item || vlen > crate::raw::item::MAX_VALUE_LEN {
            return Err(Error::TooLarge);
        }
        self.store
            .slab
            .classes()
            .class_for(size)
            .ok_or(Error::TooLarge)
    }

    /// Allocates and writes an item, with LIVE set and not yet published.
    fn build(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        value: &[u8],
        flags: u32,
        exp: u32,
    ) -> Result<Fresh<'_>, Error> {
        let vlen = value.len();
        let class = self.class_for(key, vlen, flags).inspect_err(|e| {
            if *e == Error::TooLarge {
                ctx.counters.inc(Ctr::TooLarge);
            }
        })?;
        let Some(chunk) = self.alloc(ctx, class) else {
            ctx.counters.inc(Ctr::OutOfMemory);
            return Err(Error::OutOfMemory);
        };
        let now_ms = self.clock.now_ms();
        let new = NewItem {
            key,
            value,
            flags,
            exptime: exp,
            cas: match std::mem::take(&mut ctx.restoring_cas) {
                0 => ctx.next_cas(self),
                restored => restored,
            },
            atime: now_ms as u32,
            freq: initial_freq(self.policy),
            qbits: 0,
            gen: self.flush_gen(),
        };
        Ok(self.store.write(chunk, &new))
    }

    pub(crate) fn store(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        value: &[u8],
        flags: u32,
        exptime: i64,
        cond: Cond,
    ) -> Result<Stored, Error> {
        self.store_cas(ctx, key, value, flags, exptime, cond)
            .map(|(r, _)| r)
    }

    /// [`Engine::store`], also returning the stored item's CAS unique (0
    /// when nothing was stored).
    pub(crate) fn store_cas(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        value: &[u8],
        flags: u32,
        exptime: i64,
        cond: Cond,
    ) -> Result<(Stored, u64), Error> {
        let now_ms = self.clock.now_ms();
        self.due_flush(ctx, now_ms);
        ctx.counters.inc(Ctr::CmdSet);
        let exp = expiry(&*self.clock, exptime);
        // The bucket and the ghost's cell are read after the item is built:
        // start fetching them now, so their misses overlap the build's.
        let hash = self.hash(key);
        self.store.index.prefetch(hash);
        let new_key = matches!(cond, Cond::Any | Cond::Absent | Cond::Vivify);
        if new_key {
            self.prefetch_ghost(hash);
        }
        let mut it = match self.build(ctx, key, value, flags, exp) {
            Ok(it) => it,
            Err(e @ (Error::TooLarge | Error::OutOfMemory))
                if cond == Cond::Any && !key.is_empty() && key.len() <= MAX_KEY_LEN =>
            {
                // memcached drops the old value when a set is refused, for
                // size or for memory: a later get must not find it stale.
                self.delete(ctx, key);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        if cond == Cond::Vivify {
            it.held().set_swr(TOKEN);
        }
        if new_key && self.ghost_hit(hash) {
            // S3-FIFO: a key evicted from a small queue lately goes to main.
            it.held().set_main(true);
        }
        let g = self.store.index.pin(&ctx.local);
        // Each path that does not publish `it` discards it.
        let mut full_tries = 0;
        let (r, cas) = loop {
            let now = now_secs(self.clock.now_ms());
            let existing = match cond {
                Cond::Any | Cond::Absent | Cond::Vivify => {
                    let ins = self.store.insert(hash, it, key, &g);
                    if self.store.has_orphans() {
                        self.retire_orphans(ctx, &g);
                    }
                    match ins {
                        Insert::Inserted(new) => {
                            self.added(ctx, new);
                            self.queued(ctx, new);
                            self.settle(ctx, &g, hash, new);
                            break (Stored::Stored, new.cas());
                        }
                        Insert::Full(back) => {
                            it = back;
                            if !self.evict_from_bucket(ctx, &g, hash) && !self.evictions {
                                // A growth under way makes room soon; a
                                // table at its cap never does.
                                full_tries += 1;
                                if full_tries > FULL_TRIES {
                                    self.discard(ctx, &g, it);
                                    self.maybe_retire(ctx, &g);
                                    ctx.counters.inc(Ctr::OutOfMemory);
                                    return Err(Error::OutOfMemory);
                                }
                            }
                            continue;
                        }
                        Insert::Exists(f, back) => {
                            it = back;
                            f
                        }
                    }
                }
                Cond::Present | Cond::Cas(_) | Cond::CasOrStale(_) => {
                    match self.store.index.find(hash, key, &g) {
                        Some(f) => f,
                        None => {
                            self.discard(ctx, &g, it);
                            break if let Cond::Cas(_) | Cond::CasOrStale(_) = cond {
                                ctx.counters.inc(Ctr::CasMisses);
                                (Stored::NotFound, 0)
                            } else {
                                (Stored::NotStored, 0)
                            };
                        }
                    }
                }
            };
            let old = existing.item();
            if let Some(why) = self.dead(old, now) {
                if let Some(gone) = self.store.remove(&existing, &g) {
                    self.unlinked(ctx, &g, gone, why);
                }
                continue;
            }
            match cond {
                Cond::Absent | Cond::Vivify => {
                    self.discard(ctx, &g, it);
                    break (Stored::NotStored, 0);
                }
                Cond::CasOrStale(c) if crate::raw::item::cas_before(c, old.cas()) => {
                    // Stored stale, keeping the item's TTL and token.
                    it.held().set_swr(STALE | (old.swr_bits() & TOKEN));
                    it.held().set_exptime(old.exptime());
                }
                Cond::CasOrStale(c) if c != old.cas() => {
                    ctx.counters.inc(Ctr::CasBadval);
                    self.discard(ctx, &g, it);
                    break (Stored::Exists, 0);
                }
                Cond::CasOrStale(_) => it.held().set_swr(0),
                Cond::Cas(c) if old.cas() != c => {
                    ctx.counters.inc(Ctr::CasBadval);
                    self.discard(ctx, &g, it);
                    break (Stored::Exists, 0);
                }
                _ => {}
            }
            self.inherit(it.held(), old);
            match self.store.replace(&existing, it, &g) {
                Ok((new, gone)) => {
                    self.replaced(ctx, &g, gone, new);
                    self.queued(ctx, new);
                    self.settle(ctx, &g, hash, new);
                    if let Cond::Cas(_) | Cond::CasOrStale(_) = cond {
                        ctx.counters.inc(Ctr::CasHits);
                    }
                    break (Stored::Stored, new.cas());
                }
                Err(back) => it = back,
            }
        };
        self.maybe_retire(ctx, &g);
        Ok((r, cas))
    }

    /// append/prepend: read the old value, build the new item, swap it in
    /// with a CAS on the exact old word; retry if the key changed meanwhile.
    pub(crate) fn concat(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        data: &[u8],
        front: bool,
    ) -> Result<Stored, Error> {
        self.concat_cas(ctx, key, data, front, None).map(|(r, _)| r)
    }

    /// [`Engine::concat`] to the item of CAS unique `expect` only, if
    /// given (`Exists` otherwise), returning the new item's CAS unique (0
    /// when nothing was stored).
    pub(crate) fn concat_cas(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        data: &[u8],
        front: bool,
        expect: Option<u64>,
    ) -> Result<(Stored, u64), Error> {
        ctx.counters.inc(Ctr::CmdSet);
        let w = Rewrite {
            expect,
            ..Rewrite::default()
        };
        let r = self.rmw(ctx, key, w, |old, buf| {
            if front {
                buf.extend_from_slice(data);
                buf.extend_from_slice(old);
            } else {
                buf.extend_from_slice(old);
                buf.extend_from_slice(data);
            }
            Ok(())
        })?;
        Ok(match r {
            Rmw::Done { cas, .. } => (Stored::Stored, cas),
            Rmw::Missing => (Stored::NotStored, 0),
            Rmw::Mismatch => (Stored::Exists, 0),
        })
    }

    pub(crate) fn arith(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        delta: u64,
        incr: bool,
    ) -> Result<Option<u64>, Error> {
        self.arith_cas(ctx, key, delta, incr, None)
            .map(|r| match r {
                Rmw::Done { value, .. } => Some(value),
                _ => None,
            })
    }

    /// [`Engine::arith`] on the item of CAS unique `expect` only, if given;
    /// `Done` carries the new value, CAS unique and exptime.
    pub(crate) fn arith_cas(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        delta: u64,
        incr: bool,
        expect: Option<u64>,
    ) -> Result<Rmw, Error> {
        let mut result = 0;
        let w = Rewrite {
            expect,
            ..Rewrite::default()
        };
        let r = self.rmw(ctx, key, w, |old, buf| {
            let cur = super::parse_u64(old).ok_or(Error::NonNumeric)?;
            result = if incr {
                cur.wrapping_add(delta)
            } else {
                cur.saturating_sub(delta)
            };
            use std::io::Write as _;
            write!(buf, "{result}").map_err(|_| Error::OutOfMemory)
        });
        let (hit, miss) = if incr {
            (Ctr::IncrHits, Ctr::IncrMisses)
        } else {
            (Ctr::DecrHits, Ctr::DecrMisses)
        };
        match r {
            Ok(Rmw::Done { cas, exptime, .. }) => {
                ctx.counters.inc(hit);
                Ok(Rmw::Done {
                    cas,
                    exptime,
                    value: result,
                })
            }
            Ok(Rmw::Missing) => {
                ctx.counters.inc(miss);
                Ok(Rmw::Missing)
            }
            other => other,
        }
    }

    /// Read-modify-write of a present key, of CAS unique `expect` if
    /// given. `f` gets the old value and writes the new one into a buffer.
    pub(crate) fn rmw(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        w: Rewrite,
        mut f: impl FnMut(&[u8], &mut Vec<u8>) -> Result<(), Error>,
    ) -> Result<Rmw, Error> {
        let expect = w.expect;
        let now_ms = self.clock.now_ms();
        self.due_flush(ctx, now_ms);
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            return Err(Error::BadKey);
        }
        let hash = self.hash(key);
        let mut buf = std::mem::take(&mut ctx.scratch);
        let r = loop {
            buf.clear();
            // Read the old item under a short pin, and remember its exact
            // identity: the chunk, and the CAS unique of this incarnation.
            let (old, flags, exp, old_cas) = {
                let g = self.store.index.pin(&ctx.local);
                let Some(found) = self.store.index.find(hash, key, &g) else {
                    break Ok(Rmw::Missing);
                };
                let old = found.item();
                if let Some(why) = self.dead(old, now_secs(self.clock.now_ms())) {
                    if let Some(gone) = self.store.remove(&found, &g) {
                        self.unlinked(ctx, &g, gone, why);
                    }
                    break Ok(Rmw::Missing);
                }
                if expect.is_some_and(|c| c != old.cas()) {
                    break Ok(Rmw::Mismatch);
                }
                if let Err(e) = f(old.value(), &mut buf) {
                    break Err(e);
                }
                (old.item(), old.flags(), old.exptime(), old.cas())
            };
            // Build the new item unpinned (allocation may evict and wait).
            let mut it = match self.build(ctx, key, &buf, flags, w.exptime.unwrap_or(exp)) {
                Ok(it) => it,
                Err(e) => break Err(e),
            };
            if w.stale {
                it.held().set_swr(STALE);
            }
            let g = self.store.index.pin(&ctx.local);
            if cfg!(feature = "planted-stale-rmw") {
                // PLANTED BUG: commit over whatever the key holds now, so a
                // set that landed since the read is overwritten by a value
                // computed from the stale one.
                if let Some(now) = self.store.index.find(hash, key, &g) {
                    self.inherit(it.held(), now.item());
                    match self.store.replace(&now, it, &g) {
                        Ok((new, gone)) => {
                            self.replaced(ctx, &g, gone, new);
                            self.queued(ctx, new);
                            self.maybe_retire(ctx, &g);
                            break Ok(Rmw::done(new));
                        }
                        Err(back) => it = back,
                    }
                }
            }
            // The old chunk may have been reclaimed and reused, even for this
            // key, while we were unpinned: find it again under this pin, by
            // chunk and CAS unique (a reused chunk has a new unique). A CAS
            // unique names one incarnation of a chunk (a rescue that moved it
            // would have left another chunk in the slot), so the entry found
            // holds the item `key` was read under, and has its key.
            let same = self
                .store
                .index
                .find_where(hash, &g, |x| x.ptr() == old.ptr() && x.cas() == old_cas);
            if let Some(found) = same {
                if self
                    .dead(found.item(), now_secs(self.clock.now_ms()))
                    .is_some()
                {
                    // Flushed or expired since the read: what the new value
                    // was computed from is gone. Start over, which finds it
                    // dead.
                    self.discard(ctx, &g, it);
                    continue;
                }
                self.inherit(it.held(), found.item());
                match self.store.replace(&found, it, &g) {
                    Ok((new, gone)) => {
                        self.replaced(ctx, &g, gone, new);
                        self.queued(ctx, new);
                        self.settle(ctx, &g, hash, new);
                        self.maybe_retire(ctx, &g);
                        break Ok(Rmw::done(new));
                    }
                    Err(back) => it = back,
                }
            }
            self.discard(ctx, &g, it);
        };
        ctx.scratch = buf;
        r
    }
}
