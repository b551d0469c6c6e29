#!/usr/bin/env bash
# The cost of one eviction per policy, in time and in instructions:
#
#   bash results/engine/evict-cost.sh            # writes results/engine/evict-cost.md
#
# 1. `cargo bench --bench evict`: ns per set into a full cache (one eviction
#    each) minus ns per set that evicts nothing; best of three runs.
# 2. The same program under `valgrind --tool=callgrind` with 200,000 sets:
#    the inclusive instructions of the eviction routine (`Engine::evict`,
#    which batches up to 16 evictions) per eviction.
# BEFORE=<commit> also measures sampled LRU at that commit (a git worktree
# under target/), for a before/after row.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=results/engine/evict-cost.md
policies=${POLICIES:-"lru s3fifo sieve clock"}
bin=$(cargo bench --bench evict --no-run 2>&1 | sed -n 's/.*Executable benches\/evict.rs (\(.*\))/\1/p')
commit=$(git rev-parse --short HEAD)
{
  echo "# The cost of one eviction"
  echo
  echo "- command: \`bash results/engine/evict-cost.sh\`"
  echo "- commit: $commit${BEFORE:+ (before: $BEFORE)}"
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem/{print $2}') GiB, $(uname -sr)"
  echo
  echo "A cache of one 160-byte class (16 B keys, 100 B values) holding 100,000"
  echo "items, with an index roomy enough that every eviction is the policy's."
  echo
  echo "## Time (cargo bench --bench evict, best of three runs)"
  echo
} > "$out"
best=$(mktemp)
for run in 1 2 3; do
  "$bin" $policies | grep -E '^\| [a-z]' >> "$best"
done
echo "| policy | ns per set, evicting | ns per set, not evicting | ns per eviction |" >> "$out"
echo "| --- | ---: | ---: | ---: |" >> "$out"
for p in $policies; do
  grep "^| $p |" "$best" | sort -t'|' -k5 -n | head -1 | awk -F'|' '{printf "|%s|%s|%s|%s|\n", $2, $3, $4, $5}' >> "$out"
done
rm -f "$best"
{
  echo
  echo "## Instructions (callgrind, 200,000 evicting sets after a fill of 200,000)"
  echo
  echo "| policy | instructions in the eviction routine | evictions (fill included) | instructions per eviction |"
  echo "| --- | ---: | ---: | ---: |"
} >> "$out"
tmp=$(mktemp -d)
for p in $policies; do
  EVICT_OPS=200000 valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$p" "$bin" "$p" > "$tmp/out.$p" 2>/dev/null
  n=$(awk -v p="$p" '$1 == "#" && $2 == p && $3 == "evictions" {print $4}' "$tmp/out.$p")
  ir=$(callgrind_annotate --inclusive=yes "$tmp/cg.$p" 2>/dev/null | awk '/Engine>?::evict( |$)/ && !done {gsub(",","",$1); print $1; done=1}')
  echo "| $p | $ir | $n | $((ir / n)) |" >> "$out"
done
if [ -n "${BEFORE:-}" ]; then
  wt=target/evict-before
  rm -rf "$wt"; git worktree add -f "$wt" "$BEFORE" >/dev/null 2>&1
  cp benches/evict.rs "$wt/benches/evict.rs"
  # Keep the old eviction routine out of line, as this one is, so that
  # callgrind can count it.
  sed -i 's/^    fn evict(&self, ctx: &mut ThreadCtx, g: &Guard/    #[inline(never)]\n&/' "$wt/src/cache.rs"
  grep -q 'name = "evict"' "$wt/Cargo.toml" || printf '\n[[bench]]\nname = "evict"\nharness = false\n' >> "$wt/Cargo.toml"
  bbin=$(cd "$wt" && CARGO_TARGET_DIR=target/before cargo bench --bench evict --no-run 2>&1 | sed -n 's/.*Executable benches\/evict.rs (\(.*\))/\1/p')
  EVICT_OPS=200000 valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.before" "$wt/$bbin" lru > "$tmp/out.before" 2>/dev/null
  n=$(awk '$1 == "#" && $3 == "evictions" {print $4}' "$tmp/out.before")
  ir=$(callgrind_annotate --inclusive=yes "$tmp/cg.before" 2>/dev/null | awk '/Shared>?::evict( |$)/ && !done {gsub(",","",$1); print $1; done=1}')
  t=$(for r in 1 2 3; do "$wt/$bbin" lru | grep '^| lru'; done | sort -t'|' -k5 -n | head -1)
  {
    echo
    echo "## Before: sampled LRU at $BEFORE"
    echo
    echo "| | ns per eviction | instructions per eviction |"
    echo "| --- | ---: | ---: |"
    echo "| lru at $BEFORE | $(echo "$t" | cut -d'|' -f5 | xargs) | $((ir / n)) |"
  } >> "$out"
  git worktree remove --force "$wt" >/dev/null 2>&1 || true
fi
rm -rf "$tmp"
cat "$out"
