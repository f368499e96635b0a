#!/usr/bin/env bash
# Installs the Debian 12 packages jobpatch needs to build, test, package and benchmark,
# also on a minimal Debian 12 (debootstrap --variant=minbase, which has neither make nor
# file): scripts/test-fresh.sh runs .ci/run there. The tools of single CI steps
# (clang-format, clang-tidy, clang and libFuzzer, debootstrap) are installed by those steps.
# Boost comes as the versioned 1.81 packages: the unversioned libboost-*-dev are 1.74
# and would replace them.
set -euo pipefail
packages=(
  g++ cmake ninja-build ccache
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsimdjson-dev doctest-dev libcli11-dev
  liburing-dev # Asio's io_uring backend (JOBPATCH_IO_URING)
  openssl help2man
  file dpkg-dev # CPack's DEB generator: file, and dpkg-shlibdeps for the Depends
  tinyproxy # a real proxy for the proxy tests (they skip without it)
)
# One dpkg-query for all: when everything is installed this script costs milliseconds
# and never touches apt (scripts/test.sh and CI run it every time).
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null |
  awk '$NF == "installed" && $(NF-1) == "ok" {print $1}' || true)
missing=()
for p in "${packages[@]}"; do
  grep -qx "$p" <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if dpkg-query -W -f='${Status}' libboost-dev 2>/dev/null | grep -q "install ok installed"; then
  echo "install-deps: Debian's Boost 1.74 (libboost-dev) is installed and conflicts with 1.81" >&2
  exit 1
fi
