#!/usr/bin/env python3
"""Trains livc's P-frame modules (issue 19) in PyTorch, with the image model
frozen: the temporal prior (the latent codec of P-frames) and the temporal
latent refinement. src/model/temporal.rs is the burn twin, layer for layer,
with the same parameter names (tests/temporal_parity.rs checks both agree).

The temporal prior codes frame t's latent yₜ (M × H/16 × W/16, in the gained
domain of the variable-rate model) against the previous frame's decoded ŷₜ₋₁:
  prediction   pₜ = ŷₜ₋₁ + g ⊙ predictor(ŷₜ₋₁ / g)        (float; zero-started)
  residual     rₜ = yₜ − pₜ, coded by a hyperprior trained on residuals:
               its own hyper-analysis (encoder only), z prior and mean branch,
               and the image model's *frozen* integer scale branch and
               checkerboard/slice context, so that every probability table is
               still chosen by integer arithmetic on decoded integers.
  ŷₜ = r̂ₜ + pₜ is the next reference.
Rate-only loss: the latent's rounding error is uniform whatever the
prediction, so bits are the whole objective (issue 19: "train the temporal
prior on latents with a rate-only loss").

The refinement, a decoder-side stage, shows ŷₜ + g ⊙ refiner([ŷₜ, ŷₜ₋₁] / g)
instead of ŷₜ (the reference stays ŷₜ): trained on the squared error of the
synthesis input, ((ŷ' − y)·g⁻¹)², the latent-domain proxy for pixel MSE.

Training sequences: no clip in ../shared/datasets/video is used (they are for
evaluation). Pairs of frames are made from the training photos by simulated
camera motion: a random affine warp (pan up to 12 px per frame, zoom ±1.5 %,
rotation ±0.6°) of a crop, brightness drift, and sensor noise; a fifth of the
pairs are static, as tripod shots are.

usage (from the repository's root):
       training/video.py RUN_DIR [--minutes M] [--steps N] [--lr LR]   resumes RUN_DIR/checkpoint.pt
       training/video.py RUN_DIR --export FILE.safetensors            f32 weights, then:
       livc export-temporal --run FILE.safetensors -o weights/temporal/livc-vr.safetensors
"""
import argparse, json, math, os, random, signal, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as T  # noqa: E402  (training/train.py: the image model, frozen here)

BASE = "weights/livc-vr.safetensors"


def conv(cin, cout, k, s=1):
    return nn.Conv2d(cin, cout, k, s, k // 2)


def zero_out(layer):
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.zero_()
    return layer


class TemporalNet(nn.Module):
    """The P-frame modules (src/model/temporal.rs). `hyper_analysis`,
    `hyper_mean`, `z_mean`, `z_log_scale` start as the image model's;
    `predictor` and `refiner` are residual branches whose last layer starts
    at zero, so the untrained net is the identity prediction."""

    def __init__(self, n, m, hidden):
        super().__init__()
        # Conditional: the hyper-analysis sees the residual and the reference
        # ŷₜ₋₁ / g, and the mean adds g ⊙ mix([features of ẑ, ŷₜ₋₁ / g]), so
        # ẑ can tell the decoder how to use the reference (where it moved).
        self.hyper_analysis = nn.ModuleList([conv(2 * m, n, 3), conv(n, n, 5, 2), conv(n, n, 5, 2)])
        self.hyper_mean = nn.ModuleList([conv(n, n * 4, 3), conv(n, n * 4, 3), conv(n, m, 3)])
        self.mix = zero_out(conv(n + m, m, 3))
        self.z_mean = nn.Parameter(torch.zeros(n))
        self.z_log_scale = nn.Parameter(torch.zeros(n))
        self.predictor = nn.ModuleList([conv(m, hidden, 3), conv(hidden, hidden, 3), zero_out(conv(hidden, m, 3))])
        self.refiner = nn.ModuleList([conv(2 * m, hidden, 3), conv(hidden, hidden, 3), zero_out(conv(hidden, m, 3))])

    @staticmethod
    def mlp(layers, x):
        a, b, c = layers
        return c(F.relu(b(F.relu(a(x)))))

    def analyse(self, r, ref, g):
        return self.mlp(self.hyper_analysis, torch.cat([r, ref / g], 1))

    def mean(self, z_hat, ref, g):
        a, b, c = self.hyper_mean
        h = F.relu(F.pixel_shuffle(a(z_hat), 2))
        h = F.relu(F.pixel_shuffle(b(h), 2))
        return c(h) + g * self.mix(torch.cat([h, ref / g], 1))

    def predict(self, ref, g):
        return ref + g * self.mlp(self.predictor, ref / g)

    def refine(self, y_hat, ref, g):
        return y_hat + g * self.mlp(self.refiner, torch.cat([y_hat / g, ref / g], 1))


def load_base(path):
    net = T.load_net(path)
    n, m = net.analysis[0].out_channels, net.analysis[3].out_channels
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net, n, m


def start_from_base(tnet, base):
    """The residual codec starts as the image's (its hyper-analysis holds the
    Z gain inside its weights: the burn twin has no gains)."""
    with torch.no_grad():
        for mine, theirs in zip(tnet.hyper_analysis, base.hyper_analysis):
            mine.weight.zero_()
            mine.weight[:, : theirs.weight.shape[1]] = theirs.weight * theirs.gain
            mine.bias.copy_(theirs.bias * theirs.gain)
        for mine, theirs in zip(tnet.hyper_mean, base.hyper_mean):
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
        tnet.z_mean.copy_(base.z_mean)
        tnet.z_log_scale.copy_(base.z_log_scale)


def motion_pair(img, rng, crop):
    """Two frames [2, 3, crop, crop] in [0, 1] of one photo under simulated
    camera motion between them."""
    _, h, w = img.shape
    margin = 24
    s = crop + 2 * margin
    y0, x0 = rng.randrange(h - s + 1), rng.randrange(w - s + 1)
    patch = img[:, y0 : y0 + s, x0 : x0 + s].float()[None] / 255.0
    kind = rng.random()
    if kind < 0.2:  # static (tripod)
        dx = dy = zoom = rot = 0.0
    else:
        speed = rng.choice([rng.uniform(0, 2), rng.uniform(0, 12)])
        angle = rng.uniform(0, 2 * math.pi)
        dx, dy = speed * math.cos(angle), speed * math.sin(angle)
        zoom = rng.uniform(-0.015, 0.015) if rng.random() < 0.4 else 0.0
        rot = math.radians(rng.uniform(-0.6, 0.6)) if rng.random() < 0.3 else 0.0
    # Affine grids in normalised coordinates of the padded patch; frame 0 is
    # the centre crop, frame 1 the moved one.
    def grid(dx, dy, zoom, rot):
        k = crop / s * (1 + zoom)
        c, si = math.cos(rot) * k, math.sin(rot) * k
        theta = torch.tensor([[c, -si, 2 * dx / s], [si, c, 2 * dy / s]], dtype=torch.float32)[None]
        return F.affine_grid(theta, (1, 3, crop, crop), align_corners=False)
    g = torch.cat([grid(0, 0, 0, 0), grid(dx, dy, zoom, rot)])
    frames = F.grid_sample(patch.expand(2, -1, -1, -1), g, mode="bicubic", padding_mode="border", align_corners=False)
    gain = 1 + rng.uniform(-0.03, 0.03)
    frames[1] = frames[1] * gain
    sigma = rng.choice([0.0, rng.uniform(0, 2.5)]) / 255.0
    frames = frames + sigma * torch.randn_like(frames)
    return frames.clamp(0, 1)


def batch(images, rng, size, crop):
    pairs = [motion_pair(images[rng.randrange(len(images))], rng, crop) for _ in range(size)]
    return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])


@torch.no_grad()
def intra(base, y):
    """ŷ of a latent coded as an I-frame by the image model (true rounding)."""
    z_hat = base.hyper_analysis_fwd(y).round()
    mean = base.branch(base.hyper_mean, z_hat)[..., : y.shape[2], : y.shape[3]]
    level = base.branch(base.hyper_scale, z_hat)[..., : y.shape[2], : y.shape[3]]
    if base.slices:
        mean, _ = base.context(y, mean, level)
    return (y - mean).round() + mean


def latent_bits(base, side, y, noise=True, ref=None, g=None):
    """Bits [B] of a latent under the hyper-analysis, z prior and mean branch
    of `side` (the temporal net given the reference `ref` and gain `g`, or
    the image model itself) with the image model's scale branch and
    context, and ŷ (straight-through)."""
    n = side.z_mean.shape[0]
    z = side.analyse(y, ref, g) if side is not base else base.hyper_analysis_fwd(y)
    z_hat = T.ste_round(z)
    z_scale = T.Bound.apply(side.z_log_scale.exp(), T.SCALE_MIN, T.SCALE_MAX).view(1, n, 1, 1)
    z_noisy = z + torch.rand_like(z) - 0.5 if noise else z_hat
    bits_z = T.gaussian_bits(z_noisy - side.z_mean.view(1, n, 1, 1), z_scale)
    r = y
    mean = side.mean(z_hat, ref, g) if side is not base else base.branch(base.hyper_mean, z_hat)
    level = base.branch(base.hyper_scale, z_hat)
    if base.slices:
        mean, level = base.context(r, mean, level)
    r_noisy = r + torch.rand_like(r) - 0.5 if noise else (r - mean).round() + mean
    bits_y = T.gaussian_bits(r_noisy - mean, T.level_to_scale(level))
    return bits_y + bits_z, T.ste_round(r - mean) + mean


def step_losses(base, tnet, x0, x1, t):
    gain, inverse, _ = base.rate_gains(t)
    with torch.no_grad():
        y = base.analysis_fwd(torch.cat([x0, x1])) * gain.repeat(2, 1, 1, 1)
        y0, y1 = y.chunk(2)
        ref = intra(base, y0)
    # The residual's hyperprior sees y padded to the hyper stride (as the codec pads by edge).
    p = tnet.predict(ref, gain)
    bits, r_hat = latent_bits(base, tnet, y1 - p, ref=ref, g=gain)
    pixels = x0.shape[2] * x0.shape[3]
    y_hat = (r_hat + p).detach()
    refined = tnet.refine(y_hat, ref, gain)
    err = lambda a: (((a - y1) * inverse) ** 2).mean((1, 2, 3))
    # The designs it replaces, on the same batch: the previous P-frames (the
    # image model's hyperprior on yₜ − ŷₜ₋₁) and intra coding.
    with torch.no_grad():
        previous = latent_bits(base, base, y1 - ref, noise=False)[0] / pixels
        intra_bpp = latent_bits(base, base, y1, noise=False)[0] / pixels
        exact = latent_bits(base, tnet, y1 - p, noise=False, ref=ref, g=gain)[0] / pixels
    return bits / pixels, err(refined), err(y_hat), {"bpp_exact": exact, "bpp_previous": previous, "bpp_intra": intra_bpp}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--base", default=BASE)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--minutes", type=float, default=1e9)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--train-dir", default="../shared/datasets/train")
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--export", metavar="FILE")
    ap.add_argument("--init-from", metavar="PACKAGE", default="weights/temporal/livc-vr.safetensors",
                    help="a new run starts from this temporal package (f16 weights, its step count), when it exists")
    a = ap.parse_args()
    os.makedirs(a.run, exist_ok=True)
    ckpt = os.path.join(a.run, "checkpoint.pt")
    torch.manual_seed(a.seed)
    base, n, m = load_base(a.base)
    tnet = TemporalNet(n, m, a.hidden)
    start_from_base(tnet, base)
    opt = torch.optim.Adam(tnet.parameters(), lr=a.lr)
    step, wall = 0, 0.0
    if not os.path.exists(ckpt) and a.init_from and os.path.exists(a.init_from):
        from safetensors import safe_open
        with safe_open(a.init_from, "pt") as f:
            info = json.loads(f.metadata()["livc-temporal"])
            tnet = TemporalNet(n, m, info["hidden"])
            tnet.load_state_dict({k[4:]: f.get_tensor(k).float() for k in f.keys() if k.startswith("net.")})
        opt = torch.optim.Adam(tnet.parameters(), lr=a.lr)
        step, wall, a.hidden = info["steps"], info["wall_seconds"], info["hidden"]
        print(f"from {a.init_from} at step {step} (fresh Adam)")
    if os.path.exists(ckpt):
        state = torch.load(ckpt, map_location="cpu")
        tnet = TemporalNet(n, m, state["hidden"])
        if state["net"]["hyper_analysis.0.weight"].shape[1] == m:  # before the conditional design: grown, Adam anew
            w = state["net"]["hyper_analysis.0.weight"]
            state["net"]["hyper_analysis.0.weight"] = torch.cat([w, torch.zeros_like(w)], 1)
            missing, _ = tnet.load_state_dict(state["net"], strict=False)
            assert missing == ["mix.weight", "mix.bias"], missing
            opt = torch.optim.Adam(tnet.parameters(), lr=a.lr)
        else:
            tnet.load_state_dict(state["net"])
            opt = torch.optim.Adam(tnet.parameters(), lr=a.lr)
            opt.load_state_dict(state["opt"])
        for g in opt.param_groups:  # --lr of this slice, whatever the checkpoint's
            g["lr"] = a.lr
        step, wall, a.hidden = state["step"], state["wall"], state["hidden"]
    if a.export:
        from safetensors.torch import save_file
        meta = {"n": n, "m": m, "hidden": a.hidden, "steps": step, "wall_seconds": round(wall),
                "base": a.base, "trainer": f"training/video.py (PyTorch {torch.__version__})"}
        save_file({k: v.float().contiguous() for k, v in tnet.state_dict().items()}, a.export,
                  metadata={"livc-temporal-run": json.dumps(meta)})
        print(f"exported step {step} to {a.export}")
        return
    images = T.load_images(a.train_dir, a.crop + 48)
    rng = random.Random(a.seed * 1_000_003 + step)
    log = open(os.path.join(a.run, "log.jsonl"), "a")
    levels = len(base.lambdas)
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(1))
    t0, acc = time.time(), []

    def save():
        torch.save({"net": tnet.state_dict(), "opt": opt.state_dict(), "step": step, "wall": wall + time.time() - t0,
                    "hidden": a.hidden}, ckpt + ".tmp")
        os.replace(ckpt + ".tmp", ckpt)

    while step < a.steps and not stop and time.time() - t0 < a.minutes * 60:
        x0, x1 = batch(images, rng, a.batch, a.crop)
        t = torch.tensor([rng.uniform(0, levels - 1) for _ in range(a.batch)])
        bpp, err_refined, err_plain, ref_bpp = step_losses(base, tnet, x0, x1, t)
        loss = bpp.mean() + 0.5 * err_refined.mean()  # disjoint parameters: the weight only sets step sizes
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tnet.parameters(), 1.0)
        opt.step()
        step += 1
        acc.append([bpp.mean().item(), err_plain.mean().item(), err_refined.mean().item()]
                   + [v.mean().item() for v in ref_bpp.values()])
        if step % a.log_every == 0:
            b, ep, er, bx, bp, bi = np.mean(acc, axis=0)
            entry = {"step": step, "wall_s": round(wall + time.time() - t0, 1), "bpp": b, "bpp_exact": bx,
                     "bpp_previous_p": bp, "bpp_intra": bi, "latent_mse": ep, "latent_mse_refined": er}
            print(json.dumps(entry), flush=True)
            log.write(json.dumps(entry) + "\n")
            log.flush()
            acc = []
            save()
    save()


if __name__ == "__main__":
    main()
