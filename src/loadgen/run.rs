//! A whole run: records generated, the keys prefilled, threads started,
//! and their results merged.

use super::connection::{Conn, Connector};
use super::worker::{new_worker, Worker};
use super::{LoadConfig, LoadReport, OpResult, MAX_RECORDS};
use crate::workload::trace::{Op, Record};
use std::time::{Duration, Instant};

/// Runs the load and returns what it measured.
pub fn run(cfg: &LoadConfig) -> Result<LoadReport, String> {
    if cfg.conns == 0 || cfg.threads == 0 || cfg.pipeline == 0 {
        return Err("--conns, --threads and --pipeline must be at least 1".into());
    }
    if cfg.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err("--rate must be a positive number of requests per second".into());
    }
    let threads = cfg.threads.min(cfg.conns);
    let mut spec = cfg.spec.clone();
    spec.ops = spec.ops.min(MAX_RECORDS);
    let records = crate::workload::gen::generate(&spec);
    if records.is_empty() {
        return Err("the workload has no operations".into());
    }
    let to = &Connector::new(cfg)?;
    if cfg.prefill {
        let (errors, first) = prefill(to, &records, threads)?;
        if errors > 0 {
            eprintln!(
                "hotset loadgen: prefill: {errors} stores refused, first: {}",
                first.unwrap_or_default()
            );
        }
    }
    let interval = cfg
        .rate
        .map(|r| Duration::from_secs_f64(threads as f64 / r));
    let start = Instant::now();
    let end = start + cfg.duration;
    let workers: Vec<Result<Worker, String>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let records = &records;
                s.spawn(move || {
                    let mine = (t..cfg.conns).step_by(threads);
                    let conns = mine
                        .map(|c| match cfg.once {
                            true => Conn::open(to, c, cfg.conns),
                            false => Conn::open(to, c * records.len() / cfg.conns, 1),
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let mut w = new_worker(conns);
                    w.once = cfg.once;
                    w.cache_aside = cfg.spec.mix.cache_aside;
                    w.series = cfg.series.filter(|&n| n > 0);
                    w.drive(records, cfg.pipeline, interval, end, true, None)?;
                    Ok(w)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a load thread panicked".into()))
            })
            .collect()
    });
    // A single pass may end early; its rate is over the time it took.
    let secs = match cfg.once {
        true => start.elapsed().min(cfg.duration).as_secs_f64(),
        false => cfg.duration.as_secs_f64(),
    };
    let mut total = LoadReport {
        ops: 0,
        secs,
        per_op: [OpResult::new(), OpResult::new(), OpResult::new()],
        errors: 0,
        verify_failures: 0,
        first_problem: None,
        windows: Vec::new(),
    };
    for w in workers {
        let w = w?;
        total.ops += w.ops;
        total.errors += w.errors;
        total.verify_failures += w.verify_failures;
        if total.first_problem.is_none() {
            total.first_problem = w.first_problem;
        }
        if total.windows.len() < w.windows.len() {
            total.windows.resize(w.windows.len(), [0, 0]);
        }
        for (a, b) in total.windows.iter_mut().zip(&w.windows) {
            a[0] += b[0];
            a[1] += b[1];
        }
        for (a, b) in total.per_op.iter_mut().zip(&w.per_op) {
            a.hist
                .add(&b.hist)
                .map_err(|e| format!("merging histograms: {e}"))?;
            a.hits += b.hits;
            a.misses += b.misses;
        }
    }
    Ok(total)
}

/// Stores every key of `records` once (first occurrence's sizes), in
/// parallel, unmeasured. Error replies (a full server may refuse a store)
/// do not stop it: they are counted, and the first is kept. A broken
/// connection or a wrong value does.
fn prefill(
    to: &Connector,
    records: &[Record],
    threads: usize,
) -> Result<(u64, Option<String>), String> {
    let mut seen = std::collections::HashSet::new();
    let sets: Vec<Record> = records
        .iter()
        .filter(|r| seen.insert(r.key))
        .map(|r| Record {
            op: Op::Set,
            ttl: 0,
            ..*r
        })
        .collect();
    let chunk = sets.len().div_ceil(threads);
    std::thread::scope(|s| {
        let hs: Vec<_> = sets
            .chunks(chunk.max(1))
            .map(|part| {
                s.spawn(move || -> Result<(u64, Option<String>), String> {
                    let mut w = new_worker(vec![Conn::open(to, 0, 1)?]);
                    let far = Instant::now() + Duration::from_secs(3600);
                    w.drive(part, 64, None, far, false, Some(part.len()))?;
                    if w.verify_failures > 0 {
                        return Err(format!("prefill: {}", w.first_problem.unwrap_or_default()));
                    }
                    Ok((w.errors, w.first_problem))
                })
            })
            .collect();
        hs.into_iter().try_fold((0, None), |(n, first), h| {
            let (e, p) = h
                .join()
                .unwrap_or_else(|_| Err("a prefill thread panicked".into()))?;
            Ok((n + e, first.or(p)))
        })
    })
}
