//! libCacheSim's trace formats: lcs (v1 to v8) and vscsi.
//!
//! - the same trace as oracleGeneral, as lcs of every version (plain and
//!   zstd) and as `hotset gen --lcs` writes it gives identical counts for
//!   every simulator, in objects and in bytes;
//! - the pinned `libcachesim` package reads hotset's lcs and vscsi files and
//!   its counts equal hotset's (skipped loudly without the package, failed
//!   with `CI=true`);
//! - lcs is known by its magic whatever the file's name, and bad files get
//!   errors naming the file and the offset.

mod common;

use common::TempDir;
use hotset::policy::{simulate, Exact, Req, Unit};
use hotset::rng::SplitMix64;
use hotset::workload::lcs::{write_lcs, LcsReq};
use hotset::workload::trace::{compute_next, read, write_oracle_general, Format, Op};
use hotset::workload::vscsi::{write_vscsi, Io};
use hotset::workload::Zipf;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A Zipf trace with variable sizes, ops and TTLs.
fn trace(seed: u64, n: usize) -> Vec<LcsReq> {
    let mut rng = SplitMix64::new(seed);
    let zipf = Zipf::new(800, 0.9);
    let mut t: Vec<Req> = (0..n)
        .map(|_| {
            let id = zipf.sample(rng.unit()) + 1;
            Req {
                id,
                size: 1 + (id * 37) % 4000,
                next: 0,
            }
        })
        .collect();
    compute_next(&mut t);
    t.iter()
        .enumerate()
        .map(|(i, r)| LcsReq {
            time: i as u32 / 10,
            id: r.id,
            size: r.size,
            op: [1, 1, 1, 3, 9, 2, 13][i % 7],
            tenant: (i % 5) as u32,
            ttl: [0, 30, 600][i % 3],
            next: r.next,
        })
        .collect()
}

fn counts(path: &Path, format: Format) -> Vec<(Exact, Unit, u64, u64)> {
    let t = read(path, format).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    for unit in [Unit::Objects, Unit::Bytes] {
        let cap = match unit {
            Unit::Objects => 120,
            Unit::Bytes => 300_000,
        };
        for p in Exact::ALL {
            let c = simulate(p, cap, unit, &t);
            out.push((p, unit, c.misses, c.miss_bytes));
        }
    }
    out
}

fn as_reqs(t: &[LcsReq]) -> Vec<Req> {
    t.iter()
        .map(|r| Req {
            id: r.id,
            size: r.size,
            next: r.next,
        })
        .collect()
}

#[test]
fn lcs_of_every_version_counts_as_oracle_general() {
    let dir = TempDir::new("formats");
    let t = trace(1, 20_000);
    let og = dir.join("t.oracleGeneral.bin");
    let mut buf = Vec::new();
    write_oracle_general(&as_reqs(&t), &mut buf).unwrap();
    std::fs::write(&og, buf).unwrap();
    let want = counts(&og, Format::OracleGeneral);
    for version in 1..=8 {
        // A misleading name: lcs is known by its magic.
        let path = dir.join(format!("v{version}.bin"));
        let mut buf = Vec::new();
        write_lcs(version, &t, &mut buf).unwrap();
        std::fs::write(&path, &buf).unwrap();
        assert_eq!(Format::guess(&path), Format::Lcs);
        assert_eq!(counts(&path, Format::Lcs), want, "lcs v{version}");
        let zst = dir.join(format!("v{version}.lcs.zst"));
        std::fs::write(&zst, zstd::encode_all(&buf[..], 3).unwrap()).unwrap();
        assert_eq!(Format::guess(&zst), Format::Lcs);
        assert_eq!(counts(&zst, Format::Lcs), want, "lcs v{version} .zst");
    }
}

#[test]
fn lcs_errors_name_the_file_and_the_offset() {
    let dir = TempDir::new("formats-bad");
    let mut good = Vec::new();
    write_lcs(2, &trace(2, 100), &mut good).unwrap();
    let path = dir.join("bad.lcs");
    let err = |b: &[u8]| {
        std::fs::write(&path, b).unwrap();
        read(&path, Format::Lcs).unwrap_err().to_string()
    };
    let e = err(&good[..good.len() - 3]);
    assert!(
        e.contains("bad.lcs") && e.contains("truncated") && e.contains("offset 10964"),
        "{e}"
    );
    let mut b = good.clone();
    b[8] = 12;
    let e = err(&b);
    assert!(
        e.contains("bad.lcs") && e.contains("unknown version 12") && e.contains("offset 8"),
        "{e}"
    );
    let e = err(&good[..4000]);
    assert!(e.contains("header") && e.contains("offset 0"), "{e}");
    // An oracleGeneral file read as lcs is refused by its magic.
    let mut og = Vec::new();
    write_oracle_general(&as_reqs(&trace(2, 400)), &mut og).unwrap();
    assert!(err(&og).contains("start magic"));
}

/// A Python with the pinned package, or `None` outside CI.
fn package() -> Option<(PathBuf, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = match std::env::var_os("HOTSET_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => root.join("target/pyenv/bin/python"),
    };
    let script = root.join("tests/oracle/lcs.py");
    let ok = Command::new(&python)
        .arg(&script)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0.3.5");
    if !ok {
        common::skip_unless_ci(
            "the package's lcs and vscsi readers",
            &format!(
                "no libcachesim==0.3.5 at {} (HOTSET_PYTHON overrides)",
                python.display()
            ),
        );
        return None;
    }
    Some((python, script))
}

/// The package's (misses, miss bytes) on `trace` (`lcs:PATH`, `vscsi:PATH`).
fn theirs(py: &(PathBuf, PathBuf), trace: &str, unit: Unit, runs: &[(Exact, u64)]) -> Vec<String> {
    let mut cmd = Command::new(&py.0);
    cmd.arg(&py.1).arg(trace).arg(unit.name());
    for (p, c) in runs {
        cmd.arg(format!("{}={c}", p.name()));
    }
    common::stdout_lines(&mut cmd)
}

const COMPARED: [Exact; 6] = [
    Exact::Lru,
    Exact::Fifo,
    Exact::S3Fifo,
    Exact::Arc,
    Exact::WTinyLfu,
    Exact::Belady,
];

fn compare(py: &(PathBuf, PathBuf), kind: &str, path: &Path, format: Format) {
    let t = read(path, format).unwrap_or_else(|e| panic!("{e}"));
    for (unit, cap) in [(Unit::Objects, 150), (Unit::Bytes, 200_000)] {
        // The package's vscsi reader leaves next-access times unset, so its
        // Bélády has no future to see; hotset computes them.
        let runs: Vec<(Exact, u64)> = COMPARED
            .iter()
            .filter(|&&p| !(p == Exact::Belady && format == Format::Vscsi))
            .map(|&p| (p, cap))
            .collect();
        let got = theirs(py, &format!("{kind}:{}", path.display()), unit, &runs);
        for ((p, c), line) in runs.iter().zip(&got) {
            let ours = simulate(*p, *c, unit, &t);
            // In objects mode the package counts every missed byte as 1.
            let bytes = match unit {
                Unit::Objects => ours.misses,
                Unit::Bytes => ours.miss_bytes,
            };
            assert_eq!(
                line,
                &format!("{p} {c} {} {bytes}", ours.misses),
                "{kind} {} {unit:?}",
                path.display()
            );
        }
        assert_eq!(got.len(), runs.len());
    }
}

#[test]
fn the_package_reads_hotsets_lcs_and_vscsi_alike() {
    let Some(py) = package() else { return };
    let dir = TempDir::new("formats-package");
    let t = trace(3, 8_000);
    for version in 1..=8 {
        let path = dir.join(format!("t{version}.lcs"));
        let mut buf = Vec::new();
        write_lcs(version, &t, &mut buf).unwrap();
        std::fs::write(&path, buf).unwrap();
        compare(&py, "lcs", &path, Format::Lcs);
    }
    let ios: Vec<Io> = t
        .iter()
        .map(|r| Io {
            time: r.time,
            lbn: r.id * 8,
            len: 512 * (1 + (r.size as u32 % 16)),
            op: if r.op == 3 { Op::Set } else { Op::Get },
        })
        .collect();
    for version in [1, 2] {
        let path = dir.join(format!("t{version}.vscsi"));
        let mut buf = Vec::new();
        write_vscsi(version, &ios, &mut buf).unwrap();
        std::fs::write(&path, buf).unwrap();
        assert_eq!(Format::guess(&path), Format::Vscsi);
        compare(&py, "vscsi", &path, Format::Vscsi);
    }
}

#[test]
fn hotset_gen_writes_lcs_that_counts_as_its_oracle_general() {
    let dir = TempDir::new("formats-gen");
    let spec = dir.join("w.toml");
    std::fs::write(
        &spec,
        "name = \"lcs\"\nops = 30000\nseed = 4\nkeys = 3000\ndistribution = { kind = \"zipf\", theta = 0.9 }\n\
         mix = { get = 0.7, set = 0.25, delete = 0.05 }\nkey_size = { kind = \"fixed\", value = 16 }\n\
         value_size = { kind = \"uniform\", min = 10, max = 5000 }\nttl = [[0, 0.5], [30, 0.5]]\n",
    )
    .unwrap();
    let (og, lcs) = (dir.join("t.og"), dir.join("t.lcs.zst"));
    let out = Command::new(env!("CARGO_BIN_EXE_hotset"))
        .args(["gen", "--quiet", "--workload"])
        .arg(&spec)
        .arg("--out")
        .arg(dir.join("t.hst"))
        .arg("--oracle-general")
        .arg(&og)
        .arg("--lcs")
        .arg(&lcs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        counts(&lcs, Format::guess(&lcs)),
        counts(&og, Format::OracleGeneral)
    );
    // Its ops and TTLs are carried: a replay loads them.
    let recs = hotset::workload::trace::load_records(&lcs).unwrap();
    let native = hotset::workload::trace::load_records(&dir.join("t.hst")).unwrap();
    assert_eq!(recs.len(), native.len());
    for (a, b) in recs.iter().zip(&native) {
        assert_eq!((a.key, a.op, a.ttl), (b.key, b.op, b.ttl));
    }
    // Its TTLs simulate; oracleGeneral has none to.
    let ttl = Command::new(env!("CARGO_BIN_EXE_hotset"))
        .args([
            "simulate",
            "--use-ttl",
            "--policies",
            "lru,s3fifo",
            "--quiet",
            "--trace",
        ])
        .arg(&lcs)
        .output()
        .unwrap();
    assert!(
        ttl.status.success(),
        "{}",
        String::from_utf8_lossy(&ttl.stderr)
    );
    assert!(String::from_utf8_lossy(&ttl.stdout).contains("exact+ttl"));
    let no_ttl = Command::new(env!("CARGO_BIN_EXE_hotset"))
        .args(["simulate", "--use-ttl", "--trace"])
        .arg(&og)
        .output()
        .unwrap();
    assert_eq!(no_ttl.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_ttl.stderr).contains("carry no TTLs"));
    let bad = Command::new(env!("CARGO_BIN_EXE_hotset"))
        .args(["simulate", "--format", "lcs", "--trace"])
        .arg(&og)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(
        e.contains("t.og") && e.contains("start magic") && e.contains("offset 0"),
        "{e}"
    );
}
