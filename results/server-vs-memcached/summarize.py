"""Writes summary.md from the loadgen and memaslap runs of run.sh."""
import json
import os
import re
import statistics
import subprocess
import sys

here, rounds, duration = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = os.path.join(here, "runs")


def load(case, server, r):
    with open(os.path.join(runs, case, f"{server}-{r}", "summary.json")) as f:
        j = json.load(f)
    row = j["rows"][0]
    lat = row["latency"]
    # All ops pooled for the percentiles would need the histograms; report
    # the get latency (the 90% or 50% op) and the set latency separately.
    return j, row, lat


def med(xs):
    return statistics.median(xs) if xs else float("nan")


cases = sorted(d for d in os.listdir(runs) if d not in ("warmup", "memaslap"))
order = ["50conns-90-10-100B", "pipeline16-90-10-100B", "50conns-50-50-100B", "50conns-90-10-4KiB"]
cases = [c for c in order if c in cases] + [c for c in cases if c not in order]
machine = commit = ""
lines = []
raw = []
for case in cases:
    per = {}
    for server in ("memcached", "hotset"):
        ops, p50, p99, p999, errs = [], [], [], [], 0
        for r in range(1, rounds + 1):
            j, row, lat = load(case, server, r)
            machine, commit = j["machine"], j["commit"]
            g = lat["get"]
            ops.append(row["ops_per_sec"])
            p50.append(g["p50_ns"] / 1e3)
            p99.append(g["p99_ns"] / 1e3)
            p999.append(g["p99.9_ns"] / 1e3)
            errs += row["errors"] + row["verify_failures"]
            raw.append(f"| {case} | {server} | {r} | {row['ops_per_sec']:.0f} | {g['p50_ns']/1e3:.0f} | {g['p99_ns']/1e3:.0f} | {g['p99.9_ns']/1e3:.0f} | {row['errors']} | {row['verify_failures']} |")
        per[server] = (med(ops), med(p50), med(p99), med(p999), errs)
    m, h = per["memcached"], per["hotset"]
    lines.append(
        f"| {case} | {m[0]:.0f} | {h[0]:.0f} | **{h[0]/m[0]:.2f}×** | {m[1]:.0f} / {h[1]:.0f} ({h[1]/m[1]:.2f}) "
        f"| {m[2]:.0f} / {h[2]:.0f} ({h[2]/m[2]:.2f}) | {m[3]:.0f} / {h[3]:.0f} ({h[3]/m[3]:.2f}) | {m[4]} / {h[4]} |"
    )

mem = []
mdir = os.path.join(runs, "memaslap")
if os.path.isdir(mdir):
    tps = {"memcached": [], "hotset": []}
    for server in tps:
        for r in range(1, rounds + 1):
            try:
                text = open(os.path.join(mdir, f"{server}-{r}.txt")).read()
            except OSError:
                continue
            m = re.findall(r"TPS: (\d+)", text)
            if m:
                tps[server].append(int(m[-1]))
    if tps["memcached"] and tps["hotset"]:
        a, b = med(tps["memcached"]), med(tps["hotset"])
        mem.append(f"| memaslap, 50 conns, 90/10, 100 B | {a:.0f} | {b:.0f} | **{b/a:.2f}×** | rounds: memcached {tps['memcached']}, hotset {tps['hotset']} |")

try:
    mcv = subprocess.run(["memcached", "-V"], capture_output=True, text=True).stdout.strip()
except OSError:
    mcv = "memcached (version unknown)"

out = [
    "# hotset against memcached, over the wire",
    "",
    f"- command: `bash results/server-vs-memcached/run.sh` (ROUNDS={rounds}, DURATION={duration} s per run)",
    f"- commit: {commit}",
    f"- machine: {machine}; the load generator runs on the same cores as the server",
    f"- peers: {mcv} with `-t 2 -m 64`; hotset with `--memory 64MiB` (default policy and threads)",
    "- load: `hotset loadgen`, 2 threads, closed loop, every value verified; A/B/A/B rounds, medians shown",
    "",
    "Ratios are hotset / memcached: above 1 is better for ops/s, below 1 is better for latency.",
    "Latency is the get latency in µs (median over rounds of each run's percentile).",
    "",
    "| case | memcached ops/s | hotset ops/s | ops/s ratio | p50 mc / hs (ratio) | p99 mc / hs (ratio) | p99.9 mc / hs (ratio) | errors mc / hs |",
    "| --- | ---: | ---: | ---: | --- | --- | --- | --- |",
    *lines,
    "",
]
if mem:
    out += [
        "## Independent load generator (libmemcached's memaslap)",
        "",
        "| case | memcached TPS | hotset TPS | ratio | |",
        "| --- | ---: | ---: | ---: | --- |",
        *mem,
        "",
    ]
out += [
    "## Every run",
    "",
    "| case | server | round | ops/s | get p50 | get p99 | get p99.9 (µs) | errors | verify failures |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    *raw,
    "",
]
with open(os.path.join(here, "summary.md"), "w") as f:
    f.write("\n".join(out))
