#!/usr/bin/env python3
"""How much do reduced-precision convolutions change a training step?
(evaluation/results/campaign/precision.md)

A GPU slice's convolutions run in TF32 (PyTorch's default for cuDNN: 10
mantissa bits), and this CPU has AVX512-BF16 (bfloat16: 7 bits, which
oneDNN's convolutions run faster than float32). This emulates both on the CPU: every
convolution of train.py's model (forward, and both products of its
backward) rounds its operands to B mantissa bits and accumulates in
float32, as tensor cores do. On the same batches (random 256² crops of the
training photos, random qualities, the same rate noise) it compares each
step's whole gradient with float32's: their cosine and the ratio of norms,
beside the cosine of two consecutive batches' gradients (the noise SGD has
anyway).

usage: python3 evaluation/precision.py [--from RUN_OR_PACKAGE] [--bits 16,10,7] [--batches 4]
"""
import argparse, os, random, sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "training"))
import train as T  # noqa: E402

FLOAT32_CONV = F.conv2d
BITS = [23]  # mantissa bits the convolutions' operands keep (float32: 23)


def rounded(t):
    """t (float32) rounded to BITS[0] mantissa bits, to nearest."""
    drop = 23 - BITS[0]
    if drop <= 0:
        return t
    i = t.detach().contiguous().view(torch.int32)
    return ((i + (1 << (drop - 1))) & ~((1 << drop) - 1)).view(torch.float32).view_as(t)


class ReducedConv(torch.autograd.Function):
    """conv2d with rounded operands and float32 sums, forward and backward."""

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation, groups):
        ctx.save_for_backward(x, w)
        ctx.conf = (stride, padding, dilation, groups)
        return FLOAT32_CONV(rounded(x), rounded(w), b, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        g = rounded(g)
        gx = torch.nn.grad.conv2d_input(x.shape, rounded(w), g, *ctx.conf)
        gw = torch.nn.grad.conv2d_weight(rounded(x), w.shape, g, *ctx.conf)
        return gx, gw, g.sum((0, 2, 3)), None, None, None, None


def reduced_conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    return ReducedConv.apply(x, w, b, stride, padding, dilation, groups)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--from", dest="start", default="weights/livc-vr4.safetensors",
                   help="the model: a run folder (its moving average) or a model package")
    p.add_argument("--bits", default="16,10,7", help="mantissa bits to emulate (TF32: 10, bfloat16: 7)")
    p.add_argument("--batches", type=int, default=4)
    p.add_argument("--train-dir", default="../shared/datasets/train")
    a = p.parse_args()
    net = T.source_net(T.load_source(a.start))
    photos = T.load_images(a.train_dir, 256)
    rng = random.Random(1)
    batches = []
    for _ in range(a.batches):
        x = T.random_batch(photos, rng, 4, 256)
        t = torch.tensor([rng.uniform(0, len(net.lambdas) - 1) for _ in x])
        batches.append((x, t, [rng.randrange(2 ** 62) for _ in x]))

    def gradient(x, t, seeds):
        net.zero_grad()
        lmbda, bpp, mse = T.rate_distortion(net, x, t, seeds=seeds)
        T.rd_loss(lmbda, bpp, mse).mean().backward()
        return torch.cat([w.grad.flatten() for w in net.parameters() if w.grad is not None]).double()

    cosine = lambda u, v: (u @ v / (u.norm() * v.norm())).item()
    exact = [gradient(*b) for b in batches]
    print(f"{a.start}: {a.batches} batches of 4 random 256² crops (random qualities)\n")
    print("| convolutions' operands | gradient cosine to float32's | norm ratio |\n|---|---|---|")
    F.conv2d = reduced_conv  # nn.Conv2d and the GDN's conv2d call it
    for bits in (int(b) for b in a.bits.split(",")):
        BITS[0] = bits
        g = [gradient(*b) for b in batches]
        cos = sum(cosine(u, v) for u, v in zip(exact, g)) / len(g)
        ratio = sum((v.norm() / u.norm()).item() for u, v in zip(exact, g)) / len(g)
        print(f"| {bits} mantissa bits | {cos:.4f} | {ratio:.3f} |")
    F.conv2d = FLOAT32_CONV
    consecutive = sum(cosine(u, v) for u, v in zip(exact, exact[1:])) / (len(exact) - 1)
    print(f"\nfloat32, consecutive batches: gradient cosine {consecutive:.4f}")


if __name__ == "__main__":
    main()
