#!/usr/bin/env python3
"""The transforms' ceiling: RGB PSNR (dB, mean over the images) of
synthesis(analysis(x)) with no quantisation at the model's top trained
quality, the most any rate can give (train.py's `ceiling`, which the
campaign logs at every validation, on whole images here).

With --finetune STEPS it then trains only the transforms and the gains for
that ceiling alone (MSE, no rate, no quantisation; batch 8 of 128² training
crops, Adam at --lr after train.py's warmup), printing the ceiling every 250 steps: whether training
(rather than the transforms' size) is what holds the ceiling down.

--latent STEPS asks the same of the synthesis alone: per image, Adam (at
--latent-lr) on the synthesis's input, started from the analysis's, for the
best reconstruction the synthesis can give any latent (no rate, no
quantisation). If this is little above the ceiling, a better latent (the
encoder's effort levels) cannot lift the top of the range; only a better
synthesis can.

--widen-n N2 first widens the model's hidden channels to N2 (train.py's
widen_n, function-preserving up to a little noise): does a wider transform's
ceiling rise, at what cost per step?

usage: training/ceiling.py MODEL [--images DIR] [--limit N] [--widen-n N2] [--finetune STEPS --lr LR]
                                 [--latent STEPS --latent-lr LR]
       MODEL: a model package (weights/*.safetensors) or a run folder
"""
import argparse, os, random, sys, time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import WARMUP, ceiling, load_images, load_net, random_batch, unquantised, unquantised_latent  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--images", default=os.path.join(os.path.dirname(__file__), "../../shared/datasets/kodak"))
    p.add_argument("--limit", type=int, default=0, help="the first N images only (0: all)")
    p.add_argument("--finetune", type=int, default=0)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--widen-n", type=int, default=0)
    p.add_argument("--latent", type=int, default=0)
    p.add_argument("--latent-lr", type=float, default=0.01)
    p.add_argument("--train-dir", default=os.path.join(os.path.dirname(__file__), "../../shared/datasets/train"))
    a = p.parse_args()
    torch.manual_seed(0)
    net = load_net(a.model, a.widen_n or None)
    images = [x[None].float() / 255 for x in load_images(a.images, 1)]
    images = images[: a.limit] if a.limit else images
    measure = lambda: np.mean([ceiling(net, x) for x in images])
    print(f"{a.model}{f' widened to N = {a.widen_n}' if a.widen_n else ''}: ceiling {measure():.2f} dB on {len(images)} images of {a.images}", flush=True)
    if a.latent:
        print(f"with the synthesis's input optimised per image for {a.latent} steps: {synthesis_ceiling(net, images, a):.2f} dB", flush=True)
    if not a.finetune:
        return
    params = [p for k, p in net.named_parameters() if k.startswith(("analysis", "synthesis", "log_gain", "log_inverse_gain"))]
    opt = torch.optim.Adam(params, lr=a.lr)
    train, rng, t0 = load_images(a.train_dir, 256), random.Random(0), time.time()
    for step in range(1, a.finetune + 1):
        for g in opt.param_groups:
            g["lr"] = a.lr * min(1.0, step / WARMUP)
        x = random_batch(train, rng, 8, 128)
        loss = F.mse_loss(unquantised(net, x), x)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 250 == 0:
            print(f"step {step} ({time.time() - t0:.0f} s): ceiling {measure():.2f} dB", flush=True)


def synthesis_ceiling(net, images, a):
    """Mean RGB PSNR (dB) of synthesis(y*) over `images`, y* the synthesis
    input found by a.latent Adam steps on the MSE from the analysis's
    (unquantised, at the top quality), the best of the steps."""
    for p in net.parameters():
        p.requires_grad_(False)
    psnrs = []
    for x in images:
        y = unquantised_latent(net, x).detach().requires_grad_(True)
        opt, best = torch.optim.Adam([y], lr=a.latent_lr), 0.0
        for _ in range(a.latent):
            x_hat = net.synthesis_fwd(y)
            loss = F.mse_loss(x_hat, x)
            best = max(best, -10 * np.log10(F.mse_loss(x_hat.detach().clamp(0, 1), x).item()))
            opt.zero_grad()
            loss.backward()
            opt.step()
        psnrs.append(best)
    return float(np.mean(psnrs))


if __name__ == "__main__":
    main()
