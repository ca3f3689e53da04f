#!/usr/bin/env bash
# Installs what whet's build and tests need, from Debian packages. Idempotent: quiet and quick
# when everything is already there. The CUDA toolkit is optional (used when nvcc is found).
set -euo pipefail

packages=(build-essential cmake ninja-build ccache pkg-config
          libeigen3-dev doctest-dev libcli11-dev nlohmann-json3-dev zlib1g-dev
          libjpeg62-turbo-dev libpng-dev libtomlplusplus-dev dataset-fashion-mnist
          libopenmpi-dev openmpi-bin  # dist/: multi-process data parallel (mpirun)
          chromium)  # headless, renders report.html in tests (tools/render_report.sh)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# Python packages for the safetensors round-trip test (never torch: the parity fixtures are
# committed). Pinned as in tools/golden/requirements.txt.
python=${WHET_PYTHON:-python3}
if command -v "$python" >/dev/null && ! "$python" -c "import safetensors, numpy" 2>/dev/null; then
  echo "setup: installing Python packages safetensors, numpy"
  "$python" -m pip install --quiet --disable-pip-version-check safetensors==0.8.0 numpy 2>/dev/null ||
    "$python" -m pip install --quiet --disable-pip-version-check --break-system-packages \
      safetensors==0.8.0 numpy
fi
