//! Latency histograms: the one HDR histogram shape that replays and the load
//! generator record into, and its two renderings (HdrHistogram's
//! percentile-distribution text, and the JSON fields of `summary.json`).
//! Its own module so that the recorders (`replay`, `loadgen`) and the
//! writer (`report`) share it without depending on each other.

use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::fmt::Write as _;

const PERCENTILES: [(&str, f64); 5] = [
    ("p50", 50.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p99.9", 99.9),
    ("p99.99", 99.99),
];

/// HdrHistogram's percentile-distribution text, values in microseconds.
pub fn hgrm(h: &Histogram<u64>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    for v in h.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        let value = v.value_iterated_to() as f64 / 1000.0;
        let total = h.count_between(0, v.value_iterated_to());
        if q < 1.0 {
            let _ = writeln!(
                s,
                "{value:12.3} {q:14.12} {total:10} {:14.2}",
                1.0 / (1.0 - q)
            );
        } else {
            let _ = writeln!(s, "{value:12.3} {q:14.12} {total:10}");
        }
    }
    let _ = writeln!(
        s,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        h.mean() / 1000.0,
        h.stdev() / 1000.0
    );
    let _ = writeln!(
        s,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        h.max() as f64 / 1000.0,
        h.len()
    );
    // HdrHistogram's sub-bucket count: 2^ceil(log2(2 * 10^sigfig)).
    let sub = (2 * 10u64.pow(h.sigfig() as u32)).next_power_of_two();
    let _ = writeln!(
        s,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub
    );
    s
}

/// An empty latency histogram in nanoseconds (1 ns to 60 s, 3 digits).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid HDR bounds")
}

/// The percentiles, max, mean and count of `h`, as `summary.json` holds them.
pub fn latency_json(h: &Histogram<u64>) -> Value {
    let mut m = serde_json::Map::new();
    for (name, p) in PERCENTILES {
        m.insert(format!("{name}_ns"), json!(h.value_at_percentile(p)));
    }
    m.insert("max_ns".into(), json!(h.max()));
    m.insert("mean_ns".into(), json!(h.mean()));
    m.insert("count".into(), json!(h.len()));
    Value::Object(m)
}
