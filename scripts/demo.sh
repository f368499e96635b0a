#!/usr/bin/env bash
# The README's first command: installs dependencies, builds, starts the built-in mock
# API (HTTPS, self-signed certificate), applies a generated manifest of 5,000 updates to
# it, prints the summary, and stops the mock; then 2,000 updates to a mock of 400/s
# capacity, with a guess of 64 connections and with --connections auto.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Only the three programs the demo runs, not the tests and benchmarks.
programs="jobpatch jobpatch-mock jobpatch-make-manifest"
echo "== building $programs (from a fresh clone: about 3 min on 2 cores; then seconds)"
JOBPATCH_BUILD_TARGETS=$programs scripts/build.sh
bin=build/src
work=$(mktemp -d)
mock_pid=
cleanup() {
  [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/cli/jobpatch" --version
key="demo-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
"$bin/mock/jobpatch-mock" --port 0 --port-file "$work/port" --cert-out "$work/cert.pem" \
  --api-key "$key" --jobs 500 --journal "$work/journal.ndjson" &
mock_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")

"$bin/jobpatch-make-manifest" --lines 5000 --jobs 500 --out "$work/manifest.ndjson"
echo "== jobpatch apply: 5,000 updates over 500 jobs to the mock at https://localhost:$port"
status=0
BYTENITE_API_KEY="$key" "$bin/cli/jobpatch" apply "$work/manifest.ndjson" \
  --base-url "https://localhost:$port" --cacert "$work/cert.pem" --connections 16 \
  --results "$work/results.ndjson" --summary-json "$work/summary.json" \
  --metrics-file "$work/jobpatch.prom" || status=$?
echo "== results: $(wc -l < "$work/results.ndjson") records; first two:"
head -n 2 "$work/results.ndjson"
echo "== summary JSON (its latency histograms, kept for jobpatch merge, left out here):"
sed -E 's/,"(latency|service)Histogram":\{[^}]*\}//g' "$work/summary.json"
echo "== metrics file (Prometheus text), first lines:"
grep -v '^#' "$work/jobpatch.prom" | head -n 8
echo "== mock journal: $(wc -l < "$work/journal.ndjson") applied PATCHes"

# A guess against --connections auto, on a mock that serves 4 requests at once for 10 ms
# each (400/s), keeps 8 waiting and answers 503 beyond.
kill "$mock_pid" && wait "$mock_pid" 2>/dev/null || true
rm -f "$work/port"
"$bin/mock/jobpatch-mock" --port 0 --port-file "$work/port" --cert-out "$work/cert.pem" \
  --api-key "$key" --jobs 500 --capacity 4 --service-ms 10 --queue 8 2>/dev/null &
mock_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")
"$bin/jobpatch-make-manifest" --lines 2000 --jobs 500 --out "$work/small.ndjson"
echo "== 2,000 updates to a server of 400/s capacity: a guess of 64 connections, then auto"
for connections in 64 auto; do
  BYTENITE_API_KEY="$key" "$bin/cli/jobpatch" apply "$work/small.ndjson" \
    --base-url "https://localhost:$port" --cacert "$work/cert.pem" --connections "$connections" \
    --max-attempts 50 --progress never --summary-json "$work/s-$connections.json" 2>/dev/null ||
    status=$?
  summary="$work/s-$connections.json"
  field() { grep -o "\"$1\":[^,}]*" "$summary" | head -n 1 | cut -d: -f2-; }
  printf '   --connections %-4s %s ok in %5.2f s, answers %s, request p50 %s ms, in flight %s to %s\n' \
    "$connections" "$(field ok)" "$(field wallSeconds)" \
    "$(grep -o '"byStatus":{[^}]*}' "$summary" | cut -d: -f2-)" \
    "$(grep -o '"serviceMs":{"p50":[0-9.]*' "$summary" | cut -d: -f3)" \
    "$(grep -o '"concurrency":{[^}]*' "$summary" | grep -o '"min":[0-9]*' | cut -d: -f2)" \
    "$(grep -o '"concurrency":{[^}]*' "$summary" | grep -o '"max":[0-9]*' | cut -d: -f2)"
done
exit "$status"
