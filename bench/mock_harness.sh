# Sourced by the bench scripts that measure `jobpatch apply` against jobpatch-mock: builds
# the tree unless JOBPATCH_BIN_DIR names another build, makes a work directory removed on
# exit, and `start_mock JOBS` starts the mock (HTTPS, 1 thread) and sets $port.
# Sets: bin (the jobpatch build measured), tools (this tree's mock and manifest maker),
# work, key.
bin=${JOBPATCH_BIN_DIR:-build/src}
[ -n "${JOBPATCH_BIN_DIR:-}" ] || scripts/build.sh >/dev/null
tools=build/src
work=$(mktemp -d)
mock_pid=
cleanup() { [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
key=bench-key

start_mock() { # jobs
  "$tools/mock/jobpatch-mock" --port 0 --port-file "$work/port" --cert-out "$work/cert.pem" \
    --api-key "$key" --jobs "$1" --threads 1 2>"$work/mock.err" &
  mock_pid=$!
  for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
  port=$(cat "$work/port")
}
