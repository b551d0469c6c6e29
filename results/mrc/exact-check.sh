#!/usr/bin/env bash
# The exact LRU curve (`hotset mrc`, one pass) against `hotset simulate
# --policies lru` (one simulation per size) at the same 40 sizes, on both
# traces, in objects and bytes mode. Writes results/mrc/exact-check.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
cargo build --release --quiet
BIN=target/release/hotset
ZIPF=target/traces/zipf-0.99.oracleGeneral.bin
[ -f "$ZIPF" ] || "$BIN" gen --workload workloads/zipf-0.99.toml --out target/traces/zipf-0.99.hst \
  --oracle-general "$ZIPF" --quiet
out=results/mrc/exact-check.md
{
  echo "# The one-pass LRU curve against one simulation per size"
  echo
  echo "Written by \`results/mrc/exact-check.sh\` at $(git rev-parse --short HEAD): \`hotset mrc\` and"
  echo "\`hotset simulate --policies lru\` at the same 40 log-spaced sizes (in bytes"
  echo "mode from the largest object up, where the curve is exact)."
  echo
  echo "| trace | unit | sizes | equal misses | equal byte miss ratio (4 digits) | largest miss difference |"
  echo "| --- | --- | ---: | ---: | ---: | ---: |"
} >"$out"
for t in ../shared/traces/cloudPhysicsIO.oracleGeneral.bin "$ZIPF"; do
  for unit in objects bytes; do
    a=$("$BIN" mrc --trace "$t" --unit "$unit" --points 40 --quiet 2>/dev/null | awk '$1 == "lru" {print $4, $6, $7}')
    sizes=$(awk '{print $1}' <<<"$a" | paste -sd,)
    b=$("$BIN" simulate --trace "$t" --unit "$unit" --policies lru --sizes "$sizes" --quiet | awk '$1 == "lru" {print $4, $6, $7}')
    n=$(wc -l <<<"$a")
    eq=$(paste <(echo "$a") <(echo "$b") | awk '$2 == $5' | wc -l)
    eqb=$(paste <(echo "$a") <(echo "$b") | awk '$3 == $6' | wc -l)
    worst=$(paste <(echo "$a") <(echo "$b") | awk 'function abs(x){return x<0?-x:x} {d=abs($2-$5); if (d>m) m=d} END {print m+0}')
    echo "| $(basename "$t") | $unit | $n | $eq | $eqb | $worst |" >>"$out"
  done
done
cat "$out"
