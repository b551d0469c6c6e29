//! A linearizability checker for a per-key cache model (Wing & Gong's
//! search, compositional per key).
//!
//! The model: each key holds `None` or `Some(value)`. A cache may *forget* a
//! key at any moment (eviction, expiry), so:
//! - `get → None` and `delete → false` are always allowed (the key may have
//!   been forgotten first), and leave the key absent;
//! - `get → Some(v)` needs the key to hold `v`;
//! - `delete → true` needs the key present, and removes it;
//! - `set(v)` stores `v`; `add(v) → stored` needs the key absent (possibly
//!   after forgetting); `add → not stored` needs it present;
//! - `incr(d) → n` needs the key to hold `n - d` and stores `n`;
//!   `incr → not found` is always allowed and leaves the key absent.
//!
//! So a get may never return a value that is neither the latest completed
//! write nor a concurrent one.
//!
//! A history is linearizable iff, for each key, some total order of its
//! operations respects real time (an operation that returned before another
//! was called comes first) and the model accepts every result in that order.
//! The search tries each operation that could come next, memoizing (set of
//! done operations, state) pairs; histories per key are limited to 64
//! operations.

use std::collections::{HashMap, HashSet};

/// An operation on one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// set(v)
    Set(u64),
    /// add(v): store only if absent.
    Add(u64),
    /// get
    Get,
    /// delete
    Delete,
    /// incr(delta) of a decimal value.
    Incr(u64),
}

/// What an operation returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    /// set's (or a failed add's) acknowledgement.
    Ok,
    /// get's result.
    Value(Option<u64>),
    /// delete's hit, or add's stored.
    Bool(bool),
    /// incr's new value, or `None` for not found.
    Num(Option<u64>),
}

/// One completed operation, with logical invocation and response times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The key.
    pub key: u64,
    /// The operation.
    pub op: Op,
    /// Its result.
    pub ret: Ret,
    /// Invocation time.
    pub call: u64,
    /// Response time (> call).
    pub resp: u64,
}

/// Applies one operation to a key's state; `None` if the model rejects its
/// result.
fn step(state: Option<u64>, op: Op, ret: Ret) -> Option<Option<u64>> {
    match (op, ret) {
        (Op::Set(v), Ret::Ok) => Some(Some(v)),
        (Op::Get, Ret::Value(None)) => Some(None),
        (Op::Get, Ret::Value(Some(v))) => (state == Some(v)).then_some(state),
        (Op::Delete, Ret::Bool(false)) => Some(None),
        (Op::Delete, Ret::Bool(true)) => state.is_some().then_some(None),
        // An add that stored: the key was absent, or was forgotten first.
        (Op::Add(v), Ret::Bool(true)) => Some(Some(v)),
        (Op::Add(_), Ret::Bool(false)) => state.is_some().then_some(state),
        (Op::Incr(_), Ret::Num(None)) => Some(None),
        (Op::Incr(d), Ret::Num(Some(n))) => {
            (state.map(|v| v.wrapping_add(d)) == Some(n)).then_some(Some(n))
        }
        _ => None,
    }
}

fn check_key(ops: &[Event]) -> Result<(), String> {
    if ops.len() > 64 {
        return Err(format!(
            "key {}: {} operations, at most 64 per key",
            ops[0].key,
            ops.len()
        ));
    }
    let n = ops.len();
    let all: u64 = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
    let mut seen: HashSet<(u64, Option<u64>)> = HashSet::new();
    // Depth-first search over (done set, state).
    let mut stack = vec![(0u64, None::<u64>)];
    while let Some((done, state)) = stack.pop() {
        if done == all {
            return Ok(());
        }
        if !seen.insert((done, state)) {
            continue;
        }
        // The earliest response among the operations not yet placed: an
        // operation may go next only if it was called before that.
        let min_resp = (0..n)
            .filter(|&i| done & (1 << i) == 0)
            .map(|i| ops[i].resp)
            .min()
            .unwrap_or(u64::MAX);
        for (i, e) in ops.iter().enumerate() {
            if done & (1 << i) != 0 || e.call > min_resp {
                continue;
            }
            if let Some(next) = step(state, e.op, e.ret) {
                stack.push((done | 1 << i, next));
            }
        }
    }
    Err(format!("key {}: no linearization of {ops:?}", ops[0].key))
}

/// Checks a history; the error names a key whose operations cannot be
/// linearized.
pub fn check(history: &[Event]) -> Result<(), String> {
    let mut per_key: HashMap<u64, Vec<Event>> = HashMap::new();
    for e in history {
        if e.resp < e.call {
            return Err(format!("event {e:?} responds before it is called"));
        }
        per_key.entry(e.key).or_default().push(*e);
    }
    let mut keys: Vec<_> = per_key.keys().copied().collect();
    keys.sort();
    for k in keys {
        check_key(&per_key[&k])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(op: Op, ret: Ret, call: u64, resp: u64) -> Event {
        Event {
            key: 1,
            op,
            ret,
            call,
            resp,
        }
    }
    use Op::*;
    use Ret::*;

    #[test]
    fn accepts_linearizable_histories() {
        let good: Vec<Vec<Event>> = vec![
            // Sequential write then read.
            vec![ev(Set(1), Ok, 0, 1), ev(Get, Value(Some(1)), 2, 3)],
            // A cache may forget.
            vec![
                ev(Set(1), Ok, 0, 1),
                ev(Get, Value(None), 2, 3),
                ev(Delete, Bool(false), 4, 5),
            ],
            // Two concurrent writes, then either value.
            vec![
                ev(Set(1), Ok, 0, 5),
                ev(Set(2), Ok, 1, 4),
                ev(Get, Value(Some(1)), 6, 7),
            ],
            vec![
                ev(Set(1), Ok, 0, 5),
                ev(Set(2), Ok, 1, 4),
                ev(Get, Value(Some(2)), 6, 7),
            ],
            // A read concurrent with a write sees the old or the new value.
            vec![
                ev(Set(1), Ok, 0, 1),
                ev(Set(2), Ok, 2, 6),
                ev(Get, Value(Some(1)), 3, 4),
                ev(Get, Value(Some(2)), 5, 7),
            ],
            // add after a forget; delete of a present key.
            vec![
                ev(Set(1), Ok, 0, 1),
                ev(Add(2), Bool(true), 2, 3),
                ev(Get, Value(Some(2)), 4, 5),
                ev(Delete, Bool(true), 6, 7),
            ],
            // A failed add, then the old value.
            vec![
                ev(Set(1), Ok, 0, 1),
                ev(Add(2), Bool(false), 2, 3),
                ev(Get, Value(Some(1)), 4, 5),
            ],
            // incr after a set; an incr concurrent with a set may come
            // first (and the set wins) or last (and builds on the set).
            vec![
                ev(Set(5), Ok, 0, 1),
                ev(Incr(1), Num(Some(6)), 2, 3),
                ev(Get, Value(Some(6)), 4, 5),
            ],
            vec![
                ev(Set(5), Ok, 0, 1),
                ev(Incr(1), Num(Some(6)), 2, 5),
                ev(Set(100), Ok, 3, 4),
                ev(Get, Value(Some(100)), 6, 7),
            ],
            vec![
                ev(Set(5), Ok, 0, 1),
                ev(Incr(1), Num(Some(101)), 2, 5),
                ev(Set(100), Ok, 3, 4),
                ev(Get, Value(Some(101)), 6, 7),
            ],
            // An incr of a forgotten key misses.
            vec![ev(Set(5), Ok, 0, 1), ev(Incr(1), Num(None), 2, 3)],
        ];
        for h in good {
            assert_eq!(check(&h), Result::Ok(()), "{h:?}");
        }
    }

    #[test]
    fn rejects_non_linearizable_histories() {
        let bad: Vec<Vec<Event>> = vec![
            // A value never written.
            vec![ev(Set(1), Ok, 0, 1), ev(Get, Value(Some(7)), 2, 3)],
            // A stale read after a newer write completed.
            vec![
                ev(Set(1), Ok, 0, 1),
                ev(Set(2), Ok, 2, 3),
                ev(Get, Value(Some(1)), 4, 5),
            ],
            // A read of a write that had not started.
            vec![ev(Get, Value(Some(1)), 0, 1), ev(Set(1), Ok, 2, 3)],
            // Deleting a key that was never there.
            vec![ev(Delete, Bool(true), 0, 1)],
            // Two deletes of one write both hit.
            vec![
                ev(Set(1), Ok, 0, 1),
                ev(Delete, Bool(true), 2, 4),
                ev(Delete, Bool(true), 3, 5),
            ],
            // A failed add with nothing present.
            vec![ev(Add(1), Bool(false), 0, 1)],
            // Reading a value back after it was deleted and never rewritten.
            vec![
                ev(Set(1), Ok, 0, 1),
                ev(Delete, Bool(true), 2, 3),
                ev(Get, Value(Some(1)), 4, 5),
            ],
            // A lost update: the incr computed 6 from the value before a
            // concurrent set and overwrote it, so a later get sees 6 though
            // no order of set(100) and incr gives 6 last.
            vec![
                ev(Set(5), Ok, 0, 1),
                ev(Incr(1), Num(Some(6)), 2, 5),
                ev(Set(100), Ok, 3, 4),
                ev(Get, Value(Some(6)), 6, 7),
            ],
            // An incr result that does not follow from the value.
            vec![ev(Set(5), Ok, 0, 1), ev(Incr(1), Num(Some(7)), 2, 3)],
            // An incr that hit a key nobody wrote.
            vec![ev(Incr(1), Num(Some(1)), 0, 1)],
        ];
        for h in bad {
            assert!(check(&h).is_err(), "accepted {h:?}");
        }
    }

    #[test]
    fn keys_are_checked_separately() {
        let mut h = vec![ev(Set(1), Ok, 0, 1)];
        h.push(Event {
            key: 2,
            op: Get,
            ret: Value(Some(1)),
            call: 2,
            resp: 3,
        });
        let e = check(&h).unwrap_err();
        assert!(e.starts_with("key 2"), "{e}");
    }
}
