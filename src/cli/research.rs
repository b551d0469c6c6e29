//! The research commands: `hotset simulate` (exact simulators on a grid of
//! sizes) and `hotset mrc` (miss-ratio curves in one pass).

use clap::Args;
use hotset::mrc::{self, Curve, Sampling};
use hotset::policy::{
    check_ttl, simulate as run, simulate_cells, simulate_grid, Counts, Exact, Objects, Params, Req,
    Timed, Unit,
};
use hotset::report::{progress::Progress, write_simulation, Provenance, SimRow};
use hotset::workload::text::{Columns, Delimiter};
use hotset::workload::trace::{read, read_timed, stream, Format};
use rayon::prelude::*;
use std::path::PathBuf;
use std::process::ExitCode;

/// The trace and how to count it, as both commands take them.
#[derive(Args, Clone, Debug)]
pub struct Input {
    /// The trace file.
    #[arg(long)]
    trace: PathBuf,
    /// Trace format: oracleGeneral, lcs (libCacheSim's, v1 to v8), vscsi,
    /// twitter (CSV), native, delimited (a table; see --columns), tsv, ssv
    /// (space-separated) or keys (one per line); if omitted, lcs and native
    /// are known by their magic numbers, the others by the file name
    /// (.vscsi, .csv, .keys), and oracleGeneral is the default. A .zst
    /// suffix is decompressed.
    #[arg(long)]
    format: Option<Format>,
    /// A delimited trace's columns, 1-based: key=N (required), and any of
    /// size=N, time=N, op=N, ttl=N. A delete op is dropped.
    #[arg(long)]
    columns: Option<Columns>,
    /// A delimited trace's separator: one punctuation character, tab or
    /// space (default: the format's).
    #[arg(long)]
    delimiter: Option<Delimiter>,
    /// A delimited trace's first line is a header.
    #[arg(long)]
    header: bool,
    /// Keys (delimited or keys) are unsigned integers, used as ids.
    #[arg(long)]
    numeric_keys: bool,
    /// What sizes count: objects or bytes.
    #[arg(long, default_value = "objects", value_parser = ["objects", "bytes"])]
    unit: String,
    /// Also write summary.json, summary.md and the plot here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    params: ParamArgs,
}

/// The policies' parameters; the defaults are the libcachesim package's.
#[derive(Args, Clone, Debug)]
pub struct ParamArgs {
    /// S3-FIFO's small queue, a fraction of the cache.
    #[arg(long, default_value_t = 0.1, help_heading = "Policy parameters")]
    s3fifo_small: f64,
    /// S3-FIFO's ghost queue, a fraction of the cache.
    #[arg(long, default_value_t = 0.9, help_heading = "Policy parameters")]
    s3fifo_ghost: f64,
    /// Hits in S3-FIFO's small queue that move an object to main.
    #[arg(long, default_value_t = 2, help_heading = "Policy parameters")]
    s3fifo_threshold: u32,
    /// 2Q's A1in, a fraction of the cache.
    #[arg(long, default_value_t = 0.25, help_heading = "Policy parameters")]
    twoq_in: f64,
    /// 2Q's A1out (ghost), a fraction of the cache.
    #[arg(long, default_value_t = 0.5, help_heading = "Policy parameters")]
    twoq_out: f64,
    /// SLRU's segments (equal sizes).
    #[arg(long, default_value_t = 4, help_heading = "Policy parameters")]
    slru_segments: usize,
    /// W-TinyLFU's window LRU, a fraction of the cache.
    #[arg(long, default_value_t = 0.01, help_heading = "Policy parameters")]
    wtinylfu_window: f64,
    /// MQ's queues.
    #[arg(long, default_value_t = 8, help_heading = "Policy parameters")]
    mq_queues: usize,
    /// MQ's lifetime, in its clock's ticks (one per hit and per insert).
    #[arg(long, default_value_t = 10_000, help_heading = "Policy parameters")]
    mq_lifetime: u64,
    /// MQ's ghost (Qout), a multiple of the cache.
    #[arg(long, default_value_t = 4.0, help_heading = "Policy parameters")]
    mq_ghost: f64,
    /// sampled-lru's (and krr's) samples per eviction, K: 1 to 64.
    #[arg(long, default_value_t = 5, help_heading = "Policy parameters")]
    samples: usize,
    /// sampled-lru's eviction pool, 0 (none) to 1024; the live engine
    /// keeps 16.
    #[arg(long, default_value_t = 16, help_heading = "Policy parameters")]
    pool: usize,
    /// The seed of every random choice: sampled-lru's and krr's draws, and
    /// which spatial sample shards and miniature take (0, the default,
    /// hashes the id alone), to see how much an answer depends on them.
    #[arg(long, default_value_t = 0, help_heading = "Policy parameters")]
    sample_seed: u64,
}

impl ParamArgs {
    fn params(&self) -> Result<Params, String> {
        let p = Params {
            s3fifo_small: self.s3fifo_small,
            s3fifo_ghost: self.s3fifo_ghost,
            s3fifo_threshold: self.s3fifo_threshold,
            twoq_in: self.twoq_in,
            twoq_out: self.twoq_out,
            slru_segments: self.slru_segments,
            wtinylfu_window: self.wtinylfu_window,
            mq_queues: self.mq_queues,
            mq_lifetime: self.mq_lifetime,
            mq_ghost: self.mq_ghost,
            samples: self.samples,
            pool: self.pool,
            sample_seed: self.sample_seed,
        };
        p.check()?;
        Ok(p)
    }
}

/// A trace read in, with what it holds.
struct Loaded {
    params: Params,
    trace: Vec<Req>,
    unit: Unit,
    /// Requests (the trace's length, also where it was streamed and
    /// `trace` is empty).
    requests: u64,
    /// Distinct objects, or their bytes (first-seen size).
    working_set: u64,
    bytes: u64,
    name: String,
}

impl Input {
    /// The format, with the text flags applied (they belong to text formats
    /// only).
    fn format(&self) -> Result<Format, String> {
        let mut format = self.format.unwrap_or_else(|| Format::guess(&self.trace));
        match &mut format {
            Format::Delimited(d) => {
                d.columns = self.columns.unwrap_or(d.columns);
                d.delimiter = self.delimiter.unwrap_or(d.delimiter);
                d.header = self.header;
                d.numeric_keys = self.numeric_keys;
            }
            Format::Keys { numeric } if self.columns.is_none() && self.delimiter.is_none() && !self.header => {
                *numeric = self.numeric_keys;
            }
            _ if self.columns.is_some() || self.delimiter.is_some() || self.header || self.numeric_keys => {
                return Err(
                    "--columns, --delimiter, --header and --numeric-keys need --format delimited, tsv or ssv (keys takes --numeric-keys)"
                        .into(),
                )
            }
            _ => {}
        }
        Ok(format)
    }

    fn load(&self) -> Result<Loaded, String> {
        let format = self.format()?;
        let trace = read(&self.trace, format).map_err(|e| e.to_string())?;
        self.loaded(trace, true)
    }

    /// A trace read in, with these flags; its working set measured now, or
    /// left at 0 for the caller to measure (beside other work).
    fn loaded(&self, trace: Vec<Req>, measure: bool) -> Result<Loaded, String> {
        let params = self.params.params()?;
        let unit = if self.unit == "bytes" {
            Unit::Bytes
        } else {
            Unit::Objects
        };
        let working_set = if measure {
            hotset::policy::working_set(&trace, unit)
        } else {
            0
        };
        let name = self
            .trace
            .file_name()
            .map_or("trace".into(), |n| n.to_string_lossy().to_string());
        Ok(Loaded {
            params,
            bytes: trace.iter().map(|r| r.size).sum(),
            requests: trace.len() as u64,
            trace,
            unit,
            working_set,
            name,
        })
    }

    fn write(&self, t: &Loaded, rows: &[SimRow], svg: &str) -> Result<(), String> {
        let Some(dir) = &self.out else {
            return Ok(());
        };
        write_simulation(dir, &Provenance::here(&t.name), rows, svg)
            .map_err(|e| format!("{}: {e}", dir.display()))
    }
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("hotset: {e}");
    ExitCode::from(2)
}

fn row(policy: Exact, kind: &'static str, rate: f64, c: u64, unit: Unit, counts: Counts) -> SimRow {
    SimRow {
        policy: policy.name().to_string(),
        cache_size: c,
        unit: unit.name(),
        kind,
        sampling_rate: rate,
        counts,
    }
}

fn print_rows(t: &Loaded, rows: &[SimRow]) {
    println!(
        "# {} requests, working set {} {}",
        t.requests,
        t.working_set,
        t.unit.name()
    );
    println!(
        "{:<11} {:<12} {:>8} {:>12} {:>10} {:>12} {:>10} {:>10}",
        "policy", "method", "rate", "cache_size", "unit", "misses", "miss_ratio", "byte_miss"
    );
    for r in rows {
        println!(
            "{:<11} {:<12} {:>8} {:>12} {:>10} {:>12} {:>10.4} {:>10.4}",
            r.policy,
            r.kind,
            r.sampling_rate,
            r.cache_size,
            r.unit,
            r.counts.misses,
            r.counts.miss_ratio(),
            r.counts.byte_miss_ratio()
        );
    }
}

#[derive(Args, Clone, Debug)]
pub struct SimulateArgs {
    #[command(flatten)]
    input: Input,
    /// Policies, comma-separated: lru, fifo, clock, sieve, s3fifo, belady,
    /// arc, lfu, lfuda, gdsf, twoq, slru, wtinylfu, mq, lirs, clockpro,
    /// sampled-lru.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "lru,fifo,clock,sieve,s3fifo,belady"
    )]
    policies: Vec<Exact>,
    /// Cache sizes, comma-separated: absolute (489) or fractions of the
    /// working set (0.01); in the unit of --unit.
    #[arg(long, value_delimiter = ',', default_value = "0.01,0.05,0.1,0.2")]
    sizes: Vec<f64>,
    /// Objects expire at their TTL, as in libCacheSim's `cachesim
    /// --use-ttl`: a request after an object's time + TTL finds it expired
    /// (counted apart, as `expired`) and misses. Needs a trace with TTLs
    /// (lcs v3+, twitter, native, delimited with time= and ttl= columns),
    /// and any policy but lirs and clockpro.
    #[arg(long)]
    use_ttl: bool,
}

/// The (policy × size) grid, every cell run in parallel, with the trace's
/// objects numbered beside them. Returns the cells' counts.
fn grid(t: &Loaded, cells: &[(Exact, u64)], quiet: bool) -> Vec<Counts> {
    let progress = Progress::new("simulate", cells.len() as u64, quiet);
    let (_, counts) = simulate_grid(cells, &t.params, t.unit, &t.trace, None, &|| {
        progress.inc(1)
    });
    progress.finish();
    counts
}

/// `hotset simulate`: the (policy × size) grid, in parallel, as a table.
pub fn simulate(a: &SimulateArgs) -> ExitCode {
    let (t, rows) = match simulate_rows(a) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if let Err(e) = a.input.write(&t, &rows, "miss-ratio.svg") {
        eprintln!("hotset: {e}");
        return ExitCode::from(1);
    }
    print_rows(&t, &rows);
    if a.use_ttl {
        println!(
            "# expired: requests that found their object past its TTL (misses, not evictions)"
        );
        for r in &rows {
            println!(
                "# {} {} expired {}",
                r.policy, r.cache_size, r.counts.expired
            );
        }
    }
    ExitCode::SUCCESS
}

/// The grid's rows. With absolute sizes, no TTLs and a binary trace that
/// carries its next-access times (oracleGeneral, lcs), the trace is read,
/// numbered and simulated at once, a part at a time (the cells on rayon's
/// threads behind the reading one); the parts stay in memory until the
/// end, as the whole trace would. Otherwise it is read whole, then
/// numbered (which measures the working set the sizes may be fractions
/// of), then simulated.
fn simulate_rows(a: &SimulateArgs) -> Result<(Loaded, Vec<SimRow>), String> {
    let cells_at = |t: &Loaded, working_set: u64| -> Result<Vec<(Exact, u64)>, String> {
        let sizes = hotset::policy::cache_sizes(&a.sizes, working_set)?;
        let cells: Vec<_> = a
            .policies
            .iter()
            .flat_map(|&p| sizes.iter().map(move |&c| (p, c)))
            .collect();
        for &(p, c) in &cells {
            p.check_capacity_with(&t.params, c)
                .map_err(|e| format!("{e} {}", t.unit.name()))?;
        }
        Ok(cells)
    };
    let quiet = a.input.quiet;
    let format = a.input.format()?;
    let streamed = matches!(format, Format::OracleGeneral | Format::Lcs);
    let (t, cells, counts) = if a.sizes.iter().all(|&s| s >= 1.0) && !a.use_ttl && streamed {
        let mut t = a.input.loaded(Vec::new(), false)?;
        let cells = cells_at(&t, 0)?;
        // A guess for the numbering's table: one request per 24 bytes
        // (oracleGeneral's record), or none for a compressed file.
        let expected = match std::fs::metadata(&a.input.trace) {
            Ok(m) if a.input.trace.extension().is_none_or(|e| e != "zst") => m.len() / 24,
            _ => 0,
        } as usize;
        let objects = Objects::pending();
        let progress = Progress::new("simulate", cells.len() as u64, quiet);
        let (read, counts) = rayon::join(
            || objects.fill_with(expected, |push| stream(&a.input.trace, format, push)),
            || {
                simulate_cells(&cells, &t.params, t.unit, &objects, None, &|| {
                    progress.inc(1)
                })
            },
        );
        progress.finish();
        let totals = read.map_err(|e| e.to_string())?;
        t.requests = totals.requests;
        t.bytes = totals.bytes;
        t.working_set = totals.working_set.of(t.unit);
        (t, cells, counts)
    } else {
        let (mut t, timed) = load_timed(&a.input, a.use_ttl, false)?;
        if a.use_ttl {
            if let Some(e) = a.policies.iter().find_map(|&p| check_ttl(p).err()) {
                return Err(e);
            }
        }
        let (objects, ws) = Objects::number(&t.trace);
        let cells = cells_at(&t, ws.of(t.unit))?;
        let progress = Progress::new("simulate", cells.len() as u64, quiet);
        let counts = simulate_cells(
            &cells,
            &t.params,
            t.unit,
            &objects,
            timed.as_deref(),
            &|| progress.inc(1),
        );
        progress.finish();
        drop(objects);
        t.working_set = ws.of(t.unit);
        (t, cells, counts)
    };
    let kind = if a.use_ttl { "exact+ttl" } else { "exact" };
    let rows = cells
        .iter()
        .zip(counts)
        .map(|(&(p, c), r)| row(p, kind, 1.0, c, t.unit, r))
        .collect();
    Ok((t, rows))
}

/// The trace, and with `use_ttl` each request's clock and TTL.
fn load_timed(
    input: &Input,
    use_ttl: bool,
    measure: bool,
) -> Result<(Loaded, Option<Vec<Timed>>), String> {
    let format = input.format()?;
    if !use_ttl {
        let trace = read(&input.trace, format).map_err(|e| e.to_string())?;
        return Ok((input.loaded(trace, measure)?, None));
    }
    let (trace, timed) = read_timed(&input.trace, format).map_err(|e| e.to_string())?;
    Ok((input.loaded(trace, measure)?, Some(timed)))
}

#[derive(Args, Clone, Debug)]
pub struct MrcArgs {
    #[command(flatten)]
    input: Input,
    /// exact: LRU's exact curve from stack distances, in one pass.
    /// shards: LRU's curve from a spatial sample at --rate (SHARDS).
    /// shards-fixed: SHARDS tracking at most --max-objects objects.
    /// miniature: each of --policies simulated on a sample at --rate, at
    /// sizes scaled by it.
    /// krr: the curve of sampled-lru without a pool (--samples K, --pool
    /// 0), KRR's probabilistic stack; in objects.
    #[arg(long, default_value = "exact", value_parser = ["exact", "shards", "shards-fixed", "miniature", "krr"])]
    method: String,
    /// The sampling rate of shards and miniature, in (0, 1].
    #[arg(long, default_value_t = 0.01)]
    rate: f64,
    /// The objects shards-fixed tracks at most.
    #[arg(long, default_value_t = 8192)]
    max_objects: usize,
    /// Policies, comma-separated: miniature simulates each on the sample;
    /// exact gives LRU's one-pass curve and runs the others' simulators at
    /// each size; shards is LRU's alone.
    #[arg(long, value_delimiter = ',', default_value = "lru")]
    policies: Vec<Exact>,
    /// Cache sizes, comma-separated: absolute or fractions of the working
    /// set. Without it, the whole curve at --points sizes.
    #[arg(long, value_delimiter = ',')]
    sizes: Option<Vec<f64>>,
    /// Sizes of the whole curve, spread on a log scale from the smallest
    /// exact size to the working set.
    #[arg(long, default_value_t = 100)]
    points: usize,
    /// Also compute the full answer (the exact curve, or full simulations)
    /// at the same sizes, and report the mean absolute error of the
    /// sampled one.
    #[arg(long)]
    compare: bool,
}

/// `hotset mrc`: a miss-ratio curve in one pass.
pub fn mrc(a: &MrcArgs) -> ExitCode {
    if !(a.rate > 0.0 && a.rate <= 1.0) {
        return fail(format!("--rate {} must be in (0, 1]", a.rate));
    }
    if a.points == 0 || a.points > 100_000 {
        return fail(format!("--points {} must be in 1..=100000", a.points));
    }
    if a.max_objects == 0 {
        return fail("--max-objects must be at least 1");
    }
    let mut t = match a.input.load() {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    if a.method == "krr" {
        // KRR models sampled LRU without a pool; --compare simulates that.
        t.params.pool = 0;
    }
    let start = std::time::Instant::now();
    let method = a.method.as_str();
    let (kind, curve): (&'static str, Option<Curve>) = match method {
        "exact" => ("exact", Some(mrc::exact_lru(&t.trace, t.unit))),
        "shards" => (
            "shards",
            Some(mrc::shards(
                &t.trace,
                t.unit,
                Sampling::Rate(a.rate),
                t.params.sample_seed,
            )),
        ),
        "shards-fixed" => (
            "shards-fixed",
            Some(mrc::shards(
                &t.trace,
                t.unit,
                Sampling::Fixed(a.max_objects),
                t.params.sample_seed,
            )),
        ),
        "krr" if t.unit == Unit::Bytes => {
            return fail(
                "--method krr is in objects (KRR's stack counts objects); drop --unit bytes",
            )
        }
        "krr" => (
            "krr",
            Some(mrc::krr(&t.trace, t.params.samples, t.params.sample_seed)),
        ),
        _ => ("miniature", None),
    };
    // SHARDS is LRU's; the exact method runs other policies' simulators at
    // each size beside LRU's curve.
    let policies: Vec<Exact> = match kind {
        "shards" | "shards-fixed" => vec![Exact::Lru],
        "krr" => vec![Exact::SampledLru],
        _ => a.policies.clone(),
    };
    // The policy whose curve `curve` is.
    let curved = if kind == "krr" {
        Exact::SampledLru
    } else {
        Exact::Lru
    };
    // The smallest size every method can answer exactly or estimate: in
    // bytes mode the largest object (below it LRU is not a stack
    // algorithm), and for miniatures the size whose scaled-down cache
    // each policy can run at.
    let max_object = t.trace.iter().map(|r| r.size).max().unwrap_or(1);
    let floor = match t.unit {
        Unit::Objects => 1,
        Unit::Bytes => max_object,
    };
    let sizes = match &a.sizes {
        Some(s) => match hotset::policy::cache_sizes(s, t.working_set) {
            Ok(s) => s,
            Err(e) => return fail(e),
        },
        None => mrc::log_sizes(floor, t.working_set.max(floor), a.points),
    };
    let rate = curve.as_ref().map_or(a.rate, |c| c.rate);
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    if kind != "exact" && t.params.sample_seed != 0 {
        notes.push(format!("sample seed {}", t.params.sample_seed));
    }
    match &curve {
        Some(c) => {
            // The curve's rows (shards has LRU alone, krr sampled LRU).
            let lru = if policies.contains(&curved) {
                &sizes[..]
            } else {
                &[][..]
            };
            for &s in lru {
                if s < c.valid_from && kind == "exact" {
                    // Exact all the same: one simulation at that size.
                    rows.push(row(
                        Exact::Lru,
                        kind,
                        1.0,
                        s,
                        t.unit,
                        run(Exact::Lru, s, t.unit, &t.trace),
                    ));
                } else {
                    rows.push(row(curved, kind, rate, s, t.unit, c.counts(s, t.bytes)));
                }
            }
            let others: Vec<(Exact, u64)> = policies
                .iter()
                .filter(|&&p| p != Exact::Lru && kind == "exact")
                .flat_map(|&p| {
                    sizes
                        .iter()
                        .filter(move |&&s| p.check_capacity_with(&t.params, s).is_ok())
                        .map(move |&s| (p, s))
                })
                .collect();
            for (&(p, s), counts) in others.iter().zip(grid(&t, &others, a.input.quiet)) {
                rows.push(row(p, kind, 1.0, s, t.unit, counts));
            }
            if c.resized > 0 {
                notes.push(format!(
                    "{} objects change size between requests: the curve stacks each request's size, where libCacheSim keeps the stored one on a hit",
                    c.resized
                ));
            }
        }
        None => {
            let sampled = mrc::sample(&t.trace, a.rate, t.params.sample_seed);
            let cells: Vec<(Exact, u64)> = policies
                .iter()
                .flat_map(|&p| {
                    let lo = mrc::miniature_floor(p, &t.params, a.rate);
                    sizes
                        .iter()
                        .filter(move |&&s| s >= lo)
                        .map(move |&s| (p, s))
                })
                .collect();
            for &p in &policies {
                let lo = mrc::miniature_floor(p, &t.params, a.rate);
                if sizes.iter().any(|&s| s < lo) {
                    notes.push(format!(
                        "{p}: sizes below {lo} skipped (scaled by {} they are below one unit, or below what {p} can run at)",
                        a.rate
                    ));
                }
            }
            let out: Vec<SimRow> = cells
                .par_iter()
                .map(|&(p, s)| {
                    let c = mrc::miniature(p, &t.params, s, t.unit, &sampled);
                    row(p, kind, a.rate, s, t.unit, c)
                })
                .collect();
            rows.extend(out);
        }
    }
    let took = start.elapsed();
    if a.compare && kind != "exact" {
        let full: Vec<(Exact, u64)> = rows
            .iter()
            .map(|r| (r.policy.parse().expect("a policy's own name"), r.cache_size))
            .collect();
        let exact: Vec<Counts> = if curve.is_some() && kind != "krr" {
            let e = mrc::exact_lru(&t.trace, t.unit);
            full.iter()
                .map(|&(_, s)| {
                    if s < e.valid_from {
                        run(Exact::Lru, s, t.unit, &t.trace)
                    } else {
                        e.counts(s, t.bytes)
                    }
                })
                .collect()
        } else {
            grid(&t, &full, a.input.quiet)
        };
        for &p in &policies {
            let (est, want): (Vec<f64>, Vec<f64>) = rows
                .iter()
                .zip(&exact)
                .filter(|(r, _)| r.policy == p.name())
                .map(|(r, e)| (r.counts.miss_ratio(), e.miss_ratio()))
                .unzip();
            notes.push(format!(
                "mean absolute error of {p} ({kind}, rate {rate}) against the exact answer over {} sizes: {:.5}",
                est.len(),
                mrc::mean_abs_error(&est, &want)
            ));
        }
        let extra: Vec<SimRow> = full
            .iter()
            .zip(exact)
            .map(|(&(p, s), c)| row(p, "exact", 1.0, s, t.unit, c))
            .collect();
        rows.extend(extra);
    }
    if let Err(e) = a.input.write(&t, &rows, "mrc.svg") {
        eprintln!("hotset: {e}");
        return ExitCode::from(1);
    }
    if let Some(dir) = &a.input.out {
        if let Err(e) = append_notes(&dir.join("summary.md"), kind, rate, t.unit, &notes) {
            eprintln!("hotset: {}: {e}", dir.display());
            return ExitCode::from(1);
        }
    }
    print_rows(&t, &rows);
    eprintln!(
        "# {kind} at sampling rate {rate}, {} unit: {:.3} s",
        t.unit.name(),
        took.as_secs_f64()
    );
    for n in &notes {
        println!("# {n}");
    }
    ExitCode::SUCCESS
}

fn append_notes(
    path: &std::path::Path,
    kind: &str,
    rate: f64,
    unit: Unit,
    notes: &[String],
) -> std::io::Result<()> {
    use std::fmt::Write;
    let mut md = std::fs::read_to_string(path)?;
    let _ = writeln!(
        md,
        "\nMethod: {kind}; sampling rate {rate}; sizes in {}.",
        unit.name()
    );
    for n in notes {
        let _ = writeln!(md, "\n- {n}");
    }
    std::fs::write(path, md)
}
