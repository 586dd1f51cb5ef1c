#!/usr/bin/env python3
"""Writes tests/data/temporal_parity.safetensors: a small random TemporalNet
of training/video.py, inputs, and what each of its stages outputs on them.
tests/parity.rs loads the same weights into the burn twin
(src/model/temporal.rs) and checks it gives the same outputs.

usage: temporal_parity_vectors.py tests/data/temporal_parity.safetensors
"""
import sys
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from video import TemporalNet


def main():
    torch.manual_seed(11)
    n, m, hidden = 8, 12, 4
    net = TemporalNet(n, m, hidden)
    with torch.no_grad():  # every parameter off its initial value (zero-started layers included)
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
        ref = 3 * torch.randn(1, m, 8, 12)
        y = 3 * torch.randn(1, m, 8, 12)
        g = torch.rand(1, m, 1, 1) + 0.5
        z = net.analyse(y - ref, ref, g)
        z_hat = z.round()
        out = {"reference": ref, "y": y, "gain": g, "z": z, "z_hat": z_hat,
               "mean": net.mean(z_hat, ref, g), "prediction": net.predict(ref, g),
               "refined": net.refine(y, ref, g)}
    tensors = {f"net.{k}": v.contiguous() for k, v in net.state_dict().items()}
    tensors.update({f"out.{k}": v.contiguous() for k, v in out.items()})
    save_file(tensors, sys.argv[1])


if __name__ == "__main__":
    main()
