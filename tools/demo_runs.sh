#!/usr/bin/env bash
# The runs of the README demo (tools/demo.sh sets up and builds, then calls this), given a
# built `whet`:
#   1. pretrain small_cnn on Fashion-MNIST classes 0-4 (T-shirt, trouser, pullover, dress, coat);
#   2. fine-tune it on classes 5-9 (sandal, shirt, sneaker, bag, ankle boot) with 100
#      labelled images per class: head only, last stage + head, full network;
#   3. train the same network from scratch on those 500 images;
#   4. print the test accuracies (the 5,000 test images of classes 5-9) and leave a report
#      per run in $WHET_DEMO_OUT/*/report.html.
# Runs on the GPU when whet has one (--device auto). Extra arguments go to every `whet train`
# call (e.g. --device cpu, --seed 1). Environment: WHET (build/whet), WHET_DEMO_DATA
# (fashion-mnist; fashion-mnist:DIR reads the IDX files from DIR), WHET_DEMO_OUT (runs/demo).
set -euo pipefail
cd "$(dirname "$0")/.."
whet=${WHET:-build/whet}
out=${WHET_DEMO_OUT:-runs/demo}
mkdir -p "$out"
start=$(date +%s)

common=(--model small_cnn --data "${WHET_DEMO_DATA:-fashion-mnist}" --augment none
        --batch-size 64 --workers 2 --scheduler cosine --overwrite --log-every 50 --device auto)
echo "== pretraining on classes 0-4"
"$whet" train "${common[@]}" --classes 0,1,2,3,4 --epochs 2 --lr 0.05 \
  --output-dir "$out/pretrain" --save "$out/pretrained.safetensors" "$@"

# Validation on the 5,000 test images costs more than an epoch on 500: every 4th epoch.
finetune=("${common[@]}" --classes 5,6,7,8,9 --per-class 100 --epochs 12 --batch-size 50
          --val-every 4)
pretrained=(--weights "$out/pretrained.safetensors" --reset-head)
run() {
  local name=$1
  shift
  echo "== $name"
  "$whet" train "${finetune[@]}" --output-dir "$out/$name" "$@"
}
run head "${pretrained[@]}" --lr 0.05 --freeze '*' --unfreeze 'fc.*' --freeze-bn "$@"
run last "${pretrained[@]}" --lr 0.05 --freeze '*' --unfreeze 'features.5.*' --unfreeze 'fc.*' "$@"
run full "${pretrained[@]}" --lr 0.05 "$@"
run scratch --lr 0.05 "$@"

accuracy() { grep -o '"accuracy": *[0-9.]*' "$out/$1/eval.json" | grep -o '[0-9.]*$'; }
echo
echo "Fashion-MNIST classes 5-9, 100 training images per class; test accuracy (5,000 images):"
printf '  %-38s %s\n' "fine-tuned, head only" "$(accuracy head)"
printf '  %-38s %s\n' "fine-tuned, last stage + head" "$(accuracy last)"
printf '  %-38s %s\n' "fine-tuned, full network" "$(accuracy full)"
printf '  %-38s %s\n' "from scratch" "$(accuracy scratch)"
echo "reports: $out/{pretrain,head,last,full,scratch}/report.html; $(($(date +%s) - start)) s"
