# Sourced by the comparison scripts under results/: the shared setup (repo
# root, a release build, memcached present) and starting and stopping the
# two servers with the same budget (MEMORY_MB, default 64 MiB).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v memcached >/dev/null || { echo "memcached is not installed (apt-get install memcached)"; exit 1; }
cargo build --release --quiet
BIN=target/release/hotset
MEMORY_MB=${MEMORY_MB:-64}
PIDS=()

stop_servers() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
}
trap stop_servers EXIT

# start_server memcached|hotset PORT [ARGS...]: a fresh server (memcached
# -t 2 -m MEMORY_MB, or hotset --memory MEMORY_MB MiB) with ARGS, once it accepts
# connections (within START_TRIES tenths of a second, default 100). Its pid
# is the last of PIDS.
start_server() {
  local kind=$1 port=$2
  shift 2
  if [ "$kind" = memcached ]; then
    memcached -t 2 -m "$MEMORY_MB" -p "$port" -U 0 -u "$(id -un)" "$@" &
  else
    "$BIN" --memory "${MEMORY_MB}MiB" --port "$port" "$@" >/dev/null &
  fi
  PIDS+=($!)
  for _ in $(seq "${START_TRIES:-100}"); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$kind did not start on port $port"
  exit 1
}

ask() { # ask PORT COMMAND: the server's answer up to END
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf '%s\r\n' "$2" >&3
  while IFS= read -r -t 5 line <&3; do
    line=${line%$'\r'}; [ "$line" = END ] && break; echo "$line"
  done
  exec 3>&-
}
