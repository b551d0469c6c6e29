//! `hotset mrc` on the reference trace: the exact curve's counts are
//! libCacheSim's LRU counts, the report has the simulate layout, and bad
//! flags are clear errors.

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
    ] {
        let o = mrc(&["--trace", trace.to_str().unwrap(), flag, value]);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(flag),
            "{flag} {value}"
        );
    }
}
