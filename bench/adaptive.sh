#!/usr/bin/env bash
# --connections auto against the mock's capacity model (issue 27): K requests served at
# once for S ms each (capacity K/S), up to Q waiting, 503 with Retry-After: 1 beyond.
#   1. fixed --connections 64, fixed --connections K, and auto: throughput (applied lines/s
#      and its share of the capacity), 503 share, per-request latency p50/p99;
#   2. a capacity drop K 8 -> 2 at DROP_AT s, auto: how long until the 503 share (per
#      0.5 s window, sampled from the mock's /mock/stats every 50 ms) stays under 5 %.
#   bench/adaptive.sh [SECONDS per case, default 15]
# Environment: K (4), S (10), QUEUE (32), DROP_AT (8), DROP_QUEUE (4: a short queue, so that
# an overloaded server answers 503 rather than queueing).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
K=${K:-4}
S=${S:-10}
QUEUE=${QUEUE:-32}
DROP_AT=${DROP_AT:-8}
DROP_QUEUE=${DROP_QUEUE:-4}
source bench/mock_harness.sh

start_capacity_mock() { # mock options...
  [ -n "$mock_pid" ] && { kill "$mock_pid" 2>/dev/null; wait "$mock_pid" 2>/dev/null || true; }
  rm -f "$work/port"
  "$tools/mock/jobpatch-mock" --port 0 --port-file "$work/port" --cert-out "$work/cert.pem" \
    --api-key "$key" --jobs 20000 --threads 1 "$@" 2>"$work/mock.err" &
  mock_pid=$!
  for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
  port=$(cat "$work/port")
}

# Samples /mock/stats every 50 ms into $work/samples.tsv until the file $work/stop exists:
# seconds since start, served, rejected503, capacity changes made.
sample_stats() {
  python3 - "$port" "$work/cert.pem" "$work/samples.tsv" "$work/stop" <<'PY' &
import http.client, json, os, ssl, sys, time
port, cert, out, stop = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=cert)
t0 = time.monotonic()
with open(out, "w") as f:
    conn = http.client.HTTPSConnection("localhost", int(port), context=ctx)
    while not os.path.exists(stop):
        conn.request("GET", "/mock/stats")
        c = json.loads(conn.getresponse().read())["capacity"]
        f.write(f"{time.monotonic() - t0:.3f}\t{c['servedAtOnce'] + c['servedAfterQueue']}\t"
                f"{c['rejected503']}\t{c['changesMade']}\n")
        time.sleep(0.05)
PY
  sampler_pid=$!
}

run_apply() { # label lines connections capacity/s
  local label=$1 lines=$2 connections=$3 capacity=$4
  "$tools/jobpatch-make-manifest" --lines "$lines" --jobs 20000 --out "$work/m.ndjson"
  rm -f "$work/summary.json"
  BYTENITE_API_KEY=$key "$bin/cli/jobpatch" apply "$work/m.ndjson" \
    --base-url "https://localhost:$port" --cacert "$work/cert.pem" --connections "$connections" \
    --max-attempts 100 --progress never --summary-json "$work/summary.json" \
    2>"$work/apply.err" >/dev/null || true
  python3 - "$work/summary.json" "$label" "$capacity" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); label = sys.argv[2]; capacity = float(sys.argv[3])
rate = s["ok"] / s["wallSeconds"]
n503 = s["byStatus"].get("503", 0)
share = n503 / max(s["requests"], 1)
c = s["concurrency"]
print(f"| {label} | {s['ok']}/{s['total']} | {rate:.0f} | {rate / capacity * 100:.0f} % | "
      f"{share * 100:.2f} % | {s['serviceMs']['p50']:.1f} | {s['serviceMs']['p99']:.1f} | "
      f"{s['latencyMs']['p50']:.1f} | {c['min']}-{c['max']}, final {c['final']} |")
PY
}

header() {
  echo
  echo "| connections | ok/lines | applied/s | of capacity | 503 share | request p50 ms | request p99 ms | line p50 ms | limit |"
  echo "|---|---|---|---|---|---|---|---|---|"
}

capacity=$((K * 1000 / S))
lines=$((capacity * seconds))
echo "capacity model: K=$K, S=$S ms (capacity $capacity/s), queue $QUEUE; $lines lines per case"
header
for c in 64 "$K" auto; do
  start_capacity_mock --capacity "$K" --service-ms "$S" --queue "$QUEUE"
  run_apply "$c" "$lines" "$c" "$capacity"
done

# The drop: 8 -> 2 at DROP_AT s; the run lasts about DROP_AT + 8 s at the capacities.
drop_run() { # connections
  start_capacity_mock --capacity 8 --service-ms "$S" --queue "$DROP_QUEUE" --capacity-after "$DROP_AT:2"
  rm -f "$work/stop"
  sample_stats
  local drop_lines=$(((8000 / S) * DROP_AT + (2000 / S) * 8))
  local mean=$((drop_lines / (DROP_AT + 8)))
  header
  run_apply "$1, K 8 -> 2" "$drop_lines" "$1" "$mean"
  touch "$work/stop"
  wait "$sampler_pid" || true
  python3 - "$work/samples.tsv" <<'PY'
import sys
rows = [tuple(float(x) for x in line.split("\t")) for line in open(sys.argv[1])]
drop = next((t for t, _, _, changes in rows if changes >= 1), None)
if drop is None:
    sys.exit("the capacity change was not seen")
nearest = lambda t: min(rows, key=lambda r: abs(r[0] - t))
# 503 share per 0.5 s window, from 1 s before the drop on.
windows, start = [], drop - 1
while any(r[0] >= start + 0.5 for r in rows):
    a, b = nearest(start), next(r for r in rows if r[0] >= start + 0.5)
    served, rejected = b[1] - a[1], b[2] - a[2]
    windows.append((start - drop, rejected / max(served + rejected, 1), served, rejected))
    start += 0.5
after = [w for w in windows if w[0] >= 0]
settled = next((w[0] + 0.5 for i, w in enumerate(after) if all(x[1] < 0.05 for x in after[i:])), None)
print()
print("| s from the drop | served | 503s | 503 share |")
print("|---|---|---|---|")
for t, share, served, rejected in windows[:10]:
    print(f"| {t:+.1f} to {t + 0.5:+.1f} | {served:.0f} | {rejected:.0f} | {share * 100:.1f} % |")
print()
print(f"503s after the drop: {rows[-1][2] - nearest(drop)[2]:.0f}; the 503 share is under 5 % in every "
      f"0.5 s window {'from %.1f s after the drop on' % settled if settled is not None else 'never again'}")
PY
}

echo
echo "capacity drop: K 8 -> 2 at ${DROP_AT} s (S=$S ms, queue $DROP_QUEUE)"
drop_run auto
drop_run 16
