#!/usr/bin/env bash
# Miss-ratio curves of cloudPhysicsIO and zipf-0.99, and how well the
# sampled methods estimate them:
#   - LRU's exact curve in one pass (`hotset mrc`), 100 sizes;
#   - every policy's curve from its exact simulator at 30 sizes, Bélády
#     the floor, and each policy's miniature simulation at rates 0.1 and
#     0.01 against it (`--compare`);
#   - SHARDS at rates 0.1, 0.01 and 0.001 and fixed-size at 8192 and 1024
#     objects, with its mean absolute error against the exact curve.
# Writes results/mrc/<trace>/<run>/ and results/mrc/errors.md. About 15
# minutes on 2 cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
cargo build --release --quiet
BIN=target/release/hotset
OUT=results/mrc
POLICIES=${POLICIES:-lru,fifo,clock,sieve,s3fifo,belady,arc,lfu,lfuda,gdsf,twoq,slru,wtinylfu,mq,lirs,clockpro}
mkdir -p target/traces
ZIPF=target/traces/zipf-0.99.oracleGeneral.bin
[ -f "$ZIPF" ] || "$BIN" gen --workload workloads/zipf-0.99.toml --out target/traces/zipf-0.99.hst \
  --oracle-general "$ZIPF" --quiet
declare -A TRACES=([cloudphysics]=../shared/traces/cloudPhysicsIO.oracleGeneral.bin [zipf-0.99]=$ZIPF)

errors=$OUT/errors.md
{
  echo "# Sampled miss-ratio curves against exact ones"
  echo
  echo "Written by \`results/mrc/run.sh\` at $(git rev-parse --short HEAD), objects mode."
  echo "Mean absolute error of the miss ratio over the sizes of each run (log-spaced"
  echo "from 1 to the working set; miniatures skip the sizes a policy cannot run at"
  echo "once scaled)."
  echo
} >"$errors"

for name in cloudphysics zipf-0.99; do
  t=${TRACES[$name]}
  "$BIN" mrc --trace "$t" --quiet --out "$OUT/$name/lru-exact" >/dev/null
  "$BIN" mrc --trace "$t" --policies "$POLICIES" --points 30 --quiet --out "$OUT/$name/policies" >/dev/null
  {
    echo "## $name: SHARDS (LRU)"
    echo
    echo "MAE over 99 sizes evenly spaced from 1% to 99% of the working set (the"
    echo "SHARDS paper's linear histogram), and over 100 log-spaced sizes from 1 object."
    echo
    echo "| method | final rate | MAE, linear sizes | MAE, log sizes | time (s) |"
    echo "| --- | ---: | ---: | ---: | ---: |"
  } >>"$errors"
  for m in "shards 0.1" "shards 0.01" "shards 0.001" "shards-fixed 8192" "shards-fixed 1024"; do
    set -- $m
    if [ "$1" = shards ]; then flags=(--rate "$2"); else flags=(--max-objects "$2"); fi
    dir=$OUT/$name/$1-$2
    lin=$("$BIN" mrc --trace "$t" --method "$1" "${flags[@]}" --sizes "$(seq -s, 0.01 0.01 0.99)" --compare --quiet 2>&1)
    lmae=$(grep -o 'over [0-9]* sizes: [0-9.]*' <<<"$lin" | awk '{print $4}')
    log=$("$BIN" mrc --trace "$t" --method "$1" "${flags[@]}" --compare --quiet --out "$dir" 2>&1)
    mae=$(grep -o 'over [0-9]* sizes: [0-9.]*' <<<"$log" | awk '{print $4}')
    rate=$(grep -o 'rate [0-9.e-]*)' <<<"$log" | head -1 | tr -d 'rate )')
    secs=$(grep -o 'unit: [0-9.]* s' <<<"$log" | awk '{print $2}')
    echo "| $1 $2 | $rate | $lmae | $mae | $secs |" >>"$errors"
  done
  {
    echo
    echo "## $name: miniature simulation, 30 sizes"
    echo
    echo "| policy | MAE at rate 0.1 | MAE at rate 0.01 |"
    echo "| --- | ---: | ---: |"
  } >>"$errors"
  declare -A mae=()
  for r in 0.1 0.01; do
    log=$("$BIN" mrc --trace "$t" --method miniature --rate "$r" --policies "$POLICIES" \
      --points 30 --compare --quiet --out "$OUT/$name/miniature-$r" 2>&1)
    while read -r p v; do mae[$p,$r]=$v; done < <(grep -o 'error of [a-z0-9-]* (miniature, rate [0-9.]*) against the exact answer over [0-9]* sizes: [0-9.]*' <<<"$log" | awk '{print $3, $NF}')
  done
  for p in ${POLICIES//,/ }; do
    echo "| $p | ${mae[$p,0.1]:-} | ${mae[$p,0.01]:-} |" >>"$errors"
  done
  echo >>"$errors"
done
echo "$errors"
