#!/usr/bin/env bash
# Is jobpatch-mock fast enough to benchmark clients against? Compares it, on one thread,
# with nginx (one worker) answering a fixed JSON document of the same size (the mock's own
# 1.3 KB job document), both over TLS on loopback, driven by the same wrk script
# (PATCH /v1/customer/jobs/{id}/configs with a JSON body and a token; nginx answers it
# with "return 200", the mock validates, applies and serializes for real).
# Target: mock >= 0.5 x nginx.
#   bench/mock_vs_nginx.sh [SECONDS] [CONNECTIONS]       (env BUILD_DIR, default build)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
connections=${2:-64}
build=${BUILD_DIR:-build}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null ||
    { [[ " ${need[*]} " == *" nginx-light "* ]] && apt-get install -y -qq nginx >/dev/null; }
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

mock="$build/src/mock/jobpatch-mock"
if [ ! -x "$mock" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --target jobpatch-mock >/dev/null
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Server on CPU 0, wrk on CPU 1 (when there are two), so they do not steal from each other.
server_cpu=() client_cpu=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  server_cpu=(taskset -c 0) client_cpu=(taskset -c 1)
fi

wait_port() { # file
  for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done
  echo "server did not start" >&2; exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- jobpatch-mock, one thread ------------------------------------------------------
key=bench-key
"${server_cpu[@]}" "$mock" --port 0 --port-file "$work/mock.port" --cert-out "$work/mock.pem" \
  --api-key "$key" --jobs 1000 --threads 1 2>"$work/mock.err" &
pids+=($!)
wait_port "$work/mock.port"
mock_port=$(cat "$work/mock.port")
token=$(curl -sf --cacert "$work/mock.pem" "https://localhost:$mock_port/v1/auth/access_token" \
  -d "{\"apiKey\":\"$key\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
# The exact document the mock answers, for nginx to send back.
curl -sf --cacert "$work/mock.pem" -H "Authorization: $token" \
  "https://localhost:$mock_port/v1/customer/jobs/job-0000001" >"$work/body.json"
body_size=$(wc -c <"$work/body.json")
if grep -q "['\\\$]" "$work/body.json"; then echo "body has characters nginx would interpret" >&2; exit 1; fi

# --- nginx, one worker -----------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
nginx_port=$(free_port)
python3 - "$work" "$nginx_port" bench/nginx/nginx.conf.in <<'PY'
import sys
work, port, template = sys.argv[1:4]
body = open(f"{work}/body.json").read()
conf = open(template).read().replace("@PREFIX@", work).replace("@PORT@", port).replace("@BODY@", body)
open(f"{work}/nginx.conf", "w").write(conf)
PY
"${server_cpu[@]}" "$nginx_bin" -p "$work" -c "$work/nginx.conf" -e "$work/error.log" &
pids+=($!)
for _ in $(seq 100); do curl -sfk -o /dev/null "https://127.0.0.1:$nginx_port/" && break; sleep 0.05; done
curl -sfk -X PATCH "https://127.0.0.1:$nginx_port/v1/customer/jobs/job-0000001/configs" -d '{}' |
  cmp -s - "$work/body.json" || { echo "nginx does not answer the document" >&2; exit 1; }

run_wrk() { # label port -> prints "label rate", leaves wrk output in $work/label.txt
  BENCH_TOKEN=$token "${client_cpu[@]}" wrk -t1 -c"$connections" -d2s -s bench/nginx/patch_configs.lua \
    "https://localhost:$2/" >/dev/null # warm-up
  BENCH_TOKEN=$token "${client_cpu[@]}" wrk -t1 -c"$connections" -d"${duration}s" \
    -s bench/nginx/patch_configs.lua "https://localhost:$2/" >"$work/$1.txt"
  if grep -q "Non-2xx" "$work/$1.txt"; then
    echo "$1: some answers were not 200:" >&2; cat "$work/$1.txt" >&2; exit 1
  fi
  awk '/^Requests\/sec:/ {print $2}' "$work/$1.txt"
}

echo "wrk -t1 -c$connections -d${duration}s, PATCH configs with a $body_size-byte JSON answer, TLS, loopback, $(nproc) CPUs"
nginx_rate=$(run_wrk nginx "$nginx_port")
mock_rate=$(run_wrk mock "$mock_port")
applied=$(curl -sf --cacert "$work/mock.pem" "https://localhost:$mock_port/mock/stats" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["applied"])')
python3 - "$nginx_rate" "$mock_rate" "$applied" "$work/nginx.txt" "$work/mock.txt" "$("$nginx_bin" -v 2>&1)" <<'PY'
import re, sys
nginx, mock, applied = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
def latency(path):
    m = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", open(path).read())
    return f"avg {m.group(1)}, max {m.group(3)}" if m else "?"
print(f"nginx (1 worker, {sys.argv[6].split(':')[-1].strip()}, return 200): {nginx:10.0f} req/s  latency {latency(sys.argv[4])}")
print(f"jobpatch-mock (--threads 1, validate+apply): {mock:10.0f} req/s  latency {latency(sys.argv[5])}  ({applied} PATCHes applied)")
ratio = mock / nginx
print(f"ratio mock/nginx: {ratio:.2f}  (target >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'})")
sys.exit(0 if ratio >= 0.5 else 1)
PY
