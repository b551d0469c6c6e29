//! `hotset mrc` on the reference trace: the exact curve's counts are
//! libCacheSim's LRU counts, the report has the simulate layout, and bad
//! flags are clear errors. KRR's curve of sampled LRU is within 0.01 mean
//! absolute error of the `sampled-lru` simulator at K = 1, 5 and 16, on a
//! Zipf 0.99 trace and on cloudPhysicsIO, and closer to it than LRU's.

mod common;

use common::reference_trace as reference;
use std::process::Command;

fn mrc(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hotset"))
        .arg("mrc")
        .args(args)
        .output()
        .expect("hotset runs")
}

#[test]
fn exact_curve_gives_libcachesim_lru_counts_and_a_report() {
    let Some(trace) = reference() else { return };
    let out = common::TempDir::new("mrc");
    let o = mrc(&[
        "--trace",
        trace.to_str().unwrap(),
        "--sizes",
        "489,2448,4897,9794",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let js: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let rows = js["rows"].as_array().unwrap();
    let misses: Vec<u64> = rows.iter().map(|r| r["misses"].as_u64().unwrap()).collect();
    // The package's LRU counts (../shared/traces/README.md).
    assert_eq!(misses, [95420, 93897, 91657, 82547]);
    for r in rows {
        assert_eq!(r["policy"], "lru");
        assert_eq!(r["unit"], "objects");
        assert_eq!(r["kind"], "exact");
        assert_eq!(r["sampling_rate"], 1.0);
    }
    assert!(out.join("mrc.svg").exists());
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        md.contains("Method: exact; sampling rate 1; sizes in objects."),
        "{md}"
    );
    // A sampled curve with --compare carries both, and its error.
    let o = mrc(&[
        "--trace",
        trace.to_str().unwrap(),
        "--method",
        "shards",
        "--rate",
        "0.1",
        "--points",
        "20",
        "--compare",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("mean absolute error of lru (shards, rate 0.1)"),
        "{stdout}"
    );
    let js: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let kinds: Vec<&str> = js["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "shards").count(), 20);
    assert_eq!(kinds.iter().filter(|k| **k == "exact").count(), 20);
}

#[test]
fn bad_flags_are_errors() {
    let missing = mrc(&["--trace", "/nonexistent/trace.oracleGeneral.bin"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent"));
    let Some(trace) = reference() else { return };
    for (flag, value) in [
        ("--rate", "0"),
        ("--rate", "1.5"),
        ("--points", "0"),
        ("--max-objects", "0"),
        ("--samples", "0"),
        ("--samples", "65"),
        ("--pool", "1025"),
    ] {
        let o = mrc(&["--trace", trace.to_str().unwrap(), flag, value]);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(flag),
            "{flag} {value}"
        );
    }
}

/// Mean absolute error of KRR against the simulator (and of exact LRU's
/// curve against it) at 12 sizes from 1% to 60% of the working set.
fn krr_errors(trace: &[hotset::policy::Req], k: usize) -> (f64, f64) {
    use hotset::policy::{simulate_with, working_set, Exact, Params, Unit};
    let objects = working_set(trace, Unit::Objects);
    let curve = hotset::mrc::krr(trace, k, 7);
    let lru = hotset::mrc::exact_lru(trace, Unit::Objects);
    let params = Params {
        samples: k,
        pool: 0,
        ..Params::default()
    };
    let (mut krr, mut exact, mut sim) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..12 {
        let c = ((objects as f64 * 0.01 * 60f64.powf(i as f64 / 11.0)) as u64).max(1);
        krr.push(curve.miss_ratio(c));
        exact.push(lru.miss_ratio(c));
        sim.push(simulate_with(Exact::SampledLru, &params, c, Unit::Objects, trace).miss_ratio());
    }
    (
        hotset::mrc::mean_abs_error(&krr, &sim),
        hotset::mrc::mean_abs_error(&exact, &sim),
    )
}

#[test]
fn krr_follows_the_sampled_lru_simulator() {
    use hotset::policy::Req;
    let spec = hotset::workload::spec::Spec::parse(
        "name = \"z\"\nops = 200000\nseed = 3\nkeys = 100000\n\
         distribution = { kind = \"zipf\", theta = 0.99, scrambled = true }\n\
         mix = { get = 1.0, set = 0.0 }\nkey_size = { kind = \"fixed\", value = 16 }\n\
         value_size = { kind = \"fixed\", value = 100 }\n",
    )
    .unwrap();
    let zipf: Vec<Req> = hotset::workload::gen::generate(&spec)
        .iter()
        .map(|r| Req {
            id: r.key,
            size: 1,
            next: -1,
        })
        .collect();
    let mut traces = vec![("zipf-0.99", zipf)];
    if let Some(path) = reference() {
        traces.push((
            "cloudPhysicsIO",
            hotset::workload::trace::read_oracle_general(&path).unwrap(),
        ));
    }
    for (name, t) in &traces {
        for k in [1, 5, 16] {
            let (krr, lru) = krr_errors(t, k);
            eprintln!("{name} K={k}: KRR {krr:.5}, exact LRU {lru:.5}");
            assert!(krr < 0.01, "{name} K={k}: KRR's MAE {krr}");
            if k == 1 {
                // Random eviction is far from LRU: KRR must model it.
                assert!(krr * 3.0 < lru, "{name}: KRR {krr} against LRU's {lru}");
            }
        }
    }
}
