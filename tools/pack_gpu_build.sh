#!/usr/bin/env bash
# Prepares a carried build for the GPU machine (Ubuntu 24.04, CUDA 13; no package installs
# there, and no CLI11/toml++/nlohmann headers to build with). Builds here with CUDA for sm_90
# into build-gpu, then writes gpu-pack/ (git-ignored; a device call carries at most 64 MiB):
#   bin.tar.xz    bin/: whet, whet_gpu_tests, bench_train, bench_optim, bench_loader (stripped),
#                 and lib/ with the shared libraries Ubuntu 24.04 lacks (Debian's libjpeg.so.62)
#   fashion-mnist/  the four IDX files of Debian's dataset-fashion-mnist, for the demo
#   commit        what was built
# Then: device run with carry ["gpu-pack"], command "tools/device_check.sh", timeout_s 590.
set -euo pipefail
cd "$(dirname "$0")/.."
# Without MPI: the GPU machine has no libmpi to load, and the check runs one process. AVX2
# host code (x86-64-v3): the device machine's CPU is not this one.
WHET_BUILD_DIR=build-gpu tools/build.sh -DWHET_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DWHET_MPI=OFF -DWHET_CPU_ARCH=x86-64-v3
rm -rf gpu-pack build-gpu/pack
mkdir -p build-gpu/pack/bin/lib gpu-pack/fashion-mnist
cp build-gpu/whet build-gpu/tests/whet_gpu_tests build-gpu/bench/bench_train build-gpu/bench/bench_optim \
  build-gpu/bench/bench_loader build-gpu/pack/bin/
strip build-gpu/pack/bin/whet build-gpu/pack/bin/whet_gpu_tests build-gpu/pack/bin/bench_train \
  build-gpu/pack/bin/bench_optim build-gpu/pack/bin/bench_loader
ldd build-gpu/whet | awk '/libjpeg\.so/ { print $3 }' | xargs -r -I{} cp -L {} build-gpu/pack/bin/lib/
# Five static links of libwhet: compressed, they take a fraction of the room.
tar -C build-gpu/pack -cJf gpu-pack/bin.tar.xz bin
cp /usr/share/datasets/fashion-mnist/*.gz gpu-pack/fashion-mnist/
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' + local changes')" \
  >gpu-pack/commit
du -sh gpu-pack
size=$(du -sm gpu-pack | cut -f1)
if ((size > 60)); then
  echo "gpu-pack is ${size} MiB: over what a device call carries with the tree (64 MiB)" >&2
  exit 1
fi
