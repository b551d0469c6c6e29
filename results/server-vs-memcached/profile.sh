#!/usr/bin/env bash
# Where a request's cost goes, hotset against memcached, same load:
#
#   bash results/server-vs-memcached/profile.sh        # RECORDS=100000
#
# For each server (memcached -t 2 -m 64, hotset --memory 64MiB), after a
# prefill of the 100,000 keys of workloads/server-90-10-100b.toml:
# 1. callgrind: the server runs under valgrind; its counters are zeroed after
#    the prefill, RECORDS requests are played once (`loadgen --once`, 50
#    connections), and the counters dumped. Gives user-space instructions
#    per request and the top functions.
# 2. strace -c -f over the same RECORDS requests, natively: syscalls per
#    request (and futex calls, the sign of a contended lock).
# 3. /proc over a 5 s closed-loop run, natively: CPU time (user and system)
#    and context switches per request.
# 4. valgrind's DHAT over prefill and RECORDS requests: heap allocations per
#    request (an upper bound: startup and prefill are included).
# Writes profile.md here; raw outputs go under runs/profile/ (not committed).
source "$(dirname "$0")/../common.sh"
HERE=results/server-vs-memcached
OUT=$HERE/runs/profile
RECORDS=${RECORDS:-100000}
PORT=${PORT:-11315}
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 1; }
command -v strace >/dev/null || { echo "strace is not installed (apt-get install strace)"; exit 1; }
# memcached sets its descriptor limit, soft and hard, to -c; valgrind refuses
# any change of the hard limit, and keeps 12 descriptors above its fake one.
VG_FDS=$((1024 + 12))
rm -rf "$OUT"; mkdir -p "$OUT"
SPEC=$OUT/once.toml
sed -e "s/^ops = .*/ops = $RECORDS/" workloads/server-90-10-100b.toml >"$SPEC"

load() { # load ARGS...: loadgen against PORT with the profile's spec
  "$BIN" loadgen --server "127.0.0.1:$PORT" --workload "$SPEC" --conns 50 --threads 2 "$@"
}
prefill() { load --duration 0.001 --prefill --out "$OUT/prefill" >/dev/null; }
server_cmd() { # the server's command line
  if [ "$1" = memcached ]; then
    echo "memcached -t 2 -m 64 -p $PORT -U 0 -u $(id -un) -c 1024"
  else
    echo "$BIN --memory 64MiB --port $PORT --max-conns 1024"
  fi
}
wait_port() {
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no server on $PORT"; exit 1
}
stat_sum() { # stat_sum PID: "utime stime ctxt" summed over the threads (ticks, switches)
  local t u s c=0 x
  read -r u s < <(awk '{print $14, $15}' "/proc/$1/stat")
  for t in /proc/"$1"/task/*/status; do
    x=$(awk '/ctxt_switches/ {n += $2} END {print n}' "$t" 2>/dev/null || echo 0)
    c=$((c + x))
  done
  echo "$u $s $c"
}

for server in memcached hotset; do
  echo "== $server: callgrind"
  # shellcheck disable=SC2046
  (ulimit -n $VG_FDS; exec valgrind --tool=callgrind --compress-strings=no --compress-pos=no --callgrind-out-file="$OUT/$server.callgrind" \
    $(server_cmd "$server")) >"$OUT/$server.valgrind.log" 2>&1 &
  vg=$!
  wait_port
  prefill
  callgrind_control --zero "$vg" >/dev/null
  load --once --duration 600 --out "$OUT/$server-callgrind" | tail -1
  callgrind_control --dump="measured" "$vg" >/dev/null
  kill "$vg"; wait "$vg" 2>/dev/null || true

  echo "== $server: strace"
  # shellcheck disable=SC2046
  $(server_cmd "$server") >/dev/null 2>&1 &
  pid=$!
  wait_port
  prefill
  strace -c -f -p "$pid" -o "$OUT/$server.strace" &
  st=$!
  sleep 1
  load --once --duration 600 --out "$OUT/$server-strace" | tail -1
  kill -INT "$st"; wait "$st" 2>/dev/null || true

  echo "== $server: cpu and context switches"
  before=$(stat_sum "$pid")
  load --duration 5 --out "$OUT/$server-cpu" | tail -1
  after=$(stat_sum "$pid")
  echo "$before $after $(getconf CLK_TCK)" >"$OUT/$server.cpu"
  kill "$pid"; wait "$pid" 2>/dev/null || true

  echo "== $server: dhat"
  # shellcheck disable=SC2046
  (ulimit -n $VG_FDS; exec valgrind --tool=dhat --dhat-out-file="$OUT/$server.dhat.json" \
    $(server_cmd "$server")) >"$OUT/$server.dhat.log" 2>&1 &
  vg=$!
  wait_port
  prefill
  load --once --duration 600 --out "$OUT/$server-dhat" | tail -1
  kill "$vg"; wait "$vg" 2>/dev/null || true
done

python3 "$HERE/profile.py" "$HERE" "$RECORDS"
echo "wrote $HERE/profile.md"
