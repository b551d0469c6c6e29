//! CLOCK-Pro (Jiang, Chen and Zhang, USENIX ATC '05), hotset's own: the
//! libcachesim package's `ClockPro` never evicts, so there is no oracle to
//! match (IMPLEMENTATION.md, "The exact simulators").

use super::list::List;

/// Flags in a ring entry's meta. An entry with none of them is a resident
/// cold object outside its test period.
const HOT: u32 = 1;
/// Referenced since a hand last passed it.
const REF: u32 = 2;
/// In its test period (a cold object, resident or not).
const TEST: u32 = 4;
/// Not resident: only its id and size are kept, while its test lasts.
const GHOST: u32 = 8;

/// CLOCK-Pro on one ring of hot, cold and non-resident (ghost) entries, in
/// the cache's unit, with the paper's three hands. The hands walk from the
/// ring's oldest entry toward its newest, and the ring's "head", where new
/// and moved entries go, is just behind the hot hand.
///
/// - A hit sets the entry's reference bit and nothing else.
/// - A miss on a ghost (an object evicted during its test period) means
///   its reuse distance beat the oldest hot object's: the cold target
///   grows by its size, and it comes back hot.
/// - Any other miss comes in cold, in its test period.
/// - **The cold hand** makes room. A referenced cold object turns hot if
///   it is in its test period (the target grows), else it starts a test;
///   either way it moves to the head. An unreferenced one is evicted: a
///   ghost stays in its place while it is in its test period.
/// - **The hot hand** runs while hot objects exceed C − the cold target.
///   It clears a hot object's reference bit, or demotes it to cold when
///   the bit is clear, and then goes on to the next hot entry. Cold
///   entries it passes end their test periods: a ghost leaves the ring,
///   and a test that ends unreferenced shrinks the target by its size (one
///   that ends referenced grows it). The test hand, if passed, comes along.
/// - **The test hand** runs while the ghosts exceed C, ending tests as the
///   hot hand does.
/// - The cold target starts at C and stays in [1, C].
pub(super) struct ClockPro {
    cap: u64,
    cold_target: u64,
    /// Sizes of the resident hot and cold entries, and of the ghosts.
    hot: u64,
    cold: u64,
    ghost: u64,
    ring: List,
    /// Each hand is None exactly when the ring is empty.
    hand_hot: Option<u32>,
    hand_cold: Option<u32>,
    hand_test: Option<u32>,
}

impl ClockPro {
    /// Starts loading what a request for `id` reads.
    pub(super) fn prefetch(&self, id: u64) {
        self.ring.prefetch(id);
    }

    pub(super) fn new(cap: u64) -> ClockPro {
        ClockPro {
            cap,
            cold_target: cap,
            hot: 0,
            cold: 0,
            ghost: 0,
            ring: List::new(),
            hand_hot: None,
            hand_cold: None,
            hand_test: None,
        }
    }

    pub(super) fn access(&mut self, id: u64, size: u64) -> bool {
        let found = self.ring.get(id);
        if let Some(n) = found {
            let e = self.ring.node(n);
            if e.meta & GHOST == 0 {
                e.meta |= REF;
                return true;
            }
        }
        if size > self.cap {
            return false;
        }
        if let Some(n) = found {
            let old = self.detach(n).size;
            self.ghost -= old;
            self.cold_target = (self.cold_target + old).min(self.cap);
            self.make_room(size);
            self.insert(id, size, HOT);
            self.hot += size;
            self.balance_hot();
        } else {
            self.make_room(size);
            self.insert(id, size, TEST);
            self.cold += size;
            self.bound_ghosts();
        }
        false
    }

    /// The entry after `n` in the hands' direction.
    fn step(&self, n: u32) -> u32 {
        match self.ring.prev(n) {
            Some(p) => p,
            None => self.ring.tail().expect("n is in the ring"),
        }
    }

    /// Inserts at the head: just behind the hot hand.
    fn insert(&mut self, id: u64, size: u64, meta: u32) {
        match self.hand_hot {
            Some(h) => {
                self.ring.insert_behind(h, id, size, meta);
            }
            None => {
                let n = self.ring.push_head(id, size, meta);
                (self.hand_hot, self.hand_cold, self.hand_test) = (Some(n), Some(n), Some(n));
            }
        }
    }

    /// Takes `n` out of the ring, first moving any hand on it forward.
    fn detach(&mut self, n: u32) -> super::list::Node {
        let next = self.step(n);
        let next = (next != n).then_some(next);
        for hand in [&mut self.hand_hot, &mut self.hand_cold, &mut self.hand_test] {
            if *hand == Some(n) {
                *hand = next;
            }
        }
        self.ring.remove(n)
    }

    /// Moves `n` to the head with new flags.
    fn move_to_head(&mut self, n: u32, meta: u32) {
        let e = self.detach(n);
        self.insert(e.id, e.size, meta);
    }

    fn make_room(&mut self, size: u64) {
        while self.hot + self.cold + size > self.cap {
            if self.cold == 0 {
                // Everything resident is hot (the target is below this
                // object's size): demote first.
                self.run_hot();
            } else {
                self.run_cold();
            }
        }
    }

    fn balance_hot(&mut self) {
        while self.hot > self.cap - self.cold_target {
            self.run_hot();
        }
    }

    fn bound_ghosts(&mut self) {
        while self.ghost > self.cap {
            self.run_test();
        }
    }

    /// One step of the cold hand.
    fn run_cold(&mut self) {
        let Some(n) = self.hand_cold else { return };
        let e = *self.ring.peek(n);
        if e.meta & (HOT | GHOST) != 0 {
            self.hand_cold = Some(self.step(n));
        } else if e.meta & REF != 0 {
            if e.meta & TEST != 0 {
                self.cold -= e.size;
                self.hot += e.size;
                self.cold_target = (self.cold_target + e.size).min(self.cap);
                self.move_to_head(n, HOT);
                self.balance_hot();
            } else {
                self.move_to_head(n, TEST);
            }
        } else if e.meta & TEST != 0 {
            self.ring.node(n).meta = GHOST | TEST;
            self.cold -= e.size;
            self.ghost += e.size;
            self.hand_cold = Some(self.step(n));
            self.bound_ghosts();
        } else {
            self.detach(n);
            self.cold -= e.size;
        }
    }

    /// One step of the hot hand.
    fn run_hot(&mut self) {
        let Some(n) = self.hand_hot else { return };
        let e = *self.ring.peek(n);
        if e.meta & HOT != 0 {
            if e.meta & REF != 0 {
                self.ring.node(n).meta = HOT;
            } else {
                self.ring.node(n).meta = 0;
                self.hot -= e.size;
                self.cold += e.size;
            }
            self.advance_hot(n);
            // "Finally the hand stops at a hot page": the cold entries up to
            // the next one end their tests now, or they would keep them
            // while older than every hot entry.
            while self.hot > 0 {
                let Some(h) = self.hand_hot else { break };
                if self.ring.peek(h).meta & HOT != 0 {
                    break;
                }
                if !self.end_test(h) {
                    self.advance_hot(h);
                }
            }
        } else if !self.end_test(n) {
            self.advance_hot(n);
        }
    }

    /// Moves the hot hand off `n`, taking the test hand along if it was
    /// there: every entry the hot hand has passed has ended its test, and
    /// the test hand must stay at the oldest entry that may be in one.
    fn advance_hot(&mut self, n: u32) {
        let next = self.step(n);
        self.hand_hot = Some(next);
        if self.hand_test == Some(n) {
            self.hand_test = Some(next);
        }
    }

    /// One step of the test hand.
    fn run_test(&mut self) {
        let Some(n) = self.hand_test else { return };
        if self.ring.peek(n).meta & HOT != 0 || !self.end_test(n) {
            self.hand_test = Some(self.step(n));
        }
    }

    /// Ends cold entry `n`'s test period, if it is in one; whether `n` left
    /// the ring (a ghost does, moving the hands on it forward).
    fn end_test(&mut self, n: u32) -> bool {
        let e = *self.ring.peek(n);
        if e.meta & TEST == 0 {
            return false;
        }
        // Re-used during its test (the reference bit says so) grows the
        // target, as the cold hand's promotion does; unused shrinks it.
        if e.meta & REF == 0 {
            self.cold_target = self.cold_target.saturating_sub(e.size).max(1);
        } else {
            self.cold_target = (self.cold_target + e.size).min(self.cap);
        }
        if e.meta & GHOST != 0 {
            self.detach(n);
            self.ghost -= e.size;
            return true;
        }
        self.ring.node(n).meta &= !TEST;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::ClockPro;
    use crate::rng::SplitMix64;

    /// The sizes the counters hold are the ring's, and each bound holds.
    fn check(c: &ClockPro) {
        let (mut hot, mut cold, mut ghost) = (0, 0, 0);
        let mut n = c.ring.tail();
        while let Some(i) = n {
            let e = c.ring.peek(i);
            match (e.meta & super::HOT != 0, e.meta & super::GHOST != 0) {
                (true, false) => hot += e.size,
                (false, false) => cold += e.size,
                (false, true) => ghost += e.size,
                (true, true) => panic!("a hot ghost"),
            }
            n = c.ring.prev(i);
        }
        assert_eq!((hot, cold, ghost), (c.hot, c.cold, c.ghost));
        assert!(hot + cold <= c.cap, "resident {} > {}", hot + cold, c.cap);
        assert!(ghost <= c.cap, "ghosts {ghost} > {}", c.cap);
        assert!((1..=c.cap).contains(&c.cold_target));
    }

    #[test]
    fn counters_and_bounds_hold_on_random_traces() {
        let mut rng = SplitMix64::new(7);
        for round in 0..200 {
            let cap = 1 + rng.below(40);
            let keys = 1 + rng.below(120);
            let mut c = ClockPro::new(cap);
            for _ in 0..2000 {
                let id = rng.below(keys);
                let size = if round % 2 == 0 { 1 } else { 1 + id % 9 };
                c.access(id, size);
                check(&c);
            }
        }
    }
}
