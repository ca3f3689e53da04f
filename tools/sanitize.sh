#!/usr/bin/env bash
# The CPU test suite under AddressSanitizer and UndefinedBehaviorSanitizer, in build-asan/
# (CUDA and MPI off, benchmarks off). Slow (about 7 minutes of tests on 2 cores, after a long
# first build), so not part of tools/test.sh; run it after touching file readers, memory or
# index arithmetic. tests/test_corrupt_inputs.cpp finds the most here.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
build_dir=${WHET_ASAN_DIR:-build-asan}
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
cmake -S . -B "$build_dir" -G Ninja -DWHET_CUDA=OFF -DWHET_MPI=OFF -DWHET_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$build_dir"
export OMP_WAIT_POLICY=passive ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" -E '^(gpu_tests|mpi_tests)$' "$@"
