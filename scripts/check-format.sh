#!/usr/bin/env bash
# Fails (exit 1, naming the files) when a tracked .cpp/.hpp file is not formatted as
# .clang-format says. scripts/format.sh fixes them. clang-format 14 (Debian 12): other
# versions format some constructs differently, so CI uses exactly this one.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format-14 >/dev/null; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-format-14
fi
git ls-files -z '*.cpp' '*.hpp' | xargs -0 clang-format-14 --dry-run --Werror
echo "check-format: every .cpp and .hpp file is formatted"
