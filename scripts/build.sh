#!/usr/bin/env bash
# Builds jobpatch into build/ (CMake preset "release"). Extra arguments go to cmake's
# configure step. Configures only when build/ is new, when arguments are given or when
# JOBPATCH_WERROR is set (CI sets it to ON); otherwise Ninja re-runs CMake by itself
# when a CMakeLists.txt changed, so a rebuild after an edit starts at once.
# JOBPATCH_BUILD_TARGETS (space-separated) builds only those targets (scripts/demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
args=("$@")
[ -n "${JOBPATCH_WERROR:-}" ] && args+=("-DJOBPATCH_WERROR=$JOBPATCH_WERROR")
if [ ! -f build/build.ninja ] || [ ${#args[@]} -gt 0 ]; then
  cmake --preset release "${args[@]}" >/dev/null
fi
targets=()
[ -n "${JOBPATCH_BUILD_TARGETS:-}" ] && read -ra targets <<<"$JOBPATCH_BUILD_TARGETS"
cmake --build build -j "$(nproc)" ${targets[@]+--target "${targets[@]}"}
