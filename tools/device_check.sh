#!/usr/bin/env bash
# The one script a session with the GPU machine runs (docs/DEVICE.md): configure and build
# with CUDA for sm_90, run the GPU suite, the CPU suites, then every benchmark binary; full
# logs go under $OUT (default /tmp/whet_out) and a short table is printed last.
#
#   OUT=... tools/device_check.sh            # build in build-gpu, then test and bench
#   WHET_SKIP_BUILD=1 WHET_BUILD_DIR=build-c tools/device_check.sh   # use a carried build
#
# Knobs (environment): WHET_BUILD_DIR (build-gpu), WHET_JOBS (16), WHET_SKIP_BUILD (0),
# WHET_SKIP_CPU_TESTS (0), WHET_SKIP_BENCH (0), WHET_GPU_TEST_ARGS (extra doctest options,
# e.g. -tc='*matmul*'), timeouts in seconds: WHET_GPU_TIMEOUT (240), WHET_CPU_TIMEOUT (180),
# WHET_BENCH_TIMEOUT (60, per binary).
set -uo pipefail  # not -e: every step runs and reports, a failure does not end the check

cd "$(dirname "$0")/.." || exit 2
OUT=${OUT:-/tmp/whet_out}
mkdir -p "$OUT"
build=${WHET_BUILD_DIR:-build-gpu}
jobs=${WHET_JOBS:-16}
gpu_timeout=${WHET_GPU_TIMEOUT:-240}
cpu_timeout=${WHET_CPU_TIMEOUT:-180}
bench_timeout=${WHET_BENCH_TIMEOUT:-60}

exec > >(tee -a "$OUT/device_check.log") 2>&1

echo "== whet device check, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo none)"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader \
  2>/dev/null || echo "nvidia-smi: not available"
echo "== logs in $OUT, build in $build"

names=() states=() secs=() notes=()

# step NAME CMD...: runs CMD with its output in $OUT/NAME.log; records status and time.
step() {
  local name=$1
  shift
  local log="$OUT/$name.log" start end rc state
  echo "-- $name: $*"
  start=$(date +%s.%N)
  "$@" >"$log" 2>&1
  rc=$?
  end=$(date +%s.%N)
  case $rc in
    0) state=ok ;;
    77) state=skipped ;;
    124 | 137) state=TIMEOUT ;;
    *) state="FAIL($rc)" ;;
  esac
  if [[ $state != ok && $state != skipped ]]; then
    echo "   $name: $state; last lines of $log:"
    tail -n 25 "$log" | sed 's/^/   | /'
  fi
  names+=("$name")
  states+=("$state")
  secs+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')")
  if [[ $state == skipped ]]; then notes+=("$(tail -n 1 "$log")"); else notes+=(""); fi
  return $rc
}

note() { notes[${#notes[@]}-1]=$1; }
skip() {
  names+=("$1")
  states+=("skipped")
  secs+=("-")
  notes+=("$2")
}

built=1
if [[ ${WHET_SKIP_BUILD:-0} == 1 ]]; then
  skip build "WHET_SKIP_BUILD=1 (using $build)"
else
  launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
  fi
  step configure cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWHET_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 "${launcher[@]}" || built=0
  if [[ $built == 1 ]]; then
    step build cmake --build "$build" -j "$jobs" || built=0
    note "$(grep -c 'warning' "$OUT/build.log") warning lines"
  fi
fi

gpu_bin="$build/tests/whet_gpu_tests"
if [[ $built == 1 && -x $gpu_bin ]]; then
  # shellcheck disable=SC2086  # the extra doctest options are words on purpose
  step gpu_tests timeout "$gpu_timeout" "$gpu_bin" --duration=true ${WHET_GPU_TEST_ARGS:-}
  summary=$(grep -E '^\[doctest\] (test cases|assertions):' "$OUT/gpu_tests.log" | tr -s ' ' |
    paste -sd ';' -)
  [[ -z $summary ]] || note "$summary"
else
  skip gpu_tests "no binary at $gpu_bin"
fi

if [[ ${WHET_SKIP_CPU_TESTS:-0} == 1 ]]; then
  skip cpu_tests "WHET_SKIP_CPU_TESTS=1"
elif [[ $built == 1 ]]; then
  step cpu_tests ctest --test-dir "$build" -E '^gpu_tests$' -j "$jobs" --output-on-failure \
    --timeout "$cpu_timeout"
  note "$(grep -E 'tests passed|tests failed' "$OUT/cpu_tests.log" | tail -n 1)"
else
  skip cpu_tests "build failed"
fi

# Benchmarks run from $OUT so that any JSON they write lands beside the logs.
if [[ ${WHET_SKIP_BENCH:-0} == 1 ]]; then
  skip bench "WHET_SKIP_BENCH=1"
elif [[ $built == 1 && -d $build/bench ]]; then
  found=0
  for bin in "$build"/bench/*; do
    [[ -f $bin && -x $bin ]] || continue
    found=1
    name=$(basename "$bin")
    abs="$(cd "$(dirname "$bin")" && pwd)/$name"
    # shellcheck disable=SC2016  # expanded by the inner shell
    step "$name" bash -c 'cd "$1" && exec timeout "$2" "$3"' _ "$OUT" "$bench_timeout" "$abs"
  done
  [[ $found == 1 ]] || skip bench "no binaries in $build/bench"
else
  skip bench "no $build/bench"
fi

echo
echo "== summary (logs: $OUT)"
failed=0
printf '%-22s %-10s %8s  %s\n' step status seconds note
for i in "${!names[@]}"; do
  printf '%-22s %-10s %8s  %s\n' "${names[$i]}" "${states[$i]}" "${secs[$i]}" "${notes[$i]}"
  [[ ${states[$i]} == ok || ${states[$i]} == skipped ]] || failed=1
done
exit $failed
