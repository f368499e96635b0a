#!/usr/bin/env bash
# Peak RSS of `jobpatch apply` (64 connections, --results on, no rate limit) against
# jobpatch-mock on loopback as the manifest grows, for two manifests per size:
#   bounded  - lines over 100,000 jobs the mock has (each answers 200)
#   404      - every line a distinct job the mock does not have (each answers 404)
# Prints lines, outcomes, time and peak RSS (`/usr/bin/time -v`) per case and size.
#   bench/rss_flat.sh [SIZE...]       default: 100000 1000000 (add 10000000: ~10 min each)
# Environment: CONNECTIONS (64), JOBPATCH_BIN_DIR (build/src: another build to compare),
# CASES ("bounded 404": either alone to save time), APPLY_ARGS (more apply options, e.g.
# --skip-invalid).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=(${@:-100000 1000000})
connections=${CONNECTIONS:-64}
cases=${CASES:-bounded 404}
command -v /usr/bin/time >/dev/null || { apt-get update -qq; apt-get install -y -qq time; }
source bench/mock_harness.sh
start_mock 100000

run() { # manifest label
  rm -f "$work/results.ndjson"
  BYTENITE_API_KEY=$key /usr/bin/time -v "$bin/cli/jobpatch" apply "$1" \
    --base-url "https://localhost:$port" --cacert "$work/cert.pem" --connections "$connections" \
    --results "$work/results.ndjson" --fsync-interval 0 --summary-json "$work/summary.json" \
    ${APPLY_ARGS:-} 2>"$work/time.txt" >/dev/null || true
  python3 - "$work/summary.json" "$work/time.txt" "$2" <<'PY'
import json, re, sys
s = json.load(open(sys.argv[1])); t = open(sys.argv[2]).read()
grab = lambda k: float(re.search(re.escape(k) + r":\s*([\d.]+)", t).group(1))
rss = grab("Maximum resident set size (kbytes)") / 1024
by = s.get("byError", {})
withheld = sum(v for k, v in by.items() if k.startswith("withheld"))
print(f"| {sys.argv[3]} | {s['total']} | {s['ok']} | {s['failed'] - withheld} | {withheld} | "
      f"{s['wallSeconds']:.0f} | {s['requestsPerSecond']:.0f} | {rss:.1f} |", flush=True)
PY
}

echo "| case | lines | ok | failed | withheld | s | req/s | peak RSS MB |"
echo "|---|---|---|---|---|---|---|---|"
for n in "${sizes[@]}"; do
  if [[ " $cases " == *" bounded "* ]]; then
    "$tools/jobpatch-make-manifest" --lines "$n" --jobs 100000 --out "$work/m.ndjson"
    run "$work/m.ndjson" "bounded (100k jobs)"
  fi
  if [[ " $cases " == *" 404 "* ]]; then
    "$tools/jobpatch-make-manifest" --lines "$n" --jobs 0 --id-prefix gone- --out "$work/m.ndjson"
    run "$work/m.ndjson" "404 (one job per line)"
  fi
  rm -f "$work/m.ndjson" "$work/results.ndjson"
done
