#!/usr/bin/env python3
"""The encoder's latent search (`livc encode --effort`, src/model/refine.rs)
in PyTorch, on train.py's model, for tuning its settings cheaply
(evaluation/results/effort/search.md).

For each named setting of the search, each of IMAGES Kodak images after the
first SKIP (a centre 512×384 crop, landscape) and the λ rows 0, 2, 4, 6, 8:
search, then the estimated bpp and PSNR with the coder's rounding (train.py's
Gaussian bits of the symbols, not the codec's integer tables). Prints each
setting's points, its BD-rate (cubic fit of log-rate against PSNR, as
Bjøntegaard) and its change of the rate-distortion cost λ·255²·MSE + bpp
per row against the setting named "base" (give it "iters": 0: no search).

A setting (JSON): iters (Adam steps), lr0 (refine.rs's LEARNING_RATE: the
step, in quantisation steps, times √iters), lr_top (the step at row 8, the
rows between interpolated geometrically; default lr0), sched ("sqrt", or
"cos": lr0 itself, cosine-decayed), a0/a1 (the soft rounding's α, annealed
geometrically; default 1 → 2, refine.rs's, 1 → 8 until 2026-12-04), joint_z (search z with y; otherwise z = h_a(y)), checks (how
often the coder's cost is taken; the best latents are kept), deadzone (δ:
the symbols are sign(r)·⌊|r| + ½ − δ⌋ instead of round(r), a dead-zone
quantiser, for the checks and the measured point alike; default 0).

usage: python3 evaluation/effort_search.py '{"base": {"iters": 0}, "e4": {"iters": 16, "joint_z": true}}' [IMAGES]
       [--skip SKIP] [--model weights/livc-vr4.safetensors] [--kodak ../shared/datasets/kodak]
"""
import argparse, json, math, os, sys, time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "training"))
import train as T  # noqa: E402

net = None  # the model (main)


def soft_round(v, alpha):
    """refine.rs's soft_round: Agustsson & Theis 2020's s_α."""
    mid = v.detach().floor() + 0.5
    return mid + 0.5 * torch.tanh(alpha * (v - mid)) / math.tanh(alpha / 2)

def hard(v):
    """The coder's rounding."""
    return v.round()


def dead_zone(delta):
    """A dead-zone quantiser: rounds |r| down unless its fraction is at least
    ½ + δ (δ = 0: rounding, up to ties)."""
    return hard if delta == 0 else lambda v: torch.sign(v) * torch.floor(v.abs() + 0.5 - delta)

def rd(x, y, t, rnd, zfree=None, zrnd=None):
    """refine.rs's rd_cost at λ row t: (cost, bpp, MSE) of coding x (1×3×H×W)
    with the latent y (scaled by the row's gain), `rnd` rounding y's symbols;
    z is `zfree` rounded by `zrnd`, or h_a(y) straight-through rounded."""
    gain, inverse, lmbda = net.rate_gains(torch.tensor([float(t)]))
    z = net.hyper_analysis_fwd(y) if zfree is None else zfree
    z_hat = T.ste_round(z) if zrnd is None else zrnd(z)
    n = z.shape[1]
    z_scale = net.z_log_scale.exp().clamp(T.SCALE_MIN, T.SCALE_MAX).view(1, n, 1, 1)
    bits_z = T.gaussian_bits(z_hat - net.z_mean.view(1, n, 1, 1), z_scale)
    mean = net.branch(net.hyper_mean, z_hat); level = net.branch(net.hyper_scale, z_hat)
    old = T.ste_round; T.ste_round = rnd
    try:
        mean, level = net.context(y, mean, level)
    finally:
        T.ste_round = old
    q = rnd(y - mean)
    bits_y = T.gaussian_bits(q, T.level_to_scale(level))
    x_hat = net.synthesis_fwd((q + mean) * inverse)
    mse = ((x_hat - x) ** 2).mean()
    bpp = (bits_y + bits_z).sum() / (x.shape[2] * x.shape[3])
    return lmbda[0] * 255 ** 2 * mse + bpp, bpp, mse

def y0(x, t):
    """The analysis's latent at row t (scaled by its gain)."""
    gain, _, _ = net.rate_gains(torch.tensor([float(t)]))
    return net.analysis_fwd(x) * gain

def search(x, t, iters, lr_top=None, lr0=0.08, a0=1.0, a1=2.0, sched="sqrt", joint_z=False, checks=4, deadzone=0.0):
    """One setting's search (the module doc) from the analysis's latents:
    the best (y, z) seen with the coder's rounding (z None unless joint_z)."""
    with torch.no_grad():
        y = y0(x, t)
        z = net.hyper_analysis_fwd(y)
    hcost = lambda y, z: rd(x, y, t, dead_zone(deadzone), z if joint_z else None, (lambda v: v.round()) if joint_z else None)[0].item()
    with torch.no_grad():
        best_c = hcost(y, z); best = (y.clone(), z.clone())
    if iters == 0: return best
    if lr_top is not None: lr0 = lr0 * (lr_top / lr0) ** (t / 8)
    params = [y.clone().requires_grad_(True)] + ([z.clone().requires_grad_(True)] if joint_z else [])
    lr = lr0 / math.sqrt(iters) if sched == "sqrt" else lr0
    opt = torch.optim.Adam(params, lr=lr)
    every = max(1, -(-iters // checks))
    for i in range(iters):
        alpha = a0 * (a1 / a0) ** (i / max(1, iters - 1))
        if sched == "cos":
            for g in opt.param_groups: g["lr"] = lr0 * 0.5 * (1 + math.cos(math.pi * i / iters))
        r = lambda v: soft_round(v, alpha)
        c = rd(x, params[0], t, r, params[1] if joint_z else None, r if joint_z else None)[0]
        opt.zero_grad(); c.backward(); opt.step()
        if (i + 1) % every == 0 or i + 1 == iters:
            with torch.no_grad():
                hc = hcost(params[0], params[1] if joint_z else None)
            if hc < best_c: best_c, best = hc, (params[0].detach().clone(), params[1].detach().clone() if joint_z else None)
    return best

def measure(x, t, best, joint_z, deadzone=0.0):
    """(cost, bpp, PSNR) of the chosen latents with the coder's rounding
    (of y's symbols: dead_zone(deadzone))."""
    with torch.no_grad():
        c, bpp, mse = rd(x, best[0], t, dead_zone(deadzone), best[1] if joint_z else None, (lambda v: v.round()) if joint_z else None)
    return c.item(), bpp.item(), 10 * math.log10(1 / mse.item())

def bd_rate(r1, p1, r2, p2):
    """Bjøntegaard's BD-rate (%) of curve 2 against curve 1: cubic fits of
    log-rate against PSNR, integrated over the common PSNR range."""
    l1, l2 = np.log(r1), np.log(r2)
    f1, f2 = np.polyfit(p1, l1, 3), np.polyfit(p2, l2, 3)
    lo, hi = max(min(p1), min(p2)), min(max(p1), max(p2))
    i1 = np.polyval(np.polyint(f1), hi) - np.polyval(np.polyint(f1), lo)
    i2 = np.polyval(np.polyint(f2), hi) - np.polyval(np.polyint(f2), lo)
    return (math.exp((i2 - i1) / (hi - lo)) - 1) * 100

def images(kodak, n, h=384, w=512):
    """Centre h×w crops (landscape) of Kodak's first n images, 1×3×h×w in [0, 1]."""
    out = []
    for k in range(1, n + 1):
        im = np.asarray(Image.open(f"{kodak}/kodim{k:02d}.png").convert("RGB"))
        H, W = im.shape[:2]
        if H > W: im = im.transpose(1, 0, 2); H, W = W, H
        y0_, x0_ = (H - h) // 2, (W - w) // 2
        out.append(torch.from_numpy(im[y0_:y0_+h, x0_:x0_+w].copy()).permute(2, 0, 1)[None].float() / 255)
    return out

def main():
    global net
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("configs", help="JSON: {name: setting}; see the module doc")
    p.add_argument("images", nargs="?", type=int, default=4)
    p.add_argument("--skip", type=int, default=0, help="start after the first SKIP images (a set the settings were not tuned on)")
    p.add_argument("--model", default="weights/livc-vr4.safetensors")
    p.add_argument("--kodak", default="../shared/datasets/kodak")
    a = p.parse_args()
    net = T.source_net(T.load_source(a.model)).eval()
    for w in net.parameters():
        w.requires_grad_(False)
    configs = json.loads(a.configs)
    ts = [0, 2, 4, 6, 8]
    xs = images(a.kodak, a.skip + a.images)[a.skip :]
    print(f"{a.model}, Kodak images {a.skip + 1}–{a.skip + a.images} (512×384 centre crops), λ rows {ts}, {torch.get_num_threads()} threads")
    results = {}
    for name, cfg in configs.items():
        start = time.time()
        pts = []
        for t in ts:
            b, p_, c = [], [], []
            for x in xs:
                best = search(x, t, **cfg)
                cc, bpp, psnr = measure(x, t, best, cfg.get("joint_z", False), cfg.get("deadzone", 0.0))
                b.append(bpp); p_.append(psnr); c.append(cc)
            pts.append((np.mean(b), np.mean(p_), np.mean(c)))
        results[name] = pts
        print(name, json.dumps(cfg), "%.0f s;" % (time.time() - start), "bpp/dB per row:", " ".join("%.4f/%.2f" % (b, p_) for b, p_, _ in pts), flush=True)
        if "base" in results and name != "base":
            bb = results["base"]
            print("   BD-rate vs base: %+.2f %%; cost change per row: %s" % (
                bd_rate([q[0] for q in bb], [q[1] for q in bb], [q[0] for q in pts], [q[1] for q in pts]),
                " ".join("%+.2f%%" % (100 * (q[2] / r[2] - 1)) for q, r in zip(pts, bb))), flush=True)


if __name__ == "__main__":
    main()
