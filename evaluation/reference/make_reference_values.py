#!/usr/bin/env python3
"""Reference values for livc's evaluation tests, from the Python tools the
literature uses: BD-rate / BD-PSNR from the PyPI `bjontegaard` package (pchip)
on published Kodak curves, MS-SSIM from `pytorch_msssim` on synthetic images.

    pip install bjontegaard pytorch_msssim torch
    python3 evaluation/reference/make_reference_values.py \
        ../shared/reference/kodak_published_rd.json > tests/data/reference_values.json

The synthetic images are integer formulas that tests/eval.rs regenerates.
"""
import json
import sys

import bjontegaard as bd
import numpy as np
import torch
from pytorch_msssim import ms_ssim

PAIRS = [
    ("vtm", "compressai-bmshj2018-hyperprior_mse_cuda"),
    ("vtm", "compressai-mbt2018-mean_mse_cuda"),
    ("vtm", "webp"),
    ("vtm", "jpeg"),
    ("vtm", "bpg_444_x265_ycbcr"),
    ("vtm", "av1"),
    ("bpg_444_x265_ycbcr", "mlicplusplus"),
]


def synthetic(w, h, salt):
    """Gradient + hashed noise in −15..15, scaled by 1 + 2·salt."""
    y, x = np.mgrid[0:h, 0:w].astype(np.uint64)
    a = np.zeros((h, w, 3), dtype=np.int64)
    b = np.zeros((h, w, 3), dtype=np.int64)
    for c in range(3):
        cc = np.uint64(c)
        base = (x * np.uint64(5) + y * np.uint64(3) + cc * np.uint64(60) + (x * y) // np.uint64(7)) % np.uint64(256)
        h1 = ((x * np.uint64(73856093)) ^ (y * np.uint64(19349663)) ^ ((cc + np.uint64(salt)) * np.uint64(83492791))) % np.uint64(31)
        a[..., c] = base.astype(np.int64)
        b[..., c] = np.clip(base.astype(np.int64) + (h1.astype(np.int64) - 15) * (1 + 2 * salt), 0, 255)
    return a, b


def to_tensor(img):
    return torch.from_numpy(img.astype(np.float64) / 255.0).permute(2, 0, 1).unsqueeze(0)


def main():
    curves = json.load(open(sys.argv[1]))["curves"]
    out = {"bd": [], "ms_ssim": []}
    for anchor, test in PAIRS:
        pa = sorted((p["bpp"], p["psnr"]) for p in curves[anchor]["points"])
        pt = sorted((p["bpp"], p["psnr"]) for p in curves[test]["points"])
        ra, da = zip(*pa)
        rt, dt = zip(*pt)
        out["bd"].append({
            "anchor": anchor, "test": test,
            "anchor_points": pa, "test_points": pt,
            "bd_rate": bd.bd_rate(ra, da, rt, dt, method="pchip", require_matching_points=False, min_overlap=0),
            "bd_psnr": bd.bd_psnr(ra, da, rt, dt, method="pchip", require_matching_points=False, min_overlap=0),
        })
    for w, h, salt in [(203, 171, 0), (256, 192, 1), (190, 250, 2)]:
        a, b = synthetic(w, h, salt)
        value = ms_ssim(to_tensor(a), to_tensor(b), data_range=1.0).item()
        out["ms_ssim"].append({"width": w, "height": h, "salt": salt, "ms_ssim": value})
    out["_about"] = ("Made by evaluation/reference/make_reference_values.py with bjontegaard "
                     f"and pytorch_msssim (torch {torch.__version__}); checked by tests/eval.rs.")
    json.dump(out, sys.stdout, indent=1)
    print()


main()
