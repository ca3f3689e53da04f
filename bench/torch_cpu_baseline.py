#!/usr/bin/env python3
"""PyTorch's CPU training-step throughput, the protocol of bench/bench_train.cpp (synthetic
inputs, 10 classes, cross-entropy, SGD momentum 0.9, weight decay 1e-4; median of 20 timed
steps after 5 of warm-up), so the two print figures for the same work on the same machine:

    pip install -r tools/golden/requirements.txt
    python3 bench/torch_cpu_baseline.py --threads 2
    build/bench/bench_train --model small_cnn --batch 64 --size 28   # and the rows below

PyTorch runs each model in NCHW and in channels-last (whet's NHWC) memory format.
"""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "golden"))
from make_model_fixtures import SmallCNN  # noqa: E402  (whet's small_cnn, same layers)

ROWS = [("small_cnn", 64, 28), ("resnet18", 16, 64), ("mobilenet_v2", 16, 64)]


def step_rate(name, batch, size, channels_last, steps=20, warmup=5):
    model = SmallCNN(10, 1) if name == "small_cnn" else getattr(torchvision.models, name)(num_classes=10)
    channels = 1 if name == "small_cnn" else 3
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batch, channels, size, size).to(memory_format=fmt)
    y = torch.randint(0, 10, (batch,))
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for _ in range(warmup + steps):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - t)
    return batch / statistics.median(times[warmup:])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, img/s")
    for name, batch, size in ROWS:
        nchw = step_rate(name, batch, size, channels_last=False)
        nhwc = step_rate(name, batch, size, channels_last=True)
        print(f"{name:14s} batch {batch:3d} {size:3d}px  NCHW {nchw:7.1f}  channels-last {nhwc:7.1f}")


if __name__ == "__main__":
    main()
