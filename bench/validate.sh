#!/usr/bin/env bash
# Validate throughput and memory at 1 M and 4 M lines: the in-process harness
# (validate_bench) and the real CLI under /usr/bin/time -v, side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v /usr/bin/time >/dev/null || { apt-get update -qq; apt-get install -y -qq time; }
scripts/build.sh >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for n in 1000000 4000000; do
  build/src/jobpatch-make-manifest --lines "$n" --jobs 100000 --out "$work/m.ndjson"
  size=$(stat -c %s "$work/m.ndjson")
  echo "== $n lines, $((size / 1000000)) MB"
  build/bench/validate_bench "$work/m.ndjson"
  /usr/bin/time -v build/src/cli/jobpatch validate "$work/m.ndjson" 2> "$work/time.txt" || true
  grep -E "Elapsed|Maximum resident" "$work/time.txt" | sed 's/^\s*/  jobpatch validate: /'
done
