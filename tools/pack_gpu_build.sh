#!/usr/bin/env bash
# Prepares a carried build for the GPU machine (Ubuntu 24.04, CUDA 13; no package installs
# there, and no CLI11/toml++/nlohmann headers to build with). Builds here with CUDA for sm_90,
# then copies what the device check runs into gpu-pack/ (git-ignored, well under the 64 MiB a
# device call carries): whet, whet_gpu_tests, bench_cpu, the shared libraries Ubuntu 24.04
# lacks (Debian's libjpeg.so.62), and run.sh.
#   tools/pack_gpu_build.sh
#   device run: carry ["gpu-pack"], command "gpu-pack/run.sh", timeout about 300 s
set -euo pipefail
cd "$(dirname "$0")/.."
WHET_BUILD_DIR=build-gpu tools/build.sh -DWHET_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90
rm -rf gpu-pack
mkdir -p gpu-pack/lib
cp build-gpu/whet build-gpu/tests/whet_gpu_tests build-gpu/bench/bench_cpu gpu-pack/
strip gpu-pack/whet gpu-pack/whet_gpu_tests gpu-pack/bench_cpu
ldd gpu-pack/whet | awk '/libjpeg\.so/ { print $3 }' | xargs -r -I{} cp -L {} gpu-pack/lib/
cat > gpu-pack/run.sh <<'RUN'
#!/usr/bin/env bash
# On the GPU machine: the GPU suite, the op table, the CPU benchmark; logs under $OUT.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH="$here/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
OUT=${OUT:-/tmp/whet_out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
"$here/whet" --version
timeout 240 "$here/whet_gpu_tests" 2>&1 | tee "$OUT/gpu_tests.log" | tail -40
echo "gpu tests exit: ${PIPESTATUS[0]}"
"$here/whet" ops > "$OUT/ops.txt" 2>&1
tail -1 "$OUT/ops.txt"
timeout 90 "$here/bench_cpu" --json "$OUT/bench_cpu.json" 2>&1 | tail -8
RUN
chmod +x gpu-pack/run.sh
du -sh gpu-pack
