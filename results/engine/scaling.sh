#!/usr/bin/env bash
# Multi-core scaling of the engine (in process) and the server (over the
# wire), for a machine with many cores:
#
#   bash results/engine/scaling.sh            # THREADS="1 2 4 8 16"
#
# 1. criterion's engine bench at each thread count, hotset beside quick_cache
#    and moka in the same run;
# 2. `hotset loadgen` against `hotset --memory 1GiB` with as many load
#    threads as server-side connections per thread allow, closed loop.
# Output: target/criterion (the bench) and results/engine/scaling-runs/.
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${THREADS:-"1 2 4 8 16"}
list=$(echo "$THREADS" | tr ' ' ',')
HOTSET_BENCH_THREADS=$list cargo bench --bench engine -- --noplot 2>&1 | grep -E 'engine/|time:|thrpt:'

cargo build --release --quiet
out=results/engine/scaling-runs
rm -rf "$out"; mkdir -p "$out"
target/release/hotset --memory 1GiB --port 11314 >/dev/null & pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep 1
for t in $THREADS; do
  target/release/hotset loadgen --server 127.0.0.1:11314 --workload workloads/server-90-10-100b.toml \
    --conns $((t * 8)) --threads "$t" --pipeline 4 --duration 5 --prefill --out "$out/loadgen-$t" | head -1
done
