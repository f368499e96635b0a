#!/usr/bin/env bash
# Builds the Debian packages with CPack into build-package/:
#   jobpatch_VERSION_amd64.deb      jobpatch, jobpatch-mock, man pages (runtime libraries only)
#   jobpatch-dev_VERSION_amd64.deb  libjobpatch_core.a, include/jobpatch/, find_package(jobpatch)
# for a portable CPU baseline (README "Installing"): Debian 12's own, plain x86-64, so the
# package runs on every machine Debian runs on, never with an illegal instruction. Its
# cost, measured by bench/march.sh, is within the noise for apply and at most ~20 % of
# validate throughput (simdjson's fallback kernel either way below x86-64-v2 + PCLMUL).
#   scripts/package.sh                                  # baseline x86-64
#   JOBPATCH_PACKAGE_MARCH=x86-64-v2 scripts/package.sh
# Prints the path of the jobpatch .deb last.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${JOBPATCH_PACKAGE_BUILD:-build-package}
march=${JOBPATCH_PACKAGE_MARCH:-x86-64}
# The prefix of the package's files is /usr (CPack's default for DEB, set explicitly).
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DJOBPATCH_MARCH="$march" \
  -DJOBPATCH_BUILD_TESTS=OFF -DJOBPATCH_BUILD_BENCH=OFF \
  -DCPACK_PACKAGING_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$build" -j "$(nproc)" >&2
rm -f "$build"/*.deb
(cd "$build" && cpack -G DEB >/dev/null)
for deb in "$build"/*.deb; do
  echo "== $deb"
  dpkg-deb --field "$deb" Package Version Architecture Depends
done
ls "$build"/jobpatch_*.deb
