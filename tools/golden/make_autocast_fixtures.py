#!/usr/bin/env python3
"""Writes tests/golden/autocast.safetensors for tests/test_autocast.cpp: one training-mode
forward and backward of conv -> batch norm -> relu -> linear -> cross-entropy under
torch.autocast("cpu", dtype=torch.bfloat16), with float32 parameters (master weights).

    python3 tools/golden/make_autocast_fixtures.py

Stored in whet's layouts (make_fixtures.py): input NHWC, conv weight OHWI, and the linear
weight's columns in NHWC flatten order (H, W, C) instead of PyTorch's (C, H, W). The bf16
logits are stored widened to float32 (exactly).
"""
import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

import make_fixtures
from make_fixtures import Fixture, nhwc, ohwi


def hwc_columns(w, c, h, wd):
    """A linear weight (O, C*H*W) over NCHW-flattened input, reordered for NHWC flattening."""
    return w.reshape(w.shape[0], c, h, wd).permute(0, 2, 3, 1).reshape(w.shape[0], -1)


def make_autocast():
    torch.manual_seed(0)
    fx = Fixture()
    n, c, h, w, o, k = 4, 3, 6, 5, 8, 5
    conv = nn.Conv2d(c, o, 3, padding=1)
    bn = nn.BatchNorm2d(o)
    with torch.no_grad():  # non-trivial affine parameters
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    lin = nn.Linear(o * h * w, k)
    x = torch.randn(n, c, h, w, requires_grad=True)
    target = torch.randint(0, k, (n,))

    fx.put("input", nhwc(x))
    fx.put("target", target)
    fx.put("conv.weight", ohwi(conv.weight))
    fx.put("conv.bias", conv.bias)
    fx.put("bn.weight", bn.weight)
    fx.put("bn.bias", bn.bias)
    fx.put("linear.weight", hwc_columns(lin.weight, o, h, w))
    fx.put("linear.bias", lin.bias)

    with torch.autocast("cpu", dtype=torch.bfloat16):
        z = conv(x)
        a = F.relu(bn(z))
        logits = lin(a.flatten(1))
        loss = F.cross_entropy(logits, target)
    assert z.dtype == torch.bfloat16 and a.dtype == torch.bfloat16
    assert logits.dtype == torch.bfloat16 and loss.dtype == torch.float32
    loss.backward()

    fx.put("conv_output", nhwc(z.float()))
    fx.put("logits", logits.float())
    fx.put("loss", loss)
    fx.put("bn.running_mean", bn.running_mean)
    fx.put("bn.running_var", bn.running_var)
    fx.put("grad.input", nhwc(x.grad))
    fx.put("grad.conv.weight", ohwi(conv.weight.grad))
    fx.put("grad.conv.bias", conv.bias.grad)
    fx.put("grad.bn.weight", bn.weight.grad)
    fx.put("grad.bn.bias", bn.bias.grad)
    fx.put("grad.linear.weight", hwc_columns(lin.weight.grad, o, h, w))
    fx.put("grad.linear.bias", lin.bias.grad)
    fx.save("autocast.safetensors")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=make_fixtures.OUT)
    args = ap.parse_args()
    make_fixtures.OUT = args.out
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    make_autocast()


if __name__ == "__main__":
    main()
