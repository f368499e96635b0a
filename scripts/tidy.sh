#!/usr/bin/env bash
# Runs clang-tidy 14 with .clang-tidy over the library and the networking code in src/
# (text, run, manifest, wire, policy, results, stats, report, net, version.cpp) using
# build/compile_commands.json; exits 1 on any finding. cli/, mock/ and tools/ are left
# out: their CLI11 and Beast server TUs cost the most and hold no engine logic.
# src/net/asio_impl.cpp is only Asio's and Beast's own sources (separate compilation).
#
# Each translation unit found clean is remembered in a cache directory, keyed by the
# SHA-256 of everything its verdict depends on: clang-tidy's version, .clang-tidy, the
# compile command and the TU's preprocessed text (g++ -E: the .cpp and every header it
# includes, as this build sees them). A TU whose key is there is not run again; any change
# to it, to a header it includes or to the configuration runs it. Findings are never
# cached. Paths under the checkout are replaced by one placeholder first, so worktrees of
# one machine share the cache. Cold (no cache: a fresh CI machine) the 52 TUs took 78 s on
# 2 cores (load 1.5; 123 s at load 2.7), warm 9 s (the preprocessing, and the TUs with
# findings run again).
#
#   scripts/tidy.sh [FILE...]   (default: every .cpp of those folders)
# JOBPATCH_TIDY_CACHE: the cache directory (default ~/.cache/jobpatch-tidy; "off": none).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
if ! command -v clang-tidy-14 >/dev/null; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-tidy
fi
# The release preset exports compile commands; an older build/ is reconfigured once.
[ -f build/compile_commands.json ] || cmake --preset release >/dev/null
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  mapfile -t files < <(git ls-files 'src/text/*.cpp' 'src/run/*.cpp' 'src/manifest/*.cpp' \
    'src/wire/*.cpp' 'src/policy/*.cpp' 'src/results/*.cpp' 'src/stats/*.cpp' \
    'src/report/*.cpp' 'src/net/*.cpp' src/version.cpp | grep -v '^src/net/asio_impl.cpp$')
fi
cache=${JOBPATCH_TIDY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jobpatch-tidy}
[ "$cache" = off ] || mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The compile commands are g++'s: clang must not fail on a g++-only flag (-Wno-restrict).
tidy_args=(-p build --quiet -extra-arg=-Wno-unknown-warning-option)
config=$( {
  clang-tidy-14 --version
  cat .clang-tidy
  echo "${tidy_args[*]}"
} | sha256sum | cut -c1-64)
export root cache work config
export tidy_args_text="${tidy_args[*]}"

# One TU: its key, then clang-tidy unless the key is cached. Writes $work/<n>.log (the
# findings) and $work/<n>.status ("cached", "clean" or "findings").
tidy_one() {
  local n=$1 file=$2 entry dir command key status=0
  local log=$work/$n.log
  # compile_commands.json as CMake writes it: "directory", "command", "file" lines.
  entry=$(awk -v file="$root/$file" '
    /^  "directory": / { dir = $0 }
    /^  "command": / { cmd = $0 }
    /^  "file": / && index($0, "\"" file "\"") { print dir; print cmd; exit }' \
    build/compile_commands.json)
  if [ -z "$entry" ]; then
    echo "$file: not in build/compile_commands.json" >"$log"
    echo findings >"$work/$n.status"
    return
  fi
  dir=$(sed -n '1s/^  "directory": "\(.*\)",$/\1/p' <<<"$entry")
  # JSON unescaped (\\ and \"), then the object file and -c dropped: -E to stdout.
  command=$(sed -n '2s/^  "command": "\(.*\)",$/\1/p' <<<"$entry" |
    sed 's/\\\\/\x01/g; s/\\"/"/g; s/\x01/\\/g; s/ -o [^ ]*//; s/ -c / /')
  if [ "$cache" != off ]; then
    key=$( {
      echo "$config"
      echo "$command"
      (cd "$dir" && eval "$command -E")
    } | sed "s|$root|@ROOT@|g" | sha256sum | cut -c1-64)
    if [ -e "$cache/$key" ]; then
      echo cached >"$work/$n.status"
      return
    fi
  fi
  # shellcheck disable=SC2086 # tidy_args_text holds plain words
  clang-tidy-14 $tidy_args_text "$root/$file" >"$log" 2>&1 || status=$?
  sed -i 's/\x1b\[[0-9;]*m//g; /^[0-9]* warnings\{0,1\} generated/d; /^Suppressed [0-9]* warnings/d; /^Use -header-filter/d; /^[0-9]* warnings\{0,1\} treated as errors/d' "$log"
  if [ "$status" -eq 0 ] && ! grep -q -E '(warning|error): ' "$log"; then
    echo clean >"$work/$n.status"
    [ "$cache" = off ] || : >"$cache/$key"
  else
    echo findings >"$work/$n.status"
  fi
}
export -f tidy_one

start=$SECONDS
for i in "${!files[@]}"; do printf '%s\0%s\0' "$i" "${files[$i]}"; done |
  xargs -0 -n 2 -P "$(nproc)" bash -c 'tidy_one "$@"' _
cached=0
failed=()
for i in "${!files[@]}"; do
  case $(cat "$work/$i.status") in
  cached) cached=$((cached + 1)) ;;
  findings)
    failed+=("${files[$i]}")
    cat "$work/$i.log"
    ;;
  esac
done
echo "tidy: ${#files[@]} files ($cached unchanged since found clean) in $((SECONDS - start)) s:" \
  "$([ ${#failed[@]} -eq 0 ] && echo clean || echo "findings in ${failed[*]}")"
[ ${#failed[@]} -eq 0 ]
