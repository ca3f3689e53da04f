#!/usr/bin/env bash
# The one script a session with the GPU machine runs (shared/docs/DEVICE.md). The GPU machine
# cannot build whet (no CLI11/toml++/nlohmann headers, no package installs), so the build
# happens here and travels: tools/pack_gpu_build.sh writes gpu-pack/ (binaries, Debian's
# libjpeg, the Fashion-MNIST files), then the device tool runs this script with gpu-pack
# carried:
#
#   tools/pack_gpu_build.sh                         # here
#   device run: carry ["gpu-pack"], command "tools/device_check.sh", timeout_s 590
#
# Steps: the GPU suite; `whet ops` (which ops have CUDA kernels); whole training steps per
# second (bench_train) beside the PyTorch figures of DEVICE.md, the fused optimizers and the
# JPEG input pipeline on the host's cores (bench_loader); the README demo on the GPU.
# Every step has its own timeout and log under $OUT; a table is printed last.
#
# Knobs (environment): WHET_PACK (gpu-pack), WHET_GPU_TEST_ARGS (extra doctest options, e.g.
# -tc='*conv*'), WHET_SKIP_BENCH, WHET_SKIP_DEMO, timeouts in seconds: WHET_GPU_TIMEOUT (180),
# WHET_BENCH_TIMEOUT (40 per configuration), WHET_DEMO_TIMEOUT (120).
set -uo pipefail  # not -e: every step runs and reports, a failure does not end the check

cd "$(dirname "$0")/.." || exit 2
OUT=${OUT:-/tmp/whet_out}
mkdir -p "$OUT"
pack=$(cd "${WHET_PACK:-gpu-pack}" 2>/dev/null && pwd) || {
  echo "no ${WHET_PACK:-gpu-pack}/: run tools/pack_gpu_build.sh and carry it"
  exit 2
}
work=$(mktemp -d)
tar -C "$work" -xJf "$pack/bin.tar.xz" || exit 2
bin="$work/bin"
export LD_LIBRARY_PATH="$bin/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

exec > >(tee -a "$OUT/device_check.log") 2>&1
echo "== whet device check, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(cat "$pack/commit" 2>/dev/null)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null ||
  echo "nvidia-smi: not available"

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
  notes+=("")
  return $rc
}
note() { notes[${#notes[@]}-1]=$1; }

# shellcheck disable=SC2086  # the extra doctest options are words on purpose
step gpu_tests timeout "${WHET_GPU_TIMEOUT:-180}" "$bin/whet_gpu_tests" --duration=true \
  ${WHET_GPU_TEST_ARGS:-}
note "$(grep -E '^\[doctest\] (test cases|assertions):' "$OUT/gpu_tests.log" | tr -s ' ' |
  paste -sd ';' -)"

step ops "$bin/whet" ops
note "$(tail -n 1 "$OUT/ops.log")"

# Training steps per second, the protocol of DEVICE.md's PyTorch table (synthetic 224x224
# inputs on the device, SGD momentum 0.9, 10 classes, median of 20 steps).
if [[ ${WHET_SKIP_BENCH:-0} != 1 ]]; then
  bench() {  # NAME ARGS...
    local name=$1
    shift
    step "train_$name" timeout "${WHET_BENCH_TIMEOUT:-40}" "$bin/bench_train" --device cuda \
      --steps 20 --warmup 5 --json "$OUT/train_$name.json" "$@"
    note "$(grep -o '[0-9.]* img/s' "$OUT/train_$name.log")"
  }
  bench r18_fp32 --model resnet18 --batch 128 --precision fp32
  bench r18_tf32 --model resnet18 --batch 128 --precision tf32
  bench r18_fp16 --model resnet18 --batch 128 --precision fp16
  bench r18_bf16 --model resnet18 --batch 128 --precision bf16
  bench r18_head --model resnet18 --batch 128 --precision bf16 --train head
  bench r50_bf16 --model resnet50 --batch 128 --precision bf16
  bench mnv2_bf16 --model mobilenet_v2 --batch 128 --precision bf16
  # The fused optimizer kernels alone, over ResNet-50's parameters.
  step optim_r50 timeout "${WHET_BENCH_TIMEOUT:-40}" "$bin/bench_optim" --device cuda \
    --model resnet50
  note "$(awk '/ms\/step/ { printf "%s %s ms; ", $1, $2 }' "$OUT/optim_r50.log")"
  # Can the JPEG pipeline feed the GPU? (ResNet-50 in bf16 wants thousands of images/s.)
  step loader timeout "${WHET_BENCH_TIMEOUT:-40}" "$bin/bench_loader" --images 512 \
    --workers 4,8,16
  note "$(awk '/workers/ { printf "%s%s %s img/s; ", $1, $2, $3 }' "$OUT/loader.log")"
fi

# The README demo on the GPU, from the carried Fashion-MNIST files.
if [[ ${WHET_SKIP_DEMO:-0} != 1 ]]; then
  step demo_cuda timeout "${WHET_DEMO_TIMEOUT:-120}" env WHET="$bin/whet" \
    WHET_DEMO_DATA="fashion-mnist:$pack/fashion-mnist" WHET_DEMO_OUT="$OUT/demo" \
    tools/demo_runs.sh --device cuda
  note "$(grep -E 'full network|from scratch' "$OUT/demo_cuda.log" | tr -s ' ' | paste -sd ';' -)"
fi

echo
echo "== summary (logs: $OUT)"
failed=0
printf '%-14s %-10s %8s  %s\n' step status seconds note
for i in "${!names[@]}"; do
  printf '%-14s %-10s %8s  %s\n' "${names[$i]}" "${states[$i]}" "${secs[$i]}" "${notes[$i]}"
  [[ ${states[$i]} == ok || ${states[$i]} == skipped ]] || failed=1
done
exit $failed
