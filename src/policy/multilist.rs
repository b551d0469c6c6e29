//! Several queues over one node arena and one object number → node map,
//! for policies whose objects move between queues (MQ's queues and its
//! ghost, SLRU's segments, W-TinyLFU's window and main): a move relinks
//! the node without touching the map, where separate `List`s would remove
//! from one map and insert into another. Head = most recently inserted.

use super::objects::Slots;

const NIL: u32 = u32::MAX;

/// One object in one queue.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) id: u64,
    pub(crate) size: u64,
    /// Policy-specific (MQ: the frequency).
    pub(crate) meta: u32,
    /// Its queue.
    pub(crate) queue: u32,
    prev: u32,
    next: u32,
    /// Policy-specific (MQ: the expiry).
    pub(crate) stamp: u64,
}

/// MultiList sharing an arena and a map.
pub(crate) struct MultiList {
    nodes: Vec<Entry>,
    free: Vec<u32>,
    map: Slots,
    /// Per queue: (head, tail, length, bytes).
    ends: Vec<(u32, u32, usize, u64)>,
}

impl MultiList {
    pub(crate) fn new(queues: usize) -> MultiList {
        MultiList {
            nodes: Vec::new(),
            free: Vec::new(),
            map: Slots::new(),
            ends: vec![(NIL, NIL, 0, 0); queues],
        }
    }

    /// The node of `id`, in whichever queue.
    pub(crate) fn get(&self, id: u64) -> Option<u32> {
        self.map.get(id)
    }

    /// Starts loading `id`'s map entry, for a [`MultiList::get`] soon.
    #[inline]
    pub(crate) fn prefetch(&self, id: u64) {
        self.map.prefetch(id);
    }

    pub(crate) fn peek(&self, n: u32) -> &Entry {
        &self.nodes[n as usize]
    }

    pub(crate) fn entry(&mut self, n: u32) -> &mut Entry {
        &mut self.nodes[n as usize]
    }

    pub(crate) fn len(&self, q: usize) -> usize {
        self.ends[q].2
    }

    pub(crate) fn bytes(&self, q: usize) -> u64 {
        self.ends[q].3
    }

    pub(crate) fn tail(&self, q: usize) -> Option<u32> {
        let t = self.ends[q].1;
        (t != NIL).then_some(t)
    }

    /// A new object at the head of queue `q`.
    pub(crate) fn push_head(&mut self, q: usize, id: u64, size: u64, meta: u32, stamp: u64) -> u32 {
        let e = Entry {
            id,
            size,
            meta,
            queue: q as u32,
            prev: NIL,
            next: NIL,
            stamp,
        };
        let n = match self.free.pop() {
            Some(n) => {
                self.nodes[n as usize] = e;
                n
            }
            None => {
                self.nodes.push(e);
                (self.nodes.len() - 1) as u32
            }
        };
        self.map.insert(id, n);
        self.link_head(q, n);
        n
    }

    /// Moves a node to the head of queue `q` (its own or another).
    pub(crate) fn move_to_head(&mut self, n: u32, q: usize) {
        self.unlink(n);
        self.link_head(q, n);
    }

    /// Removes a node; returns it.
    pub(crate) fn remove(&mut self, n: u32) -> Entry {
        self.unlink(n);
        let e = self.nodes[n as usize];
        self.map.remove(e.id);
        self.free.push(n);
        e
    }

    fn link_head(&mut self, q: usize, n: u32) {
        let (head, tail, len, bytes) = &mut self.ends[q];
        let e = &mut self.nodes[n as usize];
        e.queue = q as u32;
        e.prev = NIL;
        e.next = *head;
        *len += 1;
        *bytes += e.size;
        if *head != NIL {
            self.nodes[*head as usize].prev = n;
        }
        *head = n;
        if *tail == NIL {
            *tail = n;
        }
    }

    fn unlink(&mut self, n: u32) {
        let Entry {
            prev,
            next,
            queue,
            size,
            ..
        } = self.nodes[n as usize];
        let (head, tail, len, bytes) = &mut self.ends[queue as usize];
        *len -= 1;
        *bytes -= size;
        if prev != NIL {
            self.nodes[prev as usize].next = next;
        } else {
            *head = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        } else {
            *tail = prev;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MultiList;

    #[test]
    fn moves_keep_every_queue_whole() {
        let mut q = MultiList::new(3);
        for id in 0..10 {
            q.push_head((id % 3) as usize, id, id + 1, 0, 0);
        }
        assert_eq!((q.len(0), q.len(1), q.len(2)), (4, 3, 3));
        let n = q.get(4).unwrap();
        q.move_to_head(n, 2);
        assert_eq!((q.len(1), q.len(2), q.bytes(2)), (2, 4, 3 + 6 + 9 + 5));
        assert_eq!(q.entry(n).queue, 2);
        let t = q.tail(0).unwrap();
        assert_eq!(q.remove(t).id, 0);
        assert_eq!(q.get(0), None);
        assert_eq!(q.len(0), 3);
    }
}
