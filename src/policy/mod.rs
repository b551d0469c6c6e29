//! Exact, single-threaded policy simulators that count the way libCacheSim
//! does (see `../shared/traces/README.md`):
//!
//! - every request is a lookup; a miss inserts the object;
//! - an object larger than the whole cache is a miss and is not inserted;
//! - a hit does not change the stored size;
//! - in objects mode every size counts as 1 and the capacity is a count.
//!
//! Their miss counts on the reference trace equal libCacheSim's to the request
//! (`tests/simulate.rs`), for every policy but CLOCK-Pro, which the package
//! does not run as its paper states (`clockpro.rs`).

mod clockpro;
mod frequency;
mod lirs;
mod list;
mod multilist;
mod objects;
mod sampled;
mod segmented;
mod tinylfu;

use list::List;
use multilist::MultiList;
use objects::slot;
pub use objects::{Objects, Totals, WorkingSet};
use std::collections::BinaryHeap;
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// ARC (Megiddo and Modha, FAST '03), with sizes as weights.
    Arc,
    /// LFU: evict the least frequently used; ties go to the least recent.
    Lfu,
    /// LFU with dynamic aging (Arlitt et al., 2000).
    Lfuda,
    /// GreedyDual-Size-Frequency (Cherkasova, 1998).
    Gdsf,
    /// 2Q (Johnson and Shasha, VLDB '94).
    TwoQ,
    /// Segmented LRU with four segments.
    Slru,
    /// W-TinyLFU (Einziger et al., 2017): a 1% window LRU, a frequency
    /// sketch admitting to a two-segment SLRU.
    WTinyLfu,
    /// MQ (Zhou et al., USENIX ATC '01): eight LRU queues by log2 of the
    /// frequency, with expiry and a ghost queue.
    Mq,
    /// LIRS (Jiang and Zhang, SIGMETRICS '02), with 1% for HIR blocks.
    Lirs,
    /// CLOCK-Pro (Jiang et al., USENIX ATC '05): hot, cold and
    /// non-resident test entries on one clock with three hands. hotset's
    /// own; the package's `ClockPro` is not comparable.
    ClockPro,
    /// Sampled LRU as the live engine runs it: evict the least recently
    /// used of K random residents, through an eviction pool of N
    /// (`Params::samples`, `pool`, `sample_seed`). hotset's own; the
    /// package has none.
    SampledLru,
}

impl Exact {
    /// Every policy.
    pub const ALL: [Exact; 17] = [
        Exact::Lru,
        Exact::Fifo,
        Exact::Clock,
        Exact::Sieve,
        Exact::S3Fifo,
        Exact::Belady,
        Exact::Arc,
        Exact::Lfu,
        Exact::Lfuda,
        Exact::Gdsf,
        Exact::TwoQ,
        Exact::Slru,
        Exact::WTinyLfu,
        Exact::Mq,
        Exact::Lirs,
        Exact::ClockPro,
        Exact::SampledLru,
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
            Exact::Arc => "arc",
            Exact::Lfu => "lfu",
            Exact::Lfuda => "lfuda",
            Exact::Gdsf => "gdsf",
            Exact::TwoQ => "twoq",
            Exact::Slru => "slru",
            Exact::WTinyLfu => "wtinylfu",
            Exact::Mq => "mq",
            Exact::Lirs => "lirs",
            Exact::ClockPro => "clockpro",
            Exact::SampledLru => "sampled-lru",
        }
    }
}

impl Exact {
    /// Why this policy cannot run at `capacity`, if it cannot: S3-FIFO's
    /// small queue is ⌊0.1·C⌋ and would be empty below 10 (the package
    /// aborts there).
    pub fn check_capacity(self, capacity: u64) -> Result<(), String> {
        self.check_capacity_with(&Params::default(), capacity)
    }

    /// [`Exact::check_capacity`] under `params`.
    pub fn check_capacity_with(self, params: &Params, capacity: u64) -> Result<(), String> {
        match self {
            Exact::S3Fifo if ((capacity as f64) * params.s3fifo_small) < 1.0 => Err(format!(
                "s3fifo needs a cache of at least {} (its small queue is {} of it), not {capacity}",
                (1.0 / params.s3fifo_small).ceil(),
                params.s3fifo_small
            )),
            Exact::WTinyLfu if capacity < 5 => Err(format!(
                "wtinylfu needs a cache of at least 5 (its main cache's lower segment is a fifth of it), not {capacity}"
            )),
            _ if capacity == 0 => Err(format!("{self} needs a cache larger than 0")),
            _ => Ok(()),
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
                let names: Vec<&str> = Exact::ALL.iter().map(|p| p.name()).collect();
                format!("unknown policy {s:?} ({})", names.join(", "))
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
    /// Evictions where libCacheSim's own code fails and hotset chose for
    /// it (LFUDA, when its minimum frequency points at an empty list: the
    /// package crashes or loops there). Zero for every other policy; when
    /// not zero, the package has no count to compare with.
    pub fallbacks: u64,
    /// With TTLs ([`simulate_ttl`]): requests that found their object
    /// expired (it was removed, and the request missed). Counted apart
    /// from evictions; 0 without TTLs.
    pub expired: u64,
}

impl Counts {
    /// Counts one request of `size` bytes that hit or missed.
    #[inline]
    fn record(&mut self, size: u64, hit: bool) {
        self.requests += 1;
        self.bytes += size;
        if !hit {
            self.misses += 1;
            self.miss_bytes += size;
        }
    }

    /// misses / requests.
    pub fn miss_ratio(&self) -> f64 {
        self.misses as f64 / self.requests.max(1) as f64
    }
    /// bytes missed / bytes requested.
    pub fn byte_miss_ratio(&self) -> f64 {
        self.miss_bytes as f64 / self.bytes.max(1) as f64
    }
}

/// The parameters of the policies that take them. The defaults are the
/// libcachesim package's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// S3-FIFO's small queue, as a fraction of the cache (0.1).
    pub s3fifo_small: f64,
    /// S3-FIFO's ghost queue, as a fraction of the cache (0.9).
    pub s3fifo_ghost: f64,
    /// Hits in S3-FIFO's small queue that move an object to main (2).
    pub s3fifo_threshold: u32,
    /// 2Q's A1in, as a fraction of the cache (0.25).
    pub twoq_in: f64,
    /// 2Q's A1out (the ghost), as a fraction of the cache (0.5).
    pub twoq_out: f64,
    /// SLRU's segments, of equal size (4).
    pub slru_segments: usize,
    /// W-TinyLFU's window, as a fraction of the cache (0.01).
    pub wtinylfu_window: f64,
    /// MQ's queues (8).
    pub mq_queues: usize,
    /// MQ's lifetime, in its clock's ticks, one per hit and per insert
    /// (10,000).
    pub mq_lifetime: u64,
    /// MQ's ghost (Qout), as a multiple of the cache (4).
    pub mq_ghost: f64,
    /// Sampled LRU's samples per eviction, K (5, the live engine's).
    pub samples: usize,
    /// Sampled LRU's eviction pool, N (16, the live engine's; 0: none).
    pub pool: usize,
    /// Sampled LRU's random seed.
    pub sample_seed: u64,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            s3fifo_small: 0.1,
            s3fifo_ghost: 0.9,
            s3fifo_threshold: 2,
            twoq_in: 0.25,
            twoq_out: 0.5,
            slru_segments: 4,
            wtinylfu_window: 0.01,
            mq_queues: 8,
            mq_lifetime: 10_000,
            mq_ghost: 4.0,
            samples: 5,
            pool: 16,
            sample_seed: 0,
        }
    }
}

impl Params {
    /// Why these parameters are out of range, if they are.
    pub fn check(&self) -> Result<(), String> {
        let fraction = |name: &str, v: f64| {
            if v > 0.0 && v < 1.0 {
                Ok(())
            } else {
                Err(format!("{name} {v} must be a fraction in (0, 1)"))
            }
        };
        fraction("--s3fifo-small", self.s3fifo_small)?;
        fraction("--twoq-in", self.twoq_in)?;
        fraction("--wtinylfu-window", self.wtinylfu_window)?;
        for (name, v) in [
            ("--s3fifo-ghost", self.s3fifo_ghost),
            ("--twoq-out", self.twoq_out),
            ("--mq-ghost", self.mq_ghost),
        ] {
            if !(v.is_finite() && (0.0..=16.0).contains(&v)) {
                return Err(format!("{name} {v} must be in [0, 16]"));
            }
        }
        if !(1..=255).contains(&self.s3fifo_threshold) {
            return Err(format!(
                "--s3fifo-threshold {} must be 1 to 255",
                self.s3fifo_threshold
            ));
        }
        if !(1..=64).contains(&self.slru_segments) {
            return Err(format!(
                "--slru-segments {} must be 1 to 64",
                self.slru_segments
            ));
        }
        if !(1..=32).contains(&self.mq_queues) {
            return Err(format!("--mq-queues {} must be 1 to 32", self.mq_queues));
        }
        if self.mq_lifetime == 0 {
            return Err("--mq-lifetime must be at least 1".into());
        }
        if !(1..=64).contains(&self.samples) {
            return Err(format!("--samples {} must be 1 to 64", self.samples));
        }
        if self.pool > 1024 {
            return Err(format!("--pool {} must be 0 to 1024", self.pool));
        }
        Ok(())
    }
}

/// Runs one policy at one capacity over a trace.
pub fn simulate(policy: Exact, capacity: u64, unit: Unit, trace: &[Req]) -> Counts {
    simulate_with(policy, &Params::default(), capacity, unit, trace)
}

/// [`simulate`] with these parameters.
pub fn simulate_with(
    policy: Exact,
    params: &Params,
    capacity: u64,
    unit: Unit,
    trace: &[Req],
) -> Counts {
    simulate_counting(policy, params, capacity, unit, trace, |_| true)
}

/// Like [`simulate`], but only requests for which `counted(i)` holds enter
/// the counts; the others still update the cache (a replay's sets, when
/// comparing get miss ratios with the live engine).
pub fn simulate_counting(
    policy: Exact,
    params: &Params,
    capacity: u64,
    unit: Unit,
    trace: &[Req],
    counted: impl Fn(usize) -> bool,
) -> Counts {
    let (objects, _) = Objects::number(trace);
    let sim = Sim::new(policy, params, capacity);
    run(sim, unit, &objects, None, counted)
}

/// Every cell (policy, capacity) of a grid over one trace, in parallel,
/// with the trace's objects numbered once for all of them, on one of
/// rayon's threads while the cells run behind the numbering on the others
/// (with one thread, the numbering first).
/// With `timed`, objects expire as in [`simulate_ttl`]. `done` is called
/// as each cell finishes. Returns the working set (the numbering measures
/// it) and the cells' counts in order.
///
/// Panics as [`simulate_ttl`] does if a cell's policy cannot expire
/// objects or `timed` is not as long as the trace.
#[cfg(feature = "harness")]
pub fn simulate_grid(
    cells: &[(Exact, u64)],
    params: &Params,
    unit: Unit,
    trace: &[Req],
    timed: Option<&[Timed]>,
    done: &(dyn Fn() + Sync),
) -> (WorkingSet, Vec<Counts>) {
    if let Some(t) = timed {
        assert_eq!(trace.len(), t.len(), "one clock and TTL per request");
    }
    let objects = Objects::pending();
    let (totals, counts) = rayon::join(
        || objects.fill_from(trace),
        || simulate_cells(cells, params, unit, &objects, timed, done),
    );
    (totals.working_set, counts)
}

/// [`simulate_grid`] over the requests of `objects`: a trace numbered
/// already, or being numbered on another thread (as it is read, with
/// [`Objects::fill_with`]), which the cells follow.
///
/// Panics if `timed` is shorter than the trace or a cell's policy cannot
/// expire objects (see [`check_ttl`]).
#[cfg(feature = "harness")]
pub fn simulate_cells(
    cells: &[(Exact, u64)],
    params: &Params,
    unit: Unit,
    objects: &Objects,
    timed: Option<&[Timed]>,
    done: &(dyn Fn() + Sync),
) -> Vec<Counts> {
    use rayon::prelude::*;
    if timed.is_some() {
        cells.iter().for_each(|&(p, _)| can_expire(p));
    }
    cells
        .par_iter()
        .map(|&(p, c)| {
            let r = run(Sim::new(p, params, c), unit, objects, timed, |_| true);
            done();
            r
        })
        .collect()
}

/// How many requests ahead a simulation prefetches what a request will
/// read.
const AHEAD: usize = 16;

/// One simulation: every request of `objects` in order, a part at a time
/// (waiting for the numbering where it is behind), and with `timed` each
/// request's clock and TTL applied first.
fn run(
    mut sim: Sim,
    unit: Unit,
    objects: &Objects,
    timed: Option<&[Timed]>,
    counted: impl Fn(usize) -> bool,
) -> Counts {
    let mut c = Counts::default();
    // Expiry of each object as last inserted (0: never), by number.
    let mut expiry: Vec<u64> = Vec::new();
    let mut base = 0;
    for k in 0.. {
        let Some(part) = objects.part(k) else { break };
        let (reqs, nums) = (&part.reqs[..], &part.nums[..]);
        for (j, (r, &obj)) in reqs.iter().zip(nums).enumerate() {
            let i = base + j;
            if let (Some(&a), Some(ra)) = (nums.get(j + AHEAD), reqs.get(j + AHEAD)) {
                sim.prefetch(a, ra.id);
            }
            let size = match unit {
                Unit::Objects => 1,
                Unit::Bytes => r.size,
            };
            let hit = match timed {
                None => sim.access(obj, r.id, size, r.next),
                Some(timed) => {
                    let t = timed[i];
                    let now = u64::from(t.time);
                    let e = slot(&mut expiry, obj, 0);
                    if *e != 0 && *e < now && sim.remove(obj) {
                        c.expired += 1;
                    }
                    let hit = sim.access(obj, r.id, size, r.next);
                    if !hit {
                        *e = if t.ttl == 0 {
                            0
                        } else {
                            now + u64::from(t.ttl)
                        };
                    }
                    hit
                }
            };
            if counted(i) {
                c.record(r.size, hit);
            }
        }
        base += reqs.len();
    }
    c.fallbacks = sim.fallbacks();
    c
}

/// A request's clock and TTL, for [`simulate_ttl`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timed {
    /// Clock time, in seconds.
    pub time: u32,
    /// TTL in seconds; 0 never expires.
    pub ttl: u32,
}

/// Why `policy` cannot simulate TTLs, if it cannot: expiry removes an
/// object, and only some simulators can remove one.
pub fn check_ttl(policy: Exact) -> Result<(), String> {
    if Sim::new(policy, &Params::default(), 1).can_remove() {
        Ok(())
    } else {
        let ok: Vec<&str> = Exact::ALL
            .iter()
            .filter(|&&p| Sim::new(p, &Params::default(), 1).can_remove())
            .map(|p| p.name())
            .collect();
        Err(format!(
            "{policy} cannot simulate TTLs yet (--use-ttl runs {})",
            ok.join(", ")
        ))
    }
}

/// [`simulate_with`], with objects that expire, as libCacheSim's
/// `cachesim --use-ttl` expires them: an object inserted at time `t` with
/// TTL `l > 0` expires at `t + l`; a request after that (`now > t + l`)
/// finds it expired, removes it, misses and inserts it anew with its own
/// TTL. A hit does not change the expiry. Expired objects nobody asks for
/// stay until evicted (lazy expiry). Panics unless [`check_ttl`] accepts
/// `policy`, or if `timed` is not as long as `trace`.
pub fn simulate_ttl(
    policy: Exact,
    params: &Params,
    capacity: u64,
    unit: Unit,
    trace: &[Req],
    timed: &[Timed],
) -> Counts {
    check_timed(policy, trace, timed);
    let (objects, _) = Objects::number(trace);
    let sim = Sim::new(policy, params, capacity);
    run(sim, unit, &objects, Some(timed), |_| true)
}

/// Panics unless `policy` can expire objects and `timed` matches `trace`.
fn check_timed(policy: Exact, trace: &[Req], timed: &[Timed]) {
    assert_eq!(trace.len(), timed.len(), "one clock and TTL per request");
    can_expire(policy);
}

/// Panics, saying why, unless `policy` can expire objects.
fn can_expire(policy: Exact) {
    if let Err(e) = check_ttl(policy) {
        panic!("{e}");
    }
}

/// Cache sizes as `simulate` and `mrc` take them: absolute, or below 1 a
/// fraction of the working set. A size that is not a positive number is an
/// error.
pub fn cache_sizes(sizes: &[f64], working_set: u64) -> Result<Vec<u64>, String> {
    sizes
        .iter()
        .map(|&s| {
            if !(s.is_finite() && s > 0.0) {
                return Err(format!("cache size {s} must be positive"));
            }
            let c = if s < 1.0 { s * working_set as f64 } else { s };
            Ok((c as u64).max(1))
        })
        .collect()
}

/// The working set of a trace: its distinct objects, or their bytes (each
/// at its first-seen size).
pub fn working_set(trace: &[Req], unit: Unit) -> u64 {
    objects::measure(trace).of(unit)
}

/// One simulator of any policy.
enum Sim {
    Queue(Queue, bool),
    Clock(Clock),
    Sieve(Sieve),
    S3Fifo(S3Fifo),
    Belady(Belady),
    Arc(Arc),
    Lfu(Lfu),
    Lfuda(frequency::Lfuda),
    Gdsf(frequency::Gdsf),
    TwoQ(segmented::TwoQ),
    Slru(segmented::Slru),
    WTinyLfu(tinylfu::WTinyLfu),
    Mq(Box<frequency::Mq>),
    Lirs(Box<lirs::Lirs>),
    ClockPro(clockpro::ClockPro),
    Sampled(sampled::SampledLru),
}

impl Sim {
    fn new(policy: Exact, p: &Params, cap: u64) -> Sim {
        match policy {
            Exact::Lru => Sim::Queue(Queue::new(cap), true),
            Exact::Fifo => Sim::Queue(Queue::new(cap), false),
            Exact::Clock => Sim::Clock(Clock::new(cap)),
            Exact::Sieve => Sim::Sieve(Sieve::new(cap)),
            Exact::S3Fifo => Sim::S3Fifo(S3Fifo::new(cap, p)),
            Exact::Belady => Sim::Belady(Belady::new(cap)),
            Exact::Arc => Sim::Arc(Arc::new(cap)),
            Exact::Lfu => Sim::Lfu(Lfu::new(cap)),
            Exact::Lfuda => Sim::Lfuda(frequency::Lfuda::new(cap)),
            Exact::Gdsf => Sim::Gdsf(frequency::Gdsf::new(cap)),
            Exact::TwoQ => Sim::TwoQ(segmented::TwoQ::new(cap, p.twoq_in, p.twoq_out)),
            Exact::Slru => Sim::Slru(segmented::Slru::new(cap, p.slru_segments)),
            Exact::WTinyLfu => Sim::WTinyLfu(tinylfu::WTinyLfu::new(cap, p.wtinylfu_window)),
            Exact::Lirs => Sim::Lirs(Box::new(lirs::Lirs::new(cap))),
            Exact::ClockPro => Sim::ClockPro(clockpro::ClockPro::new(cap)),
            Exact::SampledLru => Sim::Sampled(sampled::SampledLru::new(
                cap,
                p.samples,
                p.pool,
                p.sample_seed,
            )),
            Exact::Mq => Sim::Mq(Box::new(frequency::Mq::new(
                cap,
                p.mq_queues,
                p.mq_lifetime,
                p.mq_ghost,
            ))),
        }
    }

    /// Evictions where the package fails and hotset chose for it.
    fn fallbacks(&self) -> u64 {
        match self {
            Sim::Lfuda(s) => s.fallbacks,
            Sim::Lirs(s) => s.fallbacks,
            _ => 0,
        }
    }

    /// Whether [`Sim::remove`] works for this policy.
    fn can_remove(&self) -> bool {
        !matches!(self, Sim::Lirs(_) | Sim::ClockPro(_))
    }

    /// Removes resident object number `id` (an expiry); returns whether it
    /// was one. Only for the policies [`Sim::can_remove`] names.
    fn remove(&mut self, id: u64) -> bool {
        match self {
            Sim::Queue(s, _) => s.q.take(id),
            Sim::Clock(s) => s.q.take(id),
            Sim::Sieve(s) => s.remove(id),
            Sim::S3Fifo(s) => s.remove(id),
            Sim::Sampled(s) => s.remove(id),
            Sim::Arc(s) => s.remove(id),
            Sim::Lfu(s) => s.remove(id),
            Sim::Lfuda(s) => s.remove(id),
            Sim::TwoQ(s) => s.remove(id),
            Sim::Slru(s) => s.remove(id),
            Sim::WTinyLfu(s) => s.remove(id),
            Sim::Mq(s) => s.remove(id),
            Sim::Belady(s) => s.remove(id),
            Sim::Gdsf(s) => s.remove(id),
            Sim::Lirs(_) | Sim::ClockPro(_) => false,
        }
    }

    /// A request for `obj` (trace id `trace_id`) comes soon: start loading
    /// what it will read (a hint; nothing changes).
    #[inline]
    fn prefetch(&mut self, obj: u64, trace_id: u64) {
        match self {
            Sim::Queue(s, _) => s.q.prefetch(obj),
            Sim::Clock(s) => s.q.prefetch(obj),
            Sim::Sieve(s) => s.q.prefetch(obj),
            Sim::S3Fifo(s) => s.q.prefetch(obj),
            Sim::Belady(s) => objects::prefetch_at(&s.objs, obj),
            Sim::Arc(s) => s.l.prefetch(obj),
            Sim::Lfu(s) => s.lists.prefetch(obj),
            Sim::Lfuda(s) => s.prefetch(obj),
            Sim::Gdsf(s) => s.prefetch(obj),
            Sim::TwoQ(s) => s.prefetch(obj),
            Sim::Slru(s) => s.segs.prefetch(obj),
            Sim::WTinyLfu(s) => s.prefetch(obj, trace_id),
            Sim::Mq(s) => s.prefetch(obj),
            Sim::Lirs(s) => s.prefetch(obj),
            Sim::ClockPro(s) => s.prefetch(obj),
            Sim::Sampled(s) => s.prefetch(obj),
        }
    }

    /// One request for object number `id` (the simulators' id), whose
    /// trace id is `trace_id` (for the policies that hash or order by it);
    /// returns whether it hit.
    #[inline]
    fn access(&mut self, id: u64, trace_id: u64, size: u64, next: i64) -> bool {
        match self {
            Sim::Queue(s, lru) => s.access(id, size, *lru),
            Sim::Clock(s) => s.access(id, size),
            Sim::Sieve(s) => s.access(id, size),
            Sim::S3Fifo(s) => s.access(id, size),
            Sim::Belady(s) => s.access(id, trace_id, size, next),
            Sim::Arc(s) => s.access(id, size),
            Sim::Lfu(s) => s.access(id, size),
            Sim::Lfuda(s) => s.access(id, size),
            Sim::Gdsf(s) => s.access(id, size),
            Sim::TwoQ(s) => s.access(id, size),
            Sim::Slru(s) => s.access(id, size),
            Sim::WTinyLfu(s) => s.access(id, trace_id, size),
            Sim::Mq(s) => s.access(id, size),
            Sim::Lirs(s) => s.access(id, size),
            Sim::ClockPro(s) => s.access(id, size),
            Sim::Sampled(s) => s.access(id, size),
        }
    }
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

    /// Removes an object; a hand on it moves to its predecessor, as
    /// libCacheSim's `Sieve_remove_obj` does.
    fn remove(&mut self, id: u64) -> bool {
        let Some(n) = self.q.get(id) else {
            return false;
        };
        if self.hand == Some(n) {
            self.hand = self.q.prev(n);
        }
        self.q.remove(n);
        true
    }
}

/// S3-FIFO as the libcachesim 0.3.5 package runs it (small = ⌊0.1·C⌋,
/// main = C − small, ghost = ⌊0.9·C⌋, all in the cache's unit):
///
/// - a hit in small or main adds 1 to the object's frequency;
/// - a miss whose id is in the ghost removes it there and inserts into main;
/// - any other miss inserts into small, except that until the first eviction
///   a full small queue sends new objects to main;
/// - an object of size ≥ small is not inserted unless it came from the
///   ghost, but the evictions that made room for it still happen (only an
///   object larger than small is refused before evicting);
/// - eviction takes from main when main is over its size or small is empty,
///   otherwise from small: small's tail with frequency ≥ 2 moves to main
///   with frequency 0, otherwise its id enters the ghost (a FIFO of ids,
///   evicting its oldest to make room, and refusing an id larger than
///   itself); main's tail with frequency ≥ 1 is reinserted with
///   min(f, 3) − 1.
struct S3Fifo {
    cap: u64,
    small_cap: u64,
    main_cap: u64,
    ghost_cap: u64,
    /// Queues small, main and ghost (an object is in one at most).
    q: MultiList,
    /// Hits in small that move an object to main.
    threshold: u32,
    /// Whether anything was ever evicted.
    evicted: bool,
}

const SMALL: usize = 0;
const MAIN: usize = 1;
const GHOST: usize = 2;

impl S3Fifo {
    fn new(cap: u64, p: &Params) -> S3Fifo {
        // The package computes these in floating point, ⌊C·0.1⌋ and
        // ⌊C·0.9⌋ by default, as doubles.
        let small_cap = (cap as f64 * p.s3fifo_small) as u64;
        S3Fifo {
            cap,
            small_cap,
            main_cap: cap - small_cap,
            ghost_cap: (cap as f64 * p.s3fifo_ghost) as u64,
            threshold: p.s3fifo_threshold,
            q: MultiList::new(3),
            evicted: false,
        }
    }

    fn access(&mut self, id: u64, size: u64) -> bool {
        let mut ghost_hit = false;
        if let Some(n) = self.q.get(id) {
            if self.q.peek(n).queue as usize == GHOST {
                self.q.remove(n);
                ghost_hit = true;
            } else {
                self.q.entry(n).meta += 1;
                return true;
            }
        }
        if size > self.cap || size > self.small_cap {
            return false;
        }
        while self.q.bytes(SMALL) + self.q.bytes(MAIN) + size > self.cap {
            self.evicted = true;
            if self.q.bytes(MAIN) > self.main_cap || self.q.len(SMALL) == 0 {
                self.evict_main();
            } else {
                self.evict_small();
            }
        }
        if ghost_hit {
            self.q.push_head(MAIN, id, size, 0, 0);
        } else if size >= self.small_cap {
            // Refused after making room, as the package does.
        } else if !self.evicted && self.q.bytes(SMALL) >= self.small_cap {
            self.q.push_head(MAIN, id, size, 0, 0);
        } else {
            self.q.push_head(SMALL, id, size, 0, 0);
        }
        false
    }

    /// Removes a resident object (small or main); whether it was one.
    fn remove(&mut self, id: u64) -> bool {
        match self.q.get(id) {
            Some(n) if self.q.peek(n).queue as usize != GHOST => {
                self.q.remove(n);
                true
            }
            _ => false,
        }
    }

    /// Evicts one object from small: tails seen twice move to main first;
    /// the first that is not goes to the ghost, a FIFO of ids (an id larger
    /// than the ghost is dropped).
    fn evict_small(&mut self) {
        while let Some(t) = self.q.tail(SMALL) {
            let e = self.q.entry(t);
            let size = e.size;
            let promote = e.meta >= self.threshold;
            e.meta = 0;
            if promote {
                self.q.move_to_head(t, MAIN);
                continue;
            }
            if self.ghost_cap == 0 || size > self.ghost_cap {
                self.q.remove(t);
                return;
            }
            while self.q.bytes(GHOST) + size > self.ghost_cap {
                match self.q.tail(GHOST) {
                    Some(g) => {
                        self.q.remove(g);
                    }
                    None => break,
                }
            }
            self.q.move_to_head(t, GHOST);
            return;
        }
    }

    /// Evicts one object from main: tails with frequency reinsert with
    /// min(f, 3) − 1.
    fn evict_main(&mut self) {
        while let Some(t) = self.q.tail(MAIN) {
            let e = self.q.entry(t);
            let f = e.meta;
            if f >= 1 {
                e.meta = f.min(3) - 1;
                self.q.move_to_head(t, MAIN);
            } else {
                self.q.remove(t);
                return;
            }
        }
    }
}

/// Bélády's OPT with the trace's next-access times; always admits.
///
/// A max-heap of (next access, trace id, object number) with lazy
/// deletion: a hit pushes a fresh entry, and entries that no longer match
/// their object are skipped when they surface. Objects never requested
/// again tie at the top, and go in the order of their trace ids, the
/// package's.
struct Belady {
    cap: u64,
    used: u64,
    /// By object number: (next access, size, cached).
    objs: Vec<(u64, u64, bool)>,
    heap: BinaryHeap<(u64, u64, u64)>,
}

impl Belady {
    fn new(cap: u64) -> Belady {
        Belady {
            cap,
            used: 0,
            objs: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }
    /// Removes an object (an expiry; its heap entries go stale); whether
    /// it was cached.
    fn remove(&mut self, obj: u64) -> bool {
        match self.objs.get_mut(obj as usize) {
            Some(e) if e.2 => {
                self.used -= e.1;
                e.2 = false;
                true
            }
            _ => false,
        }
    }

    fn access(&mut self, obj: u64, id: u64, size: u64, next: i64) -> bool {
        let next = if next < 0 { u64::MAX } else { next as u64 };
        let e = slot(&mut self.objs, obj, (0, 0, false));
        if e.2 {
            e.0 = next;
            self.heap.push((next, id, obj));
            return true;
        }
        if size > self.cap {
            return false;
        }
        while self.used + size > self.cap {
            let Some((n, _, victim)) = self.heap.pop() else {
                break;
            };
            let v = &mut self.objs[victim as usize];
            if v.2 && v.0 == n {
                self.used -= v.1;
                v.2 = false;
            } // else a stale entry
        }
        self.objs[obj as usize] = (next, size, true);
        self.heap.push((next, id, obj));
        self.used += size;
        false
    }
}

/// ARC as libCacheSim runs it: T1 (seen once) and T2 (seen again), with
/// ghost lists B1 and B2 and an adaptive target `p` for T1, in the cache's
/// unit. The rules that decide the counts:
///
/// - a ghost hit adapts `p` by max(|B2| / |B1|, 1) (or the reverse), a ratio
///   of sizes in floating point, not multiplied by the object's size; it
///   happens on lookup, so an object too large to insert still moves `p`
///   and leaves its ghost;
/// - each eviction step (one per "room still short") is: after a ghost hit,
///   REPLACE; otherwise, when |T1| + |B1| + size > C, drop B1's tail and
///   REPLACE, or drop T1's tail outright when B1 is empty; otherwise drop
///   B2's tail when the whole directory is at least 2C, then REPLACE;
/// - REPLACE demotes T1's tail to B1 when T1 is not empty and |T1| > p (or
///   |T1| = p and the last ghost hit was in B2), or when T2 is empty;
///   otherwise T2's tail to B2. "The last ghost hit" is remembered until a
///   hit or a ghost hit's insert clears it, as the package does.
struct Arc {
    cap: u64,
    p: f64,
    /// Queues T1, T2, B1 and B2 (the last two ghosts).
    l: MultiList,
    /// Where the last ghost hit was (the package's `curr_obj_in_L*_ghost`).
    hit_b1: bool,
    hit_b2: bool,
}

const T1: usize = 0;
const T2: usize = 1;
const B1: usize = 2;
const B2: usize = 3;

impl Arc {
    fn new(cap: u64) -> Arc {
        Arc {
            cap,
            p: 0.0,
            l: MultiList::new(4),
            hit_b1: false,
            hit_b2: false,
        }
    }

    /// The paper's REPLACE: T1's or T2's tail to its ghost list.
    fn replace(&mut self) {
        let t1 = self.l.bytes(T1) as f64;
        let demote_t1 = (self.l.bytes(T1) > 0 && (t1 > self.p || (t1 == self.p && self.hit_b2)))
            || self.l.bytes(T2) == 0;
        let (from, to) = if demote_t1 { (T1, B1) } else { (T2, B2) };
        if let Some(t) = self.l.tail(from) {
            self.l.move_to_head(t, to);
        }
    }

    /// Removes a resident object (an expiry: from T1 or T2; the ghosts
    /// keep their ids); whether it was one.
    fn remove(&mut self, id: u64) -> bool {
        match self.l.get(id) {
            Some(n) if (self.l.peek(n).queue as usize) <= T2 => {
                self.l.remove(n);
                true
            }
            _ => false,
        }
    }

    /// Drops the tail of queue `q`, if any.
    fn drop_tail(&mut self, q: usize) {
        if let Some(t) = self.l.tail(q) {
            self.l.remove(t);
        }
    }

    fn access(&mut self, id: u64, size: u64) -> bool {
        let mut ghost_hit = false;
        if let Some(n) = self.l.get(id) {
            let (b1, b2) = (self.l.bytes(B1) as f64, self.l.bytes(B2) as f64);
            match self.l.peek(n).queue as usize {
                T1 | T2 => {
                    self.l.move_to_head(n, T2);
                    (self.hit_b1, self.hit_b2) = (false, false);
                    return true;
                }
                B1 => {
                    self.p = (self.p + (b2 / b1).max(1.0)).min(self.cap as f64);
                    self.l.remove(n);
                    (self.hit_b1, self.hit_b2, ghost_hit) = (true, false, true);
                }
                _ => {
                    self.p = (self.p - (b1 / b2).max(1.0)).max(0.0);
                    self.l.remove(n);
                    (self.hit_b1, self.hit_b2, ghost_hit) = (false, true, true);
                }
            }
        }
        if size > self.cap {
            return false;
        }
        while self.l.bytes(T1) + self.l.bytes(T2) + size > self.cap {
            if ghost_hit {
                self.replace();
            } else if self.l.bytes(T1) + self.l.bytes(B1) + size > self.cap {
                if self.l.bytes(B1) > 0 {
                    self.drop_tail(B1);
                    self.replace();
                } else {
                    self.drop_tail(T1);
                }
            } else {
                let all: u64 = (0..4).map(|q| self.l.bytes(q)).sum();
                if all >= 2 * self.cap && self.l.bytes(B2) > 0 {
                    self.drop_tail(B2);
                }
                self.replace();
            }
        }
        if ghost_hit {
            self.l.push_head(T2, id, size, 0, 0);
            (self.hit_b1, self.hit_b2) = (false, false);
        } else {
            self.l.push_head(T1, id, size, 0, 0);
        }
        false
    }
}

/// LFU with per-frequency LRU lists: evict from the lowest frequency, oldest
/// first. A new object has frequency 1.
struct Lfu {
    cap: u64,
    used: u64,
    /// Objects filed by frequency.
    lists: list::Buckets,
}

impl Lfu {
    fn new(cap: u64) -> Lfu {
        Lfu {
            cap,
            used: 0,
            lists: list::Buckets::new(),
        }
    }

    /// Removes an object (an expiry); whether it was here.
    fn remove(&mut self, id: u64) -> bool {
        let Some((_, size)) = self.lists.get(id) else {
            return false;
        };
        self.lists.remove(id);
        self.used -= size;
        true
    }

    fn access(&mut self, id: u64, size: u64) -> bool {
        if let Some((f, _)) = self.lists.get(id) {
            self.lists.refile(id, f + 1);
            return true;
        }
        if size > self.cap {
            return false;
        }
        while self.used + size > self.cap {
            let Some(f) = self.lists.first_key() else {
                break;
            };
            let (_, vsize, _) = self.lists.pop_oldest(f).expect("non-empty");
            self.used -= vsize;
        }
        self.lists.push(1, id, size);
        self.used += size;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn belady_and_gdsf_keep_a_zero_size_object() {
        // Their "not cached" is a flag, not a size of 0.
        let t: Vec<Req> = [(1, 0), (1, 0), (2, 5), (1, 0)]
            .into_iter()
            .map(|(id, size)| Req { id, size, next: -1 })
            .collect();
        for p in [Exact::Belady, Exact::Gdsf] {
            assert_eq!(simulate(p, 10, Unit::Bytes, &t).misses, 2, "{p}");
        }
    }

    #[test]
    fn sizes_are_absolute_or_a_fraction_of_the_working_set() {
        let t: Vec<Req> = [(1, 10), (2, 20), (1, 99), (3, 30)]
            .iter()
            .map(|&(id, size)| Req { id, size, next: -1 })
            .collect();
        assert_eq!(working_set(&t, Unit::Objects), 3);
        assert_eq!(working_set(&t, Unit::Bytes), 60, "first-seen sizes");
        assert_eq!(cache_sizes(&[0.5, 2.0, 0.001], 3), Ok(vec![1, 2, 1]));
        assert!(cache_sizes(&[0.0], 3).is_err());
        assert!(cache_sizes(&[f64::NAN], 3).is_err());
        assert!(cache_sizes(&[-1.0], 3).is_err());
    }
}
