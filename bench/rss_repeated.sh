#!/usr/bin/env bash
# Peak RSS of what a run keeps per repeated job (a job with more than one update), for
# manifests of N distinct jobs with exactly 2 updates each (2N lines: the N jobs once in
# order, then once more, each line's update random), against jobpatch-mock on loopback:
#   apply              the baseline: no per-job state beyond the run's own
#   apply --undo-out   + undo_fields_ (apply_engine.cpp): job id -> fields restored
#   plan               + planned_ (apply_engine.cpp): job id -> each field's planned value
#   apply --resume     + resent_jobs_ (cli/resume_filter.hpp): hashes of jobs sent again,
#                      after a full run whose first halves were different updates, so every
#                      job's first line is sent and its second sent again (and the earlier
#                      run's records, resume_state)
#   resume-none        the same resume after a full run of the same manifest: nothing is
#                      sent, resent_jobs_ stays empty, resume_state is as large
# Prints peak RSS (`/usr/bin/time -v`) per mode and size, then bytes per job:
# (RSS at the larger N - RSS at the smaller) / (difference in N), and that less apply's.
#   bench/rss_repeated.sh [N...]       default: 100000 200000
# Environment: CONNECTIONS (64), JOBPATCH_BIN_DIR (build/src: another build to compare).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=(${@:-100000 200000})
connections=${CONNECTIONS:-64}
command -v /usr/bin/time >/dev/null || { apt-get update -qq; apt-get install -y -qq time; }
source bench/mock_harness.sh
largest=0
for n in "${sizes[@]}"; do [ "$n" -gt "$largest" ] && largest=$n; done
start_mock "$largest"

common=(--base-url "https://localhost:$port" --cacert "$work/cert.pem"
  --connections "$connections")
peak_mb() { # time -v output
  awk -F': *' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$1"
}
results=$work/rss.txt
: >"$results"
measure() { # N, label, then the jobpatch arguments; appends "N label peak-MB" to $results
  local n=$1 label=$2
  shift 2
  if ! BYTENITE_API_KEY=$key /usr/bin/time -v "$bin/cli/jobpatch" "$@" "${common[@]}" \
    >/dev/null 2>"$work/time.txt"; then
    grep -v -E '^\s' "$work/time.txt" | tail -n 5 >&2
    exit 1
  fi
  echo "$n $label $(peak_mb "$work/time.txt")" | tee -a "$results"
}

for n in "${sizes[@]}"; do
  # The N jobs twice: job-0000001..N in order (--jobs 0: one job per line), two seeds.
  "$tools/jobpatch-make-manifest" --lines "$n" --jobs 0 --seed 1 --out "$work/first.ndjson"
  "$tools/jobpatch-make-manifest" --lines "$n" --jobs 0 --seed 2 --out "$work/second.ndjson"
  # Earlier first updates that differ from every one of first.ndjson.
  awk -v n="$n" 'BEGIN { for (i = 1; i <= n; i++)
    printf "{\"jobId\":\"job-%07d\",\"op\":\"jobname\",\"body\":\"earlier-%d\"}\n", i, i }' \
    >"$work/other.ndjson"
  cat "$work/first.ndjson" "$work/second.ndjson" >"$work/m.ndjson"
  cat "$work/other.ndjson" "$work/second.ndjson" >"$work/earlier.ndjson"
  quiet=(--progress never --results "$work/r.ndjson")
  measure "$n" apply apply "$work/m.ndjson" "${quiet[@]}" --force
  measure "$n" undo apply "$work/m.ndjson" "${quiet[@]}" --force --undo-out "$work/undo.ndjson"
  rm -f "$work/undo.ndjson"
  measure "$n" plan plan "$work/m.ndjson"
  # An earlier run of other first updates: each job then has a line recorded ok (its
  # second) and a first line to send, so the resume sends all 2N and keeps every job.
  BYTENITE_API_KEY=$key "$bin/cli/jobpatch" apply "$work/earlier.ndjson" "${common[@]}" \
    "${quiet[@]}" --force >/dev/null 2>&1
  measure "$n" resume apply "$work/m.ndjson" "${quiet[@]}" --resume
  records=$(wc -l <"$work/r.ndjson")
  [ "$records" -eq $((4 * n)) ] ||
    { echo "resume sent $((records - 2 * n)) lines, not all $((2 * n))" >&2; exit 1; }
  # The same resume with nothing left to send (every line recorded ok): resume_state as
  # large, resent_jobs_ empty.
  BYTENITE_API_KEY=$key "$bin/cli/jobpatch" apply "$work/m.ndjson" "${common[@]}" \
    "${quiet[@]}" --force >/dev/null 2>&1
  measure "$n" resume-none apply "$work/m.ndjson" "${quiet[@]}" --resume
  rm -f "$work"/*.ndjson
done

awk -v small="${sizes[0]}" -v large="$largest" '
  { rss[$2, $1] = $3 }
  END {
    printf "\n| mode | peak RSS MB, %d jobs | %d jobs | bytes per job | less apply |\n", small, large
    print "|---|---|---|---|---|"
    base = (rss["apply", large] - rss["apply", small]) * 1048576 / (large - small)
    split("apply undo plan resume resume-none", modes, " ")
    for (i = 1; i <= 5; i++) {
      m = modes[i]
      per = (rss[m, large] - rss[m, small]) * 1048576 / (large - small)
      printf "| %s | %.1f | %.1f | %.0f | %.0f |\n", m, rss[m, small], rss[m, large], per, per - base
    }
  }' "$results"
