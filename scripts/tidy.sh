#!/usr/bin/env bash
# Runs clang-tidy 14 with .clang-tidy over the pure library in src/ (manifest, wire,
# policy, results, stats, report) using build/compile_commands.json; exits 1 on any
# finding. net/, cli/, mock/ and tools/ are left out to keep CI fast: their Beast and
# coroutine TUs cost ~1 min each under clang-tidy (the whole of src/ would take over 10 min
# on 2 cores); the pure code, where the branching logic lives, takes ~3 min.
#   scripts/tidy.sh [FILE...]   (default: every .cpp of those folders)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v run-clang-tidy-14 >/dev/null; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-tidy
fi
# The release preset exports compile commands; an older build/ is reconfigured once.
[ -f build/compile_commands.json ] || cmake --preset release >/dev/null
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  mapfile -t files < <(git ls-files 'src/manifest/*.cpp' 'src/wire/*.cpp' 'src/policy/*.cpp' \
    'src/results/*.cpp' 'src/stats/*.cpp' 'src/report/*.cpp')
fi
# run-clang-tidy takes regular expressions: anchor each path.
regexes=()
for f in "${files[@]}"; do regexes+=("$(realpath "$f")\$"); done
start=$SECONDS
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# The compile commands are g++'s: clang must not fail on a g++-only flag (-Wno-restrict).
run-clang-tidy-14 -p build -quiet -j "$(nproc)" -extra-arg=-Wno-unknown-warning-option \
  "${regexes[@]}" >"$log" 2>&1 || status=$?
sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -v -E '^(clang-tidy-14 |[0-9]+ warnings? generated|Suppressed [0-9]+ warnings|Use -header-filter|[0-9]+ warnings? treated as errors)' || true
echo "tidy: ${#files[@]} files in $((SECONDS - start)) s: $([ "$status" -eq 0 ] && echo clean || echo findings above)"
exit "$status"
