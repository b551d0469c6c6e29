#!/usr/bin/env bash
# Items per MiB of RSS: hotset --memory 64MiB against memcached -m 64.
#
#   bash results/memory/run.sh
#
# For each fill workload (16-byte keys; 100 B values, 1 KiB values, a mix),
# starts a fresh server, stores every distinct key of the workload once
# (`hotset loadgen --prefill`, more keys than fit), then reads `stats`,
# `stats slabs` and the server's VmRSS, and writes summary.md here, with
# the share of hotset's evictions that were a full index bucket's choice
# rather than the policy's (`hotset_index_evictions / evictions`).
source "$(dirname "$0")/../common.sh"
HERE=results/memory
PORT=${PORT:-11313}
rm -rf "$HERE/runs"; mkdir -p "$HERE/runs"

for w in 100b 1k mix; do
  for server in memcached hotset; do
    stop_servers
    start_server "$server" "$PORT"
    pid=${PIDS[-1]}
    echo "== $w: $server"
    "$BIN" loadgen --server "127.0.0.1:$PORT" --workload "workloads/fill-$w.toml" --conns 4 --threads 2 \
      --duration 0.001 --prefill --out "$HERE/runs/$w-$server-load" >/dev/null
    sleep 1
    out="$HERE/runs/$w-$server.txt"
    { ask "$PORT" stats; ask "$PORT" "stats slabs"; grep -E '^VmRSS' "/proc/$pid/status"; } >"$out"
  done
done
stop_servers
python3 - "$HERE" <<'PY'
import os, re, subprocess, sys
here = sys.argv[1]
def parse(path):
    st, slabs, rss = {}, {}, 0
    for line in open(path):
        m = re.match(r"STAT (\d+):(\w+) (\d+)", line)
        if m:
            slabs.setdefault(m[1], {})[m[2]] = int(m[3]); continue
        m = re.match(r"STAT (\w+) (\S+)", line)
        if m:
            st[m[1]] = m[2]; continue
        m = re.match(r"VmRSS:\s+(\d+) kB", line)
        if m:
            rss = int(m[1]) * 1024
    return st, slabs, rss
sizes = {"100b": "16 B keys, 100 B values", "1k": "16 B keys, 1 KiB values", "mix": "16 B keys, values 64 B–4 KB (mix)"}
payload = {"100b": 116, "1k": 1040}
rows, detail = [], []
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
if dirty:
    commit += " with uncommitted changes"
cpus = os.cpu_count()
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown cpu")
mem_gib = int(open("/proc/meminfo").readline().split()[1]) >> 20
overflow = []
mcv = subprocess.run(["memcached", "-V"], capture_output=True, text=True).stdout.strip()
for w in ("100b", "1k", "mix"):
    r = {}
    for s in ("memcached", "hotset"):
        st, slabs, rss = parse(os.path.join(here, "runs", f"{w}-{s}.txt"))
        items = int(st["curr_items"]); nbytes = int(st["bytes"])
        chunked = sum(c.get("chunk_size", 0) * c.get("used_chunks", 0) for c in slabs.values())
        r[s] = (items, rss, nbytes, chunked)
        per_mib = items / (rss / 2**20)
        waste = (chunked - nbytes) / items if items else 0
        item_bytes = nbytes / items if items else 0
        detail.append(f"| {sizes[w]} | {s} | {items:,} | {rss/2**20:.1f} | {per_mib:,.0f} | {item_bytes:.1f} | {waste:.1f} | {rss/items:.1f} |")
        if s == "hotset":
            ev = int(st["evictions"]); ie = int(st.get("hotset_index_evictions", 0))
            overflow.append(f"| {sizes[w]} | {int(st['hotset_index_bytes'])/2**20:.2f} | {int(st['hotset_index_load_permille'])/10:.1f}% | {ev:,} | {ie:,} | {100*ie/max(ev,1):.1f}% |")
    (mi, mr, _, _), (hi, hr, _, _) = r["memcached"], r["hotset"]
    ratio = (hi / hr) / (mi / mr)
    rows.append(f"| {sizes[w]} | {mi:,} | {mr/2**20:.1f} | {hi:,} | {hr/2**20:.1f} | **{ratio:.2f}×** |")
out = [
    "# Memory efficiency: items per MiB of RSS",
    "",
    "- command: `bash results/memory/run.sh`",
    f"- commit: {commit}",
    f"- machine: {cpus} cores ({model}), {mem_gib} GiB",
    f"- peers: {mcv} `-t 2 -m 64` against `hotset --memory 64MiB`, each fresh per case",
    "- fill: `hotset loadgen --prefill` stores every distinct key of `workloads/fill-*.toml` once (more than fit), then `stats`, `stats slabs` and VmRSS are read",
    "",
    "| workload | memcached items | memcached RSS MiB | hotset items | hotset RSS MiB | items per MiB of RSS, hotset / memcached |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    *rows,
    "",
    "## Per item",
    "",
    "`item bytes` is the server's own `bytes / curr_items` (header, key and value as it stores them);",
    "`class waste` is what rounding up to a slab class adds per item (`Σ used_chunks × chunk_size − bytes`, over items);",
    "`RSS per item` is everything: index, slabs, free chunks, the process.",
    "",
    "| workload | server | items | RSS MiB | items per MiB | item bytes | class waste | RSS per item |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    *detail,
    "",
    "## hotset's index",
    "",
    "`bucket overflows` are evictions a full bucket chose (its worst of seven by the policy) rather than the policy's sampler (`hotset_index_evictions`).",
    "",
    "| workload | index MiB | load | evictions | bucket overflows | share |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    *overflow,
    "",
]
open(os.path.join(here, "summary.md"), "w").write("\n".join(out))
PY
echo "wrote $HERE/summary.md"
