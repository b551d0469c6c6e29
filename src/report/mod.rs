//! Reports: `summary.json`, `summary.md`, and one `.hgrm` per (run, op type)
//! in HdrHistogram's percentile-distribution text layout (values in
//! microseconds), which HdrHistogram's plotter reads.

pub mod plot;
pub mod progress;

use crate::latency::{hgrm, latency_json};
use crate::replay::{ExactRow, LiveRow};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// Where a report came from.
#[derive(Clone, Debug)]
pub struct Provenance {
    /// The exact command line.
    pub command: String,
    /// `git rev-parse HEAD`, or "unknown".
    pub commit: String,
    /// Host, cores, memory.
    pub machine: String,
    /// Workload or trace name.
    pub workload: String,
}

impl Provenance {
    /// Gathers the command, commit and machine of this process.
    pub fn here(workload: &str) -> Provenance {
        let command = std::env::args().collect::<Vec<_>>().join(" ");
        let commit = std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
            })
            .unwrap_or_else(|| "unknown cpu".into());
        let mem = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .next()
                    .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
            })
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or("unknown memory".into(), |kb| format!("{} GiB", kb >> 20));
        Provenance {
            command,
            commit,
            machine: format!("{cpus} cores ({model}), {mem}, {}", std::env::consts::OS),
            workload: workload.to_string(),
        }
    }
}

fn file_stem(r: &LiveRow) -> String {
    format!("{}-{}MiB", r.policy, r.memory >> 20)
}

/// Writes summary.json (provenance + rows) and returns the start of
/// summary.md: its title and provenance.
pub(crate) fn summary_files(
    dir: &Path,
    prov: &Provenance,
    what: &str,
    rows: Vec<Value>,
) -> io::Result<String> {
    let summary = json!({
        "command": prov.command,
        "commit": prov.commit,
        "machine": prov.machine,
        "workload": prov.workload,
        "rows": rows,
    });
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(&summary).map_err(io::Error::other)? + "\n",
    )?;
    let mut md = String::new();
    let _ = writeln!(md, "# {what} of {}\n", prov.workload);
    let _ = writeln!(
        md,
        "- command: `{}`\n- commit: {}\n- machine: {}\n",
        prov.command, prov.commit, prov.machine
    );
    Ok(md)
}

/// Adds a point to the named series, creating it on first use.
fn add_point(
    series: &mut Vec<plot::Series>,
    name: String,
    group: &str,
    (line, style): (usize, &str),
    pt: (f64, f64),
) {
    match series.iter_mut().find(|s| s.name == name) {
        Some(s) => s.points.push(pt),
        None => series.push(plot::Series {
            name,
            group: group.to_string(),
            line,
            style: style.to_string(),
            points: vec![pt],
        }),
    }
}

/// Writes summary.json, summary.md and the .hgrm files into `dir`.
pub fn write(
    dir: &Path,
    prov: &Provenance,
    live: &[LiveRow],
    exact: &[ExactRow],
) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let rows: Vec<Value> = live
        .iter()
        .map(|r| {
            let lat: serde_json::Map<String, Value> = r
                .latency
                .iter()
                .map(|l| (l.op.to_string(), latency_json(&l.hist)))
                .collect();
            json!({
                "kind": "live",
                "policy": r.policy,
                "unit": "bytes",
                "cache_size": r.memory,
                "requests": r.requests,
                "gets": r.gets,
                "misses": r.misses,
                "miss_ratio": r.misses as f64 / r.gets.max(1) as f64,
                "byte_miss_ratio": r.miss_bytes as f64 / r.get_bytes.max(1) as f64,
                "ops_per_sec": r.ops_per_sec,
                "evictions": r.evictions,
                "expirations": r.expirations,
                "items": r.items,
                "latency": lat,
            })
        })
        .chain(exact.iter().map(|e| {
            json!({
                "kind": "exact",
                "policy": e.policy,
                "unit": e.unit.name(),
                "cache_size": e.cache_size,
                "mirrors_memory": e.memory,
                "requests": e.gets,
                "misses": e.misses,
                "miss_ratio": e.misses as f64 / e.gets.max(1) as f64,
                "byte_miss_ratio": e.miss_bytes as f64 / e.get_bytes.max(1) as f64,
            })
        }))
        .collect();
    let mut md = summary_files(dir, prov, "Replay", rows)?;
    let _ = writeln!(
        md,
        "## Live engine (memory in bytes; miss ratio over gets)\n"
    );
    let _ = writeln!(
        md,
        "| policy | memory | gets | miss ratio | byte miss ratio | ops/s | evictions | expirations | items | get p50 / p99 / p99.9 / max (µs) |"
    );
    let _ = writeln!(
        md,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    );
    for r in live {
        let get = r.latency.iter().find(|l| l.op == "get");
        let lat = get.map_or("–".to_string(), |l| {
            let h = &l.hist;
            format!(
                "{:.2} / {:.2} / {:.2} / {:.1}",
                h.value_at_percentile(50.0) as f64 / 1e3,
                h.value_at_percentile(99.0) as f64 / 1e3,
                h.value_at_percentile(99.9) as f64 / 1e3,
                h.max() as f64 / 1e3
            )
        });
        let _ = writeln!(
            md,
            "| {} | {} MiB | {} | {:.4} | {:.4} | {:.0} | {} | {} | {} | {} |",
            r.policy,
            r.memory >> 20,
            r.gets,
            r.misses as f64 / r.gets.max(1) as f64,
            r.miss_bytes as f64 / r.get_bytes.max(1) as f64,
            r.ops_per_sec,
            r.evictions,
            r.expirations,
            r.items,
            lat
        );
    }
    if !exact.is_empty() {
        let _ = writeln!(
            md,
            "\n## Exact simulators (objects; capacity = the live cache's item count)\n"
        );
        let _ = writeln!(
            md,
            "| policy | mirrors memory | cache size (objects) | gets | miss ratio |"
        );
        let _ = writeln!(md, "| --- | ---: | ---: | ---: | ---: |");
        for e in exact {
            let _ = writeln!(
                md,
                "| {} | {} MiB | {} | {} | {:.4} |",
                e.policy,
                e.memory >> 20,
                e.cache_size,
                e.gets,
                e.misses as f64 / e.gets.max(1) as f64
            );
        }
    }
    let _ = writeln!(
        md,
        "\nLatency histograms: `<policy>-<memory>-<op>.hgrm` (HdrHistogram percentile layout, µs).\n"
    );
    let _ = writeln!(
        md,
        "![miss ratio](miss-ratio.svg)\n\n![get latency](latency-get.svg)"
    );
    std::fs::write(dir.join("summary.md"), md)?;
    for r in live {
        for l in &r.latency {
            std::fs::write(
                dir.join(format!("{}-{}.hgrm", file_stem(r), l.op)),
                hgrm(&l.hist),
            )?;
        }
    }
    // Miss-ratio curves: live policies against memory, exact ones against
    // the memory their capacity mirrors.
    let mut series: Vec<plot::Series> = Vec::new();
    for r in live {
        add_point(
            &mut series,
            format!("{} (live)", r.policy),
            &r.policy.to_string(),
            (1, "live"),
            (
                (r.memory >> 20) as f64,
                r.misses as f64 / r.gets.max(1) as f64,
            ),
        );
    }
    for e in exact {
        add_point(
            &mut series,
            format!("{} (exact)", e.policy),
            &e.policy.to_string(),
            (0, "exact"),
            (
                (e.memory >> 20) as f64,
                e.misses as f64 / e.gets.max(1) as f64,
            ),
        );
    }
    plot::miss_ratio_curves(
        &dir.join("miss-ratio.svg"),
        &format!("{}: miss ratio over gets", prov.workload),
        "memory (MiB)",
        &series,
    )?;
    // Latency curves: a colour per policy, a dash pattern per memory size.
    let mut memories: Vec<usize> = live.iter().map(|r| r.memory).collect();
    memories.sort_unstable();
    memories.dedup();
    for op in ["get", "set", "delete"] {
        let hs: Vec<(plot::Series, &Histogram<u64>)> = live
            .iter()
            .filter_map(|r| {
                let series = plot::Series {
                    name: file_stem(r),
                    group: r.policy.to_string(),
                    line: memories.binary_search(&r.memory).unwrap_or(0),
                    style: format!("{} MiB", r.memory >> 20),
                    points: Vec::new(),
                };
                let l = r.latency.iter().find(|l| l.op == op)?;
                Some((series, &l.hist))
            })
            .collect();
        if !hs.is_empty() {
            plot::latency_curves(
                &dir.join(format!("latency-{op}.svg")),
                &format!("{}: {op} latency", prov.workload),
                &hs,
            )?;
        }
    }
    Ok(())
}

/// One cell of a simulation grid.
#[derive(Clone, Debug)]
pub struct SimRow {
    /// Policy name.
    pub policy: String,
    /// Capacity, in `unit`.
    pub cache_size: u64,
    /// objects or bytes.
    pub unit: &'static str,
    /// How the counts were had: `exact` (a full simulation or the exact
    /// curve), `shards`, `shards-fixed` or `miniature`.
    pub kind: &'static str,
    /// The spatial sampling rate (1 when exact).
    pub sampling_rate: f64,
    /// The counts.
    pub counts: crate::policy::Counts,
}

impl SimRow {
    /// The row's series in plots: the policy, and the method when sampled.
    fn series(&self) -> String {
        if self.kind == "exact" {
            self.policy.clone()
        } else {
            format!("{} ({})", self.policy, self.style())
        }
    }

    /// What the series' dash pattern stands for: "exact", or the sampling
    /// method and its rate.
    fn style(&self) -> String {
        if self.kind == "exact" {
            "exact".to_string()
        } else {
            format!("{} R={}", self.kind, self.sampling_rate)
        }
    }
}

/// Writes a simulation grid: summary.json, summary.md and the plot `svg`
/// (miss-ratio curves; sampled series dashed).
pub fn write_simulation(
    dir: &Path,
    prov: &Provenance,
    rows: &[SimRow],
    svg: &str,
) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let js: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "kind": r.kind,
                "policy": r.policy,
                "unit": r.unit,
                "sampling_rate": r.sampling_rate,
                "cache_size": r.cache_size,
                "requests": r.counts.requests,
                "misses": r.counts.misses,
                "miss_ratio": r.counts.miss_ratio(),
                "byte_miss_ratio": r.counts.byte_miss_ratio(),
                "expired": r.counts.expired,
            })
        })
        .collect();
    let mut md = summary_files(dir, prov, "Simulation", js)?;
    let _ = writeln!(
        md,
        "| policy | method | sampling rate | cache size | unit | requests | misses | miss ratio | byte miss ratio |"
    );
    let _ = writeln!(
        md,
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |"
    );
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {:.4} | {:.4} |",
            r.policy,
            r.kind,
            r.sampling_rate,
            r.cache_size,
            r.unit,
            r.counts.requests,
            r.counts.misses,
            r.counts.miss_ratio(),
            r.counts.byte_miss_ratio()
        );
    }
    let _ = writeln!(md, "\n![miss-ratio curves]({svg})");
    std::fs::write(dir.join("summary.md"), md)?;
    let mut series: Vec<plot::Series> = Vec::new();
    for r in rows {
        add_point(
            &mut series,
            r.series(),
            &r.policy,
            (usize::from(r.kind != "exact"), &r.style()),
            (r.cache_size as f64, r.counts.miss_ratio()),
        );
    }
    let unit = rows.first().map_or("objects", |r| r.unit);
    plot::miss_ratio_curves(
        &dir.join(svg),
        &format!("{}: miss-ratio curves", prov.workload),
        &format!("cache size ({unit})"),
        &series,
    )
}
