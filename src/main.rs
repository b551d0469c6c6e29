//! The `hotset` command line: `serve` (the default) runs the text-protocol
//! server on 127.0.0.1:11212.

use clap::{Args, Parser, Subcommand};
use hotset::server::{self, ServerConfig};
use hotset::{Cache, Config, Policy, ReclaimKind, SlabClasses};
use std::net::IpAddr;

#[path = "cli/research.rs"]
mod research;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "hotset",
    version,
    about = "A lock-free in-memory key-value cache that speaks memcached's text protocol"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the memcached text protocol and the DynamiDB dialect (the default).
    Serve(ServeArgs),
    /// Run exact policy simulators over a trace, on a grid of cache sizes.
    Simulate(research::SimulateArgs),
    /// Miss-ratio curves in one pass: exact LRU, SHARDS, miniature simulation.
    Mrc(research::MrcArgs),
    /// Generate a trace (native format) from a workload spec.
    Gen(GenArgs),
    /// Replay a workload or trace through the live engine; write a report.
    Replay(ReplayArgs),
    /// Load a memcached-protocol server with a workload; write a latency report.
    Loadgen(LoadgenArgs),
}

#[derive(Args, Clone, Debug)]
struct LoadgenArgs {
    /// Server to load, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:11212")]
    server: String,
    /// Connections in all.
    #[arg(long, default_value_t = 50)]
    conns: usize,
    /// Threads driving the connections.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Requests in flight per connection (1: no pipelining).
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// Seconds to measure.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Open loop at this many requests per second (latency counted from when
    /// each request was due); without it, closed loop.
    #[arg(long)]
    rate: Option<f64>,
    /// Workload spec (TOML): keys, value sizes, get/set/delete mix.
    #[arg(long)]
    workload: std::path::PathBuf,
    /// Store every key once before measuring.
    #[arg(long)]
    prefill: bool,
    /// Play the workload's records once, in order, then stop (phases such
    /// as a value-size shift happen at their place).
    #[arg(long)]
    once: bool,
    /// Count get hits per window of this many records: a miss-ratio curve.
    #[arg(long)]
    series: Option<usize>,
    /// Report directory.
    #[arg(long)]
    out: std::path::PathBuf,
}

#[derive(Args, Clone, Debug)]
struct ReplayArgs {
    /// A workload spec (TOML); its trace is generated first.
    #[arg(long, conflicts_with = "trace", required_unless_present = "trace")]
    workload: Option<std::path::PathBuf>,
    /// A trace file (native, oracleGeneral or twitter; .zst allowed).
    #[arg(long)]
    trace: Option<std::path::PathBuf>,
    /// Engine policies, comma-separated (default: the spec's, else lru).
    #[arg(long, value_delimiter = ',')]
    policies: Vec<Policy>,
    /// Memory budgets, comma-separated (default: the spec's, else 64MiB).
    #[arg(long, value_delimiter = ',', value_parser = hotset::parse_size)]
    memory: Vec<usize>,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Items sampled per eviction (K).
    #[arg(long, default_value_t = 5)]
    samples: usize,
    /// Eviction-pool size (0: none).
    #[arg(long, default_value_t = 16)]
    evict_pool: usize,
    /// Budget bytes per index slot at start (default: the engine's 1024);
    /// the index grows by half whenever a new key finds its buckets full.
    #[arg(long, value_parser = parse_slot_ratio)]
    index_bytes_per_slot: Option<usize>,
    /// Trace ops per logical second (drives TTLs and access times).
    #[arg(long, default_value_t = 100_000)]
    op_rate: u64,
    /// Also run the exact simulators (lru, fifo, belady, …) at the live
    /// cache's item count, objects mode.
    #[arg(long, value_delimiter = ',', num_args = 0.., default_missing_value = "lru,belady")]
    compare_exact: Option<Vec<hotset::policy::Exact>>,
    /// Report directory (default: results/<workload>-<unix time>).
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args, Clone, Debug)]
struct GenArgs {
    /// The workload spec (TOML).
    #[arg(long)]
    workload: std::path::PathBuf,
    /// Where to write the trace.
    #[arg(long)]
    out: std::path::PathBuf,
    /// Generator threads (default: all cores). The output does not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Also write the trace as libCacheSim's oracleGeneral here (every
    /// record a request of its key, sized by its value, with next-access
    /// times), for running the same trace through libCacheSim.
    #[arg(long)]
    oracle_general: Option<std::path::PathBuf>,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args, Clone, Debug)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    listen: IpAddr,
    /// TCP port (0 picks a free one and prints it).
    #[arg(long, default_value_t = 11212)]
    port: u16,
    /// Item memory budget: bytes, or with k/m/g (KiB/MiB/GiB).
    #[arg(long, default_value = "64MiB", value_parser = hotset::parse_size)]
    memory: usize,
    /// The largest budget `cache_memlimit` may set at run time (address
    /// space is reserved for it, not committed); default four times
    /// --memory.
    #[arg(long, value_parser = hotset::parse_size)]
    memory_max: Option<usize>,
    /// Connections served at once; more are refused with an error.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max_conns: u32,
    /// Worker threads serving connections (memcached's -t); default: one
    /// per core.
    #[arg(short = 't', long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
    /// Close a connection after this many seconds without a request
    /// (memcached's idle_timeout); 0 never does.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=86_400 * 30))]
    idle_timeout: u32,
    /// Require memcached's ASCII authentication: a file of `user:pass` lines.
    /// A client's first command must be a `set` whose data is "user pass".
    #[arg(long)]
    auth_file: Option<std::path::PathBuf>,
    /// Largest item (header + key + value): bytes, or with k/m/g.
    #[arg(long, default_value = "1MiB", value_parser = hotset::parse_size)]
    max_item_size: usize,
    /// Slab class growth factor (memcached's -f).
    #[arg(long, conflicts_with = "slab_classes")]
    slab_growth: Option<f64>,
    /// Explicit slab classes, e.g. 64,128,256,1024,4096.
    #[arg(long, value_delimiter = ',')]
    slab_classes: Option<Vec<usize>>,
    /// Eviction policy: lru, lfu, fifo, random, hyperbolic (sampled), or
    /// s3fifo, sieve, clock (queue-based).
    #[arg(long, default_value = "lru")]
    policy: Policy,
    /// Items sampled per eviction.
    #[arg(long, default_value_t = 5)]
    samples: usize,
    /// Eviction-pool size per thread and class (0 disables the pool).
    #[arg(long, default_value_t = 16)]
    evict_pool: usize,
    /// Sweeper ticks per second (0 disables the sweeper).
    #[arg(long, default_value_t = 10)]
    sweep_hz: u32,
    /// Reclamation backend: seize or crossbeam.
    #[arg(long, default_value = "seize")]
    reclaim: ReclaimKind,
    /// Budget bytes per index slot at start (default: the engine's 1024).
    /// The index grows by half whenever a new key finds its candidate
    /// buckets full, so this only saves the first growths.
    #[arg(long, value_parser = parse_slot_ratio)]
    index_bytes_per_slot: Option<usize>,
    /// More logging to stderr (-v connections and errors).
    #[arg(short, action = clap::ArgAction::Count)]
    verbose: u8,
}

/// `--index-bytes-per-slot`: a number of budget bytes per index slot, at
/// least 8 (the slot's own size).
fn parse_slot_ratio(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of bytes"))?;
    if n < 8 {
        return Err(format!("{n} bytes per slot is below a slot's 8 bytes"));
    }
    Ok(n)
}

fn config(a: &ServeArgs) -> Config {
    Config {
        memory: a.memory,
        memory_max: a.memory_max,
        page_size: Config::page_size_for(a.max_item_size),
        classes: match (&a.slab_classes, a.slab_growth) {
            (Some(list), _) => SlabClasses::List(list.clone()),
            (None, Some(f)) => SlabClasses::Growth(f),
            (None, None) => Config::default().classes,
        },
        max_item_size: a.max_item_size,
        policy: a.policy,
        samples: a.samples,
        evict_pool: a.evict_pool,
        sweep_hz: a.sweep_hz,
        reclaim: a.reclaim,
        index_slots: a.index_bytes_per_slot.map(|b| a.memory / b),
        ..Config::default()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.cmd {
        Some(Cmd::Serve(a)) => a,
        Some(Cmd::Simulate(a)) => return research::simulate(&a),
        Some(Cmd::Mrc(a)) => return research::mrc(&a),
        Some(Cmd::Gen(a)) => return gen(&a),
        Some(Cmd::Replay(a)) => return replay(&a),
        Some(Cmd::Loadgen(a)) => return loadgen(&a),
        None => cli.serve,
    };
    // Before any thread exists, so that only the signal thread gets them.
    server::block_shutdown_signals();
    let cfg = config(&args);
    let cache = match Cache::new(cfg.clone()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hotset: {e}");
            return ExitCode::from(2);
        }
    };
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |t| t as usize,
    );
    let auth = match args
        .auth_file
        .as_deref()
        .map(server::read_users)
        .transpose()
    {
        Ok(a) => a.map(std::sync::Arc::new),
        Err(e) => {
            eprintln!("hotset: {e}");
            return ExitCode::from(2);
        }
    };
    let scfg = ServerConfig {
        listen: args.listen,
        port: args.port,
        max_conns: args.max_conns as usize,
        threads,
        idle_timeout: (args.idle_timeout > 0)
            .then(|| std::time::Duration::from_secs(args.idle_timeout as u64)),
        auth,
        verbosity: args.verbose,
    };
    if args.verbose > 0 {
        for (k, v) in server::settings(&cache, &scfg, args.verbose as u32) {
            eprintln!("hotset: {k} {v}");
        }
    }
    match server::serve(cache, scfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hotset: {e}");
            ExitCode::from(1)
        }
    }
}

/// `hotset gen`: a native trace from a workload spec.
fn gen(a: &GenArgs) -> ExitCode {
    use hotset::workload::{gen, spec::Spec};
    let spec = match Spec::load(&a.workload) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hotset: {e}");
            return ExitCode::from(2);
        }
    };
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads.unwrap_or(0))
        .build()
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("hotset: cannot start generator threads: {e}");
            return ExitCode::from(1);
        }
    };
    let progress = hotset::report::progress::Progress::new("gen", spec.ops, a.quiet);
    // Streamed: memory stays bounded whatever the spec's op count.
    let written = std::fs::File::create(&a.out)
        .map(std::io::BufWriter::new)
        .and_then(|mut f| pool.install(|| gen::generate_to(&spec, &mut f, |n| progress.inc(n))));
    progress.finish();
    match written {
        Ok(n) => {
            eprintln!(
                "hotset: wrote {n} ops of {:?} to {}",
                spec.name,
                a.out.display()
            );
            if let Some(path) = &a.oracle_general {
                match hotset::workload::trace::native_to_oracle_general(&a.out, path) {
                    Ok(n) => eprintln!("hotset: wrote {n} requests to {}", path.display()),
                    Err(e) => {
                        eprintln!("hotset: {e}");
                        return ExitCode::from(1);
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hotset: {}: {e}", a.out.display());
            ExitCode::from(1)
        }
    }
}

fn loadgen(a: &LoadgenArgs) -> ExitCode {
    use hotset::loadgen::{run, write_report, LoadConfig};
    let fail = |msg: String| {
        eprintln!("hotset loadgen: {msg}");
        ExitCode::from(2)
    };
    let spec = match hotset::workload::spec::Spec::load(&a.workload) {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()),
    };
    let cfg = LoadConfig {
        server: a.server.clone(),
        conns: a.conns,
        threads: a.threads,
        pipeline: a.pipeline,
        duration: match hotset::loadgen::duration(a.duration) {
            Ok(d) => d,
            Err(e) => return fail(e),
        },
        rate: a.rate,
        prefill: a.prefill,
        once: a.once,
        series: a.series,
        spec,
    };
    let r = match run(&cfg) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let prov = hotset::report::Provenance::here(&cfg.spec.name);
    if let Err(e) = write_report(&a.out, &prov, &cfg, &r) {
        return fail(format!("{}: {e}", a.out.display()));
    }
    println!(
        "{:.0} ops/s, {} errors, {} verification failures; report in {}",
        r.ops as f64 / r.secs,
        r.errors,
        r.verify_failures,
        a.out.display()
    );
    if r.verify_failures > 0 || r.errors > 0 {
        if let Some(p) = &r.first_problem {
            eprintln!("hotset loadgen: first problem: {p}");
        }
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

fn replay(a: &ReplayArgs) -> ExitCode {
    use hotset::replay::{compare_exact, replay, ReplayConfig};
    use hotset::workload::{spec::Spec, trace};
    let fail = |msg: String| {
        eprintln!("hotset: {msg}");
        ExitCode::from(2)
    };
    let (name, records, spec) = match (&a.workload, &a.trace) {
        (Some(w), _) => match Spec::load(w).map_err(|e| e.to_string()).and_then(|s| {
            let r = hotset::replay::records_from_spec(&s)
                .map_err(|e| format!("{}: {e}", w.display()))?;
            Ok((s, r))
        }) {
            Ok((s, r)) => (s.name.clone(), r, Some(s)),
            Err(e) => return fail(e),
        },
        (None, Some(t)) => match trace::load_records(t) {
            Ok(r) => (trace::name_of(t), r, None),
            Err(e) => return fail(e.to_string()),
        },
        (None, None) => return fail("give --workload or --trace".into()),
    };
    let (policies, memory) = match hotset::replay::plan(spec.as_ref(), &a.policies, &a.memory) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let cfg = ReplayConfig {
        policies,
        memory,
        threads: a.threads,
        samples: a.samples,
        evict_pool: a.evict_pool,
        index_bytes_per_slot: a.index_bytes_per_slot,
        cache_aside: spec.as_ref().is_none_or(|s| s.mix.cache_aside),
        op_rate: a.op_rate,
        compare_exact: a.compare_exact.clone().unwrap_or_default(),
    };
    if !cfg.compare_exact.is_empty() {
        if let Err(e) = hotset::replay::exact_comparable(&records, cfg.cache_aside) {
            return fail(format!("--compare-exact: {e}"));
        }
    }
    let runs = (cfg.policies.len() * cfg.memory.len()) as u64;
    let progress = hotset::report::progress::Progress::new("replay runs", runs, a.quiet);
    let live = replay(&records, &cfg, |_| progress.inc(1));
    progress.finish();
    let exact = match compare_exact(&records, &live, &cfg.compare_exact, cfg.cache_aside) {
        Ok(rows) => rows,
        Err(e) => return fail(format!("--compare-exact: {e}")),
    };
    let dir = a.out.clone().unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        std::path::PathBuf::from(format!("results/{name}-{t}"))
    });
    let prov = hotset::report::Provenance::here(&name);
    if let Err(e) = hotset::report::write(&dir, &prov, &live, &exact) {
        eprintln!("hotset: {}: {e}", dir.display());
        return ExitCode::from(1);
    }
    println!("{}", dir.join("summary.md").display());
    ExitCode::SUCCESS
}
