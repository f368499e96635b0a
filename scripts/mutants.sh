#!/usr/bin/env bash
# Mutation testing over a curated list: plants each plausible one-line bug of
# scripts/mutants.list in its file, one at a time, rebuilds what the nearest tests run,
# runs them, and records the mutant killed (a test or the build failed) or survived. The
# file is put back byte for byte after each mutant, also on Ctrl-C or an error.
#
#   scripts/mutants.sh [--only REGEX] [--build-dir DIR] [--fail-on-survivor]
#                      [--no-baseline] [--timeout SECONDS] [--list-file FILE] [--show]
#
# --only REGEX        run the mutants whose name matches (grep -E), e.g. 'resume|retry'
# --build-dir DIR     a configured build directory (default build: cmake --preset release)
# --fail-on-survivor  exit 1 when a mutant survives (the default is a report: exit 0)
# --no-baseline       skip the run of the selected tests on the unmutated tree first
# --timeout SECONDS   the most one mutant's tests may take together (default 900)
# --list-file FILE    another list (default scripts/mutants.list)
# --show              print the selected mutants and exit
#
# Exit 2 when a mutant's old text is not found exactly once in its file (the code moved:
# update the list), when src/ or include/ has uncommitted changes, or when the unmutated
# tree fails the selected tests. Logs: DIR/mutants/NAME.log. Too slow for CI (10 min for
# the whole list on 2 cores, more when ccache has not seen the mutants yet): run it before
# resolving an issue that touches the folders the list covers. Plain bash: a fresh Debian
# has no python3.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

only=''
build=build
fail_on_survivor=0
baseline=1
budget=900
list=scripts/mutants.list
show=0
while (($#)); do
  case "$1" in
  --only) only="$2"; shift 2 ;;
  --build-dir) build="$2"; shift 2 ;;
  --fail-on-survivor) fail_on_survivor=1; shift ;;
  --no-baseline) baseline=0; shift ;;
  --timeout) budget="$2"; shift 2 ;;
  --list-file) list="$2"; shift 2 ;;
  --show) show=1; shift ;;
  -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
  *) echo "mutants.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

die() {
  echo "mutants.sh: $*" >&2
  exit 2
}

# --- the list --------------------------------------------------------------------------
# Blocks of "key: value" lines separated by blank lines; '#' starts a comment line. Keys:
# mutant (its name), file, old (the exact text, found once), new (may be empty), tests (a
# ctest -R regex), why. A line "section: TEXT" outside a block names the mutants after it.
names=() files=() olds=() news=() tests=() whys=() sections=()
section=''
declare -A block=()
flush_block() {
  ((${#block[@]})) || return 0
  local key
  if [[ -n ${block[section]+x} && ${#block[@]} -eq 1 ]]; then
    section=${block[section]}
    block=()
    return 0
  fi
  for key in mutant file old tests; do
    [[ -n ${block[$key]:-} ]] || die "$list: a block lacks \"$key:\" (${block[mutant]:-unnamed})"
  done
  names+=("${block[mutant]}") files+=("${block[file]}") olds+=("${block[old]}")
  news+=("${block[new]:-}") tests+=("${block[tests]}") whys+=("${block[why]:-}")
  sections+=("$section")
  block=()
}
[[ -f $list ]] || die "no mutant list $list"
while IFS= read -r line || [[ -n $line ]]; do
  [[ $line =~ ^[[:space:]]*# ]] && continue
  if [[ $line =~ ^[[:space:]]*$ ]]; then
    flush_block
    continue
  fi
  [[ $line =~ ^([a-z]+):[[:space:]]?(.*)$ ]] || die "$list: not a \"key: value\" line: $line"
  key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
  value="${value#"${value%%[![:space:]]*}"}" # trim
  value="${value%"${value##*[![:space:]]}"}"
  case "$key" in
  mutant | file | old | new | tests | why | section) ;;
  *) die "$list: unknown key \"$key\"" ;;
  esac
  [[ -z ${block[$key]+x} ]] || die "$list: \"$key:\" twice in mutant ${block[mutant]:-?}"
  block[$key]=$value
done <"$list"
flush_block

declare -A seen=()
for name in "${names[@]}"; do
  [[ -z ${seen[$name]+x} ]] || die "$list: mutant $name is listed twice"
  seen[$name]=1
done

selected=()
for i in "${!names[@]}"; do
  if [[ -z $only ]] || grep -qE -- "$only" <<<"${names[$i]}"; then selected+=("$i"); fi
done
((${#selected[@]})) || die "no mutant matches --only '$only'"

# Sets the variable named $2 to the text of file $1, exactly (trailing newlines kept).
read_exact() {
  local -n out=$2
  out=$(cat -- "$1" && printf x) || die "cannot read $1"
  out=${out%x}
}

occurrences() { # TEXT PATTERN
  local text=$1 n=0
  while [[ $text == *"$2"* ]]; do
    text=${text#*"$2"}
    n=$((n + 1))
  done
  echo "$n"
}

# Every selected mutant must apply, before anything is touched.
for i in "${selected[@]}"; do
  f=${files[$i]}
  [[ -f $f ]] || die "mutant ${names[$i]}: no file $f (update $list)"
  read_exact "$f" text
  n=$(occurrences "$text" "${olds[$i]}")
  [[ $n -eq 1 ]] ||
    die "mutant ${names[$i]}: its old text is found $n times in $f, not once: the code moved, update $list
  old: ${olds[$i]}"
  [[ ${olds[$i]} != "${news[$i]}" ]] || die "mutant ${names[$i]}: old and new text are the same"
done

if ((show)); then
  for i in "${selected[@]}"; do
    printf '%-34s %s\n    - %s\n    + %s\n    tests: %s\n' "${names[$i]}" "${files[$i]}" \
      "${olds[$i]}" "${news[$i]}" "${tests[$i]}"
  done
  exit 0
fi

[[ -z $(git status --porcelain -- src include) ]] ||
  die "src/ or include/ has uncommitted changes: commit or stash them first (a mutant must never mix with them)"
[[ -f $build/CMakeCache.txt ]] || die "$build is not a configured build directory (cmake --preset release)"
logs=$build/mutants
mkdir -p "$logs"

# --- planting and restoring ------------------------------------------------------------
work=$(mktemp -d)
planted='' # the file holding a mutant now; its original is $work/original
restore() {
  [[ -n $planted ]] || return 0
  cat "$work/original" >"$planted" # a new mtime: the next build recompiles it
  if ! cmp -s "$work/original" "$planted"; then
    echo "mutants.sh: COULD NOT RESTORE $planted: its original is $work/original" >&2
    return 1
  fi
  planted=''
}
finish() {
  local code=$?
  trap - EXIT INT TERM
  if ! restore; then exit 3; fi
  rm -rf "$work"
  exit "$code"
}
interrupted() {
  restore || exit 3
  echo >&2
  echo "mutants.sh: interrupted: the file is restored; the build in $build holds a mutant until rebuilt (cmake --build $build -j2)" >&2
  exit 130
}
trap finish EXIT
trap interrupted INT TERM

plant() { # INDEX
  local f=${files[$1]} text
  cp -- "$f" "$work/original"
  planted=$f
  read_exact "$f" text
  printf '%s' "${text%%"${olds[$1]}"*}${news[$1]}${text#*"${olds[$1]}"}" >"$f"
}

# The test executables a ctest regex runs: the targets to rebuild besides the programs.
targets_for() { # REGEX
  local exes
  exes=$(ctest --test-dir "$build" -R "$1" --show-only=json-v1 2>/dev/null |
    grep -o '"/[^"]*/tests/[A-Za-z_]*_tests"' | tr -d '"' | xargs -r -n1 basename | sort -u)
  echo jobpatch jobpatch-mock $exes
}

build_for() { # REGEX LOG
  # shellcheck disable=SC2046 # target names are words
  cmake --build "$build" -j2 --target $(targets_for "$1") >>"$2" 2>&1
}

# Runs the tests of REGEX; 0 when all pass. The first failure stops the run.
run_tests() { # REGEX LOG
  local count
  count=$(ctest --test-dir "$build" -N -R "$1" 2>/dev/null | sed -n 's/^Total Tests: //p')
  [[ ${count:-0} -gt 0 ]] || {
    echo "no test matches: $1" >>"$2"
    return 2
  }
  timeout --kill-after=30 "$budget" ctest --test-dir "$build" -j2 --stop-on-failure \
    --output-on-failure -R "$1" >>"$2" 2>&1
}

# --- the run ---------------------------------------------------------------------------
echo "mutants.sh: building $build" >&2
cmake --build "$build" -j2 >"$logs/build.log" 2>&1 || die "the unmutated tree does not build: $logs/build.log"

if ((baseline)); then
  # Every test some selected mutant runs, once: by number (one regex of them all would be
  # too long for ctest's).
  numbers=$(for i in "${selected[@]}"; do echo "${tests[$i]}"; done | sort -u | while IFS= read -r regex; do
    ctest --test-dir "$build" -N -R "$regex" | sed -nE 's/^ *Test +#([0-9]+):.*/\1/p'
  done | sort -un | paste -sd,)
  [[ -n $numbers ]] || die "the selected mutants' tests match no test"
  echo "mutants.sh: baseline: the selected tests on the unmutated tree" >&2
  timeout --kill-after=30 "$budget" ctest --test-dir "$build" -j2 --output-on-failure \
    -I "0,0,0,$numbers" >"$logs/baseline.log" 2>&1 ||
    die "the unmutated tree fails the selected tests (see $logs/baseline.log): fix that first"
fi

results=() details=() times=()
killed=0 survived=0
total=${#selected[@]}
k=0
for i in "${selected[@]}"; do
  k=$((k + 1))
  name=${names[$i]}
  log=$logs/$name.log
  start=$SECONDS
  {
    echo "mutant $name: ${files[$i]}"
    echo "- ${olds[$i]}"
    echo "+ ${news[$i]}"
    echo "tests: ${tests[$i]}"
  } >"$log"
  printf '[%d/%d] %-34s ' "$k" "$total" "$name" >&2
  plant "$i"
  if ! build_for "${tests[$i]}" "$log"; then
    result=killed detail='build failed'
  else
    run_tests "${tests[$i]}" "$log"
    code=$?
    if ((code == 0)); then
      result=survived detail=''
    elif ((code == 124 || code == 137)); then
      result=killed detail='timed out'
    else
      result=killed
      detail=$(grep -m1 -E "Test +#[0-9]+: .*(\*\*\*|Failed|Not Run)" "$log" |
        sed -E "s/.*Test +#[0-9]+: //; s/ ?\.\.\.+.*//" | cut -c1-70)
      [[ -n $detail ]] || detail="ctest exit $code"
    fi
  fi
  restore || exit 3
  elapsed=$((SECONDS - start))
  results[$i]=$result details[$i]=$detail times[$i]=$elapsed
  if [[ $result == killed ]]; then killed=$((killed + 1)); else survived=$((survived + 1)); fi
  printf '%-8s %4ds %s\n' "$result" "$elapsed" "$detail" >&2
done

echo "mutants.sh: rebuilding the unmutated tree" >&2
cmake --build "$build" -j2 >>"$logs/build.log" 2>&1 || echo "mutants.sh: the final rebuild failed: $logs/build.log" >&2

echo
printf '%-9s %-35s %-44s %5s  %s\n' result mutant file time 'first failure'
last_section=''
for i in "${selected[@]}"; do
  if [[ ${sections[$i]} != "$last_section" ]]; then
    last_section=${sections[$i]}
    echo "-- ${last_section:-(no section)}"
  fi
  printf '%-9s %-35s %-44s %4ds  %s\n' "${results[$i]}" "${names[$i]}" "${files[$i]#src/}" \
    "${times[$i]}" "${details[$i]}"
done
echo
echo "mutants: $killed killed, $survived survived of $total"
if ((fail_on_survivor && survived > 0)); then exit 1; fi
exit 0
