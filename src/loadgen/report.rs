//! The files a run leaves: `summary.json`, `summary.md` and one `.hgrm`
//! per operation, in the layout of replay's reports.

use super::{LoadConfig, LoadReport};
use crate::report::{self, Provenance};
use serde_json::json;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// Writes `summary.json`, `summary.md` and `<op>.hgrm` into `dir`.
pub fn write_report(
    dir: &Path,
    prov: &Provenance,
    cfg: &LoadConfig,
    r: &LoadReport,
) -> io::Result<()> {
    const NAMES: [&str; 3] = ["get", "set", "delete"];
    std::fs::create_dir_all(dir)?;
    let ops_per_sec = r.ops as f64 / r.secs;
    let lat: serde_json::Map<String, serde_json::Value> = NAMES
        .iter()
        .zip(&r.per_op)
        .filter(|(_, o)| !o.hist.is_empty())
        .map(|(n, o)| (n.to_string(), crate::latency::latency_json(&o.hist)))
        .collect();
    let row = json!({
        "kind": "loadgen",
        "server": cfg.server,
        "mode": if cfg.rate.is_some() { "open" } else { "closed" },
        "target_rate": cfg.rate,
        "conns": cfg.conns,
        "threads": cfg.threads,
        "pipeline": cfg.pipeline,
        "duration_s": r.secs,
        "requests": r.ops,
        "ops_per_sec": ops_per_sec,
        "gets": r.per_op[0].hits + r.per_op[0].misses,
        "get_hits": r.per_op[0].hits,
        "get_misses": r.per_op[0].misses,
        "errors": r.errors,
        "verify_failures": r.verify_failures,
        "first_problem": r.first_problem,
        "latency": lat,
        "series": cfg.series.map(|w| json!({
            "window_records": w,
            "gets": r.windows.iter().map(|x| x[0]).collect::<Vec<_>>(),
            "hits": r.windows.iter().map(|x| x[1]).collect::<Vec<_>>(),
        })),
    });
    let mut md = report::summary_files(dir, prov, "Load", vec![row])?;
    let _ = writeln!(
        md,
        "{} loop, {} connections on {} threads, pipeline {}{}: **{:.0} ops/s** over {:.1} s; {} errors, {} verification failures.\n",
        if cfg.rate.is_some() { "Open" } else { "Closed" },
        cfg.conns,
        cfg.threads,
        cfg.pipeline,
        cfg.rate.map_or(String::new(), |r| format!(", target {r:.0}/s")),
        ops_per_sec,
        r.secs,
        r.errors,
        r.verify_failures
    );
    let _ = writeln!(
        md,
        "| op | count | hits | misses | p50 | p99 | p99.9 | max (µs) |"
    );
    let _ = writeln!(
        md,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (n, o) in NAMES.iter().zip(&r.per_op) {
        if o.hist.is_empty() {
            continue;
        }
        let h = &o.hist;
        let _ = writeln!(
            md,
            "| {n} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            h.len(),
            o.hits,
            o.misses,
            h.value_at_percentile(50.0) as f64 / 1e3,
            h.value_at_percentile(99.0) as f64 / 1e3,
            h.value_at_percentile(99.9) as f64 / 1e3,
            h.max() as f64 / 1e3
        );
        std::fs::write(dir.join(format!("{n}.hgrm")), crate::latency::hgrm(h))?;
    }
    if let Some(p) = &r.first_problem {
        let _ = writeln!(md, "\nFirst problem: `{p}`");
    }
    if let Some(w) = cfg.series {
        let pts: Vec<(f64, f64)> = r
            .windows
            .iter()
            .enumerate()
            .filter(|(_, x)| x[0] > 0)
            .map(|(i, x)| (((i + 1) * w) as f64, 1.0 - x[1] as f64 / x[0] as f64))
            .collect();
        report::plot::miss_ratio_curves(
            &dir.join("miss-ratio-over-time.svg"),
            &format!("{}: get miss ratio per {w} records", prov.workload),
            "records into the workload",
            &[report::plot::Series {
                name: cfg.server.clone(),
                group: cfg.server.clone(),
                line: 0,
                style: "live".to_string(),
                points: pts,
            }],
        )?;
        let _ = writeln!(
            md,
            "\nGet miss ratio per window of {w} records: `miss-ratio-over-time.svg`."
        );
    }
    std::fs::write(dir.join("summary.md"), md)
}
