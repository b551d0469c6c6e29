//! LIRS (Jiang and Zhang, SIGMETRICS '02), as the libcachesim 0.3.5 package
//! runs it: its own three lists and their rules, step by step.

use super::list::List;

/// Flags in a list entry's meta.
const LIR: u32 = 1;
const RESIDENT: u32 = 2;

/// LIRS with the package's rules and its default HIR share of 1%:
///
/// - the HIR limit is max(1, ⌊0.01·C⌋) and the LIR limit the rest; `S` is
///   the LIRS stack (LIR, resident HIR and non-resident HIR entries), `Q`
///   the resident HIR blocks, `NH` the non-resident ids, oldest first;
/// - a lookup moves the id to the head of `S` and of `Q`, where it is. A
///   LIR hit prunes `S`'s bottom (non-LIR entries, never its head). A hit on
///   a resident HIR that is in `S` leaves `Q` and becomes LIR, LIR blocks
///   being demoted first while the LIR set would overflow. One in `Q` but
///   not `S` stays HIR and enters `S` again, after the same demotions;
/// - a miss on a non-resident HIR in `S` demotes LIR blocks until it fits
///   as LIR and becomes one; a new object (in neither list) goes in as LIR
///   while the LIR set has room, else as a resident HIR in both `S` and
///   `Q`. One larger than either limit is never inserted;
/// - demoting a LIR block (the bottom of `S`) moves it to `Q`'s head if it
///   fits the HIR limit (evicting `Q`'s bottom until it does), then prunes
///   `S`; evicting a HIR block (the bottom of `Q`) leaves its `S` entry
///   non-resident and its id in `NH`;
/// - after each request, while `S` (non-resident entries included) holds
///   more than 2·C, the oldest `NH` id leaves `NH` and `S`.
///
/// Where the package's code aborts or loops (states its own comments call
/// unreachable), or reads an entry after freeing it, hotset stops that
/// step and counts a fallback: the package gives no count to compare then.
pub(super) struct Lirs {
    cap: u64,
    lir_limit: u64,
    hir_limit: u64,
    /// Sizes charged to the LIR and HIR sets (the package's unsigned
    /// counters, wrapping as they do).
    lir: u64,
    hir: u64,
    occupied: u64,
    s: List,
    q: List,
    nh: List,
    pub(super) fallbacks: u64,
}

impl Lirs {
    /// Starts loading what a request for `id` reads.
    pub(super) fn prefetch(&self, id: u64) {
        self.s.prefetch(id);
        self.q.prefetch(id);
        self.nh.prefetch(id);
    }

    pub(super) fn new(cap: u64) -> Lirs {
        let hir_limit = ((0.01 * cap as f64) as u64).max(1);
        Lirs {
            cap,
            lir_limit: cap.saturating_sub(hir_limit),
            hir_limit,
            lir: 0,
            hir: 0,
            occupied: 0,
            s: List::new(),
            q: List::new(),
            nh: List::new(),
            fallbacks: 0,
        }
    }

    fn meta(l: &List, id: u64) -> Option<u32> {
        l.get(id).map(|n| l.peek(n).meta)
    }

    /// Pops non-LIR entries off the bottom of `S`, never its head.
    fn prune(&mut self) {
        while let Some(t) = self.s.tail() {
            let e = *self.s.peek(t);
            if Some(t) == self.s.head() || e.meta & LIR != 0 {
                return;
            }
            if e.meta & RESIDENT == 0 {
                self.nh.take(e.id);
            }
            self.s.remove(t);
        }
    }

    /// Evicts `Q`'s bottom; its `S` entry, if any, becomes non-resident.
    fn evict_hir(&mut self) -> bool {
        let Some(e) = self.q.pop_tail() else {
            self.fallbacks += 1;
            return false;
        };
        self.hir = self.hir.wrapping_sub(e.size);
        if let Some(n) = self.s.get(e.id) {
            self.s.node(n).meta &= !RESIDENT;
            if self.nh.get(e.id).is_some() {
                self.fallbacks += 1;
            } else {
                self.nh.push_head(e.id, e.size, 0);
            }
        }
        self.occupied -= e.size;
        true
    }

    /// Demotes `S`'s bottom (a LIR block) to `Q`'s head, then prunes.
    fn evict_lir(&mut self) -> bool {
        let Some(e) = self.s.pop_tail() else {
            self.fallbacks += 1;
            return false;
        };
        self.lir = self.lir.wrapping_sub(e.size);
        self.occupied -= e.size;
        if e.size <= self.hir_limit {
            while self.hir.wrapping_add(e.size) > self.hir_limit {
                if !self.evict_hir() {
                    return false;
                }
            }
            if self.q.take(e.id) {
                self.fallbacks += 1;
            }
            self.q.push_head(e.id, e.size, RESIDENT);
            self.hir = self.hir.wrapping_add(e.size);
            self.occupied += e.size;
        }
        self.prune();
        true
    }

    /// Demotes LIR blocks while `size` more would overflow the LIR set.
    /// False if one failed, or if `id` left `S` on the way (the package
    /// then reads the freed entry).
    fn make_lir_room(&mut self, id: u64, size: u64, in_s: bool) -> bool {
        while self.lir.wrapping_add(size) > self.lir_limit {
            if !self.evict_lir() {
                return false;
            }
        }
        if in_s && self.s.get(id).is_none() {
            self.fallbacks += 1;
            return false;
        }
        true
    }

    fn find(&mut self, id: u64) -> bool {
        let es = self.s.get(id);
        if let Some(n) = es {
            self.s.move_to_head(n);
        }
        let eq = self.q.get(id);
        if let Some(n) = eq {
            self.q.move_to_head(n);
        }
        if let Some(n) = es {
            let e = *self.s.peek(n);
            if e.meta & LIR != 0 {
                self.prune();
                return true;
            }
            if e.meta & RESIDENT == 0 {
                return false;
            }
            if let Some(m) = eq {
                let qe = self.q.remove(m);
                self.hir = self.hir.wrapping_sub(qe.size);
                self.occupied -= qe.size;
            }
            if self.make_lir_room(id, e.size, true) {
                let n = self.s.get(id).expect("checked by make_lir_room");
                self.s.node(n).meta |= LIR;
                self.lir = self.lir.wrapping_add(e.size);
                self.occupied += e.size;
            }
            return true;
        }
        if let Some(m) = eq {
            let qe = *self.q.peek(m);
            if qe.meta & RESIDENT == 0 {
                return false;
            }
            self.make_lir_room(id, qe.size, false);
            if self.s.get(id).is_none() {
                self.s.push_head(id, qe.size, RESIDENT);
            }
            return true;
        }
        false
    }

    fn can_insert(&mut self, id: u64, size: u64) -> bool {
        if size > self.cap {
            return false;
        }
        let es = Self::meta(&self.s, id);
        let eq = Self::meta(&self.q, id);
        match (es, eq) {
            (Some(m), _) if m & (LIR | RESIDENT) == 0 => {
                let sz = self.s.peek(self.s.get(id).expect("just found")).size;
                if !self.make_lir_room(id, sz, true) {
                    return false;
                }
                self.nh.take(id);
                true
            }
            (None, None) => {
                if size > self.lir_limit || size > self.hir_limit {
                    return false;
                }
                if self.lir.wrapping_add(size) > self.lir_limit
                    && self.hir.wrapping_add(size) > self.hir_limit
                {
                    while self.hir.wrapping_add(size) > self.hir_limit {
                        if !self.evict_hir() {
                            return false;
                        }
                    }
                }
                true
            }
            _ => {
                // The package aborts here.
                self.fallbacks += 1;
                false
            }
        }
    }

    /// One eviction step for inserting `id`; false where the package's
    /// step frees nothing (it would loop for ever).
    fn evict(&mut self, id: u64, size: u64) -> bool {
        let es = Self::meta(&self.s, id);
        let eq = Self::meta(&self.q, id);
        let mut did = false;
        if es.is_some_and(|m| m & (LIR | RESIDENT) == 0) {
            while self.hir >= self.hir_limit {
                if !self.evict_hir() {
                    return false;
                }
            }
            did = self.evict_lir();
        }
        if es.is_none() && eq.is_some_and(|m| m & RESIDENT == 0) {
            while self.hir >= self.hir_limit {
                if !self.evict_hir() {
                    return false;
                }
                did = true;
            }
        }
        if es.is_none()
            && eq.is_none()
            && self.lir.wrapping_add(size) > self.lir_limit
            && self.hir.wrapping_add(size) > self.hir_limit
        {
            did = self.evict_hir();
        }
        if !did {
            self.fallbacks += 1;
        }
        did
    }

    fn insert(&mut self, id: u64, size: u64) {
        let es = Self::meta(&self.s, id);
        let eq = Self::meta(&self.q, id);
        if let Some(m) = es {
            if m & (LIR | RESIDENT) == 0 {
                let n = self.s.get(id).expect("just found");
                self.s.node(n).meta |= LIR | RESIDENT;
                let sz = self.s.peek(n).size;
                self.lir = self.lir.wrapping_add(sz);
                self.occupied += sz;
            }
            return;
        }
        if eq.is_some() {
            return;
        }
        if self.lir.wrapping_add(size) <= self.lir_limit {
            self.s.push_head(id, size, LIR | RESIDENT);
            self.lir = self.lir.wrapping_add(size);
        } else {
            self.s.push_head(id, size, RESIDENT);
            self.q.push_head(id, size, RESIDENT);
            self.hir = self.hir.wrapping_add(size);
        }
        self.occupied += size;
    }

    /// While `S` holds more than 2·C, the oldest non-resident id leaves.
    fn limit_stack(&mut self) {
        while self.s.bytes > 2 * self.cap {
            let Some(e) = self.nh.pop_tail() else {
                return;
            };
            self.s.take(e.id);
        }
    }

    pub(super) fn access(&mut self, id: u64, size: u64) -> bool {
        let hit = self.find(id);
        if !hit && self.can_insert(id, size) {
            let mut ok = true;
            while ok && self.occupied + size > self.cap {
                ok = self.evict(id, size);
            }
            if ok {
                self.insert(id, size);
            }
        }
        self.limit_stack();
        hit
    }
}
