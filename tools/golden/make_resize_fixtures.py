#!/usr/bin/env python3
"""Writes tests/golden/resize.safetensors: torch's bilinear resizing, plain and antialiased,
for tests/test_data_pipeline.cpp to compare whet's Resize and RandomResizedCrop against.

    pip install -r tools/golden/requirements.txt
    python3 tools/golden/make_resize_fixtures.py

Each case <name> holds, in whet's (H, W, C) layout:
  <name>.input      float32 (H, W, C), values from the formula below (C++ need not repeat it)
  <name>.plain      F.interpolate(mode="bilinear", align_corners=False, antialias=False)
  <name>.antialias  the same with antialias=True (torchvision's default resize)
  <name>.u8_input   uint8 (H, W, C), <name>.u8_antialias: torchvision.transforms.v2.functional
                    .resize of the uint8 image, antialias=True (torch's integer path)
The cases cover downscaling (2x and fractional), upscaling, a mixed aspect change and an
unchanged axis.
"""
import argparse
import os

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "golden")

# name -> (in_h, in_w, out_h, out_w, channels)
CASES = {
    "down2": (16, 24, 8, 12, 3),
    "down_fraction": (27, 35, 10, 13, 3),
    "up": (7, 9, 20, 13, 1),
    "mixed": (24, 10, 10, 25, 2),
    "keep_height": (12, 31, 12, 8, 3),
    "strong_down": (60, 72, 7, 9, 1),
}


def chw_to_hwc(t):
    return t.squeeze(0).permute(1, 2, 0).contiguous()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    g = torch.Generator().manual_seed(0)
    tensors = {}
    for name, (h, w, oh, ow, c) in CASES.items():
        # Smooth structure plus noise, so both low and high frequencies are resampled.
        yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32),
                                torch.arange(w, dtype=torch.float32), indexing="ij")
        base = torch.stack([torch.sin(yy * (0.3 + k) + xx * 0.7 * (k + 1)) for k in range(c)])
        x = (base + 0.3 * torch.rand(c, h, w, generator=g)).unsqueeze(0)  # (1, C, H, W)
        tensors[f"{name}.input"] = chw_to_hwc(x)
        for aa, key in ((False, "plain"), (True, "antialias")):
            y = F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=False, antialias=aa)
            tensors[f"{name}.{key}"] = chw_to_hwc(y)
        u8 = torch.randint(0, 256, (1, c, h, w), dtype=torch.uint8, generator=g)
        u8 = ((x - x.min()) / (x.max() - x.min()) * 200 + u8.float() * 0.2).round().to(torch.uint8)
        tensors[f"{name}.u8_input"] = chw_to_hwc(u8)
        tensors[f"{name}.u8_antialias"] = chw_to_hwc(TF.resize(u8, [oh, ow], antialias=True))
    path = os.path.join(args.out, "resize.safetensors")
    save_file(tensors, path, metadata={"torch": torch.__version__})
    print(f"{path}: {os.path.getsize(path)} bytes, {len(CASES)} cases")


if __name__ == "__main__":
    main()
