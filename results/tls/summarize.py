"""Writes summary.md from the loadgen runs of run.sh."""
import json
import os
import statistics
import subprocess
import sys

here, rounds, duration = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = os.path.join(here, "runs")
order = [
    "tls-50conns-90-10-100B",
    "tls-pipeline16-90-10-100B",
    "tls-50conns-90-10-4KiB",
    "plain-50conns-90-10-100B",
]


def med(xs):
    return statistics.median(xs) if xs else float("nan")


machine = commit = ""
lines, raw = [], []
for case in [c for c in order if os.path.isdir(os.path.join(runs, c))]:
    per = {}
    for server in ("memcached", "hotset"):
        ops, p50, p99, p999, errs = [], [], [], [], 0
        for r in range(1, rounds + 1):
            with open(os.path.join(runs, case, f"{server}-{r}", "summary.json")) as f:
                j = json.load(f)
            machine, commit = j["machine"], j["commit"]
            row = j["rows"][0]
            g = row["latency"]["get"]
            ops.append(row["ops_per_sec"])
            p50.append(g["p50_ns"] / 1e3)
            p99.append(g["p99_ns"] / 1e3)
            p999.append(g["p99.9_ns"] / 1e3)
            errs += row["errors"] + row["verify_failures"]
            raw.append(
                f"| {case} | {server} | {r} | {row['ops_per_sec']:.0f} | {g['p50_ns']/1e3:.0f} "
                f"| {g['p99_ns']/1e3:.0f} | {g['p99.9_ns']/1e3:.0f} | {row['errors']} | {row['verify_failures']} |"
            )
        per[server] = (med(ops), med(p50), med(p99), med(p999), errs)
    m, h = per["memcached"], per["hotset"]
    lines.append(
        f"| {case} | {m[0]:.0f} | {h[0]:.0f} | **{h[0]/m[0]:.2f}×** | {m[1]:.0f} / {h[1]:.0f} ({h[1]/m[1]:.2f}) "
        f"| {m[2]:.0f} / {h[2]:.0f} ({h[2]/m[2]:.2f}) | {m[3]:.0f} / {h[3]:.0f} ({h[3]/m[3]:.2f}) | {m[4]} / {h[4]} |"
    )

try:
    mcv = subprocess.run(["memcached", "-V"], capture_output=True, text=True).stdout.strip()
except OSError:
    mcv = "memcached (version unknown)"
out = [
    "# hotset -Z against memcached -Z, over TLS",
    "",
    f"- command: `bash results/tls/run.sh` (ROUNDS={rounds}, DURATION={duration} s per run)",
    f"- commit: {commit}",
    f"- machine: {machine}; the load generator runs on the same cores as the servers",
    f"- peers: {mcv} (OpenSSL) with `-t 2 -m 64 -Z`; hotset (rustls, ring) with `--memory 64MiB -Z`"
    " (default policy and threads); both with `tests/tls/server.pem` (ECDSA P-256)",
    "- load: `hotset loadgen --tls-ca tests/tls/ca.pem` (rustls client), 2 threads, closed loop,"
    " every value verified; A/B/A/B rounds, medians shown; the `plain-` case is the same servers'"
    " `notls:` listeners",
    "",
    "Ratios are hotset / memcached: above 1 is better for ops/s, below 1 is better for latency.",
    "Latency is the get latency in µs (median over rounds of each run's percentile).",
    "",
    "| case | memcached ops/s | hotset ops/s | ops/s ratio | p50 mc / hs (ratio) | p99 mc / hs (ratio) | p99.9 mc / hs (ratio) | errors mc / hs |",
    "| --- | ---: | ---: | ---: | --- | --- | --- | --- |",
    *lines,
    "",
    "## Every run",
    "",
    "| case | server | round | ops/s | get p50 | get p99 | get p99.9 (µs) | errors | verify failures |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    *raw,
    "",
]
with open(os.path.join(here, "summary.md"), "w") as f:
    f.write("\n".join(out))
