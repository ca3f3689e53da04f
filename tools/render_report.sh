#!/usr/bin/env bash
# Renders an HTML page (a run's report.html) to a PNG with headless Chromium, to look at it or
# check it in tests:  tools/render_report.sh runs/x/report.html out.png [WIDTH [HEIGHT]]
# The browser is $WHET_CHROMIUM, else the first of chromium, chromium-browser, google-chrome
# on PATH (Debian: apt-get install chromium). Exits 2 when none is found.
# The page needs no network; --no-sandbox because CI runs as root, a throwaway profile so
# parallel runs do not share one, and a virtual-time budget so layout has settled before the
# shot is taken.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 PAGE.html OUT.png [WIDTH [HEIGHT]]" >&2
  exit 64
fi
page=$1 out=$2 width=${3:-1200} height=${4:-2000}
browser=${WHET_CHROMIUM:-}
if [ -z "$browser" ]; then
  for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null; then browser=$b; break; fi
  done
fi
if [ -z "$browser" ] || ! command -v "$browser" >/dev/null; then
  echo "render_report: no Chromium found${browser:+ at $browser} (apt-get install chromium, or" \
    "set WHET_CHROMIUM)" >&2
  exit 2
fi
profile=$(mktemp -d "${TMPDIR:-/tmp}/whet_chromium.XXXXXX")
trap 'rm -rf "$profile"' EXIT
abs_page=$(cd "$(dirname "$page")" && pwd)/$(basename "$page")
abs_out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
rm -f "$abs_out"
# Chromium logs D-Bus and GPU noise on stderr even when all is well; keep it for failures only.
if ! "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --mute-audio \
    --no-first-run --no-default-browser-check --disable-extensions --disable-dev-shm-usage \
    --user-data-dir="$profile" --virtual-time-budget=2000 \
    --window-size="$width,$height" --screenshot="$abs_out" "file://$abs_page" \
    >"$profile/log" 2>&1 || [ ! -s "$abs_out" ]; then
  cat "$profile/log" >&2
  echo "render_report: $browser did not write $abs_out" >&2
  exit 1
fi
echo "$abs_out"
