#!/usr/bin/env bash
# How SHARDS' error depends on which objects its sample got: the mean
# absolute error of the fixed-rate curve against the exact one (99 sizes
# evenly spaced from 1% to 99% of the working set) for 10 sample seeds
# (`hotset mrc --sample-seed`), at rates 0.1, 0.01 and 0.001, on
# cloudPhysicsIO, zipf-0.99 (2 M requests), and two 10 M-request traces with
# millions of objects: zipf-0.99-large and uniform-large. Writes
# results/mrc/seeds.md. About 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=target/release/hotset
fi
OUT=results/mrc/seeds.md
SEEDS=${SEEDS:-10}
mkdir -p target/traces
gen() { # spec name
  local t=target/traces/$2.oracleGeneral.bin
  [ -f "$t" ] || "$BIN" gen --workload "$1" --out "target/traces/$2.hst" --oracle-general "$t" --quiet
  echo "$t"
}
declare -A TRACES=(
  [cloudphysics]=../shared/traces/cloudPhysicsIO.oracleGeneral.bin
  [zipf-0.99]=$(gen workloads/zipf-0.99.toml zipf-0.99)
  [zipf-0.99-large]=$(gen results/mrc/zipf-0.99-large.toml zipf-0.99-large)
  [uniform-large]=$(gen results/mrc/uniform-large.toml uniform-large)
)
linear=$(seq -s, 0.01 0.01 0.99)
{
  echo "# SHARDS' error by sample seed"
  echo
  echo "Written by \`results/mrc/seeds.sh\` at $(git rev-parse --short HEAD), objects mode,"
  echo "$SEEDS sample seeds (0 to $((SEEDS - 1))). Each cell is the mean absolute error of"
  echo "fixed-rate SHARDS against the exact LRU curve over 99 sizes evenly spaced"
  echo "from 1% to 99% of the working set; \"≤ 0.01\" counts the seeds that meet"
  echo "the issue's goal."
  echo
  echo "| trace | requests | objects | rate | sampled objects | mean MAE | median | max | ≤ 0.01 |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$OUT"
for name in cloudphysics zipf-0.99 zipf-0.99-large uniform-large; do
  t=${TRACES[$name]}
  head=$("$BIN" simulate --trace "$t" --policies lru --sizes 1 --quiet | head -1)
  reqs=$(awk '{print $2}' <<<"$head")
  objs=$(awk '{print $6}' <<<"$head")
  for r in 0.1 0.01 0.001; do
    maes=()
    for ((s = 0; s < SEEDS; s++)); do
      log=$("$BIN" mrc --trace "$t" --method shards --rate "$r" --sample-seed "$s" \
        --sizes "$linear" --compare --quiet 2>&1)
      maes+=("$(grep -o 'over [0-9]* sizes: [0-9.]*' <<<"$log" | awk '{print $4}')")
    done
    printf '%s\n' "${maes[@]}" | sort -g | awk -v n="$name" -v q="$reqs" -v o="$objs" -v r="$r" '
      { v[NR] = $1; sum += $1; if ($1 <= 0.01) ok++ }
      END {
        med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "| %s | %d | %d | %s | ~%d | %.4f | %.4f | %.4f | %d of %d |\n",
          n, q, o, r, o * r, sum / NR, med, v[NR], ok, NR
      }' >>"$OUT"
  done
done
echo "$OUT"
