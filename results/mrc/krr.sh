#!/usr/bin/env bash
# KRR, hotset's one-pass curve of its own default policy, sampled LRU,
# beside the sampled-lru simulator and the live engine, at K = 1, 5, 16:
#   - `mrc --method krr --samples K --compare`: KRR at 30 sizes and the
#     simulator (--pool 0) at the same sizes, with the mean absolute error;
#   - `replay --policies lru --samples K --evict-pool 0 --compare-exact
#     sampled-lru`: the live engine at 6 memory budgets, and the simulator
#     at the live cache's item count; then the default pool (16) against
#     `sampled-lru --pool 16`.
# The live runs replay each trace with every value 100 bytes, so that the
# live cache's item count is the objects the simulators hold (KRR and the
# simulators count objects). Writes results/mrc/krr/. About 5 minutes on
# 2 cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
cargo build --release --quiet
BIN=target/release/hotset
OUT=results/mrc/krr
mkdir -p target/traces "$OUT"
ZIPF=target/traces/zipf-0.99.oracleGeneral.bin
[ -f "$ZIPF" ] || "$BIN" gen --workload workloads/zipf-0.99.toml --out target/traces/zipf-0.99.hst \
  --oracle-general "$ZIPF" --quiet
CP=../shared/traces/cloudPhysicsIO.oracleGeneral.bin
# The same requests with every size 100 (oracleGeneral: u32 time, u64 id,
# u32 size, i64 next).
python3 - "$CP" target/traces/cloudphysics-100B.oracleGeneral.bin \
  "$ZIPF" target/traces/zipf-0.99-100B.oracleGeneral.bin <<'PY'
import struct, sys
for src, dst in zip(sys.argv[1::2], sys.argv[2::2]):
    b = bytearray(open(src, "rb").read())
    for i in range(0, len(b), 24):
        struct.pack_into("<I", b, i + 12, 100)
    open(dst, "wb").write(b)
PY
declare -A TRACES=([cloudphysics]=$CP [zipf-0.99]=$ZIPF)
declare -A MEMORY=([cloudphysics]=1MiB,2MiB,3MiB,4MiB,6MiB,8MiB [zipf-0.99]=2MiB,4MiB,8MiB,16MiB,32MiB,64MiB)
for name in cloudphysics zipf-0.99; do
  t=${TRACES[$name]}
  live=target/traces/$name-100B.oracleGeneral.bin
  "$BIN" mrc --trace "$t" --points 30 --quiet --out "$OUT/$name/lru-exact" >/dev/null
  for k in 1 5 16; do
    "$BIN" mrc --trace "$t" --method krr --samples "$k" --compare --points 30 --quiet \
      --out "$OUT/$name/krr-k$k" >/dev/null 2>"$OUT/$name-krr-k$k.time"
    "$BIN" replay --trace "$live" --policies lru --memory "${MEMORY[$name]}" --samples "$k" \
      --evict-pool 0 --compare-exact lru,sampled-lru --quiet --out "$OUT/$name/live-k$k" >/dev/null
  done
  "$BIN" replay --trace "$live" --policies lru --memory "${MEMORY[$name]}" --samples 5 \
    --compare-exact lru,sampled-lru --quiet --out "$OUT/$name/live-k5-pool16" >/dev/null
done
# The latency histograms are not what these runs are for.
find "$OUT" \( -name '*.hgrm' -o -name 'latency-*.svg' \) -delete
python3 results/mrc/krr_plot.py "$OUT" "$(git rev-parse --short HEAD)"
