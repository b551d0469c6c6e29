//! The engine side of memcached's meta commands: what `mg` and `me` read
//! of an item, `ms`'s storage modes with a CAS, `md`'s conditional delete
//! and `ma`'s counters. The protocol side is `protocol::meta` and
//! `server::meta`.

use super::ops::{Rewrite, Rmw};
use super::{Cond, Engine, Error, Stored, ThreadCtx, Why};
use crate::raw::item::{Held, STALE, TOKEN};
use crate::stats::Ctr;
use crate::ttl::{expiry, now_secs};

/// `ms`'s storage modes (its `M` flag).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetMode {
    /// Store unconditionally (with a CAS: only over that CAS).
    Set,
    /// Store only if absent.
    Add,
    /// Store only if present (with a CAS: only over that CAS).
    Replace,
    /// Append to a present value (with a CAS: only to that one).
    Append,
    /// Prepend to a present value (with a CAS: only to that one).
    Prepend,
}

/// What `mg` sees of an item: its value and fields, and how it was used
/// before this request.
#[derive(Debug)]
pub struct MetaHit<'g> {
    /// The value bytes.
    pub value: &'g [u8],
    /// Client flags.
    pub flags: u32,
    /// CAS unique.
    pub cas: u64,
    /// Seconds to live after this request's touch, if any; `None` never
    /// expires.
    pub ttl: Option<i64>,
    /// Seconds to live before it.
    pub ttl_before: Option<i64>,
    /// Seconds since the item was last read or written, before this
    /// request.
    pub idle_secs: u64,
    /// Whether the item had been read before this request.
    pub fetched: bool,
    /// The item is stale (`X`).
    pub stale: bool,
    /// Another client already holds the recache (`Z`).
    pub token_taken: bool,
    /// This request won the recache (`W`): it created the item (`N`), or
    /// found it stale or within `R` seconds of expiring, with nobody
    /// holding the token yet.
    pub won: bool,
}

/// What `mg` asks of a lookup, beyond the key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GetOpts {
    /// Set this exptime on a hit (`T`).
    pub touch: Option<i64>,
    /// Record the access (no `u`).
    pub bump: bool,
    /// On a miss, create an empty item with this exptime and win its
    /// recache (`N`).
    pub vivify: Option<i64>,
    /// Win the recache if the item expires within this many seconds (`R`).
    pub recache: Option<i64>,
}

/// What `me` shows of an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetaDebug {
    /// Seconds to live; `None` never expires.
    pub ttl: Option<i64>,
    /// Seconds since the last access.
    pub idle_secs: u64,
    /// CAS unique.
    pub cas: u64,
    /// Whether it was ever read.
    pub fetched: bool,
    /// Its slab class.
    pub class: u8,
    /// Bytes it occupies (header, key and value).
    pub footprint: usize,
}

/// How `ma` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaArith {
    /// Done.
    Hit(ArithHit),
    /// The key is absent.
    NotFound,
    /// The key was absent, and another client created it first.
    NotStored,
    /// The key's CAS unique is not the one given.
    Exists,
}

/// `ma`'s result on success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArithHit {
    /// The new value.
    pub value: u64,
    /// The new CAS unique.
    pub cas: u64,
    /// Seconds to live after the request's touch; `None` never expires.
    pub ttl: Option<i64>,
    /// Seconds to live before it.
    pub ttl_before: Option<i64>,
    /// The item was created by this request (`N`).
    pub created: bool,
}

/// Seconds left of `exptime` (cache seconds) at `now`; `None` for never.
fn ttl_left(exptime: u32, now: u32) -> Option<i64> {
    (exptime != 0).then(|| exptime as i64 - now as i64)
}

impl Engine {
    pub(crate) fn meta_get<R>(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        opts: GetOpts,
        f: impl FnOnce(MetaHit<'_>) -> R,
    ) -> Option<R> {
        let touch = opts.touch;
        let exp = touch.map(|t| expiry(&*self.clock, t));
        let mut f = Some(f);
        let mut created = false;
        // A miss with `N` creates the item and looks again; if another
        // client created it first, the second look finds theirs.
        let r = loop {
            let r = self.lookup(ctx, key, exp, opts.bump, true, |it: Held<'_>, before| {
                let now = now_secs(before.now_ms);
                let bits = it.swr_bits();
                let stale = bits & STALE != 0;
                let mut token_taken = bits & TOKEN != 0 && !created;
                let due = opts.recache.is_some_and(|r| {
                    before.exptime != 0 && (before.exptime as i64) < now as i64 + r
                });
                let mut won = created;
                if !created && !token_taken && (stale || due) {
                    won = it.take_token();
                    token_taken = !won;
                }
                f.take().map(|f| {
                    f(MetaHit {
                        value: it.value(),
                        flags: it.flags(),
                        cas: it.cas(),
                        ttl: ttl_left(it.exptime(), now),
                        ttl_before: ttl_left(before.exptime, now),
                        idle_secs: idle(before.now_ms, before.atime),
                        fetched: before.fetched,
                        stale,
                        token_taken,
                        won,
                    })
                })
            });
            match (r, opts.vivify) {
                (Some(r), _) => break r,
                (None, Some(ttl)) if !created => {
                    match self.store_cas(ctx, key, b"", 0, ttl, Cond::Vivify) {
                        Ok((Stored::Stored, _)) => created = true,
                        Ok(_) => {}
                        Err(_) => break None,
                    }
                }
                (None, _) => break None,
            }
        };
        if touch.is_some() {
            ctx.counters.inc(Ctr::CmdTouch);
            ctx.counters.inc(if r.is_some() {
                Ctr::TouchHits
            } else {
                Ctr::TouchMisses
            });
        }
        r
    }

    pub(crate) fn meta_debug(&self, ctx: &mut ThreadCtx, key: &[u8]) -> Option<MetaDebug> {
        self.lookup(ctx, key, None, false, false, |it: Held<'_>, before| {
            MetaDebug {
                ttl: ttl_left(it.exptime(), now_secs(before.now_ms)),
                idle_secs: idle(before.now_ms, before.atime),
                cas: it.cas(),
                fetched: before.fetched,
                class: self
                    .store
                    .slab
                    .class_of(crate::raw::slab::Chunk::of(it.item())),
                footprint: it.footprint(),
            }
        })
    }

    /// `md … I`: replaces the item with a stale copy under a new CAS
    /// unique, its token cleared, with exptime `ttl` if given.
    pub(crate) fn invalidate(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        cas: Option<u64>,
        ttl: Option<i64>,
    ) -> Stored {
        let w = Rewrite {
            expect: cas,
            stale: true,
            exptime: ttl.map(|t| expiry(&*self.clock, t)),
        };
        match self.rmw(ctx, key, w, |old, buf| {
            buf.extend_from_slice(old);
            Ok(())
        }) {
            Ok(Rmw::Done { .. }) => Stored::Stored,
            Ok(Rmw::Mismatch) => Stored::Exists,
            Ok(Rmw::Missing) | Err(_) => Stored::NotFound,
        }
    }

    /// Deletes `key` if present and, given a CAS, only if it is that one:
    /// `Stored` (deleted), `NotFound`, or `Exists` (another CAS).
    pub(crate) fn delete_if(&self, ctx: &mut ThreadCtx, key: &[u8], cas: Option<u64>) -> Stored {
        let now_ms = self.clock.now_ms();
        self.due_flush(ctx, now_ms);
        let hash = self.hash(key);
        let g = self.store.index.pin(&ctx.local);
        let r = loop {
            let Some(f) = self.store.index.find(hash, key, &g) else {
                break Stored::NotFound;
            };
            let it = f.item();
            let dead = self.dead(it, now_secs(now_ms));
            let live = dead.is_none();
            if live && cas.is_some_and(|c| c != it.cas()) {
                break Stored::Exists;
            }
            if let Some(gone) = self.store.remove(&f, &g) {
                let why = dead.unwrap_or(Why::Delete);
                self.unlinked(ctx, &g, gone, why);
                break if live {
                    Stored::Stored
                } else {
                    Stored::NotFound
                };
            }
        };
        ctx.counters.inc(if r == Stored::Stored {
            Ctr::DeleteHits
        } else {
            Ctr::DeleteMisses
        });
        self.maybe_retire(ctx, &g);
        r
    }
}

/// Seconds from a header's 32-bit millisecond access time to `now_ms`.
fn idle(now_ms: u64, atime: u32) -> u64 {
    (now_ms as u32).wrapping_sub(atime) as u64 / 1000
}

/// What `ma` asks for (see [`Cache::meta_arith`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArithOp {
    /// Add (else subtract, stopping at 0).
    pub incr: bool,
    /// The amount.
    pub delta: u64,
    /// Only on the item of this CAS unique.
    pub cas: Option<u64>,
    /// On a miss, create the item: (initial value, exptime).
    pub vivify: Option<(u64, i64)>,
    /// Then set this exptime.
    pub touch: Option<i64>,
}

impl Engine {
    pub(crate) fn meta_arith(
        &self,
        ctx: &mut ThreadCtx,
        key: &[u8],
        op: ArithOp,
    ) -> Result<MetaArith, Error> {
        let (value, cas, exptime, created) =
            match self.arith_cas(ctx, key, op.delta, op.incr, op.cas)? {
                Rmw::Done {
                    value,
                    cas,
                    exptime,
                } => (value, cas, exptime, false),
                Rmw::Mismatch => return Ok(MetaArith::Exists),
                Rmw::Missing => {
                    let Some((initial, exptime)) = op.vivify else {
                        return Ok(MetaArith::NotFound);
                    };
                    let digits = initial.to_string().into_bytes();
                    match self.store_cas(ctx, key, &digits, 0, exptime, Cond::Absent)? {
                        (Stored::Stored, c) => (initial, c, expiry(&*self.clock, exptime), true),
                        _ => return Ok(MetaArith::NotStored),
                    }
                }
            };
        let now = now_secs(self.clock.now_ms());
        let ttl_before = ttl_left(exptime, now);
        let ttl = match op.touch {
            Some(t) => {
                let exp = expiry(&*self.clock, t);
                self.lookup(ctx, key, Some(exp), false, false, |it: Held<'_>, _| {
                    ttl_left(it.exptime(), now)
                })
                .flatten()
            }
            None => ttl_before,
        };
        Ok(MetaArith::Hit(ArithHit {
            value,
            cas,
            ttl,
            ttl_before,
            created,
        }))
    }
}
