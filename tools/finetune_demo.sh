#!/usr/bin/env bash
# The quick start's main job until `whet train` lands: installs what is needed, builds, and
# runs examples/finetune (pretrain a small CNN on a source task, then fine-tune its head on a
# target task with five labelled images per class, next to training from scratch). CPU only.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh "$@"
mkdir -p runs/finetune_demo
build_dir=${WHET_BUILD_DIR:-build}
"$build_dir"/examples/finetune --dir runs/finetune_demo
