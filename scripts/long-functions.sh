#!/usr/bin/env bash
# Lists the functions of src/ longer than a limit (default 100 lines, from the first line of
# the declaration to the closing brace), longest first: "FILE:LINE LINES NAME".
# Exit 1 when any is listed. A brace counter, not a parser: strings, character literals,
# raw strings, comments and digit separators are skipped; a brace at namespace or class
# scope after a '(' opens a function (a constructor's brace initializers included).
#
#   scripts/long-functions.sh [--max N] [--allow FILE]... [PATH...]
#
# --allow FILE leaves out the functions of FILE (a path as listed, e.g.
# src/net/apply_engine.cpp) from the exit status; they are still listed, marked "(allowed)".
# Plain awk and bash: a fresh Debian has no python3.
set -euo pipefail
cd "$(dirname "$0")/.."

max=100
allowed=()
paths=()
while (($#)); do
  case "$1" in
  --max) max="$2"; shift 2 ;;
  --allow) allowed+=("$2"); shift 2 ;;
  -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
  *) paths+=("$1"); shift ;;
  esac
done
((${#paths[@]})) || paths=(src)

mapfile -t files < <(find "${paths[@]}" -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' \) | LC_ALL=C sort)

awk -v max="$max" '
function reset_header() { header = ""; header_line = 0 }
function add_header(c) {
  if (header_line == 0 && c !~ /[ \t]/) header_line = FNR
  header = header c
}
# The name before the first "(" of a declaration: "int jobpatch::cli::run_apply".
function name_of(h,    p, before, n, parts) {
  p = index(h, "(")
  before = p ? substr(h, 1, p - 1) : h
  gsub(/[ \t]+$/, "", before)
  n = split(before, parts, /[ \t*&]+/)
  return n ? parts[n] : before
}
# A variable initialized from a call or a lambda ("auto f = [](int) {"), not a function:
# an "=" before the first "(" that is not part of the name of an operator.
function initializer(h,    before) {
  before = substr(h, 1, index(h, "(") - 1)
  gsub(/operator[ \t]*[^ \tA-Za-z0-9_]+/, "", before)
  return before ~ /=/
}
function finish_function(end_line) {
  lines = end_line - fn_start + 1
  if (lines > max) printf "%s:%d %d %s\n", fn_file, fn_start, lines, fn_name
  pending = 0
}
FNR == 1 {
  if (pending) finish_function(pending_end)
  depth = 0; in_block_comment = 0; in_raw = 0; reset_header()
  delete kind; pending = 0; continuing = 0
}
{
  line = $0
  n = length(line)
  # Preprocessor lines hold no code of ours (nor any brace that counts).
  if (!in_block_comment && !in_raw && line ~ /^[ \t]*#/) next
  i = 1
  while (i <= n) {
    c = substr(line, i, 1)
    if (in_block_comment) {
      if (c == "*" && substr(line, i + 1, 1) == "/") { in_block_comment = 0; i += 2 } else i++
      continue
    }
    if (in_raw) {
      end = index(substr(line, i), raw_end)
      if (end == 0) { i = n + 1; continue }
      i += end - 1 + length(raw_end); in_raw = 0
      continue
    }
    two = substr(line, i, 2)
    if (two == "//") break
    if (two == "/*") { in_block_comment = 1; i += 2; continue }
    # A closed function: a "," or "{" right after it means that brace was an initializer
    # of a constructor, and the same function goes on.
    if (pending && c !~ /[ \t]/) {
      if (c == "," || c == "{") { continuing = 1; pending = 0 }
      else finish_function(pending_end)
    }
    if (c == "R" && substr(line, i + 1, 1) == "\"" && (i == 1 || substr(line, i - 1, 1) !~ /[A-Za-z0-9_]/)) {
      rest = substr(line, i + 2)
      p = index(rest, "(")
      raw_end = ")" substr(rest, 1, p - 1) "\""
      in_raw = 1; i += 2 + p
      add_header("R")
      continue
    }
    if (c == "\"" || c == "'"'"'") {
      prev = i > 1 ? substr(line, i - 1, 1) : ""
      if (c == "'"'"'" && prev ~ /[0-9]/) { add_header(c); i++; continue } # 10'"'"'000
      quote = c; i++
      while (i <= n) {
        d = substr(line, i, 1)
        if (d == "\\") { i += 2; continue }
        i++
        if (d == quote) break
      }
      add_header(quote)
      continue
    }
    if (c == "{") {
      outer = depth ? kind[depth] : "namespace"
      if (outer == "function" || outer == "block") {
        depth++; kind[depth] = "block"
      } else if (continuing) {
        depth++; kind[depth] = "function"; continuing = 0
      } else if (header ~ /^[ \t]*(inline[ \t]+)?namespace([ \t]|$)/ || header ~ /extern[ \t]*"/) {
        depth++; kind[depth] = "namespace"
      } else if (index(header, "(") && header !~ /^[ \t]*(enum|struct|class|union)[ \t]/ && !initializer(header)) {
        depth++; kind[depth] = "function"
        fn_start = header_line ? header_line : FNR; fn_name = name_of(header); fn_file = FILENAME
      } else if (header ~ /(^|[ \t])(struct|class|union)[ \t]/ && header !~ /=/) {
        depth++; kind[depth] = "class"
      } else {
        depth++; kind[depth] = "block"
      }
      reset_header(); i++
      continue
    }
    if (c == "}") {
      if (depth > 0) {
        closing = kind[depth]; depth--
        outer = depth ? kind[depth] : "namespace"
        if (closing == "function" && outer != "function" && outer != "block") {
          pending = 1; pending_end = FNR
        }
      }
      reset_header(); i++
      continue
    }
    if (c == ";") {
      outer = depth ? kind[depth] : "namespace"
      if (outer != "function" && outer != "block") reset_header()
      i++
      continue
    }
    outer = depth ? kind[depth] : "namespace"
    if (outer != "function" && outer != "block") add_header(c)
    i++
  }
  if (!in_raw && (depth ? kind[depth] : "namespace") != "function") add_header(" ")
}
END { if (pending) finish_function(pending_end) }
' "${files[@]}" | sort -k2,2nr -k1,1 >/tmp/long-functions.$$ || true

status=0
while read -r where lines name; do
  file="${where%%:*}"
  mark=""
  for a in "${allowed[@]+"${allowed[@]}"}"; do [[ "$file" == "$a" ]] && mark=" (allowed)"; done
  [[ -z "$mark" ]] && status=1
  echo "$where $lines $name$mark"
done </tmp/long-functions.$$
rm -f /tmp/long-functions.$$
exit $status
