#!/usr/bin/env bash
# The engine suite (benches/engine.rs): every workload, implementation and
# thread count in one criterion run, as a table of Mops/s with each
# implementation's ratio to quick_cache and its hit ratio over gets:
#
#   bash results/engine/suite.sh            # writes results/engine/suite.md
#
# HOTSET_BENCH_THREADS, HOTSET_BENCH_WORKLOADS and HOTSET_BENCH_IMPLS pass
# through (see benches/engine.rs); OUT=file writes elsewhere.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-results/engine/suite.md}
log=$(mktemp)
rm -rf target/criterion/engine_*
cargo bench --bench engine -- --noplot 2>&1 | tee "$log" | grep -E '^engine/|thrpt:|hit ratio' || true
commit=$(git rev-parse --short HEAD)
dirty=$(git status --porcelain --untracked-files=no | grep -q . && echo " (with uncommitted changes)" || true)
python3 - "$log" "$out" "$commit$dirty" <<'PY'
import json, pathlib, re, subprocess, sys
log, out, commit = sys.argv[1], sys.argv[2], sys.argv[3]
hits = {}
for line in open(log):
    m = re.match(r"hit ratio engine/(\w+)/([\w-]+)/(\d+): ([\d.]+)", line)
    if m:
        hits[(m[1], m[2], int(m[3]))] = float(m[4])
rows = {}
impls = []
for est in sorted(pathlib.Path("target/criterion").glob("engine_*/*/*/new/estimates.json")):
    wl = est.parts[-5].removeprefix("engine_")
    impl, t = est.parts[-4], int(est.parts[-3])
    ns = json.load(open(est))["mean"]["point_estimate"]
    bench = json.load(open(est.parent / "benchmark.json"))
    elems = bench["throughput"]["Elements"]
    rows.setdefault((wl, t), {})[impl] = elems / ns * 1e3  # Mops/s
    if impl not in impls:
        impls.append(impl)
order = ["hotset", "hotset-lru", "hotset-s3fifo", "hotset-sieve", "quick_cache", "moka"]
impls = [i for i in order if i in impls] + [i for i in impls if i not in order]
wls = ["zipf99", "hits", "get", "set", "evict"]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
ncpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
with open(out, "w") as f:
    f.write("# The engine suite\n\n")
    f.write(f"- command: `bash results/engine/suite.sh` (`cargo bench --bench engine`)\n")
    f.write(f"- commit: {commit}\n- machine: {ncpu} cores ({cpu})\n\n")
    f.write("Mops/s (mean of criterion's samples), then the ratio to quick_cache in the\n")
    f.write("same run, then the hit ratio over gets where the workload has gets.\n\n")
    f.write("| workload | threads | " + " | ".join(impls) + " |\n")
    f.write("| --- | ---: |" + " ---: |" * len(impls) + "\n")
    for wl in wls:
        for t in sorted(t for (w, t) in rows if w == wl):
            r = rows[(wl, t)]
            qc = r.get("quick_cache")
            cells = []
            for i in impls:
                if i not in r:
                    cells.append("")
                    continue
                c = f"{r[i]:.2f}"
                if qc:
                    c += f" ({r[i] / qc:.2f}x)"
                if (wl, i, t) in hits:
                    c += f" h={hits[(wl, i, t)]:.3f}"
                cells.append(c)
            f.write(f"| {wl} | {t} | " + " | ".join(cells) + " |\n")
    # Scaling from 1 to 2 threads (and on), per implementation.
    ts = sorted({t for (_, t) in rows})
    if len(ts) > 1:
        f.write(f"\nScaling: throughput at each thread count over {ts[0]} thread(s).\n\n")
        f.write("| workload | threads | " + " | ".join(impls) + " |\n")
        f.write("| --- | ---: |" + " ---: |" * len(impls) + "\n")
        for wl in wls:
            base = rows.get((wl, ts[0]))
            if not base:
                continue
            for t in ts[1:]:
                r = rows.get((wl, t), {})
                f.write(f"| {wl} | {t} | " + " | ".join(
                    f"{r[i] / base[i]:.2f}x" if i in r and i in base else "" for i in impls) + " |\n")
print(open(out).read())
PY
