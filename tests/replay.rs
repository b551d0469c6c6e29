//! `hotset replay` end to end: it writes summary.json, summary.md and .hgrm
//! files with the fields the reports promise, and sampled LRU (K = 5 with the
//! pool) stays within 2% (relative) of exact LRU's miss ratio on a Zipf 0.99
//! workload at the same item count.

mod common;

use std::process::Command;

#[test]
fn replay_writes_reports_and_sampled_lru_tracks_exact_lru() {
    let dir = common::TempDir::new("replay");
    let spec = dir.join("z.toml");
    std::fs::write(
        &spec,
        "name = \"z\"\nops = 600000\nseed = 3\nkeys = 300000\n\
         distribution = { kind = \"zipf\", theta = 0.99, scrambled = true }\n\
         mix = { get = 0.9, set = 0.1, cache_aside = true }\n\
         key_size = { kind = \"fixed\", value = 16 }\nvalue_size = { kind = \"fixed\", value = 100 }\n",
    )
    .unwrap();
    let out = dir.join("report");
    let st = Command::new(env!("CARGO_BIN_EXE_hotset"))
        .args([
            "replay",
            "--workload",
            spec.to_str().unwrap(),
            "--policies",
            "lru,fifo",
            "--memory",
            "2MiB",
        ])
        .args([
            "--threads",
            "2",
            "--compare-exact",
            "lru,belady",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    for f in [
        "summary.json",
        "summary.md",
        "lru-2MiB-get.hgrm",
        "lru-2MiB-set.hgrm",
        "fifo-2MiB-get.hgrm",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let hgrm = std::fs::read_to_string(out.join("lru-2MiB-get.hgrm")).unwrap();
    assert!(
        hgrm.contains("Value")
            && hgrm.contains("Percentile")
            && hgrm.contains("TotalCount")
            && hgrm.contains("1/(1-Percentile)")
    );
    assert!(hgrm.contains("#[Mean    ="), "{hgrm}");
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("command:") && md.contains("commit:") && md.contains("machine:"));

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    let live = |p: &str| {
        rows.iter()
            .find(|r| r["kind"] == "live" && r["policy"] == p)
            .unwrap()
    };
    let exact = |p: &str| {
        rows.iter()
            .find(|r| r["kind"] == "exact" && r["policy"] == p)
            .unwrap()
    };
    for r in rows {
        for f in [
            "policy",
            "unit",
            "cache_size",
            "requests",
            "misses",
            "miss_ratio",
        ] {
            assert!(!r[f].is_null(), "{f} missing in {r}");
        }
    }
    let l = live("lru");
    for f in ["byte_miss_ratio", "ops_per_sec", "evictions", "expirations"] {
        assert!(!l[f].is_null(), "{f} missing");
    }
    for p in [
        "p50_ns",
        "p90_ns",
        "p99_ns",
        "p99.9_ns",
        "p99.99_ns",
        "max_ns",
    ] {
        assert!(l["latency"]["get"][p].as_u64().is_some(), "get {p} missing");
    }
    let sampled = l["miss_ratio"].as_f64().unwrap();
    let truth = exact("lru")["miss_ratio"].as_f64().unwrap();
    let opt = exact("belady")["miss_ratio"].as_f64().unwrap();
    assert!(
        (sampled - truth).abs() / truth <= 0.02,
        "sampled LRU {sampled:.4} vs exact LRU {truth:.4} (over 2% apart)"
    );
    assert!(opt < truth, "Bélády {opt} below LRU {truth}");
}

#[test]
fn simulate_writes_reports_with_a_miss_ratio_curve() {
    let Some(trace) = common::reference_trace() else {
        return;
    };
    let out = common::TempDir::new("sim");
    let st = Command::new(env!("CARGO_BIN_EXE_hotset"))
        .args([
            "simulate",
            "--trace",
            trace.to_str().unwrap(),
            "--sizes",
            "0.01,0.1",
            "--policies",
            "lru,belady",
        ])
        .args(["--out", out.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let lru = rows
        .iter()
        .find(|r| r["policy"] == "lru" && r["cache_size"] == 489)
        .unwrap();
    assert_eq!(lru["misses"], 95420, "the table's LRU count");
    assert_eq!(lru["unit"], "objects");
    for f in ["requests", "miss_ratio", "byte_miss_ratio"] {
        assert!(!lru[f].is_null(), "{f}");
    }
    assert!(std::fs::read_to_string(out.join("miss-ratio.svg"))
        .unwrap()
        .contains("belady"));
    assert!(std::fs::read_to_string(out.join("summary.md"))
        .unwrap()
        .contains("command:"));
}

/// The exact simulators admit every miss and know no deletes, so
/// `--compare-exact` refuses a workload that is not cache-aside, or that
/// deletes, before replaying anything, and says why.
#[test]
fn compare_exact_refuses_what_the_simulators_cannot_model() {
    let dir = common::TempDir::new("exact-refused");
    for (mix, needle) in [
        ("{ get = 0.9, set = 0.1 }", "cache-aside"),
        (
            "{ get = 0.8, set = 0.1, delete = 0.1, cache_aside = true }",
            "no deletes",
        ),
    ] {
        let spec = dir.spec(&format!(
            "name = \"x\"\nops = 2000\nseed = 1\nkeys = 100\ndistribution = {{ kind = \"uniform\" }}\n\
             mix = {mix}\nkey_size = {{ kind = \"fixed\", value = 16 }}\nvalue_size = {{ kind = \"fixed\", value = 10 }}\n"
        ));
        let o = Command::new(env!("CARGO_BIN_EXE_hotset"))
            .args(["replay", "--quiet", "--workload", spec.to_str().unwrap()])
            .args(["--memory", "1MiB", "--compare-exact", "lru"])
            .args(["--out", dir.join("r").to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{mix}: {err}");
        assert!(
            err.contains("--compare-exact") && err.contains(needle),
            "{mix}: {err}"
        );
        assert!(!dir.join("r").exists(), "nothing replayed");
    }
}
