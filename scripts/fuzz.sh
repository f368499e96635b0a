#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 (ASan + UBSan) in build-fuzz and runs each
# for SECONDS (default 60) from its seed corpus (tests/fuzz/corpus/<target>).
# New inputs go to build-fuzz/corpus/<target>; a crash leaves crash-* files in
# build-fuzz/artifacts/<target>/ and makes the script exit 1 — copy them to
# tests/fuzz/regressions/<target>/ (replayed by ctest's fuzz/ tests) after fixing.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# JOBPATCH_FUZZ_SEED fixes libFuzzer's seed (CI does, so that its runs repeat; 0 = random).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(line_validator manifest_reader response_parser job_document body_validator retry_after http_response)
build=${JOBPATCH_FUZZ_BUILD:-$root/build-fuzz}

if ! command -v clang++-14 >/dev/null || ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 libclang-rt-14-dev
fi

# CMake preset "fuzz" (CMakePresets.json): clang++-14, RelWithDebInfo, JOBPATCH_FUZZ=ON.
(cd "$root" && cmake --preset fuzz -B "$build" >/dev/null)
cmake --build "$build" --target "${targets[@]/#/fuzz_}"

status=0
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t" "$build/artifacts/$t"
  max_len=4096
  [ "$t" = http_response ] && max_len=70000
  echo "== fuzz_$t for ${seconds}s"
  if ! (cd "$build/artifacts/$t" &&
        "$build/tests/fuzz_$t" -max_total_time="$seconds" -max_len="$max_len" -timeout=20 \
          -seed="${JOBPATCH_FUZZ_SEED:-0}" \
          -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/artifacts/$t/" \
          "$build/corpus/$t" "$root/tests/fuzz/corpus/$t" 2>"$build/artifacts/$t/log" ); then
    echo "!! fuzz_$t failed: see $build/artifacts/$t/log and crash-* files there"
    tail -n 40 "$build/artifacts/$t/log"
    status=1
  else
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)|cov:' "$build/artifacts/$t/log" | tail -n 3
  fi
done
exit $status
