//! The `hotset` command line: `serve` (the default) runs the text-protocol
//! server on 127.0.0.1:11212.

use clap::{Args, Parser, Subcommand};
use hotset::server;
use hotset::{Cache, Policy};

#[path = "cli/research.rs"]
mod research;
#[path = "cli/serve.rs"]
mod serve;
use serve::{parse_slot_ratio, ServeArgs};
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
    /// Speak TLS to the server (memcached -Z, hotset -Z), trusting the CA
    /// certificates in this PEM file; the server's name is --server's host.
    #[arg(long)]
    tls_ca: Option<std::path::PathBuf>,
    /// Report directory.
    #[arg(long)]
    out: std::path::PathBuf,
}

#[derive(Args, Clone, Debug)]
struct ReplayArgs {
    /// A workload spec (TOML); its trace is generated first.
    #[arg(long, conflicts_with = "trace", required_unless_present = "trace")]
    workload: Option<std::path::PathBuf>,
    /// A trace file (native, oracleGeneral, lcs, vscsi or twitter; .zst
    /// allowed; lcs and native known by their magic).
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
    /// Also write the trace as libCacheSim's lcs here (`.zst` compresses
    /// it): each record a request at clock time = its index, with its op,
    /// TTL and next-access time.
    #[arg(long)]
    lcs: Option<std::path::PathBuf>,
    /// The lcs version --lcs writes: 1 to 8 (3 is the first with TTLs).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=8))]
    lcs_version: u64,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
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
    let launch = match args.launch() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("hotset: {e}");
            return ExitCode::from(2);
        }
    };
    if launch.daemon {
        // SAFETY: main has started no thread yet: the cache, the server and
        // the signal thread all start below.
        if let Err(e) = unsafe { serve::daemonize(args.verbose > 0) } {
            eprintln!("hotset: {e}");
            return ExitCode::from(1);
        }
    }
    // Before any thread exists, so that only the signal thread gets them.
    server::block_shutdown_signals();
    let cache = match Cache::new(launch.config.clone()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hotset: {e}");
            return ExitCode::from(2);
        }
    };
    match cache.warm_start() {
        Some(hotset::WarmStart::Restored { items, refused }) => {
            eprintln!("hotset: warm restart: {items} items restored ({refused} refused)")
        }
        Some(hotset::WarmStart::Clean(why)) => {
            eprintln!("hotset: warm restart: starting clean: {why}")
        }
        None => {}
    }
    if let Some(level) = launch.automove {
        cache.set_automove(level);
    }
    if args.verbose > 0 {
        for (k, v) in server::settings(&cache, &launch.server, args.verbose as u32) {
            eprintln!("hotset: {k} {v}");
        }
        for o in &launch.ignored {
            eprintln!("hotset: -o {o}: means nothing in hotset; ignored");
        }
    }
    let user = launch.user.clone();
    let unix = launch.server.unix_socket.clone();
    let pidfile = launch.pidfile.clone();
    let served = server::serve_with(cache, launch.server, move || {
        serve::drop_privileges(user.as_deref(), unix.as_deref())?;
        // After dropping root, as memcached does, so that the same user
        // can remove it at exit.
        if let Some(p) = &pidfile {
            std::fs::write(p, format!("{}\n", std::process::id()))
                .map_err(|e| format!("-P {}: {e}", p.display()))?;
        }
        Ok(())
    });
    if let Some(p) = &launch.pidfile {
        if let Err(e) = std::fs::remove_file(p) {
            if e.kind() != std::io::ErrorKind::NotFound {
                eprintln!("hotset: -P {}: cannot remove it: {e}", p.display());
            }
        }
    }
    match served {
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
            use hotset::workload::trace::{native_to_lcs, native_to_oracle_general};
            let also = [
                a.oracle_general
                    .as_ref()
                    .map(|p| (p, native_to_oracle_general(&a.out, p))),
                a.lcs
                    .as_ref()
                    .map(|p| (p, native_to_lcs(&a.out, p, a.lcs_version))),
            ];
            for (path, written) in also.into_iter().flatten() {
                match written {
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
        tls_ca: a.tls_ca.clone(),
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
    let exact = match compare_exact(&records, &live, &cfg) {
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
