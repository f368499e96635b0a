#!/usr/bin/env bash
# Installs the Debian 12 packages jobpatch needs to build, test and benchmark.
# Boost comes as the versioned 1.81 packages: the unversioned libboost-*-dev are 1.74
# and would replace them.
set -euo pipefail
packages=(
  g++ cmake ninja-build ccache
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsimdjson-dev doctest-dev libcli11-dev
  openssl
  tinyproxy # a real proxy for the proxy tests (they skip without it)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
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
