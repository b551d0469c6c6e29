#!/usr/bin/env bash
# hotset's exact simulators beside the libcachesim package (libCacheSim's C
# core) on the same trace and machine, in one run: every policy both have,
# one cache size (10% of the working set), objects mode. Each side is timed
# as a whole process (start, read the trace, simulate, exit), the best of
# RUNS; the miss counts are printed beside so that the two are seen to do
# the same work. Then the whole exact LRU curve (`hotset mrc`) against the
# package's LRU at one size. Writes results/simulate/speed.md.
#
# Needs the package: .ci/run's venv (target/pyenv) or PYTHON=... with
# libcachesim==0.3.5.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
cargo build --release --quiet
BIN=target/release/hotset
PY=${PYTHON:-target/pyenv/bin/python}
RUNS=${RUNS:-3}
POLICIES=${POLICIES:-lru fifo clock sieve s3fifo belady arc lfu lfuda gdsf twoq slru wtinylfu mq lirs}
TRACE=target/traces/zipf-0.99.oracleGeneral.bin
mkdir -p target/traces
[ -f "$TRACE" ] || "$BIN" gen --workload workloads/zipf-0.99.toml --out target/traces/zipf-0.99.hst \
  --oracle-general "$TRACE" --quiet
objects=$("$BIN" simulate --trace "$TRACE" --policies lru --sizes 1 --quiet | awk '/working set/ {print $6}')
C=$((objects / 10))

best() { # best CMD...: the least wall time of RUNS runs, in seconds
  local b=
  for _ in $(seq "$RUNS"); do
    local s e
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; return 1; }
    e=$(date +%s.%N)
    b=$(echo "$s $e ${b:-1e9}" | awk '{d=$2-$1; print (d<$3)?d:$3}')
  done
  echo "$b"
}

out=results/simulate/speed.md
{
  echo "# hotset against the libcachesim package: speed"
  echo
  echo "Written by \`results/simulate/vs-package.sh\` at $(git rev-parse --short HEAD) on"
  echo "$(nproc) vCPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))."
  echo "Trace: \`workloads/zipf-0.99.toml\` as oracleGeneral, $(($(stat -c %s "$TRACE") / 24)) requests over $objects objects;"
  echo "cache = $C objects (10%), objects mode. Whole processes, best of $RUNS."
  echo
  echo "| policy | hotset (s) | package (s) | package / hotset | package's process_trace alone (s) | hotset misses | package misses |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$out"
# One untimed run of each side first, so that the first policy timed does
# not pay for a cold page cache and Python's first imports.
"$BIN" simulate --trace "$TRACE" --policies lru --sizes "$C" --quiet >/dev/null
"$PY" results/simulate/package.py "$TRACE" lru "$C" >/dev/null
for p in $POLICIES; do
  h=$(best "$BIN" simulate --trace "$TRACE" --policies "$p" --sizes "$C" --quiet)
  k=$(best "$PY" results/simulate/package.py "$TRACE" "$p" "$C")
  hm=$("$BIN" simulate --trace "$TRACE" --policies "$p" --sizes "$C" --quiet | awk -v p="$p" '$1 == p {print $6}')
  read -r km kt < <("$PY" results/simulate/package.py "$TRACE" "$p" "$C")
  echo "| $p | $h | $k | $(echo "$k $h" | awk '{printf "%.2f", $1/$2}')× | $kt | $hm | $km |" >>"$out"
done
m=$(best "$BIN" mrc --trace "$TRACE" --quiet)
k=$(best "$PY" results/simulate/package.py "$TRACE" lru "$C")
{
  echo
  echo "The whole exact LRU curve (\`hotset mrc\`, every size at once): $m s, against"
  echo "$k s for the package's LRU at the one size above ($(echo "$k $m" | awk '{printf "%.2f", $1/$2}')× faster)."
} >>"$out"
cat "$out"
