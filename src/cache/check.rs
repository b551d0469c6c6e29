//! The consistency audit of a quiescent cache, and the stats snapshot.

use super::Engine;
use crate::item::Item;
use crate::slab::Chunk;
use crate::stats::{ClassStats, Stats};
use crate::sync::lock;
use std::collections::HashSet;

impl Engine {
    /// See [`crate::Cache::check_consistency`].
    pub(crate) fn check_consistency(&self) -> Result<usize, String> {
        let addr = |c: Chunk| c.ptr().as_ptr() as usize;
        let local = self.index.local();
        let g = self.index.pin(&local);
        let mut indexed = HashSet::new();
        for i in 0..self.index.buckets() {
            for f in self.index.announced(i, &g) {
                let it = f.item();
                if !it.is_live() {
                    return Err(format!("bucket {i}: item is not LIVE"));
                }
                if self.index.home_bucket(self.hash(it.key())) != i {
                    return Err(format!("bucket {i}: key outside its home bucket"));
                }
                if !indexed.insert(addr(Chunk::of(it.item()))) {
                    return Err(format!("bucket {i}: item indexed twice"));
                }
            }
        }
        let mut free = HashSet::new();
        for class in 0..self.slab.classes().sizes().len() as u8 {
            for c in self.slab.depot_chunks(class) {
                if !free.insert(addr(c)) {
                    return Err(format!("class {class}: chunk {c:?} is in the depot twice"));
                }
                // SAFETY: a chunk of this slab's depot, in its class's page.
                let it = unsafe { Item::from_ptr(c.ptr()) };
                if it.is_live() || indexed.contains(&addr(c)) {
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
        for page in 0..self.slab.used_pages() {
            let Some((class, chunks)) = self.slab.page_chunks(page) else {
                continue;
            };
            let mut waiting = 0;
            for c in chunks {
                // SAFETY: a chunk start of a page of `class`, read under `g`.
                let live = unsafe { Item::from_ptr(c.ptr()) }.is_live();
                if live && !indexed.contains(&addr(c)) {
                    return Err(format!(
                        "class {class}: LIVE chunk {c:?} is not indexed (leaked)"
                    ));
                }
                if !live && !free.contains(&addr(c)) {
                    waiting += 1;
                }
            }
            let limbo = self.slab.limbo(page);
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

    /// A snapshot of the counters and memory figures.
    pub(crate) fn stats(&self) -> Stats {
        let n = self.slab.classes().sizes().len();
        let reg = lock(&self.counters);
        let mut t = lock(&self.gone).clone();
        for c in reg.iter() {
            c.sum_into(&mut t);
        }
        drop(reg);
        let mut s = Stats::default();
        t.fill(&mut s);
        s.limit_maxbytes = self.memory as u64;
        s.index_slots = self.index.capacity() as u64;
        s.index_bytes = self.index.memory() as u64;
        s.index_load_permille = s.curr_items * 1000 / s.index_slots.max(1);
        s.pages_used = self.slab.used_pages() as u64;
        s.pages_total = self.slab.total_pages() as u64;
        s.classes = (0..n as u8)
            .map(|c| ClassStats {
                chunk_size: self.slab.chunk_size(c) as u64,
                pages: self.slab.class_pages(c) as u64,
                free_chunks: self.slab.depot_len(c) as u64,
                evictions: t.class_evictions[c as usize],
                items: (t.class_items[c as usize] as i64).max(0) as u64,
            })
            .collect();
        s
    }
}
