#!/usr/bin/env python3
"""Writes the end-to-end model parity fixtures that tests/test_parity_models.cpp and
tests/test_models.cpp read.

    pip install -r tools/golden/requirements.txt torchvision
    python3 tools/golden/make_model_fixtures.py     # writes tests/golden/models_*

Weights are not stored: both sides fill every state-dict entry from the same formula (below,
and identically in tests/test_parity_models.cpp), so a ResNet-50 fixture is a few tens of KB.
Each tests/golden/models_<name>.safetensors holds, in whet's layouts (activations NHWC, conv
weights (O, KH, KW, I/groups)):
  logits_eval     (N, K) float32 eval-mode logits of the formula input
  and from one training step in float64 (model.double(), the same float32 formula values):
  logits_train    (N, K) train-mode logits (batch statistics; dropout p set to 0 on both
                  sides, since the two sides' dropout masks cannot agree)
  target (N) int64, loss ()   mean cross-entropy of logits_train
  grad.<param>    gradients of a few parameters after loss.backward()
  after.<buffer>  a BatchNorm running statistic after that one training forward
  probe.<entry>   the first 16 formula values of a few entries (float32, PyTorch layout), to
                  tell a formula mismatch from a model mismatch
Why float64 for training: train-mode gradients of a ReLU network are discontinuous in its
inputs. In float32 a rounding-level difference flips the few pre-activations that lie within
1e-6 of zero, and each flip moves single gradient entries by up to a few percent (torch's own
float32 and float64 ResNet-50 gradients differ by 3% here), so float32 gradients of a deep net
cannot be compared at tight tolerances; in float64 the same flips would need 1e-16 changes.
Eval-mode logits are a continuous function and compare in float32, the precision users run.
tests/golden/models_keys.txt lists every torchvision model's parameters and buffers (name and
PyTorch shape) in named_parameters() / named_buffers() order, for 1000 classes.

The formula. For a state-dict entry (or the input, named "input") with UTF-8 name `s` and
element i (row-major flat index in PyTorch's layout, NCHW / OIHW):
  h = FNV-1a 32-bit of s (offset basis 0x811C9DC5, prime 0x01000193)
  x = (h + i * 0x9E3779B9) mod 2^32
  x ^= x >> 16; x = x * 0x7FEB352D mod 2^32; x ^= x >> 15; x = x * 0x846CA68B mod 2^32;
  x ^= x >> 16                                          (Wellons' lowbias32 finaliser)
  u = (x >> 8) / 2^23 - 1                               (exact, in [-1, 1))
  value = float32(a + b * u), computed in float64, where (a, b) by entry:
    weight of >= 2 dims (conv, linear): a = 0, b = sqrt(3 / fan_in), fan_in = numel / shape[0]
    other "weight" (BatchNorm): a = 1, b = 0.2
    "bias": a = 0, b = 0.1
    "running_mean": a = 0, b = 0.1;  "running_var": a = 1, b = 0.5 (positive)
    "num_batches_tracked": left at 0
    "input": a = 0, b = 1
Integer hashing rather than sin/cos keeps the two sides bit-identical (no libm in the loop)
and the values free of the periodic structure that makes convolutions of sines resonate.
"""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "golden")
MASK = np.uint64(0xFFFFFFFF)


def fnv1a32(s):
    h = 0x811C9DC5
    for byte in s.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def unit(name, n):
    """u in [-1, 1) for elements 0..n-1 of entry `name` (see the formula above)."""
    i = np.arange(n, dtype=np.uint64)
    x = (np.uint64(fnv1a32(name)) + i * np.uint64(0x9E3779B9)) & MASK
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & MASK
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & MASK
    x ^= x >> np.uint64(16)
    return (x >> np.uint64(8)).astype(np.float64) / 2.0**23 - 1.0


def scale_of(name, shape):
    leaf = name.rsplit(".", 1)[-1]
    if name == "input":
        return 0.0, 1.0
    if leaf == "weight" and len(shape) >= 2:
        return 0.0, math.sqrt(3.0 / (math.prod(shape) // shape[0]))
    if leaf == "weight":
        return 1.0, 0.2
    if leaf in ("bias", "running_mean"):
        return 0.0, 0.1
    if leaf == "running_var":
        return 1.0, 0.5
    raise ValueError(f"no formula for {name}")


def formula(name, shape):
    a, b = scale_of(name, tuple(shape))
    v = a + b * unit(name, math.prod(shape))
    return torch.from_numpy(v.astype(np.float32)).reshape(tuple(shape))


def fill(model):
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            t.copy_(formula(name, t.shape))


def nhwc(x):
    return x.permute(0, 2, 3, 1).contiguous() if x.dim() == 4 else x.contiguous()


class SmallCNN(nn.Module):
    """PyTorch twin of whet's small_cnn (models/small_cnn.h), same names."""

    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        from torchvision.ops.misc import Conv2dNormActivation as CNA

        self.features = nn.Sequential(
            CNA(in_channels, 32, 3), nn.MaxPool2d(2), CNA(32, 64, 3), CNA(64, 64, 3), nn.MaxPool2d(2),
            CNA(64, 128, 3))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(128, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


def train_forward(model, x):
    """One train-mode forward and backward in float64 with dropout off (the two sides' masks
    cannot agree): (the float64 model, logits, target, cross-entropy loss)."""
    model = model.double()
    model.train()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    target = torch.arange(x.shape[0], dtype=torch.int64) * 3 % NUM_CLASSES
    logits = model(x.double())
    loss = F.cross_entropy(logits, target)
    loss.backward()
    return model, logits, target, loss


def eval_and_train_step(model, x):
    """Float32 eval-mode logits, then train_forward: (the float64 model, {logits_eval,
    logits_train, target, loss})."""
    model.eval()
    with torch.no_grad():
        step = {"logits_eval": model(x)}
    model, logits, target, loss = train_forward(model, x)
    step.update(logits_train=logits, target=target, loss=loss)
    return model, step


# name -> (constructor, input NCHW shape, gradients to store, buffers to store after training)
CASES = {
    "resnet18": (torchvision.models.resnet18, (2, 3, 64, 64),
                 ["conv1.weight", "layer2.1.bn2.weight", "layer4.1.bn2.bias", "fc.weight", "fc.bias"],
                 ["bn1.running_mean", "layer3.0.downsample.1.running_var"]),
    "resnet50": (torchvision.models.resnet50, (2, 3, 64, 64),
                 ["conv1.weight", "layer3.2.bn2.weight", "layer1.0.downsample.1.bias", "fc.bias"],
                 ["layer4.2.bn3.running_var"]),
    "mobilenet_v2": (torchvision.models.mobilenet_v2, (2, 3, 64, 64),
                     ["features.0.0.weight", "features.9.conv.1.0.weight", "features.9.conv.1.1.weight",
                      "classifier.1.bias"],
                     ["features.9.conv.1.1.running_mean"]),
    "mobilenet_v3_small": (torchvision.models.mobilenet_v3_small, (2, 3, 64, 64),
                           ["features.0.0.weight", "features.4.block.2.fc1.bias", "features.4.block.2.fc2.bias",
                            "features.6.block.1.1.weight", "classifier.0.bias", "classifier.3.bias"],
                           ["features.6.block.1.1.running_var"]),
    "small_cnn": (SmallCNN, (4, 1, 28, 28),
                  ["features.0.0.weight", "features.2.1.weight", "fc.weight", "fc.bias"],
                  ["features.5.1.running_mean"]),
}
NUM_CLASSES = 10
KEY_MODELS = ["resnet18", "resnet34", "resnet50", "resnet101", "mobilenet_v2",
              "mobilenet_v3_small", "mobilenet_v3_large"]


def make_case(name, out):
    ctor, in_shape, grads, buffers = CASES[name]
    model = ctor(num_classes=NUM_CLASSES)
    fill(model)
    x = formula("input", in_shape)
    t = {}
    t["probe.input"] = x.flatten()[:16].clone()
    first = next(iter(model.state_dict()))
    for key in (first, grads[1]):
        t[f"probe.{key}"] = model.state_dict()[key].flatten()[:16].clone()

    model, step = eval_and_train_step(model, x)
    t.update(step)
    loss = step["loss"]
    params = dict(model.named_parameters())
    for g in grads:
        grad = params[g].grad
        t[f"grad.{g}"] = nhwc(grad) if grad.dim() == 4 else grad
    sd = model.state_dict()
    for b in buffers:
        t[f"after.{b}"] = sd[b]
    t = {k: v.detach().contiguous().clone() for k, v in t.items()}
    path = os.path.join(out, f"models_{name}.safetensors")
    save_file(t, path, metadata={"torch": torch.__version__, "torchvision": torchvision.__version__})
    print(f"{path}: {os.path.getsize(path)} bytes; logits_eval max |.| "
          f"{t['logits_eval'].abs().max():.3g}, loss {loss.item():.5f}")


def make_keys(out):
    lines = [f"# Parameters (P) and buffers (B) of torchvision {torchvision.__version__} models, "
             "num_classes=1000, PyTorch shapes. Written by tools/golden/make_model_fixtures.py."]
    for name in KEY_MODELS:
        model = getattr(torchvision.models, name)()
        n = sum(p.numel() for p in model.parameters())
        lines.append(f"model {name} {n}")
        for k, p in model.named_parameters():
            lines.append(f"P {k} {','.join(map(str, p.shape))}")
        for k, b in model.named_buffers():
            lines.append(f"B {k} {','.join(map(str, b.shape))}")
    path = os.path.join(out, "models_keys.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{path}: {os.path.getsize(path)} bytes")


def check_torch_loads_whet(whet):
    """torch reads what whet writes: a torchvision .pth goes through `whet convert` (whet's
    .pth reader and safetensors writer), then safetensors.torch and a strict load_state_dict
    into a fresh torchvision model must give back the same tensors, bit for bit."""
    import subprocess
    import tempfile
    from safetensors.torch import load_file

    with tempfile.TemporaryDirectory() as tmp:
        for name in ("resnet18", "mobilenet_v3_small"):
            src = getattr(torchvision.models, name)(weights=None, num_classes=10)
            pth, st = os.path.join(tmp, name + ".pth"), os.path.join(tmp, name + ".safetensors")
            torch.save(src.state_dict(), pth)
            subprocess.run([whet, "convert", pth, st], check=True, stdout=subprocess.DEVNULL)
            dst = getattr(torchvision.models, name)(weights=None, num_classes=10)
            dst.load_state_dict(load_file(st), strict=True)
            for (k, a), (_, b) in zip(src.state_dict().items(), dst.state_dict().items()):
                assert a.dtype == b.dtype and torch.equal(a, b), f"{name}: {k} differs"
            print(f"torch loads whet's {name}.safetensors: {len(src.state_dict())} tensors equal")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--whet", help="a built whet binary: also check that torch loads what it writes")
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    for name in CASES:
        make_case(name, args.out)
    make_keys(args.out)
    if args.whet:
        check_torch_loads_whet(args.whet)


if __name__ == "__main__":
    main()
