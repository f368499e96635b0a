#!/usr/bin/env bash
# Renders a jobpatch HTML report to a PNG with headless Chromium, so a person (or CI, as
# an artifact) can look at what the report really shows.
#   scripts/render_report.sh REPORT.html [OUT.png] [WIDTHxHEIGHT]
# Installs Debian's chromium when it is missing (needs root or sudo).
set -euo pipefail

if [[ $# -lt 1 || $# -gt 3 ]]; then
  echo "usage: $0 REPORT.html [OUT.png] [WIDTHxHEIGHT (default 1200x2400)]" >&2
  exit 2
fi
html=$(realpath "$1")
png=${2:-${html%.html}.png}
size=${3:-1200x2400}

chromium_bin=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [[ -z "$chromium_bin" ]]; then
  echo "installing chromium..." >&2
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
  chromium_bin=$(command -v chromium)
fi

# --no-sandbox: containers and CI runners usually cannot give Chromium its sandbox.
# A throwaway profile keeps runs independent of any user profile.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$chromium_bin" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$profile" --window-size="${size/x/,}" \
  --screenshot="$(realpath -m "$png")" "file://$html" 2>/dev/null
echo "$png"
