#!/usr/bin/env bash
# Cost per request of `jobpatch apply` in steady state against jobpatch-mock on loopback
# (HTTPS verified, --results on, 64 connections): heap allocations (the LD_PRELOAD
# counter of bench/side_by_side/) and, with CALLGRIND=1, instructions (callgrind: exact
# on a noisy machine). Each is measured on N/2 and N lines of one manifest; the
# difference over N/2 cancels the fixed start (trust store, handshakes).
#   bench/per_request.sh [N]          default N = 20000 (callgrind: use 4000)
# Environment: JOBPATCH_BIN_DIR (build/src: another build to compare), CALLGRIND=1,
# SAME_BODY=1 (every line the one configs update of bench/side_by_side.sh, as bulk runs
# that send one body to many jobs; by default each line has its own op and body).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
source bench/mock_harness.sh
start_mock 10000
"$tools/jobpatch-make-manifest" --lines "$n" --jobs 10000 --out "$work/full.ndjson"
if [ "${SAME_BODY:-0}" = 1 ]; then
  python3 - "$work/full.ndjson" <<'PY'
import json, sys
path = sys.argv[1]
lines = [json.loads(l)["jobId"] for l in open(path)]
body = '{"taskTimeout":600,"jobTimeout":7200,"isTestJob":false}'
with open(path, "w") as f:
    for job in lines:
        f.write(f'{{"jobId":"{job}","op":"configs","body":{body}}}\n')
PY
fi
head -n $((n / 2)) "$work/full.ndjson" >"$work/half.ndjson"
cc -O2 -shared -fPIC -o "$work/malloc_count.so" bench/side_by_side/malloc_count.c

apply() { # manifest [wrapper...]
  local manifest=$1
  shift
  rm -f "$work/r.ndjson"
  BYTENITE_API_KEY=$key "$@" "$bin/cli/jobpatch" apply "$manifest" \
    --base-url "https://localhost:$port" --cacert "$work/cert.pem" --connections 64 \
    --results "$work/r.ndjson" --progress never >/dev/null 2>"$work/apply.err" || true
}
allocs=()
for m in half full; do
  LD_PRELOAD=$work/malloc_count.so MALLOC_COUNT_OUT=$work/$m.allocs apply "$work/$m.ndjson" env
  allocs+=("$(cat "$work/$m.allocs")")
done
echo "heap allocations: ${allocs[0]} for $((n / 2)) lines, ${allocs[1]} for $n:" \
  "$(python3 -c "print(f'{(${allocs[1]} - ${allocs[0]}) / ($n - $n // 2):.2f}')") per request"
if [ "${CALLGRIND:-0}" = 1 ]; then
  ir=()
  for m in half full; do
    apply "$work/$m.ndjson" valgrind --tool=callgrind --callgrind-out-file="$work/$m.cg"
    ir+=("$(callgrind_annotate "$work/$m.cg" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')")
  done
  echo "instructions: ${ir[0]} for $((n / 2)) lines, ${ir[1]} for $n:" \
    "$(python3 -c "print(f'{(${ir[1]} - ${ir[0]}) / ($n - $n // 2):.0f}')") per request"
  if [ -n "${CALLGRIND_KEEP:-}" ]; then cp "$work/full.cg" "$CALLGRIND_KEEP"; cp "$work/half.cg" "$CALLGRIND_KEEP.half"; fi
fi
