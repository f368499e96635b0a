#!/usr/bin/env bash
# A newcomer's path, checked: makes a minimal Debian 12 root (debootstrap
# --variant=minbase) with only git added, clones this repository's HEAD into it, and runs
# the whole `.ci/run` there as root, so that a tool the developers' machines happen to
# have (make, file, ...) but the scripts do not install fails here and not on a user's
# machine. Too slow for every CI run (32 min on a quiet 2-core machine): run it before
# resolving an issue that touches scripts, CMake or dependencies, and quote its times.
# Needs root (debootstrap, chroot, mounts) and the Debian archive.
#   scripts/test-fresh.sh [COMMAND...]   (default: bash .ci/run; e.g. bash scripts/demo.sh)
# JOBPATCH_DEBIAN_MIRROR overrides the archive address; JOBPATCH_DEBIAN_KEEP=1 keeps the root.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/debian-root.sh
start=$SECONDS
command=("$@")
[ ${#command[@]} -gt 0 ] || command=(bash .ci/run)
repo=$(git rev-parse --show-toplevel)
echo "== test-fresh: $(git log -1 --format='%h %s') (uncommitted changes are not part of it)"

debian_root_create jobpatch-fresh
mount --rbind /dev "$root/dev" # /dev/shm, /dev/pts and the host's device nodes
mount --make-rslave "$root/dev"
mount -t tmpfs tmpfs "$root/tmp"

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
