#!/usr/bin/env bash
# hotset against memcached over the wire, same memory, same load, A/B/A/B.
#
#   bash results/server-vs-memcached/run.sh            # ROUNDS=5 DURATION=5
#
# Starts memcached (-t 2 -m 64) and hotset (--memory 64MiB) on local ports,
# runs `hotset loadgen` against each in alternation for every case, then the
# headline case with libmemcached's memaslap as an independent generator,
# and writes summary.md here (raw reports under runs/, not committed).
source "$(dirname "$0")/../common.sh"
HERE=results/server-vs-memcached
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
MC_PORT=${MC_PORT:-11311}
HS_PORT=${HS_PORT:-11312}
MEMASLAP=$(command -v memaslap || command -v memcaslap || true)
rm -rf "$HERE/runs"
mkdir -p "$HERE/runs"

start_servers() {
  stop_servers
  start_server memcached "$MC_PORT" -c 4096
  start_server hotset "$HS_PORT" --max-conns 4096
}

# case name | workload | conns | pipeline
CASES=(
  "50conns-90-10-100B|workloads/server-90-10-100b.toml|50|1"
  "pipeline16-90-10-100B|workloads/server-90-10-100b.toml|8|16"
  "50conns-50-50-100B|workloads/server-50-50-100b.toml|50|1"
  "50conns-90-10-4KiB|workloads/server-90-10-4k.toml|50|1"
)

for c in "${CASES[@]}"; do
  IFS='|' read -r name workload conns depth <<<"$c"
  start_servers
  for server in memcached hotset; do
    port=$MC_PORT; [ "$server" = hotset ] && port=$HS_PORT
    "$BIN" loadgen --server "127.0.0.1:$port" --workload "$workload" --conns "$conns" --threads 2 \
      --pipeline "$depth" --duration 1 --prefill --out "$HERE/runs/warmup" >/dev/null
  done
  for r in $(seq "$ROUNDS"); do
    for server in memcached hotset; do
      port=$MC_PORT; [ "$server" = hotset ] && port=$HS_PORT
      echo "== $name round $r: $server"
      "$BIN" loadgen --server "127.0.0.1:$port" --workload "$workload" --conns "$conns" --threads 2 \
        --pipeline "$depth" --duration "$DURATION" --out "$HERE/runs/$name/$server-$r"
    done
  done
done

if [ -n "$MEMASLAP" ]; then
  start_servers
  for r in $(seq "$ROUNDS"); do
    for server in memcached hotset; do
      port=$MC_PORT; [ "$server" = hotset ] && port=$HS_PORT
      echo "== memaslap round $r: $server"
      mkdir -p "$HERE/runs/memaslap"
      "$MEMASLAP" -s "127.0.0.1:$port" -T 2 -c 50 -t "${DURATION}s" -X 100 \
        >"$HERE/runs/memaslap/$server-$r.txt" 2>&1 || true
    done
  done
else
  echo "memaslap not found (apt-get install libmemcached-tools): skipping the independent run"
fi

python3 "$HERE/summarize.py" "$HERE" "$ROUNDS" "$DURATION"
echo "wrote $HERE/summary.md"
