#!/usr/bin/env python3
"""The livc hyperprior network in PyTorch, to time it on the CPU beside livc.

Same layers, shapes and operations as src/model/mod.rs (random weights: the
time does not depend on their values). Encode = analysis, hyper-analysis and
both hyper-synthesis branches; decode = both hyper-synthesis branches and the
synthesis. Entropy coding is not included (livc's times include it).

usage: torch_reference.py DATASET_DIR N M [--limit K] > result.json
"""
import json, os, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image


class Gdn(nn.Module):  # simplified GDN, as livc's
    def __init__(self, c, inverse=False):
        super().__init__()
        self.beta = nn.Parameter(torch.ones(c))
        self.gamma = nn.Parameter(torch.eye(c) * 0.1 ** 0.5)
        self.inverse = inverse

    def forward(self, x):
        c = x.shape[1]
        norm = F.conv2d(x.abs(), (self.gamma ** 2).view(c, c, 1, 1), self.beta ** 2 + 1e-6)
        return x * norm if self.inverse else x / norm


def conv(cin, cout, k, s=1):
    return nn.Conv2d(cin, cout, k, s, k // 2)


class Up(nn.Module):  # sub-pixel upsampling: conv 3x3 then pixel shuffle
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = conv(cin, cout * 4, 3)

    def forward(self, x):
        return F.pixel_shuffle(self.conv(x), 2)


class Hyperprior(nn.Module):
    def __init__(self, n, m):
        super().__init__()
        self.g_a = nn.Sequential(conv(3, n, 5, 2), Gdn(n), conv(n, n, 5, 2), Gdn(n), conv(n, n, 5, 2), Gdn(n), conv(n, m, 5, 2))
        self.g_s = nn.Sequential(Up(m, n), Gdn(n, True), Up(n, n), Gdn(n, True), Up(n, n), Gdn(n, True), Up(n, 3))
        self.h_a = nn.Sequential(conv(m, n, 3), nn.ReLU(), conv(n, n, 5, 2), nn.ReLU(), conv(n, n, 5, 2))
        branch = lambda: nn.Sequential(Up(n, n), nn.ReLU(), Up(n, n), nn.ReLU(), conv(n, m, 3))
        self.h_mean, self.h_scale = branch(), branch()

    def encode(self, x):
        y = self.g_a(x)
        z = self.h_a(y).round()
        return y, z, self.h_mean(z), self.h_scale(z)

    def decode(self, z, y_shape):
        mean = self.h_mean(z)[..., : y_shape[2], : y_shape[3]]
        self.h_scale(z)
        return self.g_s(mean)


def main():
    folder, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    limit = int(sys.argv[sys.argv.index("--limit") + 1]) if "--limit" in sys.argv else None
    torch.set_num_threads(os.cpu_count())
    net = Hyperprior(n, m).eval()
    files = sorted(f for f in os.listdir(folder) if f.endswith(".png"))[:limit]
    rows = []
    with torch.no_grad():
        warm = torch.rand(1, 3, 512, 768)
        y, z, _, _ = net.encode(warm)
        net.decode(z, y.shape)
        for f in files:
            img = Image.open(os.path.join(folder, f)).convert("RGB")
            x = torch.from_numpy(__import__("numpy").asarray(img).copy()).permute(2, 0, 1)[None].float() / 255
            t = time.perf_counter()
            y, z, _, _ = net.encode(x)
            enc = time.perf_counter() - t
            t = time.perf_counter()
            net.decode(z, y.shape)
            dec = time.perf_counter() - t
            rows.append({"name": f, "encode_s": enc, "decode_s": dec})
    mean = lambda k: sum(r[k] for r in rows) / len(rows)
    json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "images": rows,
               "mean": {"encode_s": mean("encode_s"), "decode_s": mean("decode_s")}}, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
