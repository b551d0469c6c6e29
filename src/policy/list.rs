//! An index-based doubly linked list with an object number → node map
//! (`Slots`): the queue every list-based simulator is built on. Head =
//! most recently inserted. Ids here are object numbers (`objects.rs`).

use super::objects::Slots;

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy)]
pub(crate) struct Node {
    pub(crate) id: u64,
    pub(crate) size: u64,
    /// Policy-specific: frequency, a visited bit, a queue tag.
    pub(crate) meta: u32,
    prev: u32,
    next: u32,
}

/// A queue of objects with O(1) insert, remove and lookup.
pub(crate) struct List {
    nodes: Vec<Node>,
    free: Vec<u32>,
    map: Slots,
    head: u32,
    tail: u32,
    /// Sum of sizes in the list.
    pub(crate) bytes: u64,
    len: usize,
}

impl List {
    pub(crate) fn new() -> List {
        List {
            nodes: Vec::new(),
            free: Vec::new(),
            map: Slots::new(),
            head: NIL,
            tail: NIL,
            bytes: 0,
            len: 0,
        }
    }

    pub(crate) fn get(&self, id: u64) -> Option<u32> {
        self.map.get(id)
    }

    /// Starts loading `id`'s map entry, for a [`List::get`] soon.
    #[inline]
    pub(crate) fn prefetch(&self, id: u64) {
        self.map.prefetch(id);
    }

    pub(crate) fn node(&mut self, n: u32) -> &mut Node {
        &mut self.nodes[n as usize]
    }

    pub(crate) fn peek(&self, n: u32) -> &Node {
        &self.nodes[n as usize]
    }

    pub(crate) fn tail(&self) -> Option<u32> {
        (self.tail != NIL).then_some(self.tail)
    }

    pub(crate) fn head(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    /// The neighbour toward the head, if any.
    pub(crate) fn prev(&self, n: u32) -> Option<u32> {
        let p = self.nodes[n as usize].prev;
        (p != NIL).then_some(p)
    }

    /// Stores a node (its links still to be set) under its id.
    fn alloc(&mut self, node: Node) -> u32 {
        let n = match self.free.pop() {
            Some(n) => {
                self.nodes[n as usize] = node;
                n
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.map.insert(node.id, n);
        self.bytes += node.size;
        self.len += 1;
        n
    }

    pub(crate) fn push_head(&mut self, id: u64, size: u64, meta: u32) -> u32 {
        let node = Node {
            id,
            size,
            meta,
            prev: NIL,
            next: self.head,
        };
        let n = self.alloc(node);
        if self.head != NIL {
            self.nodes[self.head as usize].prev = n;
        }
        self.head = n;
        if self.tail == NIL {
            self.tail = n;
        }
        n
    }

    /// Inserts a new node on `at`'s tail side, between `at` and its
    /// neighbour toward the tail (a ring's insert just behind a hand that
    /// walks toward the head).
    pub(crate) fn insert_behind(&mut self, at: u32, id: u64, size: u64, meta: u32) -> u32 {
        let next = self.nodes[at as usize].next;
        let node = Node {
            id,
            size,
            meta,
            prev: at,
            next,
        };
        let n = self.alloc(node);
        self.nodes[at as usize].next = n;
        if next != NIL {
            self.nodes[next as usize].prev = n;
        } else {
            self.tail = n;
        }
        n
    }

    fn unlink(&mut self, n: u32) {
        let Node { prev, next, .. } = self.nodes[n as usize];
        if prev != NIL {
            self.nodes[prev as usize].next = next;
        } else {
            self.head = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        } else {
            self.tail = prev;
        }
    }

    /// Removes a node; returns it.
    pub(crate) fn remove(&mut self, n: u32) -> Node {
        self.unlink(n);
        let node = self.nodes[n as usize];
        self.map.remove(node.id);
        self.free.push(n);
        self.bytes -= node.size;
        self.len -= 1;
        node
    }

    /// Moves a node to the head.
    pub(crate) fn move_to_head(&mut self, n: u32) {
        if self.head == n {
            return;
        }
        self.unlink(n);
        let node = &mut self.nodes[n as usize];
        node.prev = NIL;
        node.next = self.head;
        if self.head != NIL {
            self.nodes[self.head as usize].prev = n;
        }
        self.head = n;
        if self.tail == NIL {
            self.tail = n;
        }
    }

    /// Removes and returns the tail (the oldest), if any.
    pub(crate) fn pop_tail(&mut self) -> Option<Node> {
        let t = self.tail()?;
        Some(self.remove(t))
    }

    /// Admits `id` the way libCacheSim's FIFO does on a miss, with this list
    /// as a FIFO of capacity `cap`: nothing if present or larger than `cap`,
    /// else the oldest entries go until it fits. The new entry's meta is
    /// `meta`.
    pub(crate) fn admit_fifo(&mut self, cap: u64, id: u64, size: u64, meta: u32) {
        if self.get(id).is_some() || size > cap {
            return;
        }
        while self.bytes + size > cap && self.pop_tail().is_some() {}
        self.push_head(id, size, meta);
    }

    /// Removes `id` if it is here; whether it was (a ghost list's lookup).
    pub(crate) fn take(&mut self, id: u64) -> bool {
        match self.get(id) {
            Some(n) => {
                self.remove(n);
                true
            }
            None => false,
        }
    }
}

/// One object in [`Buckets`].
#[derive(Clone, Copy)]
struct Filed {
    id: u64,
    size: u64,
    key: u64,
    /// Toward the bucket's newest, and toward its oldest.
    newer: u32,
    older: u32,
}

/// FIFO lists by an ordered key (a frequency, a priority), all sharing one
/// node arena and one number map: LFU's and LFUDA's per-key lists, without a
/// map and an allocation for every key that comes and goes.
pub(crate) struct Buckets {
    nodes: Vec<Filed>,
    free: Vec<u32>,
    map: Slots,
    /// (newest, oldest) of the non-empty list of each key below
    /// [`LOW_KEYS`], and a bit per key that has one: LFU's frequencies
    /// are mostly small, and these need no tree.
    low: [(u32, u32); LOW_KEYS as usize],
    low_mask: u64,
    /// key → (newest, oldest) of its non-empty list, for larger keys.
    ends: std::collections::BTreeMap<u64, (u32, u32)>,
}

/// Keys kept in `Buckets::low`.
const LOW_KEYS: u64 = 64;

impl Buckets {
    pub(crate) fn new() -> Buckets {
        Buckets {
            nodes: Vec::new(),
            free: Vec::new(),
            map: Slots::new(),
            low: [(NIL, NIL); LOW_KEYS as usize],
            low_mask: 0,
            ends: std::collections::BTreeMap::new(),
        }
    }

    /// The ends of `key`'s list, if it has objects.
    fn ends_of(&mut self, key: u64) -> Option<&mut (u32, u32)> {
        if key < LOW_KEYS {
            (self.low_mask >> key & 1 == 1).then(|| &mut self.low[key as usize])
        } else {
            self.ends.get_mut(&key)
        }
    }

    fn set_ends(&mut self, key: u64, e: (u32, u32)) {
        if key < LOW_KEYS {
            self.low[key as usize] = e;
            self.low_mask |= 1 << key;
        } else {
            self.ends.insert(key, e);
        }
    }

    fn drop_ends(&mut self, key: u64) {
        if key < LOW_KEYS {
            self.low_mask &= !(1 << key);
        } else {
            self.ends.remove(&key);
        }
    }

    /// Starts loading `id`'s map entry, for a lookup soon.
    #[inline]
    pub(crate) fn prefetch(&self, id: u64) {
        self.map.prefetch(id);
    }

    /// `id`'s key and size, if it is filed.
    pub(crate) fn get(&self, id: u64) -> Option<(u64, u64)> {
        self.map.get(id).map(|n| {
            let f = &self.nodes[n as usize];
            (f.key, f.size)
        })
    }

    pub(crate) fn contains_key(&self, key: u64) -> bool {
        if key < LOW_KEYS {
            self.low_mask >> key & 1 == 1
        } else {
            self.ends.contains_key(&key)
        }
    }

    /// The smallest key with objects.
    pub(crate) fn first_key(&self) -> Option<u64> {
        self.first_in(0..=u64::MAX)
    }

    /// The smallest key with objects in `range`.
    pub(crate) fn first_in(&self, range: std::ops::RangeInclusive<u64>) -> Option<u64> {
        let (lo, hi) = (*range.start(), *range.end());
        if lo > hi {
            return None;
        }
        if lo < LOW_KEYS {
            let m = self.low_mask >> lo;
            if m != 0 {
                let k = lo + u64::from(m.trailing_zeros());
                return (k <= hi).then_some(k);
            }
        }
        self.ends
            .range(lo.max(LOW_KEYS)..=hi)
            .next()
            .map(|(&k, _)| k)
    }

    /// Files a new object as the newest of `key`.
    pub(crate) fn push(&mut self, key: u64, id: u64, size: u64) {
        let f = Filed {
            id,
            size,
            key,
            newer: NIL,
            older: NIL,
        };
        let n = match self.free.pop() {
            Some(n) => {
                self.nodes[n as usize] = f;
                n
            }
            None => {
                self.nodes.push(f);
                (self.nodes.len() - 1) as u32
            }
        };
        self.map.insert(id, n);
        self.link(n, key);
    }

    /// Makes node `n` the newest of `key`.
    fn link(&mut self, n: u32, key: u64) {
        let f = &mut self.nodes[n as usize];
        f.key = key;
        f.newer = NIL;
        f.older = NIL;
        match self.ends_of(key) {
            Some(e) => {
                let old_newest = e.0;
                e.0 = n;
                self.nodes[n as usize].older = old_newest;
                self.nodes[old_newest as usize].newer = n;
            }
            None => self.set_ends(key, (n, n)),
        }
    }

    /// Takes node `n` out of its key's list; whether that list emptied.
    fn unlink(&mut self, n: u32) -> bool {
        let Filed {
            key, newer, older, ..
        } = self.nodes[n as usize];
        if newer != NIL {
            self.nodes[newer as usize].older = older;
        }
        if older != NIL {
            self.nodes[older as usize].newer = newer;
        }
        let e = self.ends_of(key).expect("a filed key has ends");
        if e.0 == n && e.1 == n {
            self.drop_ends(key);
            return true;
        }
        if e.0 == n {
            e.0 = older;
        }
        if e.1 == n {
            e.1 = newer;
        }
        false
    }

    /// Moves filed `id` to be the newest of `key`; whether its old key's
    /// list emptied.
    pub(crate) fn refile(&mut self, id: u64, key: u64) -> bool {
        let n = self.map.get(id).expect("filed");
        let emptied = self.unlink(n);
        self.link(n, key);
        emptied
    }

    /// Removes filed `id`; whether its key's list emptied.
    pub(crate) fn remove(&mut self, id: u64) -> bool {
        let n = self.map.remove(id).expect("filed");
        self.free.push(n);
        self.unlink(n)
    }

    /// Removes and returns the oldest (id, size) of `key`, and whether
    /// that list emptied.
    pub(crate) fn pop_oldest(&mut self, key: u64) -> Option<(u64, u64, bool)> {
        let (_, oldest) = *self.ends_of(key)?;
        let f = self.nodes[oldest as usize];
        let emptied = self.unlink(oldest);
        self.map.remove(f.id);
        self.free.push(oldest);
        Some((f.id, f.size, emptied))
    }
}
