#!/usr/bin/env python3
"""Writes the timm weight-import fixtures that tests/test_timm_weights.cpp reads.

    pip install -r tools/golden/requirements.txt
    python3 tools/golden/make_timm_fixtures.py      # writes tests/golden/timm_*.safetensors

For each case a timm model (timm.create_model, 10 classes, no download) has every state-dict
entry filled from make_model_fixtures.py's formula, hashed over timm's own names. whet builds
the same timm-named state dict from the names and shapes listed in the fixture's metadata
("keys", a JSON list of [name, shape]), imports it into its torchvision-named model
(models/timm_names.h) and must compute what timm computes. Each
tests/golden/timm_<name>.safetensors holds:
  logits_eval     (N, K) float32 eval-mode logits of the formula input (2, 3, 64, 64)
  and from one train-mode forward and backward in float64 (dropout off):
  logits_train    (N, K), loss () of the cross-entropy against target (N) int64
  grad_norm       () the 2-norm of all parameter gradients together
  grad.stem       the stem convolution's gradient, NHWC (O, KH, KW, I) as whet holds it, its
                  first 256 values
  running_mean_sum, running_var_sum   () sums over every BatchNorm after that forward (its
                  momentum and its unbiased variance at work)
The sums and norms need no name mapping, so they check the mapping without repeating it.
"""
import argparse
import json
import os

import timm
import torch
import torch.nn as nn
from safetensors.torch import save_file

from make_model_fixtures import NUM_CLASSES, OUT, eval_and_train_step, fill, formula

# timm model -> (whet model, its width multiplier, stem parameter in timm's names)
CASES = {
    "resnet18": ("resnet18", 1.0, "conv1.weight"),
    "resnet50": ("resnet50", 1.0, "conv1.weight"),
    "mobilenetv2_100": ("mobilenet_v2", 1.0, "conv_stem.weight"),
    "mobilenetv2_050": ("mobilenet_v2", 0.5, "conv_stem.weight"),
    "mobilenetv2_140": ("mobilenet_v2", 1.4, "conv_stem.weight"),
    "mobilenetv3_small_100": ("mobilenet_v3_small", 1.0, "conv_stem.weight"),
    "mobilenetv3_large_100": ("mobilenet_v3_large", 1.0, "conv_stem.weight"),
    # timm's width variants, built by timm's width rule (models/classifier.h WidthRule)
    "mobilenetv3_small_050": ("mobilenet_v3_small", 0.5, "conv_stem.weight"),
    "mobilenetv3_small_075": ("mobilenet_v3_small", 0.75, "conv_stem.weight"),
    "mobilenetv3_large_075": ("mobilenet_v3_large", 0.75, "conv_stem.weight"),
}
INPUT = (2, 3, 64, 64)


def make_case(name, out):
    whet_name, width_mult, stem = CASES[name]
    model = timm.create_model(name, pretrained=False, num_classes=NUM_CLASSES)
    fill(model)
    keys = [[k, list(t.shape)] for k, t in model.state_dict().items()]
    x = formula("input", INPUT)
    model, t = eval_and_train_step(model, x)
    loss = t["loss"]
    grads = [p.grad.flatten() for p in model.parameters() if p.grad is not None]
    t["grad_norm"] = torch.cat(grads).norm()
    t["grad.stem"] = dict(model.named_parameters())[stem].grad.permute(0, 2, 3, 1).flatten()[:256]
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    t["running_mean_sum"] = sum(m.running_mean.sum() for m in bns)
    t["running_var_sum"] = sum(m.running_var.sum() for m in bns)
    t = {k: v.detach().contiguous().clone() for k, v in t.items()}
    path = os.path.join(out, f"timm_{name}.safetensors")
    save_file(t, path, metadata={"torch": torch.__version__, "timm": timm.__version__,
                                 "whet_model": whet_name, "width_mult": str(width_mult),
                                 "keys": json.dumps(keys)})
    print(f"{path}: {os.path.getsize(path)} bytes, {len(keys)} entries; logits_eval max |.| "
          f"{t['logits_eval'].abs().max():.3g}, loss {loss.item():.5f}, "
          f"BatchNorm eps {bns[0].eps}, momentum {bns[0].momentum}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    for name in CASES:
        make_case(name, args.out)


if __name__ == "__main__":
    main()
