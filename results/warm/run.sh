#!/usr/bin/env bash
# Warm restart of a full 1 GiB cache: hotset -e against memcached -e.
#
#   bash results/warm/run.sh
#
# For each server: start it with its memory in a file on /dev/shm (1 GiB
# budget), fill it past full (fill-1g.toml, `hotset loadgen --prefill`),
# count its items, send SIGUSR1 and time the save (until the process
# exits), start it again with the same settings and time the restart
# (until it accepts connections), count its items again, and read the keys
# back with every value verified (read-1g.toml). Writes summary.md here.
MEMORY_MB=1024
START_TRIES=1200
source "$(dirname "$0")/../common.sh"
HERE=results/warm
PORT=${PORT:-11314}
SHM=${SHM:-/dev/shm}
rm -rf "$HERE/runs"; mkdir -p "$HERE/runs"
now() { date +%s.%N; }
items() { ask "$PORT" stats | awk '$2 == "curr_items" { print $3 }'; }

rows=()
for server in hotset memcached; do
  file="$SHM/warm-$server-$$"
  rm -f "$file" "$file.meta"
  stop_servers
  if [ "$server" = hotset ]; then args=(--sweep-hz 0 -e "$file"); else args=(-e "$file"); fi
  start_server "$server" "$PORT" "${args[@]}"
  pid=${PIDS[-1]}
  echo "== $server: fill"
  "$BIN" loadgen --server "127.0.0.1:$PORT" --workload "$HERE/fill-1g.toml" --conns 8 --threads 2 \
    --duration 0.001 --prefill --out "$HERE/runs/$server-fill" >/dev/null
  before=$(items)
  rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
  t0=$(now); kill -USR1 "$pid"; wait "$pid" 2>/dev/null || true; t1=$(now)
  PIDS=()
  # memcached refuses a restart within a second or two of its stop
  # ("restart incompatible due to setting for [stop_time]").
  sleep 3
  t2=$(now); start_server "$server" "$PORT" "${args[@]}"; t3=$(now)
  after=$(items)
  echo "== $server: read back"
  "$BIN" loadgen --server "127.0.0.1:$PORT" --workload "$HERE/read-1g.toml" --conns 8 --threads 2 \
    --duration 120 --once --out "$HERE/runs/$server-read" | tail -1
  stop_servers
  rm -f "$file" "$file.meta"
  read=$(python3 -c "import json; r=json.load(open('$HERE/runs/$server-read/summary.json'))['rows'][0]; print(f\"{r['get_hits']} of {r['gets']} hits, {r['verify_failures']} wrong values\")")
  rows+=("| $server | $before | $(( rss / 1024 )) | $(python3 -c "print(f'{$t1-$t0:.2f}')") | $(python3 -c "print(f'{$t3-$t2:.2f}')") | $after | $read |")
done

{
  echo "# Warm restart of a full 1 GiB cache"
  echo
  echo "- command: \`bash results/warm/run.sh\`"
  echo "- commit: $(git rev-parse --short HEAD)"
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), memory files on $SHM ($(df -T "$SHM" | awk 'NR == 2 { print $2 }'))"
  echo "- peers: $(memcached -V) with \`-t 2 -m 1024 -e FILE\`; hotset with \`--memory 1024MiB --sweep-hz 0 -e FILE\`"
  echo "- fill: \`hotset loadgen --prefill\` of results/warm/fill-1g.toml (1,048,576 distinct 16-byte keys, 1 KiB values; more than fit)"
  echo "- save: SIGUSR1 until the process exits; then 3 s (memcached refuses a restart within a second or two of its stop); restart: from exec until the port accepts; read back: read-1g.toml (the fill's key sequence), every hit's value verified"
  echo
  echo "| server | items before | RSS full (MiB) | save (s) | restart (s) | items after | read back |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
  printf '%s\n' "${rows[@]}"
} >"$HERE/summary.md"
echo "wrote $HERE/summary.md"
