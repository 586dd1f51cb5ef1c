#!/usr/bin/env python3
"""Writes tests/data/parity.safetensors: a small random network from
train.py, an input, and what each stage of the PyTorch model outputs on it.
tests/parity.rs loads the same weights into the burn model and checks that
it gives the same outputs, so weights trained in PyTorch mean the same in livc.

usage: parity_vectors.py tests/data/parity.safetensors
"""
import sys
import torch
from safetensors.torch import save_file
from train import Hyperprior


def main():
    torch.manual_seed(7)
    n, m, slices, hidden, lambdas = 8, 12, (4, 8), 8, (0.002, 0.01, 0.05)
    net = Hyperprior(n, m, slices, hidden, lambdas, blocks="ssm")
    with torch.no_grad():  # move every parameter off its initial value so all of them matter
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
        x = torch.rand(1, 3, 64, 128)  # not square: the scan's rows and columns differ
        y = net.analysis_fwd(x)
        z = net.hyper_analysis_fwd(y)
        z_hat = z.round()
        out = {
            "input": x,
            "y": y,
            "z": z,
            "z_hat": z_hat,
            "mean": net.branch(net.hyper_mean, z_hat),
            "scale_level": net.branch(net.hyper_scale, z_hat),
            "x_hat": net.synthesis_fwd(y.round()),
        }
        # The context model's means and levels, from PyTorch's own hyperprior outputs.
        out["context_mean"], out["context_level"] = net.context(y, out["mean"], out["scale_level"])
        # Quality 30 of 0..100 sits at 0.6 of the way from the first trained λ to the second.
        gain, inverse, _ = net.rate_gains(torch.tensor([0.6]))
        out["y_at_q30"] = y * gain
        out["x_hat_at_q30"] = net.synthesis_fwd((y * gain).round() * inverse)
    tensors = {f"net.{k}": v.contiguous() for k, v in net.burn_state().items()}
    tensors.update({f"out.{k}": v.contiguous() for k, v in out.items()})
    save_file(tensors, sys.argv[1], metadata={"n": str(n), "m": str(m), "slices": ",".join(map(str, slices)),
                                                    "context_hidden": str(hidden), "lambdas": ",".join(map(str, lambdas)), "blocks": "ssm",
                                                    "torch": torch.__version__})


if __name__ == "__main__":
    main()
