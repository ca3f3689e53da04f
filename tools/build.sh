#!/usr/bin/env bash
# Configures and builds whet into ${WHET_BUILD_DIR:-build}. Extra arguments go to CMake
# (e.g. -DWHET_CUDA=OFF). ccache is used when present.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${WHET_BUILD_DIR:-build}
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$build_dir" -G Ninja "${launcher[@]}" "$@" >/dev/null
# WHET_BUILD_TARGET builds one target (the demo needs only the CLI).
cmake --build "$build_dir" -j "$(nproc)" ${WHET_BUILD_TARGET:+--target "$WHET_BUILD_TARGET"}
