//! The consistency audit of a quiescent cache, and the stats snapshot.

use super::Engine;
use crate::raw::slab::Chunk;
use crate::stats::{ClassStats, Stats};
use crate::sync::lock;
use std::collections::HashSet;

impl Engine {
    /// See [`crate::Cache::check_consistency`].
    pub(crate) fn check_consistency(&self) -> Result<usize, String> {
        let addr = |c: Chunk| c.ptr().as_ptr() as usize;
        let local = self.store.index.local();
        let g = self.store.index.pin(&local);
        let mut indexed = HashSet::new();
        let mut keys = HashSet::new();
        // Quiescent, but a growth may be half done: finish it first.
        let table = self.store.index.settle(&g);
        for i in 0..table.buckets() {
            let mut announced = 0;
            for f in table.announced(i) {
                announced += 1;
                let it = f.item();
                if !it.is_live() {
                    return Err(format!("bucket {i}: item is not LIVE"));
                }
                if table.home_bucket(self.hash(it.key())) != f.home() {
                    return Err(format!("bucket {i}: key outside its candidate buckets"));
                }
                if !indexed.insert(addr(Chunk::of(it.item()))) {
                    return Err(format!("bucket {i}: item indexed twice"));
                }
                if !keys.insert(it.key().to_vec()) {
                    return Err(format!("bucket {i}: a key indexed twice"));
                }
            }
            // Quiescent, every committed word is announced.
            if table.bucket_len(i) != announced {
                return Err(format!(
                    "bucket {i}: {announced} items but {} committed bits",
                    table.bucket_len(i)
                ));
            }
        }
        let mut free = HashSet::new();
        for class in 0..self.store.slab.classes().sizes().len() as u8 {
            for c in self.store.slab.depot_chunks(class) {
                if !free.insert(addr(c)) {
                    return Err(format!("class {class}: chunk {c:?} is in the depot twice"));
                }
                if self.store.live(c, &g).is_some() || indexed.contains(&addr(c)) {
                    return Err(format!(
                        "class {class}: free chunk {c:?} is LIVE or indexed"
                    ));
                }
            }
        }
        // Chunks neither free nor LIVE must all be waiting in the
        // reclaimer (seize may hold a partial batch until more retirements
        // come); any others leaked. Draining pages are skipped: their
        // chunks are on their way out of the class.
        let mut class_limbo = vec![0; self.store.slab.classes().sizes().len()];
        for page in 0..self.store.slab.used_pages() {
            let Some((class, chunks)) = self.store.slab.page_chunks(page) else {
                continue;
            };
            class_limbo[class as usize] += self.store.slab.limbo(page);
            let mut waiting = 0;
            for c in chunks {
                let live = self.store.live(c, &g).is_some();
                if live && !indexed.contains(&addr(c)) {
                    return Err(format!(
                        "class {class}: LIVE chunk {c:?} is not indexed (leaked)"
                    ));
                }
                if !live && !free.contains(&addr(c)) {
                    waiting += 1;
                }
            }
            let limbo = self.store.slab.limbo(page);
            if waiting != limbo {
                return Err(format!(
                    "page {page} (class {class}): {waiting} chunks are neither free nor LIVE, \
                     but {limbo} await reclamation ({})",
                    if waiting > limbo {
                        "leaked"
                    } else {
                        "freed twice or lost"
                    }
                ));
            }
        }
        // Draining pages are skipped above, so a class's count may only
        // exceed what its own pages hold.
        for (class, &held) in class_limbo.iter().enumerate() {
            let counted = self.store.slab.class_limbo(class as u8);
            if !cfg!(hotset_loom) && counted < held {
                return Err(format!(
                    "class {class}: its pages hold {held} chunks awaiting reclamation, \
                     its count says {counted}"
                ));
            }
        }
        if self.policy.is_queue() {
            self.check_queues(&indexed, &g)?;
        }
        drop(g);
        let st = self.stats();
        let per_class: u64 = st.classes.iter().map(|c| c.items).sum();
        if per_class != st.curr_items {
            return Err(format!(
                "the classes' items add up to {per_class}, curr_items is {}",
                st.curr_items
            ));
        }
        let counted = st.curr_items;
        if counted != indexed.len() as u64 {
            return Err(format!(
                "curr_items is {counted} but the index holds {} items",
                indexed.len()
            ));
        }
        Ok(indexed.len())
    }

    /// Under a queue policy: every indexed item is QUEUED and has exactly one
    /// entry in its class's queues, and the queues' counts agree with the
    /// items they hold.
    fn check_queues(
        &self,
        indexed: &HashSet<usize>,
        g: &crate::raw::reclaim::Guard<'_>,
    ) -> Result<(), String> {
        use crate::raw::item::{GONE, MAIN, QUEUED};
        use std::collections::HashMap;
        for class in 0..self.store.slab.classes().sizes().len() as u8 {
            let (entries, counts) = self.queue_contents(class);
            let mut seen: HashMap<usize, usize> = HashMap::new();
            for e in entries {
                let Some(ch) = self.store.slab.chunk_by_id(class, self.queues.id_of(e)) else {
                    return Err(format!("class {class}: queue entry {e:#x} out of range"));
                };
                if self.store.slab.page_class_of(ch) != Some(class) {
                    continue; // stale: its page left the class
                }
                let Some(it) = self.store.live(ch, g) else {
                    continue;
                };
                if self
                    .queues
                    .names(e, self.store.slab.page_generation(ch), it.cas())
                {
                    *seen.entry(ch.ptr().as_ptr() as usize).or_default() += 1;
                }
            }
            let mut held = [0i64; 2];
            for page in 0..self.store.slab.used_pages() {
                let Some((c, chunks)) = self.store.slab.page_chunks(page) else {
                    continue;
                };
                if c != class {
                    continue;
                }
                for ch in chunks {
                    let a = ch.ptr().as_ptr() as usize;
                    if !indexed.contains(&a) {
                        continue;
                    }
                    let Some(it) = self.store.live(ch, g) else {
                        continue;
                    };
                    let bits = it.queue_bits();
                    if bits & (QUEUED | GONE) != QUEUED {
                        return Err(format!(
                            "class {class}: indexed item {ch:?} is not QUEUED, or GONE ({bits:#x})"
                        ));
                    }
                    held[(bits & MAIN != 0) as usize] += 1;
                    match seen.get(&a).copied().unwrap_or(0) {
                        1 => {}
                        0 => return Err(format!("class {class}: item {ch:?} is in no queue")),
                        n => {
                            return Err(format!(
                                "class {class}: item {ch:?} is in the queues {n} times"
                            ))
                        }
                    }
                }
            }
            if held != counts {
                return Err(format!(
                    "class {class}: the queues count {counts:?} items (small/other, main), \
                     they hold {held:?}"
                ));
            }
        }
        Ok(())
    }

    /// Calls `f` on every live item of the pages in use (of `class` only,
    /// if given) until it returns `false`. Expired items that nobody has
    /// unlinked yet are included. One pin per page, so a long walk holds no
    /// grace period back.
    fn walk_items(&self, class: Option<u8>, mut f: impl FnMut(crate::raw::item::Held<'_>) -> bool) {
        let local = self.store.index.local();
        for page in 0..self.store.slab.used_pages() {
            let g = self.store.index.pin(&local);
            let Some((c, chunks)) = self.store.slab.page_chunks(page) else {
                continue;
            };
            if class.is_some_and(|k| k != c) {
                continue;
            }
            for ch in chunks {
                if let Some(it) = self.store.live(ch, &g) {
                    if !f(it) {
                        return;
                    }
                }
            }
        }
    }

    /// Live items by size (header, key and value), counted per `bucket`
    /// bytes and keyed by each bucket's upper bound: memcached's `stats
    /// sizes`, from one walk over the pages, so it costs nothing until
    /// asked for.
    pub(crate) fn sizes(&self, bucket: usize) -> std::collections::BTreeMap<usize, u64> {
        let bucket = bucket.max(1);
        let mut out = std::collections::BTreeMap::new();
        self.walk_items(None, |it| {
            *out.entry(it.footprint().div_ceil(bucket) * bucket)
                .or_insert(0) += 1;
            true
        });
        out
    }

    /// Up to `limit` (0: no limit) live items of `class`, as (key, value
    /// length, exptime), while their keys total at most `max_key_bytes`:
    /// memcached's `stats cachedump`.
    pub(crate) fn dump(
        &self,
        class: u8,
        limit: usize,
        max_key_bytes: usize,
    ) -> Vec<(Vec<u8>, usize, u32)> {
        let mut out = Vec::new();
        let mut bytes = 0;
        self.walk_items(Some(class), |it| {
            bytes += it.key().len();
            if bytes > max_key_bytes {
                return false;
            }
            out.push((it.key().to_vec(), it.vlen(), it.exptime()));
            limit == 0 || out.len() < limit
        });
        out
    }

    /// Every thread's counters summed, with those of threads that have gone
    /// (exact at quiescence, a moment behind under load).
    fn totals(&self) -> crate::stats::Totals {
        let reg = lock(&self.counters);
        let mut t = lock(&self.gone).clone();
        for c in reg.iter() {
            c.sum_into(&mut t);
        }
        t
    }

    /// Live items per class (see `totals`).
    pub(crate) fn class_items(&self) -> Vec<i64> {
        self.totals()
            .class_items
            .iter()
            .map(|&n| n as i64)
            .collect()
    }

    /// A snapshot of the counters and memory figures.
    pub(crate) fn stats(&self) -> Stats {
        let n = self.store.slab.classes().sizes().len();
        let t = self.totals();
        let mut s = Stats::default();
        t.fill(&mut s);
        s.limit_maxbytes = self.memory.load(std::sync::atomic::Ordering::Relaxed) as u64;
        s.index_slots = self.store.index.capacity() as u64;
        s.index_bytes = self.store.index.memory() as u64;
        s.index_load_permille = s.curr_items * 1000 / s.index_slots.max(1);
        s.pages_used = self.store.slab.owned_pages() as u64;
        s.pages_total = self.store.slab.limit_pages() as u64;
        s.queue_entries = self.queues.entries() as u64;
        s.ghost_bytes = self.queues.ghost_bytes() as u64;
        s.classes = (0..n as u8)
            .map(|c| ClassStats {
                chunk_size: self.store.slab.chunk_size(c) as u64,
                pages: self.store.slab.class_pages(c) as u64,
                free_chunks: self.store.slab.depot_len(c) as u64,
                evictions: t.class_evictions[c as usize],
                items: (t.class_items[c as usize] as i64).max(0) as u64,
            })
            .collect();
        s
    }
}
