//! Exact, single-threaded policy simulators that count the way libCacheSim
//! does (see `../shared/traces/README.md`):
//!
//! - every request is a lookup; a miss inserts the object;
//! - an object larger than the whole cache is a miss and is not inserted;
//! - a hit does not change the stored size;
//! - in objects mode every size counts as 1 and the capacity is a count.
//!
//! Their miss counts on the reference trace equal libCacheSim's to the request
//! (`tests/simulate.rs`).

mod list;

use list::List;
use std::collections::BTreeSet;
use std::collections::HashMap;
use std::fmt;

/// One request of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Req {
    /// Object id.
    pub id: u64,
    /// Object size in bytes (never 0).
    pub size: u64,
    /// 1-based index of the next request for the same object; -1 if none.
    pub next: i64,
}

/// What a capacity counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Objects: every size counts as 1.
    Objects,
    /// Bytes.
    Bytes,
}

impl Unit {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Objects => "objects",
            Unit::Bytes => "bytes",
        }
    }
}

/// The exact simulators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exact {
    /// Least recently used.
    Lru,
    /// First in, first out.
    Fifo,
    /// CLOCK with one bit (second chance).
    Clock,
    /// SIEVE (Zhang et al., NSDI '24).
    Sieve,
    /// S3-FIFO (Yang et al., SOSP '23).
    S3Fifo,
    /// Bélády's OPT: evict the object requested furthest in the future.
    Belady,
}

impl Exact {
    /// Every exact policy.
    pub const ALL: [Exact; 6] = [
        Exact::Lru,
        Exact::Fifo,
        Exact::Clock,
        Exact::Sieve,
        Exact::S3Fifo,
        Exact::Belady,
    ];

    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Exact::Lru => "lru",
            Exact::Fifo => "fifo",
            Exact::Clock => "clock",
            Exact::Sieve => "sieve",
            Exact::S3Fifo => "s3fifo",
            Exact::Belady => "belady",
        }
    }
}

impl fmt::Display for Exact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Exact {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Exact::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                format!("unknown policy {s:?} (lru, fifo, clock, sieve, s3fifo, belady)")
            })
    }
}

/// Counts of one simulation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests simulated.
    pub requests: u64,
    /// Requests that missed.
    pub misses: u64,
    /// Bytes requested.
    pub bytes: u64,
    /// Bytes of missed requests.
    pub miss_bytes: u64,
}

impl Counts {
    /// misses / requests.
    pub fn miss_ratio(&self) -> f64 {
        self.misses as f64 / self.requests.max(1) as f64
    }
    /// bytes missed / bytes requested.
    pub fn byte_miss_ratio(&self) -> f64 {
        self.miss_bytes as f64 / self.bytes.max(1) as f64
    }
}

/// Runs one policy at one capacity over a trace.
pub fn simulate(policy: Exact, capacity: u64, unit: Unit, trace: &[Req]) -> Counts {
    let mut sim: Box<dyn FnMut(u64, u64, i64) -> bool> = match policy {
        Exact::Lru => {
            let mut s = Queue::new(capacity);
            Box::new(move |id, size, _| s.access(id, size, true))
        }
        Exact::Fifo => {
            let mut s = Queue::new(capacity);
            Box::new(move |id, size, _| s.access(id, size, false))
        }
        Exact::Clock => {
            let mut s = Clock::new(capacity);
            Box::new(move |id, size, _| s.access(id, size))
        }
        Exact::Sieve => {
            let mut s = Sieve::new(capacity);
            Box::new(move |id, size, _| s.access(id, size))
        }
        Exact::S3Fifo => {
            let mut s = S3Fifo::new(capacity);
            Box::new(move |id, size, _| s.access(id, size))
        }
        Exact::Belady => {
            let mut s = Belady::new(capacity);
            Box::new(move |id, size, next| s.access(id, size, next))
        }
    };
    let mut c = Counts::default();
    for r in trace {
        let size = match unit {
            Unit::Objects => 1,
            Unit::Bytes => r.size,
        };
        c.requests += 1;
        c.bytes += r.size;
        if !sim(r.id, size, r.next) {
            c.misses += 1;
            c.miss_bytes += r.size;
        }
    }
    c
}

/// LRU (move to head on a hit) and FIFO (no move).
struct Queue {
    cap: u64,
    q: List,
}

impl Queue {
    fn new(cap: u64) -> Queue {
        Queue {
            cap,
            q: List::new(),
        }
    }
    fn access(&mut self, id: u64, size: u64, lru: bool) -> bool {
        if let Some(n) = self.q.get(id) {
            if lru {
                self.q.move_to_head(n);
            }
            return true;
        }
        if size > self.cap {
            return false;
        }
        while self.q.bytes + size > self.cap {
            let Some(t) = self.q.tail() else { break };
            self.q.remove(t);
        }
        self.q.push_head(id, size, 0);
        false
    }
}

/// CLOCK: a new object's bit is 0, a hit sets it; eviction scans from the
/// oldest, clearing set bits and reinserting those objects at the head.
struct Clock {
    cap: u64,
    q: List,
}

impl Clock {
    fn new(cap: u64) -> Clock {
        Clock {
            cap,
            q: List::new(),
        }
    }
    fn access(&mut self, id: u64, size: u64) -> bool {
        if let Some(n) = self.q.get(id) {
            self.q.node(n).meta = 1;
            return true;
        }
        if size > self.cap {
            return false;
        }
        while self.q.bytes + size > self.cap {
            let Some(t) = self.q.tail() else { break };
            if self.q.peek(t).meta == 1 {
                self.q.node(t).meta = 0;
                self.q.move_to_head(t);
            } else {
                self.q.remove(t);
            }
        }
        self.q.push_head(id, size, 0);
        false
    }
}

/// SIEVE: new objects at the head; a hand moves from the tail toward the
/// head (wrapping), clearing visited bits in place; after an eviction the
/// hand stays at the evicted object's predecessor.
struct Sieve {
    cap: u64,
    q: List,
    hand: Option<u32>,
}

impl Sieve {
    fn new(cap: u64) -> Sieve {
        Sieve {
            cap,
            q: List::new(),
            hand: None,
        }
    }
    fn access(&mut self, id: u64, size: u64) -> bool {
        if let Some(n) = self.q.get(id) {
            self.q.node(n).meta = 1;
            return true;
        }
        if size > self.cap {
            return false;
        }
        while self.q.bytes + size > self.cap {
            let Some(mut o) = self.hand.or(self.q.tail()) else {
                break;
            };
            while self.q.peek(o).meta == 1 {
                self.q.node(o).meta = 0;
                o = match self.q.prev(o).or(self.q.tail()) {
                    Some(p) => p,
                    None => break,
                };
            }
            self.hand = self.q.prev(o);
            self.q.remove(o);
        }
        self.q.push_head(id, size, 0);
        false
    }
}

/// S3-FIFO with libCacheSim's parameters: small = ⌊0.1·C⌋, main = C − small,
/// ghost = ⌊0.9·C⌋ (all in the cache's unit).
struct S3Fifo {
    cap: u64,
    small_cap: u64,
    main_cap: u64,
    ghost_cap: u64,
    small: List,
    main: List,
    ghost: List,
}

impl S3Fifo {
    fn new(cap: u64) -> S3Fifo {
        let small_cap = cap / 10;
        S3Fifo {
            cap,
            small_cap,
            main_cap: cap - small_cap,
            ghost_cap: cap * 9 / 10,
            small: List::new(),
            main: List::new(),
            ghost: List::new(),
        }
    }

    fn access(&mut self, id: u64, size: u64) -> bool {
        if let Some(n) = self.small.get(id) {
            self.small.node(n).meta += 1;
            return true;
        }
        if let Some(n) = self.main.get(id) {
            self.main.node(n).meta += 1;
            return true;
        }
        let ghost_hit = match self.ghost.get(id) {
            Some(g) => {
                self.ghost.remove(g);
                true
            }
            None => false,
        };
        if size > self.cap || size >= self.small_cap {
            return false;
        }
        while self.small.bytes + self.main.bytes + size > self.cap {
            if self.main.bytes > self.main_cap || self.small.len() == 0 {
                self.evict_main();
            } else {
                self.evict_small();
            }
        }
        if ghost_hit {
            self.main.push_head(id, size, 0);
        } else {
            self.small.push_head(id, size, 0);
        }
        false
    }

    /// Evicts one object from small: tails seen twice move to main first.
    fn evict_small(&mut self) {
        while let Some(t) = self.small.tail() {
            let node = self.small.remove(t);
            if node.meta >= 2 {
                self.main.push_head(node.id, node.size, 0);
            } else {
                self.ghost.push_head(node.id, node.size, 0);
                while self.ghost.bytes > self.ghost_cap {
                    let Some(g) = self.ghost.tail() else { break };
                    self.ghost.remove(g);
                }
                return;
            }
        }
    }

    /// Evicts one object from main: tails with frequency reinsert with
    /// min(f, 3) − 1.
    fn evict_main(&mut self) {
        while let Some(t) = self.main.tail() {
            let f = self.main.peek(t).meta;
            if f >= 1 {
                self.main.node(t).meta = f.min(3) - 1;
                self.main.move_to_head(t);
            } else {
                self.main.remove(t);
                return;
            }
        }
    }
}

/// Bélády's OPT with the trace's next-access times; always admits.
struct Belady {
    cap: u64,
    used: u64,
    /// id → (next access, size)
    objs: HashMap<u64, (u64, u64), foldhash::fast::FixedState>,
    /// (next access, id), furthest last.
    order: BTreeSet<(u64, u64)>,
}

impl Belady {
    fn new(cap: u64) -> Belady {
        Belady {
            cap,
            used: 0,
            objs: HashMap::with_hasher(foldhash::fast::FixedState::with_seed(7)),
            order: BTreeSet::new(),
        }
    }
    fn access(&mut self, id: u64, size: u64, next: i64) -> bool {
        let next = if next < 0 { u64::MAX } else { next as u64 };
        if let Some(e) = self.objs.get_mut(&id) {
            self.order.remove(&(e.0, id));
            e.0 = next;
            self.order.insert((next, id));
            return true;
        }
        if size > self.cap {
            return false;
        }
        while self.used + size > self.cap {
            let Some((_, victim)) = self.order.pop_last() else {
                break;
            };
            if let Some((_, vsize)) = self.objs.remove(&victim) {
                self.used -= vsize;
            }
        }
        self.objs.insert(id, (next, size));
        self.order.insert((next, id));
        self.used += size;
        false
    }
}
