#!/usr/bin/env bash
# Regenerates every committed PyTorch fixture with torch from PyPI (pinned in
# requirements.txt), in a virtual environment of its own; then checks that torch loads what
# whet writes when a built whet is given.
#   tools/golden/make_all.sh [build/whet]
set -euo pipefail
cd "$(dirname "$0")"
venv=${WHET_GOLDEN_VENV:-/tmp/whet-golden-venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
"$venv/bin/python" make_fixtures.py
"$venv/bin/python" make_pth_fixtures.py
"$venv/bin/python" make_autocast_fixtures.py
"$venv/bin/python" make_zip_fixtures.py
"$venv/bin/python" make_timm_fixtures.py
"$venv/bin/python" make_resize_fixtures.py
"$venv/bin/python" make_pipeline_fixtures.py
if [ $# -ge 1 ]; then
  "$venv/bin/python" make_model_fixtures.py --whet "$(cd "$OLDPWD" && realpath "$1")"
else
  "$venv/bin/python" make_model_fixtures.py
fi
