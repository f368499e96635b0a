#!/usr/bin/env bash
# jobpatch apply throughput against jobpatch-mock on loopback (HTTPS, verified):
# requests/s, client CPU per request and peak RSS for 100,000 lines over 64
# connections (without results, and with results with and without fdatasync), and peak
# RSS for a 1,000,000-line manifest.
#   bench/apply.sh [LINES] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-100000}
connections=${2:-64}
command -v /usr/bin/time >/dev/null || { apt-get update -qq; apt-get install -y -qq time; }
source bench/mock_harness.sh
start_mock 100000

run() { # manifest label [extra apply options]
  local manifest=$1 label=$2
  shift 2
  rm -f "$work/results.ndjson"
  BYTENITE_API_KEY=$key /usr/bin/time -v "$bin/cli/jobpatch" apply "$manifest" \
    --base-url "https://localhost:$port" --cacert "$work/cert.pem" --connections "$connections" \
    --summary-json "$work/summary.json" "$@" 2>"$work/time.txt" >/dev/null || true
  python3 - "$work/summary.json" "$work/time.txt" "$label" <<'PY'
import json, re, sys
s = json.load(open(sys.argv[1])); t = open(sys.argv[2]).read()
grab = lambda k: float(re.search(re.escape(k) + r":\s*([\d.]+)", t).group(1))
cpu = grab("User time (seconds)") + grab("System time (seconds)")
rss = grab("Maximum resident set size (kbytes)") / 1024
n = s["attempts"]
print(f"{sys.argv[3]}: {s['ok']} ok / {s['total']} lines, {n} requests in {s['wallSeconds']:.2f} s = "
      f"{s['requestsPerSecond']:.0f} req/s; client CPU {cpu:.2f} s = {cpu / max(n,1) * 1e6:.1f} us/request; "
      f"peak RSS {rss:.1f} MB; p50 {s['latencyMs']['p50']} ms, p99 {s['latencyMs']['p99']} ms")
PY
}

"$tools/jobpatch-make-manifest" --lines "$lines" --jobs 100000 --out "$work/m.ndjson"
run "$work/m.ndjson" "$lines lines, $connections connections"
# The cost of durability: results written every 20 ms, fdatasync'ed every 100 ms or never.
run "$work/m.ndjson" "$lines lines + --results, fdatasync every 100 ms" --results "$work/results.ndjson"
run "$work/m.ndjson" "$lines lines + --results, no fdatasync" --results "$work/results.ndjson" --fsync-interval 0
if [ "${BENCH_SKIP_1M:-0}" != 1 ]; then
  "$tools/jobpatch-make-manifest" --lines 1000000 --jobs 100000 --out "$work/m1.ndjson"
  run "$work/m1.ndjson" "1,000,000 lines, $connections connections"
fi
