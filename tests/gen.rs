//! Workload specs and the generator: every shipped spec loads, bad specs get
//! clear errors, and the output is byte-identical across thread counts.

mod common;

use hotset::workload::gen::{generate, write_native};
use hotset::workload::spec::Spec;
use hotset::workload::trace::{parse_native, Op};
use std::path::Path;

fn shipped() -> Vec<(String, Spec)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            (
                p.display().to_string(),
                Spec::load(&p).unwrap_or_else(|e| panic!("{e}")),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn bytes(spec: &Spec, threads: usize) -> Vec<u8> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let recs = pool.install(|| generate(spec));
    let mut out = Vec::new();
    write_native(&mut out, &recs).unwrap();
    out
}

#[test]
fn shipped_specs_load() {
    let names: Vec<String> = shipped().into_iter().map(|(_, s)| s.name).collect();
    for want in [
        "zipf-0.99",
        "zipf-0.8",
        "uniform",
        "shifting-hotset",
        "ttl-heavy",
        "size-shift",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
}

#[test]
fn output_is_identical_on_one_or_two_threads() {
    for (path, mut spec) in shipped() {
        spec.ops = spec.ops.min(300_000);
        let one = bytes(&spec, 1);
        let two = bytes(&spec, 2);
        assert_eq!(one.len(), 8 + 18 * spec.ops as usize, "{path}");
        assert!(one == two, "{path}: 1 and 2 threads differ");
        let recs = parse_native(&one[..]).unwrap();
        assert!(recs.iter().all(|r| r.key < spec.keys), "{path}");
        let gets = recs.iter().filter(|r| r.op == Op::Get).count() as f64 / recs.len() as f64;
        let want = spec.mix.get / (spec.mix.get + spec.mix.set + spec.mix.delete);
        assert!(
            (gets - want).abs() < 0.01,
            "{path}: get fraction {gets} vs {want}"
        );
    }
}

#[test]
fn the_seed_changes_the_trace_and_phases_apply() {
    let (_, spec) = shipped()
        .into_iter()
        .find(|(_, s)| s.name == "size-shift")
        .unwrap();
    let mut s = spec.clone();
    s.ops = 100_000;
    let recs = generate(&s);
    assert!(recs[..50_000].iter().all(|r| r.value_size == 100));
    assert!(recs[50_000..].iter().all(|r| r.value_size == 4000));
    let mut other = s.clone();
    other.seed += 1;
    assert_ne!(generate(&other), recs);
}

/// Uniform keys cover the key space as independent draws do: 600,000 draws
/// over 100,000 keys leave about 100,000·(1 − e^−6) ≈ 99,752 distinct. The
/// draws come from one random stream per chunk of ops, so this fails if
/// the chunks' streams overlap (a chunk repeating another's keys).
#[test]
fn uniform_keys_are_independent_draws() {
    let spec = Spec::parse(
        r#"
name = "t"
ops = 600_000
seed = 1
keys = 100_000
distribution = { kind = "uniform" }
mix = { get = 1.0, set = 0.0 }
key_size = { kind = "fixed", value = 16 }
value_size = { kind = "fixed", value = 100 }
"#,
    )
    .unwrap();
    let recs = generate(&spec);
    let distinct = recs
        .iter()
        .map(|r| r.key)
        .collect::<std::collections::HashSet<_>>()
        .len() as f64;
    let want = 100_000.0 * (1.0 - (-6.0f64).exp());
    assert!(
        (distinct - want).abs() < 0.005 * want,
        "{distinct} distinct keys, {want:.0} expected"
    );
}

#[test]
fn bad_specs_are_refused_with_a_reason() {
    let base = r#"
name = "t"
ops = 10
seed = 1
keys = 10
distribution = { kind = "uniform" }
mix = { get = 1.0, set = 0.0 }
key_size = { kind = "fixed", value = 16 }
value_size = { kind = "fixed", value = 100 }
"#;
    assert!(Spec::parse(base).is_ok());
    for (change, needle) in [
        (
            ("kind = \"uniform\"", "kind = \"zipf\", theta = 1.5"),
            "theta",
        ),
        (("get = 1.0, set = 0.0", "get = 0.0, set = 0.0"), "weights"),
        (("get = 1.0", "get = -1.0"), "non-negative"),
        (("value = 16", "value = 300"), "key_size"),
        (("keys = 10", "keys = 0"), "positive"),
        (("seed = 1", "seed = 1\ncolour = 3"), "unknown field"),
        (("kind = \"uniform\"", "kind = \"pareto\""), "pareto"),
    ] {
        let text = base.replacen(change.0, change.1, 1);
        let e = Spec::parse(&text).expect_err(change.1).to_string();
        assert!(e.contains(needle), "{}: {e}", change.1);
    }
}

#[test]
fn hotset_gen_cli_is_identical_across_thread_counts() {
    let dir = common::TempDir::new("gen");
    let spec = dir.join("w.toml");
    std::fs::write(
        &spec,
        "name = \"cli\"\nops = 200000\nseed = 9\nkeys = 50000\ndistribution = { kind = \"zipf\", theta = 0.99 }\n\
         mix = { get = 0.9, set = 0.1 }\nkey_size = { kind = \"fixed\", value = 16 }\nvalue_size = { kind = \"uniform\", min = 10, max = 500 }\n",
    )
    .unwrap();
    let mut outs = Vec::new();
    for t in ["1", "2"] {
        let out = dir.join(format!("t{t}.hst"));
        let st = std::process::Command::new(env!("CARGO_BIN_EXE_hotset"))
            .args([
                "gen",
                "--workload",
                spec.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--threads",
                t,
            ])
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        outs.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(outs[0].len(), 8 + 18 * 200_000);
    assert!(
        outs[0] == outs[1],
        "gen output differs between 1 and 2 threads"
    );
    // The trace feeds the simulators.
    let sim = std::process::Command::new(env!("CARGO_BIN_EXE_hotset"))
        .args([
            "simulate",
            "--trace",
            dir.join("t1.hst").to_str().unwrap(),
            "--sizes",
            "0.1",
            "--policies",
            "lru,belady",
        ])
        .output()
        .unwrap();
    assert!(
        sim.status.success(),
        "{}",
        String::from_utf8_lossy(&sim.stderr)
    );
    assert!(String::from_utf8_lossy(&sim.stdout).contains("belady"));
    // A bad spec is a clear error.
    std::fs::write(&spec, "name = 1").unwrap();
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_hotset"))
        .args([
            "gen",
            "--workload",
            spec.to_str().unwrap(),
            "--out",
            dir.join("x").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(!bad.stderr.is_empty());
}
