#!/usr/bin/env bash
# Builds jobpatch with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan and
# runs the whole ctest suite under them (CI runs this after scripts/test.sh).
#
# - Every program is instrumented, also the jobpatch and jobpatch-mock children that the
#   integration tests start. A finding ends the program with exit code 86, which no
#   jobpatch program uses, so it cannot pass for an expected exit code (1, 2, 3, 143).
# - Findings must also leave a file in build-asan/sanitizer-logs/, which has to be empty
#   at the end: ASan and LSan write their reports there (log_path), and the test helpers
#   copy the stderr of any child that exits 86 there (UBSan ignores log_path when linked
#   next to ASan). So a finding in a child whose exit code a test does not look at (a
#   mock stopped at the end of a test) still fails the run.
# - Tests labelled `perf` (doctest suite "perf") assert timing or throughput figures that
#   instrumented code legitimately misses; they are excluded here only (scripts/test.sh
#   runs them). Peak-RSS ceilings are skipped inside the tests when built with ASan.
# - JOBPATCH_TEST_SLOWDOWN stretches the tests' own waits for the instrumented programs.
#
#   scripts/test-sanitizers.sh [extra ctest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sanitizer-logs.sh
scripts/install-deps.sh
build=${JOBPATCH_ASAN_BUILD:-build-asan}

# CMake preset "asan" (CMakePresets.json): -O1 -g1, ASan + UBSan, no benchmarks. Never with
# -Werror (JOBPATCH_WERROR is for the release build): instrumented, g++ 12 warns falsely
# (-Wmismatched-new-delete on Asio's coroutine frames, -Wmaybe-uninitialized in
# libstdc++'s <regex>).
cmake --preset asan -B "$build" -DJOBPATCH_WERROR=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"

logs=$(realpath "$build")/sanitizer-logs
rm -rf "$logs"
mkdir -p "$logs"
common="exitcode=86:log_path=$logs/report:print_stacktrace=1"
export ASAN_OPTIONS="$common:detect_leaks=1:detect_stack_use_after_return=1:strict_init_order=1:check_initialization_order=1"
export UBSAN_OPTIONS="$common:halt_on_error=1"
export LSAN_OPTIONS="exitcode=86"
export JOBPATCH_SANITIZER_LOGS=$logs
export JOBPATCH_TEST_SLOWDOWN=${JOBPATCH_TEST_SLOWDOWN:-4}

status=0
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" -LE perf "$@" || status=$?

sanitizer_logs_check "$logs" sanitizer || status=1
[ "$status" -eq 0 ] && echo "sanitizers: whole suite clean (ASan + UBSan + LSan)"
exit "$status"
