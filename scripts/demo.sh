#!/usr/bin/env bash
# The README's first command: installs dependencies, builds, and runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/src/cli/jobpatch --version
build/src/cli/jobpatch validate examples/manifest.ndjson
