#!/usr/bin/env bash
# Multi-core scaling of the engine (in process) and the server (over the
# wire), for a machine with many cores:
#
#   bash results/engine/scaling.sh            # THREADS="1 2 4 8 16"; BENCH=0 skips part 1
#
# 1. criterion's engine bench at each thread count: hotset with its default
#    policy and with lru, s3fifo and sieve, beside quick_cache and moka in
#    the same run;
# 2. over the wire, at each thread count T: `hotset --threads T` under each
#    policy of POLICIES (default "lru s3fifo sieve") and, when memcached is
#    installed, `memcached -t T`, each with 1 GiB, loaded in turn by
#    `hotset loadgen` with T load threads, 8 connections per thread,
#    pipeline 4, closed loop, 5 s (the load shares the cores with the server,
#    so compare the servers at one T, not across T alone).
# Output: target/criterion (the bench), results/engine/scaling-runs/, and a
# table of ops/s on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${THREADS:-"1 2 4 8 16"}
list=$(echo "$THREADS" | tr ' ' ',')
if [ "${BENCH:-1}" != 0 ]; then
  HOTSET_BENCH_THREADS=$list cargo bench --bench engine -- --noplot 2>&1 | grep -E 'engine/|time:|thrpt:'
fi

cargo build --release --quiet
BIN=target/release/hotset
out=results/engine/scaling-runs
rm -rf "$out"; mkdir -p "$out"
PORT=11314
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null || true' EXIT
servers=()
for p in ${POLICIES:-lru s3fifo sieve}; do servers+=("hotset-$p"); done
command -v memcached >/dev/null && servers+=(memcached)
hdr="| threads |"; sep="| ---: |"
for s in "${servers[@]}"; do hdr="$hdr $s ops/s |"; sep="$sep ---: |"; done
echo "$hdr"; echo "$sep"
for t in $THREADS; do
  row="| $t |"
  for s in "${servers[@]}"; do
    if [ "${s#hotset-}" != "$s" ]; then
      "$BIN" --memory 1GiB --port $PORT --threads "$t" --max-conns 4096 --policy "${s#hotset-}" >/dev/null 2>&1 &
    else
      memcached -t "$t" -m 1024 -p $PORT -U 0 -u "$(id -un)" -c 4096 &
    fi
    pid=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
    "$BIN" loadgen --server 127.0.0.1:$PORT --workload workloads/server-90-10-100b.toml \
      --conns $((t * 8)) --threads "$t" --pipeline 4 --duration 5 --prefill --out "$out/$s-$t" >/dev/null
    ops=$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['rows'][0]['ops_per_sec']))" "$out/$s-$t/summary.json")
    row="$row $ops |"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  done
  echo "$row"
done
