#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs every test suite through CTest.
# The GPU suite runs first and verbosely, so where no CUDA device is present each of its tests
# is listed as skipped, by name; the CPU suites run last, so the closing summary counts them.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
# AUTO: the CUDA backend is compiled wherever nvcc is, GPU or not (the demo may have
# configured the same build folder without it).
tools/build.sh -DWHET_CUDA="${WHET_CUDA:-AUTO}" "$@"
build_dir=${WHET_BUILD_DIR:-build}
# Tests run two at a time on two cores: idle OpenMP threads must sleep, not spin, or the two
# processes starve each other.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
ctest --test-dir "$build_dir" -R '^gpu_tests$' -V | grep -vE '^(UpdateCTestConfiguration|Constructing|Checking test|Parse Config|Test project|test [0-9]|    Start)'
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" -E '^gpu_tests$'
