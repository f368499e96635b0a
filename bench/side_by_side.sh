#!/usr/bin/env bash
# Side by side on loopback: nginx (Debian, 1 worker, TLS, keep-alive) plays the API with
# the mock's own ~1.3 KB job document; the same N distinct PATCHes (job-0000001..N,
# configs) are sent by
#   apply    jobpatch apply (TLS verified, results and summary on)
#   bench    jobpatch bench at saturation (--rate far above what it reaches; CPU per
#            completed request)
#   wrk      wrk -t1 with a Lua script walking the same requests (no TLS verification),
#            for about as long as N requests take it
#   curl     curl --parallel -K (one config entry per request)
#   aiohttp  Python aiohttp (Debian python3-aiohttp), C concurrent workers
# over C connections, ROUNDS interleaved rounds, pinned (taskset: server CPU 0, client
# CPU 1) and unpinned. Per client and mode, medians of: req/s, client CPU µs/request
# (user+sys from /usr/bin/time, and each alone), context switches/request
# (voluntary+involuntary), peak RSS, non-200 answers, and ratios to wrk; system calls per
# request (all of them, futex included) from one more, untimed run of each client under
# `strace -f -c`, with the largest kinds listed under the tables; and, where `perf` can
# count the raw_syscalls:sys_enter tracepoint (tracefs mounted), from one more under
# `perf stat`: strace stops the client at every call, which lets a server on another CPU
# answer before the client reads, so it shows fewer empty reads than an unobserved run
# makes. Then jobpatch apply's heap allocations per
# request in steady state (an LD_PRELOAD malloc counter: runs of N/2 and N, the
# difference over N/2).
#   bench/side_by_side.sh [N (100000)] [ROUNDS (3)] [CONNECTIONS (64)]
# env: BUILD_DIR (build), JOBPATCH (a jobpatch binary to measure instead), BEFORE (an
# older jobpatch binary: adds the clients apply-before and bench-before, interleaved with
# the others, for before/after in one run), CLIENTS ("apply bench wrk curl aiohttp"), MODES ("pinned
# unpinned"), KEEP=1 keeps the work directory.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
rounds=${2:-3}
connections=${3:-64}
build=${BUILD_DIR:-build}
clients=${CLIENTS:-apply bench wrk curl aiohttp}
[ -n "${BEFORE:-}" ] && clients="apply-before bench-before $clients"
modes=${MODES:-pinned unpinned}
here=bench/side_by_side

need=()
[ -x /usr/sbin/nginx ] || need+=(nginx)
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
[ -x /usr/bin/time ] || need+=(time)
command -v cc >/dev/null || need+=(gcc)
command -v strace >/dev/null || need+=(strace)
/usr/bin/python3 -c 'import aiohttp' 2>/dev/null || need+=(python3-aiohttp)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ -z "${JOBPATCH:-}" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --target jobpatch jobpatch-mock >/dev/null
fi
jobpatch=${JOBPATCH:-$build/src/cli/jobpatch}
mock=$build/src/mock/jobpatch-mock

work=$(mktemp -d)
pids=()
stop_servers() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
cleanup() { stop_servers; [ -n "${KEEP:-}" ] && echo "work: $work" >&2 || rm -rf "$work"; }
trap cleanup EXIT
wait_file() { for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done; echo "no $1" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
body='{"taskTimeout":600,"jobTimeout":7200,"isTestJob":false}'

# The document the mock answers to this PATCH, for nginx to send back with the job's id.
"$mock" --port 0 --port-file "$work/mock.port" --cert-out "$work/mock.pem" --api-key k \
  --jobs 1 --threads 1 2>"$work/mock.err" &
pids+=($!)
wait_file "$work/mock.port"
mock_url=https://localhost:$(cat "$work/mock.port")
token=$(curl -sf --cacert "$work/mock.pem" "$mock_url/v1/auth/access_token" -d '{"apiKey":"k"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
curl -sf --cacert "$work/mock.pem" -X PATCH -H "Authorization: $token" \
  -H 'Content-Type: application/json' -d "$body" \
  "$mock_url/v1/customer/jobs/job-0000001/configs" >"$work/body.json"
stop_servers

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
port=$(free_port)
url=https://localhost:$port
python3 - "$work" "$port" bench/nginx/side_by_side.conf.in <<'PY'
import sys
work, port, template = sys.argv[1:4]
body = open(f"{work}/body.json").read().strip()
if "'" in body or "$" in body: sys.exit("the document has characters nginx would interpret")
body = body.replace('"job-0000001"', '"$1"')
conf = open(template).read().replace("@PREFIX@", work).replace("@PORT@", port).replace("@BODY@", body)
open(f"{work}/nginx.conf", "w").write(conf)
PY

# The same N requests for every client.
# curl's -K: options given before "next" apply to one transfer only (a --data given for
# every URL without it would accumulate into one ever-growing body).
python3 - "$work" "$n" "$url" "$body" <<'PY'
import sys
work, n, url, body = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
quoted = body.replace('"', '\\"')
with open(f"{work}/m.ndjson", "w") as m, open(f"{work}/curl.cfg", "w") as c:
    for i in range(1, n + 1):
        job = f"job-{i:07d}"
        m.write(f'{{"jobId":"{job}","op":"configs","body":{body}}}\n')
        c.write(f'url = "{url}/v1/customer/jobs/{job}/configs"\nrequest = "PATCH"\n'
                f'data = "{quoted}"\noutput = "/dev/null"\ncacert = "{work}/cert.pem"\n'
                'header = "Authorization: side-by-side-token"\n'
                'header = "Content-Type: application/json"\n'
                'write-out = "%{http_code}\\n"\n'
                + ("next\n" if i < n else ""))
PY

start_nginx() { # cpu-prefix...
  "$@" /usr/sbin/nginx -p "$work" -c "$work/nginx.conf" -e "$work/error.log" &
  pids+=($!)
  for _ in $(seq 100); do curl -sf -o /dev/null --cacert "$work/cert.pem" "$url/v1/auth/access_token" -d '{}' && return 0; sleep 0.05; done
  echo "nginx did not start" >&2; exit 1
}

rows=$work/rows.tsv
syscall_rows=$work/syscalls.tsv
perf_rows=$work/perf.tsv
: >"$rows"
: >"$syscall_rows"
: >"$perf_rows"
perf_counts=
perf stat -x, -e raw_syscalls:sys_enter -o /dev/null true 2>/dev/null && perf_counts=1
# measure MODE ROUND CLIENT: runs the client under /usr/bin/time, appends a row. With
# STRACE=1, under strace -f -c as well, appending its requests and system calls (with the
# count of each kind) to $syscall_rows instead; with PERF=1, under perf stat counting
# system calls, appending to $perf_rows.
measure() {
  local mode=$1 round=$2 client=$3 cpu=() trace=()
  [ -n "${STRACE:-}" ] && trace=(strace -f -c -o "$work/$client.strace")
  [ -n "${PERF:-}" ] && trace=(perf stat -x, -e raw_syscalls:sys_enter -o "$work/$client.perf")
  [ "$mode" = pinned ] && cpu=(taskset -c 1)
  local t=$work/$client.time out=$work/$client.out err=$work/$client.err
  rm -f "$work/r.ndjson" "$work/s.json"
  local cmd=() bin=$jobpatch
  [[ $client == *-before ]] && bin=$BEFORE
  case $client in
  apply*) cmd=(env BYTENITE_API_KEY=k "$bin" apply "$work/m.ndjson" --base-url "$url"
              --cacert "$work/cert.pem" --connections "$connections" --results "$work/r.ndjson"
              --summary-json "$work/s.json" --progress never) ;;
  bench*) cmd=(env BYTENITE_API_KEY=k "$bin" bench "$work/m.ndjson" --base-url "$url"
              --cacert "$work/cert.pem" --connections "$connections" --rate 1000000
              --duration "$(python3 -c "print(max(1.0, $n / 40000))")" --max-lines "$n"
              --summary-json "$work/s.json") ;;
  # wrk runs for a time: about as long as N requests take it (~30 k/s here).
  wrk) cmd=(env SBS_N="$n" SBS_TOKEN="side-by-side-token" wrk -t1 -c"$connections"
            -d"$(python3 -c "print(max(2, round($n / 30000)))")s" -s "$here/walk.lua" "$url") ;;
  curl) cmd=(curl -s --parallel --parallel-max "$connections" -K "$work/curl.cfg") ;;
  aiohttp) cmd=(/usr/bin/python3 "$here/aiohttp_client.py" "$url" "$work/cert.pem"
                side-by-side-token "$n" "$connections") ;;
  esac
  "${cpu[@]}" /usr/bin/time -f '%e %U %S %M %c %w' -o "$t" "${trace[@]}" "${cmd[@]}" >"$out" 2>"$err" || true
  local into=$rows strace_file= perf_file=
  [ -n "${STRACE:-}" ] && into=$syscall_rows strace_file=$work/$client.strace
  [ -n "${PERF:-}" ] && into=$perf_rows perf_file=$work/$client.perf
  python3 - "$mode" "$round" "$client" "$t" "$out" "$work/s.json" "$n" "$strace_file" "$perf_file" >>"$into" <<'PY'
import json, re, sys
mode, rnd, client, tfile, out, summary, n, strace, perf = sys.argv[1:10]
wall, user, sys_, rss, invol, vol = open(tfile).read().split()[-6:]
text = open(out, errors="replace").read()
done, non200 = int(n), 0
if client.startswith(("apply", "bench")):
    s = json.load(open(summary))
    done = s.get("requests", s.get("total", 0)) if client.startswith("bench") else s["total"]
    non200 = sum(v for k, v in s.get("byStatus", {}).items() if k != "200")
    if client.startswith("bench"): wall = str(s["wallSeconds"])
elif client == "wrk":
    done = int(re.search(r"(\d+) requests in", text).group(1))
    wall = re.search(r"requests in ([\d.]+)s", text).group(1)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    non200 = int(m.group(1)) if m else 0
elif client == "curl":
    codes = text.split()
    done, non200 = len(codes), sum(1 for c in codes if c != "200")
elif client == "aiohttp":
    ok, bad = map(int, text.split()[:2]); done, non200 = ok + bad, bad
if strace:
    # strace -c's last line: "100.00 seconds usecs/call calls errors total"; the lines
    # above it, one per kind: "% seconds usecs/call calls [errors] name".
    lines = open(strace).read().strip().splitlines()
    calls = int(lines[-1].split()[3])
    kinds = [l.split() for l in lines if l.split() and l.split()[0][0].isdigit()][:-1]
    kinds = ",".join(f"{k[-1]}:{k[3]}" for k in kinds if len(k) >= 5)
    print("\t".join(map(str, [mode, client, done, calls, kinds])))
elif perf:
    # perf stat -x,: "COUNT,,raw_syscalls:sys_enter,...".
    calls = next(int(l.split(",")[0]) for l in open(perf) if "raw_syscalls:sys_enter" in l)
    print("\t".join(map(str, [mode, client, done, calls])))
else:
    print("\t".join(map(str, [mode, rnd, client, done, wall, user, sys_, rss, int(invol) + int(vol), non200])))
PY
}

for mode in $modes; do
  if [ "$mode" = pinned ]; then start_nginx taskset -c 0; else start_nginx; fi
  for round in $(seq "$rounds"); do
    for client in $clients; do
      echo "$mode round $round: $client" >&2
      measure "$mode" "$round" "$client"
    done
  done
  for client in $clients; do
    echo "$mode under strace: $client" >&2
    STRACE=1 measure "$mode" 0 "$client"
    if [ -n "$perf_counts" ]; then
      echo "$mode under perf stat: $client" >&2
      PERF=1 measure "$mode" 0 "$client"
    fi
  done
  stop_servers
done

# Heap allocations per request in steady state (jobpatch apply, unpinned).
cc -O2 -shared -fPIC -o "$work/malloc_count.so" "$here/malloc_count.c"
start_nginx
head -n $((n / 2)) "$work/m.ndjson" >"$work/half.ndjson"
allocs=()
for manifest in half m; do
  rm -f "$work/r.ndjson"
  LD_PRELOAD=$work/malloc_count.so MALLOC_COUNT_OUT=$work/$manifest.allocs BYTENITE_API_KEY=k \
    "$jobpatch" apply "$work/$manifest.ndjson" --base-url "$url" --cacert "$work/cert.pem" \
    --connections "$connections" --results "$work/r.ndjson" --progress never >/dev/null 2>&1 || true
  allocs+=("$(cat "$work/$manifest.allocs")")
done
stop_servers

python3 - "$rows" "$n" "$connections" "${allocs[0]}" "${allocs[1]}" "$(/usr/sbin/nginx -v 2>&1)" "$syscall_rows" "$perf_rows" <<'PY'
import statistics, sys
from collections import defaultdict
rows, n, conns, half, full, nginx = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
syscalls, kinds, perf = {}, {}, {}
for line in open(sys.argv[7]):
    mode, client, done, calls, by_kind = line.rstrip("\n").split("\t")
    done = max(1, int(done))
    syscalls[(mode, client)] = int(calls) / done
    kinds[(mode, client)] = [(k, int(c) / done) for k, c in
                             (item.rsplit(":", 1) for item in by_kind.split(",") if item)]
for line in open(sys.argv[8]):
    mode, client, done, calls = line.split("\t")
    perf[(mode, client)] = int(calls) / max(1, int(done))
by = defaultdict(list)
for line in open(rows):
    mode, rnd, client, done, wall, user, sys_, rss, cs, non200 = line.split("\t")
    done = max(1, int(done))
    by[(mode, client)].append(dict(rate=done / float(wall), cpu=(float(user) + float(sys_)) / done * 1e6,
                                   user=float(user) / done * 1e6, sys=float(sys_) / done * 1e6,
                                   cs=int(cs) / done, rss=int(rss) / 1024, non200=int(non200), done=done))
med = {k: {f: statistics.median(r[f] for r in v) for f in v[0]} for k, v in by.items()}
print(f"{n} PATCHes, {conns} connections, nginx {nginx.split('/')[-1]} (1 worker, TLS), medians of {len(next(iter(by.values())))} rounds")
for mode in dict.fromkeys(k[0] for k in med):
    wrk = med.get((mode, "wrk"))
    print(f"\n{mode}:\n| client | req/s | CPU µs/req | user | sys | ctx switches/req | syscalls/req | syscalls/req (perf) | peak RSS MB | non-200 | req/s ÷ wrk | CPU ÷ wrk |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (m, client), x in med.items():
        if m != mode: continue
        r = f"{x['rate'] / wrk['rate']:.2f}" if wrk else "-"
        c = f"{x['cpu'] / wrk['cpu']:.2f}" if wrk else "-"
        sc = syscalls.get((m, client))
        sc = f"{sc:.2f}" if sc is not None else "-"
        pc = perf.get((m, client))
        pc = f"{pc:.2f}" if pc is not None else "-"
        print(f"| {client} | {x['rate']:.0f} | {x['cpu']:.1f} | {x['user']:.1f} | {x['sys']:.1f} | {x['cs']:.4f} | {sc} | {pc} | {x['rss']:.1f} | {x['non200']:.0f} | {r} | {c} |")
    print(f"\nSystem calls per request under strace ({mode}), the kinds over 0.01:")
    for (m, client), by_kind in kinds.items():
        if m == mode:
            print(f"- {client}: " + ", ".join(f"{k} {v:.2f}" for k, v in by_kind if v >= 0.01))
print(f"\njobpatch apply heap allocations: {half} for {n // 2} lines, {full} for {n}: "
      f"{(full - half) / (n - n // 2):.2f} per request in steady state")
PY
