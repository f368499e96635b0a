# Sourced by scripts/test-deb.sh and scripts/test-fresh.sh: a minimal Debian 12 root
# (debootstrap --variant=minbase) to run things in as on a user's fresh machine.
#   debian_root_create NAME   makes it in $root (/var/tmp/NAME.XXXXXX): /proc mounted,
#                             resolv.conf copied, localhost in /etc/hosts; removed at exit
#                             with everything mounted below it (JOBPATCH_DEBIAN_KEEP=1 keeps it)
#   in_root COMMAND...        runs COMMAND as root in it, with a clean environment
# Needs root (debootstrap, chroot, mounts) and the Debian archive; JOBPATCH_DEBIAN_MIRROR
# overrides the archive address.

debian_root_create() {
  local name=$1 t=$SECONDS
  [ "$(id -u)" -eq 0 ] || { echo "$name: must run as root (debootstrap, chroot)" >&2; exit 2; }
  if ! command -v debootstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
  fi
  root=$(mktemp -d "/var/tmp/$name.XXXXXX")
  trap debian_root_remove EXIT
  debootstrap --variant=minbase bookworm "$root" \
    "${JOBPATCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$root.log" 2>&1 ||
    { tail -n 30 "$root.log"; rm -f "$root.log"; exit 1; }
  rm -f "$root.log"
  echo "== $name: minimal Debian 12 root in $((SECONDS - t)) s"
  mount -t proc proc "$root/proc"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # The mock's certificate names localhost; a bare root may have no hosts file.
  grep -qs localhost "$root/etc/hosts" || printf '127.0.0.1 localhost\n::1 localhost\n' >>"$root/etc/hosts"
}

debian_root_remove() {
  [ -n "${root:-}" ] || return 0
  # Whatever is mounted below the root (proc, /dev, a nested root, a test's tmpfs),
  # deepest first.
  grep -o " $root/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
  if [ "${JOBPATCH_DEBIAN_KEEP:-0}" = 1 ]; then
    echo "root kept in $root"
  else
    rm -rf --one-file-system "$root"
  fi
}

in_root() {
  chroot "$root" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
}
