#!/usr/bin/env python3
"""torchvision's input pipeline on the folder bench_loader wrote, the protocol of
bench/bench_loader.cpp (ImageFolder, RandomResizedCrop(224), RandomHorizontalFlip, ToTensor,
Normalize with ImageNet's statistics; batch 32; the best of two epochs), so the two print
figures for the same work on the same machine:

    build/bench/bench_loader --keep                  # writes /tmp/whet_bench_loader
    pip install -r tools/golden/requirements.txt
    python3 bench/torch_loader_baseline.py --dir /tmp/whet_bench_loader

Workers are processes here (torch.utils.data) and threads in whet; each does the same work.
"""
import argparse
import time

import torch
from torchvision import datasets, transforms


def images_per_second(loader, epochs):
    best = 0.0
    for _ in range(epochs):
        t = time.perf_counter()
        n = sum(x.shape[0] for x, _ in loader)
        best = max(best, n / (time.perf_counter() - t))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default="/tmp/whet_bench_loader")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    tf = transforms.Compose([
        transforms.RandomResizedCrop(224),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    ds = datasets.ImageFolder(args.dir, tf)
    n = min(len(ds), 64)
    t = time.perf_counter()
    imgs = [ds.loader(ds.samples[i][0]) for i in range(n)]
    decode = (time.perf_counter() - t) / n
    t = time.perf_counter()
    for img in imgs:
        tf(img)
    transform = (time.perf_counter() - t) / n
    print(f"torch {torch.__version__}: one process, per image: read + decode {decode * 1e3:.2f} ms, "
          f"train transform {transform * 1e3:.2f} ms")
    print(f"DataLoader, batch {args.batch}, {len(ds)} images:")
    for w in (int(v) for v in args.workers.split(",")):
        loader = torch.utils.data.DataLoader(ds, batch_size=args.batch, shuffle=True, num_workers=w)
        print(f"  workers {w}: {images_per_second(loader, args.epochs):8.1f} images/s "
              f"(best epoch of {args.epochs})")


if __name__ == "__main__":
    main()
