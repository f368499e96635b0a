# Sourced by scripts/test-sanitizers.sh and scripts/test-tsan.sh.
#   sanitizer_logs_check DIR LABEL   prints every report a sanitizer (or a test helper, for
#                                    a child that exited 86) left in DIR; returns 1 if any.
sanitizer_logs_check() {
  local logs=$1 label=$2 reports
  reports=$(find "$logs" -type f | sort)
  [ -z "$reports" ] && return 0
  echo "!! $label reports (also in $logs):"
  for r in $reports; do
    echo "== $r"
    cat "$r"
  done
  return 1
}
