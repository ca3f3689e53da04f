#!/usr/bin/env bash
# The README demo: transfer learning on Fashion-MNIST (tools/demo_runs.sh says what runs), on
# the GPU when there is one, else on the CPU. Installs what it needs and builds first. Extra
# arguments go to every `whet train` call (e.g. --seed 1, or --device cpu).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
# The CUDA backend is compiled only where a GPU is there to run it: on a CPU-only machine it
# would add minutes of nvcc to the demo and nothing else.
cuda=OFF
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then cuda=AUTO; fi
WHET_BUILD_TARGET=whet_cli tools/build.sh -DWHET_CUDA="$cuda"
WHET=${WHET_BUILD_DIR:-build}/whet exec tools/demo_runs.sh "$@"
