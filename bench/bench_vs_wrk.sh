#!/usr/bin/env bash
# Client cost of `jobpatch bench` against wrk: both drive the same PATCH
# /v1/customer/jobs/{id}/configs (same JSON body, token header, 1,000 jobs) at
# jobpatch-mock (plain HTTP, 1 thread) on loopback, and we compare requests/s and client
# CPU per request (user + sys from /usr/bin/time -v). wrk runs closed-loop as fast as it
# can; bench runs open-loop at --rate RATE (set it near what wrk reached to compare like
# with like, or above it to see where bench falls behind: its late-start line says so).
# bench also parses and checks every answer (simdjson) and records two histograms per
# request; wrk reads the answer and throws it away.
#   bench/bench_vs_wrk.sh [RATE (default 20000)] [SECONDS (default 10)] [CONNECTIONS (default 16)]
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-20000}
duration=${2:-10}
connections=${3:-16}
bin=${BUILD_DIR:-build}/src
for tool in wrk /usr/bin/time curl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y wrk time curl python3)" >&2; exit 2; }
done
[ -x "$bin/cli/jobpatch" ] || { echo "build first: scripts/build.sh" >&2; exit 2; }

work=$(mktemp -d)
mock_pid=
cleanup() { [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
key=bench-key

# Server on CPU 0, client on CPU 1 (when there are two), so they do not steal from each other.
server_cpu=() client_cpu=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  server_cpu=(taskset -c 0) client_cpu=(taskset -c 1)
fi
"${server_cpu[@]}" "$bin/mock/jobpatch-mock" --plain --port 0 --port-file "$work/port" \
  --api-key "$key" --jobs 1000 --threads 1 2>"$work/mock.err" &
mock_pid=$!
for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")
base=http://127.0.0.1:$port

# The same request as bench/nginx/patch_configs.lua, as a manifest.
python3 - "$work/m.ndjson" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for n in range(1, 1001):
        f.write('{"jobId":"job-%07d","op":"configs","body":{"taskTimeout":600,"jobTimeout":7200,"isTestJob":false}}\n' % n)
PY
token=$(curl -sf "$base/v1/auth/access_token" -d "{\"apiKey\":\"$key\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

cpu_of() { # time -v output -> user+sys seconds
  python3 - "$1" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
g = lambda k: float(re.search(re.escape(k) + r":\s*([\d.]+)", t).group(1))
print(g("User time (seconds)") + g("System time (seconds)"))
PY
}

echo "loopback, plain HTTP, jobpatch-mock --threads 1, $connections connections, $(nproc) CPUs"

BENCH_TOKEN=$token "${client_cpu[@]}" /usr/bin/time -v wrk -t1 -c"$connections" -d"${duration}s" \
  -s bench/nginx/patch_configs.lua "$base" >"$work/wrk.txt" 2>"$work/wrk.time"
wrk_requests=$(grep -Eo '^ *[0-9]+ requests in' "$work/wrk.txt" | grep -Eo '[0-9]+')
wrk_rate=$(grep -Eo 'Requests/sec: *[0-9.]+' "$work/wrk.txt" | grep -Eo '[0-9.]+$')
wrk_non2xx=$(grep -Eo 'Non-2xx or 3xx responses: *[0-9]+' "$work/wrk.txt" | grep -Eo '[0-9]+$' || echo 0)
wrk_cpu=$(cpu_of "$work/wrk.time")

BYTENITE_API_KEY=$key "${client_cpu[@]}" /usr/bin/time -v "$bin/cli/jobpatch" bench "$work/m.ndjson" \
  --base-url "$base" --rate "$rate" --duration "$duration" --connections "$connections" \
  --summary-json "$work/bench.json" 2>"$work/bench.time" || true
bench_cpu=$(cpu_of "$work/bench.time")

python3 - "$work/bench.json" "$work/bench.time" "$bench_cpu" "$wrk_requests" "$wrk_rate" "$wrk_cpu" "$wrk_non2xx" "$work/wrk.txt" <<'PY'
import json, re, sys
s = json.load(open(sys.argv[1])); t = open(sys.argv[2]).read()
bench_cpu = float(sys.argv[3]); wrk_n = int(sys.argv[4]); wrk_rate = float(sys.argv[5])
wrk_cpu = float(sys.argv[6]); wrk_bad = int(sys.argv[7])
rss = float(re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", t).group(1)) / 1024
n = s["attempts"]; late = s["lateStarts"]
wrk_latency = re.search(r"Latency\s+(\S+)", open(sys.argv[8]).read())
print(f"wrk   (closed loop): {wrk_n} requests, {wrk_rate:.0f} req/s, {wrk_bad} non-2xx; client CPU "
      f"{wrk_cpu:.2f} s = {wrk_cpu / max(wrk_n, 1) * 1e6:.1f} us/request; mean latency "
      f"{wrk_latency.group(1) if wrk_latency else '?'}")
print(f"bench (open loop, {s['intendedRate']:.0f}/s intended): {n} requests, "
      f"{s['requestsPerSecond']:.0f} req/s achieved, {s['failed']} failed; client CPU {bench_cpu:.2f} s = "
      f"{bench_cpu / max(n, 1) * 1e6:.1f} us/request; peak RSS {rss:.1f} MB")
print(f"bench latency from intended time p50 {s['latencyMs']['p50']:.3f} ms, p99 {s['latencyMs']['p99']:.3f} ms; "
      f"service p50 {s['serviceMs']['p50']:.3f} ms, p99 {s['serviceMs']['p99']:.3f} ms; "
      f"late starts {late['count']} of {late['started']} (max {late['maxMs']:.1f} ms)")
PY
