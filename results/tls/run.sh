#!/usr/bin/env bash
# hotset -Z against memcached -Z over TLS, same certificate, same budget,
# same load generator, in one run, A/B/A/B.
#
#   bash results/tls/run.sh            # ROUNDS=5 DURATION=5
#
# Starts memcached (-t 2 -m 64 -Z) and hotset (--memory 64MiB -Z), each with
# tests/tls/server.pem and a plaintext `notls:` listener beside the TLS one,
# runs `hotset loadgen --tls-ca tests/tls/ca.pem` against each TLS port in
# alternation for every case, then the headline case in plaintext on the
# notls ports (what TLS costs each server), and writes summary.md here (raw
# reports under runs/, not committed).
source "$(dirname "$0")/../common.sh"
HERE=results/tls
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
MC_TLS=${MC_TLS:-11411} MC_PLAIN=${MC_PLAIN:-11421}
HS_TLS=${HS_TLS:-11412} HS_PLAIN=${HS_PLAIN:-11422}
CERTS=tests/tls
SSL="ssl_chain_cert=$CERTS/server.pem,ssl_key=$CERTS/server.key"
rm -rf "$HERE/runs"
mkdir -p "$HERE/runs"

start_servers() {
  stop_servers
  start_server memcached "$MC_PLAIN" -c 4096 -Z -o "$SSL" \
    -l "notls:127.0.0.1:$MC_PLAIN" -l "127.0.0.1:$MC_TLS"
  start_server hotset "$HS_PLAIN" --max-conns 4096 -Z -o "$SSL" \
    -l "notls:127.0.0.1:$HS_PLAIN" -l "127.0.0.1:$HS_TLS"
}

# case name | workload | conns | pipeline | tls (yes/no)
CASES=(
  "tls-50conns-90-10-100B|workloads/server-90-10-100b.toml|50|1|yes"
  "tls-pipeline16-90-10-100B|workloads/server-90-10-100b.toml|8|16|yes"
  "tls-50conns-90-10-4KiB|workloads/server-90-10-4k.toml|50|1|yes"
  "plain-50conns-90-10-100B|workloads/server-90-10-100b.toml|50|1|no"
)

for c in "${CASES[@]}"; do
  IFS='|' read -r name workload conns depth tls <<<"$c"
  start_servers
  port_of() {
    case "$1-$tls" in
      memcached-yes) echo "$MC_TLS" ;; memcached-no) echo "$MC_PLAIN" ;;
      hotset-yes) echo "$HS_TLS" ;; *) echo "$HS_PLAIN" ;;
    esac
  }
  flags=()
  [ "$tls" = yes ] && flags=(--tls-ca "$CERTS/ca.pem")
  for server in memcached hotset; do
    "$BIN" loadgen --server "127.0.0.1:$(port_of $server)" --workload "$workload" --conns "$conns" \
      --threads 2 --pipeline "$depth" --duration 1 --prefill "${flags[@]}" \
      --out "$HERE/runs/warmup" >/dev/null
  done
  for r in $(seq "$ROUNDS"); do
    for server in memcached hotset; do
      echo "== $name round $r: $server"
      "$BIN" loadgen --server "127.0.0.1:$(port_of $server)" --workload "$workload" --conns "$conns" \
        --threads 2 --pipeline "$depth" --duration "$DURATION" "${flags[@]}" \
        --out "$HERE/runs/$name/$server-$r"
    done
  done
done

python3 "$HERE/summarize.py" "$HERE" "$ROUNDS" "$DURATION"
echo "wrote $HERE/summary.md"
