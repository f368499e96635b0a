#!/usr/bin/env bash
# Installs the jobpatch .deb into a clean Debian 12 root (debootstrap --variant=minbase)
# with apt, so its dependencies resolve from the archive as on a user's machine, then runs
# `jobpatch --version` (and jobpatch-epoll's, its fallback), checks the man pages, and
# applies a small manifest to jobpatch-mock inside that root. Needs root (debootstrap,
# chroot) and the Debian archive.
#   scripts/test-deb.sh [JOBPATCH.deb]     (default: builds one with scripts/package.sh)
# JOBPATCH_DEBIAN_MIRROR overrides the archive address.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/debian-root.sh
start=$SECONDS
[ "$(id -u)" -eq 0 ] || { echo "test-deb: must run as root (debootstrap, chroot)" >&2; exit 2; }
deb=${1:-}
if [ -z "$deb" ]; then
  deb=$(scripts/package.sh | tail -n 1)
fi
deb=$(realpath "$deb")
echo "== test-deb: $(basename "$deb") (built in $((SECONDS - start)) s)"

debian_root_create jobpatch-debian12
mount -t devpts devpts "$root/dev/pts" 2>/dev/null || true # apt's terminal log
cp "$deb" "$root/tmp/jobpatch.deb"

t=$SECONDS
# The package file is root's: apt's download sandbox user could not read it.
apt_options=(-o APT::Sandbox::User=root)
in_root apt-get "${apt_options[@]}" update -qq
# apt, not dpkg -i: the Depends must be satisfiable from Debian 12 alone.
in_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_options[@]}" install -y -qq \
  --no-install-recommends /tmp/jobpatch.deb >/dev/null
echo "== test-deb: apt-get install ./jobpatch.deb in $((SECONDS - t)) s; Depends:"
in_root dpkg-query -W -f='${Depends}\n' jobpatch
# No development package came along with it.
if in_root dpkg-query -W -f='${Package}\n' | grep -E -- '-dev$'; then
  echo "test-deb: a -dev package was pulled in" >&2
  exit 1
fi

in_root jobpatch --version
# The fallback where the kernel refuses io_uring, installed beside it and runnable.
in_root jobpatch-epoll --version | grep -q '^I/O: epoll' ||
  { echo "test-deb: no working jobpatch-epoll" >&2; exit 1; }
for page in jobpatch jobpatch-validate jobpatch-apply jobpatch-plan jobpatch-bench jobpatch-merge jobpatch-control jobpatch-mock; do
  [ -s "$root/usr/share/man/man1/$page.1.gz" ] || { echo "test-deb: no man page $page" >&2; exit 1; }
done
echo "== test-deb: man pages present"

# The demo, inside the root: the mock on a free port, 200 updates over 20 jobs, verified TLS.
cat >"$root/tmp/demo.sh" <<'DEMO'
set -eu
cd /tmp
jobpatch-mock --port 0 --port-file port --cert-out cert.pem --api-key demo-key --jobs 20 \
  --journal journal.ndjson 2>mock.err &
mock=$!
trap 'kill $mock 2>/dev/null; wait $mock 2>/dev/null' EXIT
i=0
while [ ! -s port ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
[ -s port ] || { cat mock.err; exit 1; }
: >manifest.ndjson
for n in $(seq 1 200); do
  printf '{"jobId":"job-%07d","op":"jobname","body":"demo-%d"}\n' $(( (n - 1) % 20 + 1 )) "$n" \
    >>manifest.ndjson
done
jobpatch validate manifest.ndjson
BYTENITE_API_KEY=demo-key jobpatch apply manifest.ndjson --base-url "https://localhost:$(cat port)" \
  --cacert cert.pem --connections 4 --results results.ndjson --summary-json summary.json
echo "results: $(wc -l <results.ndjson) records, $(grep -c '"outcome":"ok"' results.ndjson) ok;" \
  "mock journal: $(wc -l <journal.ndjson) PATCHes"
[ "$(grep -c '"outcome":"ok"' results.ndjson)" -eq 200 ]
[ "$(wc -l <journal.ndjson)" -eq 200 ]
DEMO
in_root bash /tmp/demo.sh
echo "== test-deb: passed in $((SECONDS - start)) s"
