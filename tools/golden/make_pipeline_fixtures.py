#!/usr/bin/env python3
"""Writes the end-to-end input-pipeline fixtures: a photo-like JPEG and what torchvision makes
of it, for tests/test_data_pipeline.cpp to check whet's decoder and eval transform against.

    pip install -r tools/golden/requirements.txt
    python3 tools/golden/make_pipeline_fixtures.py

  tests/data/images/photo.jpg        120x90 RGB, 4:2:0 chroma subsampling (as cameras write),
                                     quality 85, encoded by torchvision.io.encode_jpeg
  tests/golden/pipeline.safetensors
    decoded   uint8 (90, 120, 3): torchvision.io.decode_jpeg (libjpeg-turbo, as whet's decoder)
    eval64    float32 (64, 64, 3): torchvision's ImageNet evaluation transform at 64 (the
              v2 transforms on the uint8 tensor: Resize(64 * 256 // 224 = 73, antialias=True),
              CenterCrop(64), ToDtype(float32, scale=True), Normalize(ImageNet)), in whet's
              (H, W, C) layout
"""
import argparse
import os

import torch
import torchvision
import torchvision.transforms.v2 as T
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def photo(h, w):
    """Smooth gradients, discs and noise: something with the statistics of a photo."""
    g = torch.Generator().manual_seed(3)
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    img = torch.stack([xx / w * 180 + 30, yy / h * 150 + 50, (xx + yy) / (h + w) * 120 + 60])
    for k in range(6):
        cy, cx, r = (torch.randint(0, n, (1,), generator=g).item() for n in (h, w, 30))
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2) < (r + 5) ** 2
        img[k % 3][disc] = 40.0 + 30 * k
    img += torch.randn(img.shape, generator=g) * 6
    return img.clamp(0, 255).round().to(torch.uint8)  # (3, H, W)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.parse_args()
    jpeg = torchvision.io.encode_jpeg(photo(90, 120), quality=85)
    jpeg_path = os.path.join(ROOT, "tests", "data", "images", "photo.jpg")
    with open(jpeg_path, "wb") as f:
        f.write(jpeg.numpy().tobytes())
    decoded = torchvision.io.decode_jpeg(jpeg)  # (3, H, W) uint8
    size = 64
    tf = T.Compose([T.Resize(size * 256 // 224, antialias=True), T.CenterCrop(size),
                    T.ToDtype(torch.float32, scale=True),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    out = tf(decoded)
    path = os.path.join(ROOT, "tests", "golden", "pipeline.safetensors")
    save_file({"decoded": decoded.permute(1, 2, 0).contiguous(),
               "eval64": out.permute(1, 2, 0).contiguous()},
              path, metadata={"torch": torch.__version__, "torchvision": torchvision.__version__})
    print(f"{jpeg_path}: {os.path.getsize(jpeg_path)} bytes; {path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
