#!/usr/bin/env bash
# Instructions per call of the two answer readers over the mock's job document
# (bench/answer_check_bench.cpp), counted by callgrind: response_parser::check_patch
# (every PATCH answer) and job_document_reader::parse (every GET of a read-first run),
# each run alone on N and 2N calls; the difference of the program's totals over N is the
# cost of one warm call (with its loop's few instructions), whatever gets inlined.
#   bench/answer_check.sh [N]          default N = 2000
# Environment: BUILD (default build-callgrind), MARCH (default x86-64-v3; valgrind cannot
# run the AVX-512 code that -march=native emits on a recent CPU), EXTRA_FLAGS (default
# -mpclmul, as bench/march.sh's x86-64-v3+pclmul). simdjson's stage 1 runs in its shared
# library, dispatched at run time, whatever the build's -march.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
build=${BUILD:-build-callgrind}
march=${MARCH:-x86-64-v3}
flags=${EXTRA_FLAGS--mpclmul}
command -v valgrind >/dev/null || { echo "answer_check.sh: needs valgrind" >&2; exit 2; }
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DJOBPATCH_MARCH="$march" \
  -DCMAKE_CXX_FLAGS="$flags" -DJOBPATCH_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target answer_check_bench >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

count() { # which calls
  valgrind --tool=callgrind --callgrind-out-file="$work/cg" \
    "$build/bench/answer_check_bench" "$2" "$1" >/dev/null 2>"$work/err" || {
    cat "$work/err" >&2
    exit 1
  }
  callgrind_annotate "$work/cg" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
}
for which in patch get; do
  one=$(count "$which" "$n")
  two=$(count "$which" $((2 * n)))
  name=response_parser::check_patch
  [ "$which" = get ] && name=job_document_reader::parse
  echo "$name: $(((two - one) / n)) instructions per call ($one for $n calls, $two for $((2 * n)))"
done
