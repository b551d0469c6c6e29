//! Property test: random sequences of every memcached operation against a
//! sequential reference model (a HashMap with exact bookkeeping) on the
//! manual clock. Memory is ample, so the cache must forget nothing.

use hotset::{Cache, Config, Error, ManualClock, ReclaimKind, Stored};
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Debug)]
enum Op {
    Get(u8),
    Set(u8, Vec<u8>, u32, i64),
    Add(u8, Vec<u8>, i64),
    Replace(u8, Vec<u8>, i64),
    Append(u8, Vec<u8>),
    Prepend(u8, Vec<u8>),
    Cas(u8, Vec<u8>, bool),
    Delete(u8),
    Touch(u8, i64),
    Gat(u8, i64),
    Incr(u8, u64),
    Decr(u8, u64),
    Flush(u32),
    Advance(u64),
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40),
        (0u64..1000).prop_map(|n| n.to_string().into_bytes()),
    ]
}

fn ttl() -> impl Strategy<Value = i64> {
    prop_oneof![Just(0i64), 1i64..5, Just(-1i64)]
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u8..6;
    prop_oneof![
        4 => k.clone().prop_map(Op::Get),
        3 => (k.clone(), value(), any::<u32>(), ttl()).prop_map(|(k, v, f, t)| Op::Set(k, v, f, t)),
        1 => (k.clone(), value(), ttl()).prop_map(|(k, v, t)| Op::Add(k, v, t)),
        1 => (k.clone(), value(), ttl()).prop_map(|(k, v, t)| Op::Replace(k, v, t)),
        1 => (k.clone(), value()).prop_map(|(k, v)| Op::Append(k, v)),
        1 => (k.clone(), value()).prop_map(|(k, v)| Op::Prepend(k, v)),
        1 => (k.clone(), value(), any::<bool>()).prop_map(|(k, v, good)| Op::Cas(k, v, good)),
        1 => k.clone().prop_map(Op::Delete),
        1 => (k.clone(), ttl()).prop_map(|(k, t)| Op::Touch(k, t)),
        1 => (k.clone(), ttl()).prop_map(|(k, t)| Op::Gat(k, t)),
        1 => (k.clone(), prop_oneof![0u64..100, Just(u64::MAX)]).prop_map(|(k, d)| Op::Incr(k, d)),
        1 => (k.clone(), 0u64..100).prop_map(|(k, d)| Op::Decr(k, d)),
        1 => (0u32..3).prop_map(Op::Flush),
        2 => (0u64..3).prop_map(Op::Advance),
    ]
}

#[derive(Clone, Debug)]
struct Entry {
    value: Vec<u8>,
    flags: u32,
    /// Expiry in model seconds; None = never.
    exp: Option<u64>,
    cas: u64,
}

#[derive(Default)]
struct Model {
    now: u64,
    map: HashMap<u8, Entry>,
    flush_at: Option<u64>,
}

impl Model {
    fn exp(&self, ttl: i64) -> Option<u64> {
        match ttl {
            0 => None,
            t if t < 0 => Some(0),
            t => Some(self.now + t as u64),
        }
    }
    fn live(&mut self, k: u8) -> Option<&mut Entry> {
        if let Some(at) = self.flush_at {
            if self.now >= at {
                self.map.clear();
                self.flush_at = None;
            }
        }
        let now = self.now;
        if self
            .map
            .get(&k)
            .is_some_and(|e| e.exp.is_some_and(|x| now >= x))
        {
            self.map.remove(&k);
        }
        self.map.get_mut(&k)
    }
}

fn key(k: u8) -> Vec<u8> {
    format!("key-{k}").into_bytes()
}

fn run(reclaim: ReclaimKind, ops: &[Op]) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    // Small pages, so every class the ops touch gets one without evicting.
    let c = Cache::new(Config {
        memory: 8 << 20,
        page_size: 64 << 10,
        max_item_size: 64 << 10,
        sweep_hz: 0,
        clock: Some(Arc::new(clock.clone())),
        reclaim,
        ..Config::default()
    })
    .unwrap();
    let mut m = Model::default();
    for (i, op) in ops.iter().enumerate() {
        let ctx = format!("op {i}: {op:?}");
        match op.clone() {
            Op::Get(k) => {
                let mut out = Vec::new();
                let got = c.get(&key(k), &mut out);
                match m.live(k) {
                    Some(e) => {
                        let h = got
                            .ok_or_else(|| TestCaseError::fail(format!("{ctx}: miss, want hit")))?;
                        prop_assert_eq!(&out, &e.value, "{}", ctx);
                        prop_assert_eq!(h.flags, e.flags, "{}", ctx);
                        e.cas = h.cas;
                    }
                    None => prop_assert!(got.is_none(), "{}: hit, want miss", ctx),
                }
            }
            Op::Set(k, v, f, t) => {
                prop_assert_eq!(c.set(&key(k), &v, f, t), Ok(Stored::Stored), "{}", ctx);
                m.live(k);
                let exp = m.exp(t);
                m.map.insert(
                    k,
                    Entry {
                        value: v,
                        flags: f,
                        exp,
                        cas: 0,
                    },
                );
            }
            Op::Add(k, v, t) => {
                let want = if m.live(k).is_some() {
                    Stored::NotStored
                } else {
                    Stored::Stored
                };
                prop_assert_eq!(c.add(&key(k), &v, 0, t), Ok(want), "{}", ctx);
                if want == Stored::Stored {
                    let exp = m.exp(t);
                    m.map.insert(
                        k,
                        Entry {
                            value: v,
                            flags: 0,
                            exp,
                            cas: 0,
                        },
                    );
                }
            }
            Op::Replace(k, v, t) => {
                let present = m.live(k).is_some();
                let want = if present {
                    Stored::Stored
                } else {
                    Stored::NotStored
                };
                prop_assert_eq!(c.replace(&key(k), &v, 0, t), Ok(want), "{}", ctx);
                if present {
                    let exp = m.exp(t);
                    m.map.insert(
                        k,
                        Entry {
                            value: v,
                            flags: 0,
                            exp,
                            cas: 0,
                        },
                    );
                }
            }
            Op::Append(k, v) | Op::Prepend(k, v) => {
                let front = matches!(op, Op::Prepend(..));
                let r = if front {
                    c.prepend(&key(k), &v)
                } else {
                    c.append(&key(k), &v)
                };
                match m.live(k) {
                    Some(e) => {
                        prop_assert_eq!(r, Ok(Stored::Stored), "{}", ctx);
                        e.value = if front {
                            [&v[..], &e.value[..]].concat()
                        } else {
                            [&e.value[..], &v[..]].concat()
                        };
                    }
                    None => prop_assert_eq!(r, Ok(Stored::NotStored), "{}", ctx),
                }
            }
            Op::Cas(k, v, good) => {
                let r;
                match m.live(k) {
                    None => {
                        r = c.cas(&key(k), &v, 0, 0, 1);
                        prop_assert_eq!(r, Ok(Stored::NotFound), "{}", ctx);
                    }
                    Some(e) => {
                        let cur = c.get(&key(k), &mut Vec::new()).map(|h| h.cas).unwrap_or(0);
                        let unique = if good { cur } else { cur + 12345 };
                        r = c.cas(&key(k), &v, 0, 0, unique);
                        if good {
                            prop_assert_eq!(r, Ok(Stored::Stored), "{}", ctx);
                            *e = Entry {
                                value: v,
                                flags: 0,
                                exp: None,
                                cas: 0,
                            };
                        } else {
                            prop_assert_eq!(r, Ok(Stored::Exists), "{}", ctx);
                        }
                    }
                }
            }
            Op::Delete(k) => {
                let present = m.live(k).is_some();
                prop_assert_eq!(c.delete(&key(k)), present, "{}", ctx);
                m.map.remove(&k);
            }
            Op::Touch(k, t) | Op::Gat(k, t) => {
                let mut out = Vec::new();
                let got = if matches!(op, Op::Gat(..)) {
                    c.get_and_touch(&key(k), t, &mut out).is_some()
                } else {
                    c.touch(&key(k), t)
                };
                let exp = m.exp(t);
                match m.live(k) {
                    Some(e) => {
                        prop_assert!(got, "{}: touch missed", ctx);
                        if matches!(op, Op::Gat(..)) {
                            prop_assert_eq!(&out, &e.value, "{}", ctx);
                        }
                        e.exp = exp;
                    }
                    None => prop_assert!(!got, "{}: touch hit", ctx),
                }
            }
            Op::Incr(k, d) | Op::Decr(k, d) => {
                let incr = matches!(op, Op::Incr(..));
                let r = if incr {
                    c.incr(&key(k), d)
                } else {
                    c.decr(&key(k), d)
                };
                match m.live(k) {
                    None => prop_assert_eq!(r, Ok(None), "{}", ctx),
                    Some(e) => {
                        let parsed = std::str::from_utf8(&e.value)
                            .ok()
                            .filter(|s| {
                                !s.is_empty()
                                    && s.len() <= 20
                                    && s.bytes().all(|b| b.is_ascii_digit())
                            })
                            .and_then(|s| s.parse::<u64>().ok());
                        match parsed {
                            None => prop_assert_eq!(r, Err(Error::NonNumeric), "{}", ctx),
                            Some(n) => {
                                let want = if incr {
                                    n.wrapping_add(d)
                                } else {
                                    n.saturating_sub(d)
                                };
                                prop_assert_eq!(r, Ok(Some(want)), "{}", ctx);
                                e.value = want.to_string().into_bytes();
                            }
                        }
                    }
                }
            }
            Op::Flush(delay) => {
                c.flush_all(delay);
                if delay == 0 {
                    m.map.clear();
                    m.flush_at = None;
                } else {
                    m.flush_at = Some(m.now + delay as u64);
                }
            }
            Op::Advance(s) => {
                clock.advance_secs(s);
                m.now += s;
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn matches_reference_model_crossbeam(ops in prop::collection::vec(op(), 1..120)) {
        run(ReclaimKind::Crossbeam, &ops)?;
    }

    #[test]
    fn matches_reference_model_seize(ops in prop::collection::vec(op(), 1..120)) {
        run(ReclaimKind::Seize, &ops)?;
    }
}
