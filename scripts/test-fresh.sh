#!/usr/bin/env bash
# A newcomer's path, checked: makes a minimal Debian 12 root (debootstrap
# --variant=minbase) with only git added, clones this repository's HEAD into it, and runs
# the whole `.ci/run` there as root, so that a tool the developers' machines happen to
# have (make, file, ...) but the scripts do not install fails here and not on a user's
# machine. Too slow for every CI run (32 min on a quiet 2-core machine): run it before
# resolving an issue that touches scripts, CMake or dependencies, and quote its times.
# Needs root (debootstrap, chroot, mounts) and the Debian archive.
#   scripts/test-fresh.sh [COMMAND...]   (default: bash .ci/run; e.g. bash scripts/demo.sh)
# JOBPATCH_DEBIAN_MIRROR overrides the archive address; JOBPATCH_FRESH_KEEP=1 keeps the root.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
[ "$(id -u)" -eq 0 ] || { echo "test-fresh: must run as root (debootstrap, chroot)" >&2; exit 2; }
mirror=${JOBPATCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
command=("$@")
[ ${#command[@]} -gt 0 ] || command=(bash .ci/run)
if ! command -v debootstrap >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
fi
repo=$(git rev-parse --show-toplevel)
echo "== test-fresh: $(git log -1 --format='%h %s') (uncommitted changes are not part of it)"

root=$(mktemp -d /var/tmp/jobpatch-fresh.XXXXXX)
cleanup() {
  [ -n "${root:-}" ] || return 0
  # Whatever the run left mounted below the root (test-deb's own root, a test's tmpfs).
  grep -o " $root/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
  if [ "${JOBPATCH_FRESH_KEEP:-0}" = 1 ]; then
    echo "test-fresh: root kept in $root"
  else
    rm -rf --one-file-system "$root"
  fi
}
trap cleanup EXIT

t=$SECONDS
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 ||
  { tail -n 30 "$root.log"; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
echo "== test-fresh: minimal Debian 12 root in $((SECONDS - t)) s"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev" # /dev/shm, /dev/pts and the host's device nodes
mount --make-rslave "$root/dev"
mount -t tmpfs tmpfs "$root/tmp"
cp /etc/resolv.conf "$root/etc/resolv.conf"
grep -qs localhost "$root/etc/hosts" || printf '127.0.0.1 localhost\n::1 localhost\n' >>"$root/etc/hosts"
in_root() {
  chroot "$root" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
}

t=$SECONDS
in_root apt-get update -qq
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git >/dev/null
echo "== test-fresh: git installed in $((SECONDS - t)) s"
# The clone reads this repository through a read-only bind mount, as from a remote.
mkdir -p "$root/mnt/origin"
mount --bind -o ro "$repo" "$root/mnt/origin"
in_root git -c safe.directory='*' clone -q --no-local /mnt/origin /root/jobpatch
umount "$root/mnt/origin"

t=$SECONDS
status=0
in_root bash -c 'cd /root/jobpatch && "$@"' bash "${command[@]}" || status=$?
echo "== test-fresh: '${command[*]}' exited $status in $((SECONDS - t)) s (all: $((SECONDS - start)) s)"
exit "$status"
