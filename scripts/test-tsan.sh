#!/usr/bin/env bash
# ThreadSanitizer over the tests that exercise jobpatch's threads: the manifest reader
# thread that feeds apply, plan and resume (and any thread added beside it), its
# cancellation by a signal, a deadline or an abort, and the monitoring output.
#
# - Only `jobpatch` is built with TSan (preset "tsan", build-tsan/: -O1 -g1): its threads
#   are what these tests are about. The test programs, jobpatch-mock and
#   jobpatch-make-manifest come from build/ (scripts/test.sh, which CI runs first, built
#   them; otherwise they are built here), and JOBPATCH_TEST_JOBPATCH points the tests at
#   the instrumented jobpatch. So a cold run compiles 65 translation units instead of 89.
#   JOBPATCH_TSAN_ALL=1 instruments the test programs and the mock as well (build-tsan's
#   own apply_tests: 89 TUs, 730 s cold at load 8, against 154 s at load 3 for the 65).
# - A TSan report ends jobpatch with exit code 86 (no jobpatch program uses it) and writes
#   the report to build-tsan/sanitizer-logs/, which must be empty at the end; the test
#   helpers also leave a file there for a child that exits 86, whether or not its test
#   looks at the exit code.
# - Known false positives go to tests/tsan.supp, one by one with the reason.
# - Left out: tests labelled perf (timing figures); the heap-allocation counts (their
#   LD_PRELOAD counter cannot come before TSan's runtime); and three long runs whose time
#   goes to retries and restarts, not to the reader thread: injected faults (48 s under
#   TSan), ten kill -9 (31 s; a killed process reports nothing) and a token expiring
#   (10 s). The 24 tests left take ~1 min on a busy 2-core machine.
#
#   scripts/test-tsan.sh [extra ctest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sanitizer-logs.sh
root=$(pwd)
scripts/install-deps.sh
build=${JOBPATCH_TSAN_BUILD:-build-tsan}
tests='^integration/(apply|plan|resume|progress|metrics file|operator: (a pipe|after a deadline)|live control|auto:)'
left_out='heap allocation|injected faults|kill -9|token expires'

# Never with -Werror: instrumented, g++ 12 warns falsely (see scripts/test-sanitizers.sh).
cmake --preset tsan -B "$build" -DJOBPATCH_WERROR=OFF >/dev/null
if [ "${JOBPATCH_TSAN_ALL:-0}" = 1 ]; then
  cmake --build "$build" -j "$(nproc)" --target apply_tests
  test_dir=$build
  unset JOBPATCH_TEST_JOBPATCH
else
  cmake --build "$build" -j "$(nproc)" --target jobpatch
  JOBPATCH_BUILD_TARGETS=apply_tests scripts/build.sh
  test_dir=build
  export JOBPATCH_TEST_JOBPATCH=$root/$build/src/cli/jobpatch
fi

logs=$root/$build/sanitizer-logs
rm -rf "$logs"
mkdir -p "$logs"
export TSAN_OPTIONS="exitcode=86:log_path=$logs/report:second_deadlock_stack=1:suppressions=$root/tests/tsan.supp"
export JOBPATCH_SANITIZER_LOGS=$logs
export JOBPATCH_TEST_SLOWDOWN=${JOBPATCH_TEST_SLOWDOWN:-4}

status=0
ctest --test-dir "$test_dir" --output-on-failure -j "$(nproc)" -L integration -LE perf \
  -R "$tests" -E "$left_out" "$@" || status=$?

sanitizer_logs_check "$logs" ThreadSanitizer || status=1
[ "$status" -eq 0 ] && echo "tsan: apply, plan, resume, monitoring and live control tests clean (ThreadSanitizer)"
exit "$status"
