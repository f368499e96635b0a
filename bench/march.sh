#!/usr/bin/env bash
# The cost of a portable CPU baseline: builds jobpatch and validate_bench for several
# -march values and measures, side by side in one run,
#   - validate throughput (validate_bench over 1 M lines: the manifest reader + validator,
#     where simdjson's compile-time kernel matters most), and
#   - apply requests/s and client CPU per request (100,000 lines, 64 connections, TLS)
#     against one jobpatch-mock (the native build's), so only the client differs.
# Each figure is the best of ROUNDS runs (default 3), the variants interleaved, so that
# a busy machine penalises all of them alike.
#   bench/march.sh [ROUNDS]
# Variants: "name|JOBPATCH_MARCH|extra CXX flags"; simdjson's kernel is printed per build.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
variants=(
  "x86-64|x86-64|"
  "x86-64-v2|x86-64-v2|"
  "x86-64-v2+pclmul|x86-64-v2|-mpclmul"
  "x86-64-v3+pclmul|x86-64-v3|-mpclmul"
  "native|native|"
)
command -v /usr/bin/time >/dev/null || { apt-get update -qq; apt-get install -y -qq time; }
scripts/build.sh >/dev/null
for v in "${variants[@]}"; do
  IFS='|' read -r name march flags <<<"$v"
  dir=build-march/$name
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DJOBPATCH_MARCH="$march" \
    -DCMAKE_CXX_FLAGS="$flags" -DJOBPATCH_BUILD_TESTS=OFF >/dev/null
  cmake --build "$dir" -j "$(nproc)" --target jobpatch validate_bench >/dev/null
done

work=$(mktemp -d)
mock_pid=
cleanup() { [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
key=march-key
build/src/mock/jobpatch-mock --port 0 --port-file "$work/port" --cert-out "$work/cert.pem" \
  --api-key "$key" --jobs 100000 --threads 1 2>"$work/mock.err" &
mock_pid=$!
for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")
build/src/jobpatch-make-manifest --lines 1000000 --jobs 100000 --out "$work/validate.ndjson"
build/src/jobpatch-make-manifest --lines 100000 --jobs 100000 --out "$work/apply.ndjson"

for round in $(seq "$rounds"); do
  for v in "${variants[@]}"; do
    IFS='|' read -r name _ _ <<<"$v"
    bin=build-march/$name
    "$bin/bench/validate_bench" "$work/validate.ndjson" |
      sed -n 's/.*lines_per_s=\([0-9]*\) MB_per_s=\([0-9.]*\).*/\1 \2/p' >>"$work/validate.$name"
    BYTENITE_API_KEY=$key /usr/bin/time -f '%U %S' -o "$work/time.txt" "$bin/src/cli/jobpatch" \
      apply "$work/apply.ndjson" --base-url "https://localhost:$port" --cacert "$work/cert.pem" \
      --connections 64 --summary-json "$work/summary.json" >/dev/null 2>&1 || true
    python3 - "$work/summary.json" "$work/time.txt" >>"$work/apply.$name" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); user, system = map(float, open(sys.argv[2]).read().split())
print(f"{s['requestsPerSecond']:.0f} {(user + system) / max(s['attempts'], 1) * 1e6:.1f}")
PY
  done
done

printf '%-18s %-10s %14s %10s %14s %16s\n' build kernel "validate l/s" "MB/s" "apply req/s" "client us/req"
for v in "${variants[@]}"; do
  IFS='|' read -r name _ _ <<<"$v"
  bin=build-march/$name
  kernel=$("$bin/src/cli/jobpatch" --version | sed -n 's/.*On Demand kernel: \([a-z0-9]*\).*/\1/p')
  best_validate=$(sort -n -r "$work/validate.$name" | head -n 1)
  best_rate=$(sort -n -r "$work/apply.$name" | head -n 1 | cut -d' ' -f1)
  best_cpu=$(cut -d' ' -f2 "$work/apply.$name" | sort -n | head -n 1)
  printf '%-18s %-10s %14s %10s %14s %16s\n' "$name" "$kernel" ${best_validate} "$best_rate" "$best_cpu"
done
