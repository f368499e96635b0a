#!/usr/bin/env bash
# Formats every tracked .cpp/.hpp file in place with clang-format 14 (.clang-format).
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files -z '*.cpp' '*.hpp' | xargs -0 clang-format-14 -i
