//! Deterministic simulation: seeded streams of every memcached operation,
//! with TTLs, clock steps and `flush_all`, run against a sequential
//! reference model on the manual clock.
//!
//! - **Operations**: get, set, add, replace, append, prepend, cas (with the
//!   current unique or a stale one), delete, touch, gat, incr, decr,
//!   flush_all (now or delayed) and clock advances, on a handful of keys.
//! - **Interleavings**: every operation names the client that runs it. Each
//!   client is an OS thread with its own per-thread engine state
//!   (magazines, eviction pools, retirement batches, CAS blocks); the driver
//!   hands one operation at a time to the named client and waits for its
//!   answer, so the interleaving of clients is the seed's, exactly.
//! - **Checking**: each answer is compared with the model's. In `Exact`
//!   mode memory is ample and the cache must forget nothing. In
//!   `Forgetful` mode memory is tight: an answer that is wrong for the
//!   model but right once the key is forgotten (evicted) is accepted, and
//!   the model forgets the key; a store may fail for memory. Expiry and
//!   flush are exact in both modes: an expired or flushed item must never
//!   come back.
//! - **Shrinking**: a failure reports the seed, the first failing operation
//!   (so the failing prefix), then the smallest sub-list of that prefix that
//!   still fails, found by deleting operations greedily.

use hotset::rng::SplitMix64 as Rng;
use hotset::{Cache, Config, Error, ManualClock, Policy, ReclaimKind, SlabClasses, Stored};
use std::collections::HashMap;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

/// Keys in play (few, so operations collide).
pub const KEYS: u8 = 6;

/// One operation of the stream.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// get
    Get(u8),
    /// set key value flags exptime
    Set(u8, Vec<u8>, u32, i64),
    /// add key value exptime
    Add(u8, Vec<u8>, i64),
    /// replace key value exptime
    Replace(u8, Vec<u8>, i64),
    /// append
    Append(u8, Vec<u8>),
    /// prepend
    Prepend(u8, Vec<u8>),
    /// cas with the key's current unique (`true`) or a stale one
    Cas(u8, Vec<u8>, bool),
    /// delete
    Delete(u8),
    /// touch key exptime
    Touch(u8, i64),
    /// gat key exptime
    Gat(u8, i64),
    /// incr
    Incr(u8, u64),
    /// decr
    Decr(u8, u64),
    /// flush_all delay
    Flush(u32),
    /// Move the clock forward by this many milliseconds.
    Advance(u64),
}

impl Op {
    fn key(&self) -> Option<u8> {
        match *self {
            Op::Get(k)
            | Op::Set(k, ..)
            | Op::Add(k, ..)
            | Op::Replace(k, ..)
            | Op::Append(k, _)
            | Op::Prepend(k, _)
            | Op::Cas(k, ..)
            | Op::Delete(k)
            | Op::Touch(k, _)
            | Op::Gat(k, _)
            | Op::Incr(k, _)
            | Op::Decr(k, _) => Some(k),
            Op::Flush(_) | Op::Advance(_) => None,
        }
    }
}

/// An operation and the client that runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Which client thread runs it.
    pub client: usize,
    /// The operation.
    pub op: Op,
}

/// What the cache answered, in a comparable form.
#[derive(Clone, Debug, PartialEq)]
pub enum Out {
    /// A store's result.
    Store(Result<Stored, Error>),
    /// A get's or gat's value and flags.
    Value(Option<(Vec<u8>, u32)>),
    /// delete's or touch's hit.
    Hit(bool),
    /// incr's or decr's result.
    Num(Result<Option<u64>, Error>),
    /// Operations that answer nothing.
    Done,
}

/// How much the cache may forget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Ample memory: every answer must be the model's.
    Exact,
    /// Tight memory: keys may be evicted and stores may fail for memory.
    Forgetful,
}

/// The stream of `n` steps for a seed, over `clients` clients.
pub fn generate(seed: u64, n: usize, clients: usize, max_value: usize) -> Vec<Step> {
    let mut r = Rng::new(seed);
    let value = |r: &mut Rng| -> Vec<u8> {
        if r.below(2) == 0 {
            r.below(1000).to_string().into_bytes()
        } else {
            let len = r.below(max_value as u64 + 1) as usize;
            (0..len).map(|_| b'a' + r.below(26) as u8).collect()
        }
    };
    let short = |r: &mut Rng| -> Vec<u8> { r.below(100).to_string().into_bytes() };
    let ttl = |r: &mut Rng| -> i64 {
        match r.below(6) {
            0 => 1 + r.below(3) as i64,
            1 => -1,
            _ => 0,
        }
    };
    (0..n)
        .map(|_| {
            let k = r.below(KEYS as u64) as u8;
            let op = match r.below(24) {
                0..=4 => Op::Get(k),
                5..=8 => Op::Set(k, value(&mut r), r.below(3) as u32 * 7, ttl(&mut r)),
                9 => Op::Add(k, value(&mut r), ttl(&mut r)),
                10 => Op::Replace(k, value(&mut r), ttl(&mut r)),
                // Short, so that no stream grows a value past the largest
                // item.
                11 => Op::Append(k, short(&mut r)),
                12 => Op::Prepend(k, short(&mut r)),
                13 | 14 => Op::Cas(k, value(&mut r), r.below(2) == 0),
                15 | 16 => Op::Delete(k),
                17 => Op::Touch(k, ttl(&mut r)),
                18 => Op::Gat(k, ttl(&mut r)),
                19 => Op::Incr(
                    k,
                    if r.below(8) == 0 {
                        u64::MAX
                    } else {
                        r.below(100)
                    },
                ),
                20 => Op::Decr(k, r.below(100)),
                21 => Op::Flush(r.below(3) as u32),
                _ => Op::Advance(r.below(1500)),
            };
            Step {
                client: r.below(clients as u64) as usize,
                op,
            }
        })
        .collect()
}

#[derive(Clone, Debug)]
struct Entry {
    value: Vec<u8>,
    flags: u32,
    /// Expiry in model milliseconds; `None` never.
    exp: Option<u64>,
}

/// The sequential reference model: memcached's semantics on a map.
#[derive(Clone, Debug, Default)]
struct Model {
    now_ms: u64,
    map: HashMap<u8, Entry>,
    /// A delayed flush_all's due time.
    flush_at: Option<u64>,
}

impl Model {
    /// A relative exptime's expiry. The cache counts whole seconds from
    /// its clock's origin, so an item set at 2.7 s with TTL 1 expires at
    /// 3 s (memcached's clock is also in whole seconds).
    fn exp(&self, ttl: i64) -> Option<u64> {
        match ttl {
            0 => None,
            t if t < 0 => Some(0),
            t => Some((self.now_ms / 1000 + t as u64) * 1000),
        }
    }

    /// Applies a due flush and this key's expiry; the key's live entry.
    fn live(&mut self, k: u8) -> Option<&mut Entry> {
        if self.flush_at.is_some_and(|at| self.now_ms >= at) {
            self.map.clear();
            self.flush_at = None;
        }
        let now = self.now_ms;
        if self
            .map
            .get(&k)
            .is_some_and(|e| e.exp.is_some_and(|x| now >= x))
        {
            self.map.remove(&k);
        }
        self.map.get_mut(&k)
    }

    fn put(&mut self, k: u8, value: Vec<u8>, flags: u32, ttl: i64) {
        let exp = self.exp(ttl);
        self.map.insert(k, Entry { value, flags, exp });
    }

    /// The answer the model expects, applying the operation.
    fn expect(&mut self, op: &Op) -> Out {
        match op.clone() {
            Op::Get(k) => Out::Value(self.live(k).map(|e| (e.value.clone(), e.flags))),
            Op::Set(k, v, f, t) => {
                self.live(k);
                self.put(k, v, f, t);
                Out::Store(Ok(Stored::Stored))
            }
            Op::Add(k, v, t) => {
                if self.live(k).is_some() {
                    return Out::Store(Ok(Stored::NotStored));
                }
                self.put(k, v, 0, t);
                Out::Store(Ok(Stored::Stored))
            }
            Op::Replace(k, v, t) => {
                if self.live(k).is_none() {
                    return Out::Store(Ok(Stored::NotStored));
                }
                self.put(k, v, 0, t);
                Out::Store(Ok(Stored::Stored))
            }
            Op::Append(k, v) | Op::Prepend(k, v) => match self.live(k) {
                None => Out::Store(Ok(Stored::NotStored)),
                Some(e) => {
                    e.value = if matches!(op, Op::Prepend(..)) {
                        [&v[..], &e.value[..]].concat()
                    } else {
                        [&e.value[..], &v[..]].concat()
                    };
                    Out::Store(Ok(Stored::Stored))
                }
            },
            Op::Cas(k, v, good) => match self.live(k) {
                None => Out::Store(Ok(Stored::NotFound)),
                Some(_) if !good => Out::Store(Ok(Stored::Exists)),
                Some(_) => {
                    self.put(k, v, 0, 0);
                    Out::Store(Ok(Stored::Stored))
                }
            },
            Op::Delete(k) => Out::Hit(self.live(k).is_some() && self.map.remove(&k).is_some()),
            Op::Touch(k, t) | Op::Gat(k, t) => {
                let exp = self.exp(t);
                let got = self.live(k).map(|e| {
                    e.exp = exp;
                    (e.value.clone(), e.flags)
                });
                if matches!(op, Op::Gat(..)) {
                    Out::Value(got)
                } else {
                    Out::Hit(got.is_some())
                }
            }
            Op::Incr(k, d) | Op::Decr(k, d) => match self.live(k) {
                None => Out::Num(Ok(None)),
                Some(e) => {
                    let n = std::str::from_utf8(&e.value)
                        .ok()
                        .filter(|s| {
                            !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
                        })
                        .and_then(|s| s.parse::<u64>().ok());
                    match n {
                        None => Out::Num(Err(Error::NonNumeric)),
                        Some(n) => {
                            let new = if matches!(op, Op::Incr(..)) {
                                n.wrapping_add(d)
                            } else {
                                n.saturating_sub(d)
                            };
                            e.value = new.to_string().into_bytes();
                            Out::Num(Ok(Some(new)))
                        }
                    }
                }
            },
            Op::Flush(0) => {
                self.map.clear();
                self.flush_at = None;
                Out::Done
            }
            Op::Flush(d) => {
                self.flush_at = Some(self.now_ms + d as u64 * 1000);
                Out::Done
            }
            Op::Advance(ms) => {
                self.now_ms += ms;
                Out::Done
            }
        }
    }
}

fn key(k: u8) -> Vec<u8> {
    format!("key-{k}").into_bytes()
}

/// Runs one operation on the cache, from the calling thread.
fn exec(c: &Cache, clock: &ManualClock, op: &Op) -> Out {
    match op.clone() {
        Op::Get(k) => {
            let mut out = Vec::new();
            Out::Value(c.get(&key(k), &mut out).map(|h| (out, h.flags)))
        }
        Op::Set(k, v, f, t) => Out::Store(c.set(&key(k), &v, f, t)),
        Op::Add(k, v, t) => Out::Store(c.add(&key(k), &v, 0, t)),
        Op::Replace(k, v, t) => Out::Store(c.replace(&key(k), &v, 0, t)),
        Op::Append(k, v) => Out::Store(c.append(&key(k), &v)),
        Op::Prepend(k, v) => Out::Store(c.prepend(&key(k), &v)),
        Op::Cas(k, v, good) => {
            // The unique a client would have from `gets`; a stale one is
            // never issued (uniques only grow).
            let cur = c.get(&key(k), &mut Vec::new()).map_or(1, |h| h.cas);
            let unique = if good { cur } else { u64::MAX - cur };
            Out::Store(c.cas(&key(k), &v, 0, 0, unique))
        }
        Op::Delete(k) => Out::Hit(c.delete(&key(k))),
        Op::Touch(k, t) => Out::Hit(c.touch(&key(k), t)),
        Op::Gat(k, t) => {
            let mut out = Vec::new();
            Out::Value(
                c.get_and_touch(&key(k), t, &mut out)
                    .map(|h| (out, h.flags)),
            )
        }
        Op::Incr(k, d) => Out::Num(c.incr(&key(k), d)),
        Op::Decr(k, d) => Out::Num(c.decr(&key(k), d)),
        Op::Flush(d) => {
            c.flush_all(d);
            Out::Done
        }
        Op::Advance(ms) => {
            clock.advance(std::time::Duration::from_millis(ms));
            Out::Done
        }
    }
}

/// Client threads that run operations one at a time, when told to.
struct Clients {
    to: Vec<Sender<Op>>,
    from: Receiver<Out>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Clients {
    fn start(n: usize, c: &Arc<Cache>, clock: &ManualClock) -> Clients {
        let (done_tx, from) = channel();
        let mut to = Vec::new();
        let mut threads = Vec::new();
        for _ in 0..n {
            let (tx, rx) = channel::<Op>();
            let (c, clock, done_tx) = (c.clone(), clock.clone(), done_tx.clone());
            threads.push(std::thread::spawn(move || {
                for op in rx {
                    let out = exec(&c, &clock, &op);
                    if done_tx.send(out).is_err() {
                        break;
                    }
                }
                c.release_thread();
            }));
            to.push(tx);
        }
        Clients { to, from, threads }
    }

    fn run(&self, client: usize, op: Op) -> Out {
        self.to[client].send(op).expect("client thread alive");
        self.from.recv().expect("client answers")
    }

    fn stop(self) {
        drop(self.to);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// A simulation's setting.
#[derive(Clone, Copy, Debug)]
pub struct Sim {
    /// How much the cache may forget.
    pub mode: Mode,
    /// Client threads.
    pub clients: usize,
    /// The reclamation backend.
    pub reclaim: ReclaimKind,
    /// The eviction policy.
    pub policy: Policy,
}

impl Sim {
    fn cache(&self, clock: &ManualClock, seed: u64) -> Cache {
        let (memory, page) = match self.mode {
            // Every class the stream touches gets a page without evicting.
            Mode::Exact => (8 << 20, 64 << 10),
            // A few 4 KiB pages for a dozen classes: constant eviction.
            Mode::Forgetful => (16 << 10, 4 << 10),
        };
        Cache::new(Config {
            memory,
            page_size: page,
            max_item_size: page,
            classes: match self.mode {
                Mode::Exact => Config::default().classes,
                // memcached's 1.25 chain, without the default's 8-byte
                // steps below 256 bytes: the stream's sizes spread over a
                // dozen classes, so that the few pages are fought over
                // rather than mostly missing.
                Mode::Forgetful => SlabClasses::List(vec![
                    64, 80, 104, 128, 160, 200, 248, 312, 384, 480, 600, 752, 936, 1168, 1464,
                    1832, 2288, 2864, 3576, 4096,
                ]),
            },
            sweep_hz: 0,
            clock: Some(Arc::new(clock.clone())),
            reclaim: self.reclaim,
            policy: self.policy,
            seed: Some(seed),
            ..Config::default()
        })
        .expect("simulation cache")
    }

    /// Runs `steps`; on a mismatch returns the index of the failing step and
    /// what went wrong. Ends with `Cache::check_consistency`, whose failure
    /// is reported at the last step.
    pub fn run(&self, seed: u64, steps: &[Step]) -> Result<(), (usize, String)> {
        let clock = ManualClock::new();
        let c = Arc::new(self.cache(&clock, seed));
        let clients = Clients::start(self.clients, &c, &clock);
        let mut m = Model::default();
        let mut r = Ok(());
        for (i, s) in steps.iter().enumerate() {
            let got = clients.run(s.client % self.clients, s.op.clone());
            if let Err(e) = self.judge(&mut m, &s.op, &got) {
                r = Err((i, e));
                break;
            }
        }
        clients.stop();
        if r.is_ok() {
            if let Err(e) = c.check_consistency() {
                r = Err((steps.len().saturating_sub(1), format!("after the run: {e}")));
            }
        }
        r
    }

    /// Compares an answer with the model's, forgetting the key first where
    /// the mode allows it.
    fn judge(&self, m: &mut Model, op: &Op, got: &Out) -> Result<(), String> {
        let mut want_m = m.clone();
        let want = want_m.expect(op);
        if *got == want {
            *m = want_m;
            return Ok(());
        }
        if self.mode == Mode::Forgetful {
            if let Some(k) = op.key() {
                let mut forgot = m.clone();
                forgot.live(k);
                forgot.map.remove(&k);
                if forgot.expect(op) == *got {
                    *m = forgot;
                    return Ok(());
                }
            }
            if matches!(
                got,
                Out::Store(Err(Error::OutOfMemory)) | Out::Num(Err(Error::OutOfMemory))
            ) {
                return Ok(());
            }
        }
        Err(format!(
            "{op:?}: cache answered {got:?}, model expects {want:?}"
        ))
    }

    /// Runs a seed's stream and, on failure, shrinks it: the failing prefix,
    /// then greedy deletion of single steps while it still fails.
    pub fn check_seed(&self, seed: u64, n: usize) -> Result<(), String> {
        let steps = generate(seed, n, self.clients, 80);
        let Err((at, why)) = self.run(seed, &steps) else {
            return Ok(());
        };
        let mut min: Vec<Step> = steps[..=at].to_vec();
        let mut i = 0;
        while i < min.len() {
            let mut fewer = min.clone();
            fewer.remove(i);
            if self.run(seed, &fewer).is_err() {
                min = fewer;
            } else {
                i += 1;
            }
        }
        let last = self
            .run(seed, &min)
            .err()
            .map_or_else(|| "(no longer fails)".to_string(), |(_, e)| e);
        let listing: String = min
            .iter()
            .map(|s| format!("\n  client {}: {:?}", s.client, s.op))
            .collect();
        Err(format!(
            "{self:?}, seed {seed}: step {at} failed: {why}\n\
             shortest failing prefix: {} steps; shrunk to {} steps ({last}):{listing}",
            at + 1,
            min.len()
        ))
    }
}
