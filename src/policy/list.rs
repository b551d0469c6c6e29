//! An index-based doubly linked list with an id → node map: the queue every
//! list-based simulator is built on. Head = most recently inserted.

use std::collections::HashMap;

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
    map: HashMap<u64, u32, foldhash::fast::FixedState>,
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
            map: HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0x5eed)),
            head: NIL,
            tail: NIL,
            bytes: 0,
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn get(&self, id: u64) -> Option<u32> {
        self.map.get(&id).copied()
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
        self.map.remove(&node.id);
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
