#!/usr/bin/env bash
# Slab rebalancing under a size shift, hotset against memcached, over the wire.
#
#   bash results/size-shift/run.sh             # BUDGETS="64 16" (MiB)
#
# Plays workloads/size-shift.toml once, in order (100 B values, then 4000 B
# values from the halfway point of the first 2^20 records; cache-aside: a get
# miss is followed by a set), through one pipelined connection, against a
# fresh memcached -m B and a fresh hotset --memory B MiB for each budget B,
# counting the get miss ratio per 50,000 records. At 64 MiB the 100 B working
# set fits before the shift; at 16 MiB the cache is full and evicting when
# the shift comes, so every page the 4000 B class gets must move. Writes
# summary.md here; the per-run reports (with an SVG curve each) and the
# servers' final stats go under runs/.
BUDGETS=${BUDGETS:-"64 16"}
source "$(dirname "$0")/../common.sh"
HERE=results/size-shift
PORT=${PORT:-11317}
rm -rf "$HERE/runs"; mkdir -p "$HERE/runs"
for MEMORY_MB in $BUDGETS; do
  for server in memcached hotset; do
    stop_servers
    start_server "$server" "$PORT"
    "$BIN" loadgen --server "127.0.0.1:$PORT" --workload workloads/size-shift.toml --conns 1 --threads 1 \
      --pipeline 16 --duration 600 --once --series 50000 --out "$HERE/runs/$MEMORY_MB/$server"
    { ask "$PORT" stats; ask "$PORT" "stats slabs"; } >"$HERE/runs/$MEMORY_MB/$server.stats"
  done
done
stop_servers
python3 - "$HERE" $BUDGETS <<'PY'
import json, os, subprocess, sys
here, budgets = sys.argv[1], sys.argv[2:]
SERVERS = ("memcached", "hotset")

def curve(row):
    s = row["series"]
    return [1 - h / g if g else None for g, h in zip(s["gets"], s["hits"])]

def end_state(path):
    st, slabs = {}, {}
    for line in open(path):
        f = line.split()
        if len(f) == 3 and f[0] == "STAT":
            if ":" in f[1]:
                c, k = f[1].split(":", 1)
                slabs.setdefault(c, {})[k] = int(f[2]) if f[2].isdigit() else f[2]
            else:
                st[f[1]] = f[2]
    pages = ", ".join(
        f"{v['chunk_size']} B: {v['total_pages']}"
        for _, v in sorted(slabs.items(), key=lambda kv: int(kv[0]))
        if v.get("total_pages")
    )
    moves = st.get("slabs_moved", st.get("slab_reassign_count", "–"))
    return st.get("curr_items", "–"), moves, pages

mcv = subprocess.run(["memcached", "-V"], capture_output=True, text=True).stdout.strip()
first = json.load(open(os.path.join(here, "runs", budgets[0], "hotset", "summary.json")))
out = [
    "# Slab rebalancing under a size shift",
    "",
    "- command: `bash results/size-shift/run.sh`",
    f"- commit: {first['commit']}",
    f"- machine: {first['machine']}",
    f"- peers: {mcv} `-t 2 -m B` (its default `slab_reassign` and `slab_automove=1`) against `hotset --memory B MiB`, for B in {', '.join(budgets)}",
    "- load: `hotset loadgen --once --series 50000` over `workloads/size-shift.toml` (the first 1,048,576 records, 200,000 keys, Zipf 0.99, 80/20 get/set with cache-aside; values 100 B, then 4000 B from record 524,288), one connection, pipeline 16",
    "",
]
for b in budgets:
    rows = {s: json.load(open(os.path.join(here, "runs", b, s, "summary.json")))["rows"][0] for s in SERVERS}
    w = rows["hotset"]["series"]["window_records"]
    mc, hs = curve(rows["memcached"]), curve(rows["hotset"])
    out += [
        f"## {b} MiB",
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
        "At the end (`stats`, `stats slabs`):",
        "",
        "| server | items | page moves | pages per chunk size |",
        "| --- | ---: | ---: | --- |",
    ]
    for s in SERVERS:
        items, moves, pages = end_state(os.path.join(here, "runs", b, f"{s}.stats"))
        out.append(f"| {s} | {items} | {moves} | {pages} |")
    out += [
        "",
        f"Curves: [memcached](runs/{b}/memcached/miss-ratio-over-time.svg), [hotset](runs/{b}/hotset/miss-ratio-over-time.svg) (under `runs/`, not committed).",
        "",
    ]
open(os.path.join(here, "summary.md"), "w").write("\n".join(out))
PY
echo "wrote $HERE/summary.md"
