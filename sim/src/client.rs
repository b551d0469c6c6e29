//! A random cache client whose operations are recorded as a history for
//! [`crate::lin`]. The real-thread history test and the shuttle models share
//! it.
//!
//! Values are decimal numbers, unique per write, padded with trailing spaces
//! to a random length so items land in several slab classes (and `incr`, like
//! memcached's, ignores the padding).

use crate::lin::{Event, Op, Ret};
use hotset::{Cache, Stored};
use std::sync::atomic::{AtomicU64, Ordering};

/// The mix of operations, out of 16: set, add, incr, delete, get.
const MIX: [u64; 5] = [5, 1, 3, 2, 5];

/// One client: its writes carry values `(id << 32 | n) * 1000`, so that no
/// two writes share a value and a few hundred incrs cannot reach another's.
pub struct Client {
    id: u64,
    n: u64,
    out: Vec<u8>,
    /// Longest padding of a value.
    pub max_pad: usize,
    /// Largest TTL in seconds given to a write (0: none); a quarter of
    /// writes get one.
    pub max_ttl: i64,
}

impl Client {
    /// Client number `id` (distinct per thread).
    pub fn new(id: u64) -> Client {
        Client {
            id,
            n: 0,
            out: Vec::new(),
            max_pad: 160,
            max_ttl: 0,
        }
    }

    /// Sets key `key` to a fresh value (no padding, no TTL), recorded.
    pub fn set_key(&mut self, cache: &Cache, key: u64, time: &AtomicU64) -> Option<Event> {
        let v = ((self.id << 32) | self.n) * 1000;
        self.n += 1;
        let call = time.fetch_add(1, Ordering::SeqCst);
        let stored = cache.set(format!("k{key}").as_bytes(), v.to_string().as_bytes(), 0, 0);
        let resp = time.fetch_add(1, Ordering::SeqCst);
        (stored == Ok(Stored::Stored)).then_some(Event {
            key,
            op: Op::Set(v),
            ret: Ret::Ok,
            call,
            resp,
        })
    }

    /// Runs one operation chosen by `r` on one of `keys` keys, stamping its
    /// call and response from `time`. `None` if the operation had no defined
    /// effect to check (a store refused for memory).
    pub fn step(&mut self, cache: &Cache, r: u64, keys: u64, time: &AtomicU64) -> Option<Event> {
        let key = r % keys;
        let k = format!("k{key}");
        let v = ((self.id << 32) | self.n) * 1000;
        self.n += 1;
        let pad = (r >> 16) as usize % (self.max_pad + 1);
        let val = format!("{v}{:pad$}", "");
        let ttl = if self.max_ttl > 0 && (r >> 24).is_multiple_of(4) {
            1 + (r >> 28) as i64 % self.max_ttl
        } else {
            0
        };
        let mut pick = (r >> 8) % MIX.iter().sum::<u64>();
        let which = MIX
            .iter()
            .position(|&w| {
                let hit = pick < w;
                pick = pick.saturating_sub(w);
                hit
            })
            .unwrap_or(0);
        let call = time.fetch_add(1, Ordering::SeqCst);
        let (op, ret) = match which {
            0 => match cache.set(k.as_bytes(), val.as_bytes(), 0, ttl) {
                Ok(Stored::Stored) => (Op::Set(v), Ret::Ok),
                _ => return None,
            },
            1 => match cache.add(k.as_bytes(), val.as_bytes(), 0, ttl) {
                Ok(Stored::Stored) => (Op::Add(v), Ret::Bool(true)),
                Ok(Stored::NotStored) => (Op::Add(v), Ret::Bool(false)),
                _ => return None,
            },
            2 => {
                let d = 1 + (r >> 40) % 5;
                match cache.incr(k.as_bytes(), d) {
                    Ok(n) => (Op::Incr(d), Ret::Num(n)),
                    Err(_) => return None,
                }
            }
            3 => (Op::Delete, Ret::Bool(cache.delete(k.as_bytes()))),
            _ => {
                self.out.clear();
                let got = cache.get(k.as_bytes(), &mut self.out).map(|_| {
                    let s = std::str::from_utf8(&self.out).expect("values are ASCII");
                    s.trim_end().parse::<u64>().expect("values are numbers")
                });
                (Op::Get, Ret::Value(got))
            }
        };
        let resp = time.fetch_add(1, Ordering::SeqCst);
        Some(Event {
            key,
            op,
            ret,
            call,
            resp,
        })
    }
}
