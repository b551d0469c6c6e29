#!/usr/bin/env bash
# Slab rebalancing under a size shift, hotset against memcached, over the wire.
#
#   bash results/size-shift/run.sh
#
# Plays workloads/size-shift.toml once, in order (100 B values, then 4000 B
# values from the halfway point of the first 2^20 records; cache-aside: a get miss is followed by a
# set), through one pipelined connection, against a fresh memcached -m 64 and
# a fresh hotset --memory 64MiB, counting the get miss ratio per 50,000
# records. Writes summary.md here; the per-run reports (with an SVG curve
# each) go under runs/.
source "$(dirname "$0")/../common.sh"
HERE=results/size-shift
PORT=${PORT:-11317}
rm -rf "$HERE/runs"; mkdir -p "$HERE/runs"
for server in memcached hotset; do
  stop_servers
  start_server "$server" "$PORT"
  "$BIN" loadgen --server "127.0.0.1:$PORT" --workload workloads/size-shift.toml --conns 1 --threads 1 \
    --pipeline 16 --duration 600 --once --series 50000 --out "$HERE/runs/$server"
done
stop_servers
python3 - "$HERE" <<'PY'
import json, os, subprocess, sys
here = sys.argv[1]
runs = {}
for s in ("memcached", "hotset"):
    j = json.load(open(os.path.join(here, "runs", s, "summary.json")))
    runs[s] = (j, j["rows"][0])
w = runs["hotset"][1]["series"]["window_records"]
def curve(row):
    s = row["series"]
    return [1 - h / g if g else None for g, h in zip(s["gets"], s["hits"])]
mc, hs = curve(runs["memcached"][1]), curve(runs["hotset"][1])
mcv = subprocess.run(["memcached", "-V"], capture_output=True, text=True).stdout.strip()
j = runs["hotset"][0]
out = [
    "# Slab rebalancing under a size shift",
    "",
    "- command: `bash results/size-shift/run.sh`",
    f"- commit: {j['commit']}",
    f"- machine: {j['machine']}",
    f"- peers: {mcv} `-t 2 -m 64` (its default `slab_reassign` and `slab_automove=1`) against `hotset --memory 64MiB`",
    "- load: `hotset loadgen --once --series 50000` over `workloads/size-shift.toml` (the first 1,048,576 records, 200,000 keys, Zipf 0.99, 80/20 get/set with cache-aside; values 100 B, then 4000 B from record 524,288), one connection, pipeline 16",
    "",
    f"Get miss ratio per window of {w:,} records (the shift is at record 524,288):",
    "",
    "| records up to | memcached | hotset |",
    "| ---: | ---: | ---: |",
]
for i in range(max(len(mc), len(hs))):
    f = lambda c: f"{c[i]:.3f}" if i < len(c) and c[i] is not None else "–"
    out.append(f"| {(i + 1) * w:,} | {f(mc)} | {f(hs)} |")
out += [
    "",
    "Curves: [memcached](runs/memcached/miss-ratio-over-time.svg), [hotset](runs/hotset/miss-ratio-over-time.svg) (under `runs/`, not committed).",
    "",
]
open(os.path.join(here, "summary.md"), "w").write("\n".join(out))
PY
echo "wrote $HERE/summary.md"
