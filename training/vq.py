#!/usr/bin/env python3
"""Trains livc's VQ codebook mode (issue 20) in PyTorch: extreme low bitrate,
one codebook index per 16×16 block.

The image model's analysis transform stays frozen; its latent y at quality 0
(M × H/16 × W/16, the gained domain of the variable-rate model) is replaced,
position by position, by its nearest codeword among the first K entries of
one codebook C (K_max × M). The codebook is *nested*: every rate K in SIZES
uses a prefix of it (variable codebook size, as in Matryoshka / nested
dictionaries), so one codebook and one synthesis serve every rate.
  init     nested k-means on encoder outputs of training crops: the first 16
           entries by k-means, then entries 16..64 with those fixed, and so on;
  train    the codebook (as parameters: gradients through the synthesis) and
           the synthesis (fine-tuned from the image model's), on
           MSE + MSSSIM_WEIGHT · (1 − MS-SSIM) of the decoded crop, K drawn
           at random from SIZES each step;
  prior    src/codec/vq.rs codes the index map in a checkerboard: anchors'
           indices with one table per K; the others by their *group* (the
           nearest of the first 16 codewords, GROUPS) under a table chosen by
           the groups of the left and upper anchors, then their rank within
           the group. The tables are frequencies counted on the training
           images (the tabular model's maximum-likelihood fit), stored as
           counts; livc turns them into integer CDFs (quantize_pmf) at load.

usage (from the repository's root):
       training/vq.py RUN_DIR [--minutes M] [--steps N]     resumes RUN_DIR/checkpoint.pt
       training/vq.py RUN_DIR --export weights/vq/livc-vq.safetensors
"""
import argparse, json, math, os, random, signal, sys, time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as T  # noqa: E402
from video import load_base  # noqa: E402

BASE = "weights/livc-vr.safetensors"
SIZES = (16, 64, 256, 1024, 4096)
GROUPS = 16
MSSSIM_WEIGHT = 0.03
QUALITY = 0.0  # the gained domain the codebook lives in (the image model's quality 0)
# The run's log; --export copies it to weights/training-logs/vq.jsonl (the
# committed log: build.rs watches weights/, so training must not write there).
LOG_NAME = "log.jsonl"
COMMITTED_LOG = "weights/training-logs/vq.jsonl"
LOG = None


def gains(base):
    g, inv, _ = base.rate_gains(torch.tensor([QUALITY]))
    return g, inv


def encode(base, x, g):
    with torch.no_grad():
        return base.analysis_fwd(x) * g


def nearest(y, codebook, k):
    """Index of the nearest of the first k codewords at every position: [B, h, w]."""
    b, m, h, w = y.shape
    v = y.permute(0, 2, 3, 1).reshape(-1, m)
    c = codebook[:k]
    d = (c * c).sum(1)[None, :] - 2 * v @ c.T
    return d.argmin(1).view(b, h, w)


def lookup(codebook, idx):
    return codebook[idx].permute(0, 3, 1, 2)


def kmeans_nested(vectors, sizes, iters=10, seed=0):
    gen = torch.Generator().manual_seed(seed)
    centres = torch.empty(0, vectors.shape[1])
    for k in sizes:
        new = k - len(centres)
        pick = torch.randperm(len(vectors), generator=gen)[:new]
        centres = torch.cat([centres, vectors[pick].clone()])
        fixed = k - new
        for _ in range(iters):
            idx = torch.cat([
                ((centres * centres).sum(1)[None] - 2 * chunk @ centres.T).argmin(1)
                for chunk in vectors.split(65536)
            ])
            sums = torch.zeros_like(centres).index_add_(0, idx, vectors)
            counts = torch.bincount(idx, minlength=k).float()
            used = counts > 0
            upd = sums[used] / counts[used, None]
            mask = used.clone()
            mask[:fixed] = False
            centres[mask] = upd[mask[used]]
            # Empty clusters restart at a random vector.
            empty = (~used).nonzero().flatten()
            empty = empty[empty >= fixed]
            if len(empty):
                centres[empty] = vectors[torch.randint(len(vectors), (len(empty),), generator=gen)]
        print(f"k-means {k}: {int((torch.bincount(idx, minlength=k) > 0).sum())} used", flush=True)
    return centres


def synthesis_params(base):
    return [p for n, p in base.named_parameters() if n.startswith("synthesis")]


def log(entry):
    with open(LOG, "a") as f:
        f.write(json.dumps(entry) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--minutes", type=float, default=1e9)
    ap.add_argument("--steps", type=int, default=10**9)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--codebook-lr", type=float, default=3e-3)
    ap.add_argument("--train", default="../shared/datasets/train")
    ap.add_argument("--val", default="../shared/datasets/train-val")
    ap.add_argument("--export")
    ap.add_argument("--prior-images", type=int, default=None, help="count the prior on the first N photos only")
    a = ap.parse_args()
    os.makedirs(a.run, exist_ok=True)
    global LOG
    LOG = os.path.join(a.run, LOG_NAME)
    ckpt = os.path.join(a.run, "checkpoint.pt")
    base, n, m = load_base(BASE)
    g, inv = gains(base)
    for p in synthesis_params(base):
        p.requires_grad_(True)

    if os.path.exists(ckpt):
        state = torch.load(ckpt, map_location="cpu")
        base.load_state_dict(state["net"])
        codebook = state["codebook"].requires_grad_(True)
        step, wall = state["step"], state["wall"]
        print(f"resumed at step {step}", flush=True)
    else:
        state, step, wall = None, 0, 0.0

    if a.export:
        export(base, codebook.detach(), g, inv, a, step, wall)
        return

    images = T.load_images(a.train, a.crop)
    val = T.centre_batch(T.load_images(a.val, a.crop), a.crop)
    rng = random.Random(step + 1)
    if state is None:
        t0 = time.time()
        crops = torch.cat([T.random_batch(images, rng, 16, a.crop) for _ in range(48)])
        ys = torch.cat([encode(base, c[None], g) for c in crops])
        vectors = ys.permute(0, 2, 3, 1).reshape(-1, m)
        codebook = kmeans_nested(vectors, SIZES).requires_grad_(True)
        wall = time.time() - t0
        log({"event": "kmeans", "vectors": len(vectors), "sizes": SIZES, "wall_s": round(wall, 1)})

    from pytorch_msssim import ms_ssim

    opt = torch.optim.Adam([{"params": synthesis_params(base), "lr": a.lr},
                            {"params": [codebook], "lr": a.codebook_lr}])
    if state is not None and "opt" in state:
        opt.load_state_dict(state["opt"])
        # The rates given now (a resumed run may change them).
        opt.param_groups[0]["lr"], opt.param_groups[1]["lr"] = a.lr, a.codebook_lr

    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))

    def save():
        torch.save({"net": base.state_dict(), "codebook": codebook.detach(), "opt": opt.state_dict(),
                    "step": step, "wall": wall}, ckpt + ".tmp")
        os.replace(ckpt + ".tmp", ckpt)

    def decode(x, k):
        y = encode(base, x, g)
        idx = nearest(y, codebook.detach(), k)
        return base.synthesis_fwd(lookup(codebook, idx) * inv), idx

    def validate():
        out = {}
        with torch.no_grad():
            for k in SIZES:
                x_hat, idx = decode(val, k)
                x_hat = x_hat.clamp(0, 1)
                mse = F.mse_loss(x_hat, val).item()
                used = len(torch.unique(idx))
                out[str(k)] = {"psnr": round(10 * math.log10(1 / mse), 3),
                               "msssim": round(ms_ssim(x_hat, val, data_range=1.0).item(), 4), "used": used}
        return out

    if step == 0:
        log({"step": 0, "val": validate()})
    start, t_last = time.time(), time.time()
    while step < a.steps and not stop["now"] and time.time() - start < a.minutes * 60:
        x = T.random_batch(images, rng, a.batch, a.crop)
        k = SIZES[rng.randrange(len(SIZES))]
        x_hat, _ = decode(x, k)
        mse = F.mse_loss(x_hat, x)
        msssim = ms_ssim(x_hat.clamp(0, 1), x, data_range=1.0)
        loss = mse + MSSSIM_WEIGHT * (1 - msssim)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(synthesis_params(base), 1.0)
        opt.step()
        step += 1
        now = time.time()
        wall += now - t_last
        t_last = now
        if step % 25 == 0:
            log({"step": step, "wall_s": round(wall, 1), "k": k, "loss": loss.item(),
                 "psnr": 10 * math.log10(1 / mse.item()), "msssim": msssim.item()})
        if step % 250 == 0:
            log({"step": step, "val": validate()})
        if step % 50 == 0:
            save()
    save()
    log({"step": step, "wall_s": round(wall, 1), "event": "stop", "val": validate()})


def groups_of(codebook):
    c = codebook
    d = (c * c).sum(1)[:, None] - 2 * c @ c[:GROUPS].T + (c[:GROUPS] * c[:GROUPS]).sum(1)[None]
    gr = d.argmin(1)
    gr[:GROUPS] = torch.arange(GROUPS)
    return gr


def context_of(gmap):
    """Table index of every non-anchor position ((i + j) odd): 17·L + U, the
    groups of its left and upper anchors (right / lower at the border; 16
    where none): src/codec/vq.rs `contexts`, the same rule."""
    h, w = gmap.shape
    ctx = np.full((h, w), -1, np.int64)
    for i in range(h):
        for j in range(w):
            if (i + j) % 2 == 0:
                continue
            left = gmap[i, j - 1] if j > 0 else (gmap[i, j + 1] if j + 1 < w else GROUPS)
            up = gmap[i - 1, j] if i > 0 else (gmap[i + 1, j] if i + 1 < h else GROUPS)
            ctx[i, j] = left * (GROUPS + 1) + up
    return ctx


def export(base, codebook, g, inv, a, step, wall):
    """The VQ package: `net.synthesis*` (f16, burn names), `vq.codebook` (f16,
    K_max × M), `vq.group` (i32, K_max), and per size K the prior's counts
    `vq.K.anchor` (K), `vq.K.context` (289 × 16), `vq.K.member` (K: the count
    of each codeword as a non-anchor); metadata `livc-vq`."""
    from safetensors.torch import save_file
    from PIL import Image

    gr = groups_of(codebook)
    tensors = {}
    for name, t in base.burn_state().items():
        if name.startswith("synthesis"):
            tensors["net." + name] = t.detach().half().contiguous()
    tensors["vq.codebook"] = codebook.half().contiguous()
    tensors["vq.group"] = gr.int()
    # The prior counts, on every training photo (whole, cut to a multiple of 16).
    folder = a.train
    files = sorted(f for f in os.listdir(folder) if f.lower().endswith((".png", ".jpg", ".jpeg", ".webp")))
    files = files[: a.prior_images]
    cb16 = codebook.half().float()  # what livc looks codewords up in
    counts = {k: (np.zeros(k), np.zeros((289, GROUPS)), np.zeros(k)) for k in SIZES}
    used = {k: np.zeros(k, bool) for k in SIZES}
    for f in files:
        img = np.asarray(Image.open(os.path.join(folder, f)).convert("RGB"))
        h, w = img.shape[0] // 16 * 16, img.shape[1] // 16 * 16
        x = torch.from_numpy(img[:h, :w].copy()).permute(2, 0, 1)[None].float() / 255
        y = encode(base, x, g)
        for k in SIZES:
            idx = nearest(y, cb16, k)[0].numpy()
            gmap = gr.numpy()[idx]
            anchor = (np.add.outer(np.arange(idx.shape[0]), np.arange(idx.shape[1])) % 2) == 0
            an, cx, mem = counts[k]
            np.add.at(an, idx[anchor], 1)
            ctx = context_of(gmap)
            np.add.at(cx, (ctx[~anchor], gmap[~anchor]), 1)
            np.add.at(mem, idx[~anchor], 1)
            used[k][np.unique(idx)] = True
    usage = {}
    for k in SIZES:
        an, cx, mem = counts[k]
        tensors[f"vq.{k}.anchor"] = torch.from_numpy(an).int()
        tensors[f"vq.{k}.context"] = torch.from_numpy(cx).int()
        tensors[f"vq.{k}.member"] = torch.from_numpy(mem).int()
        usage[str(k)] = int(used[k].sum())
    import hashlib
    base_hash = hashlib.sha256(open(BASE, "rb").read()).hexdigest()[:16]
    info = {"name": "livc-vq", "base_name": "livc-vr", "base_hash": base_hash, "sizes": list(SIZES), "groups": GROUPS, "quality": int(QUALITY),
            "steps": step, "wall_seconds": round(wall, 1), "usage": usage,
            "trained": f"training/vq.py (PyTorch {torch.__version__}): nested k-means, then {step} steps "
                       f"({wall / 3600:.2f} h, CPU) of MSE + {MSSSIM_WEIGHT}·(1 − MS-SSIM) on 256² crops of "
                       f"{folder}; prior counted on its {len(files)} photos"}
    os.makedirs(os.path.dirname(a.export) or ".", exist_ok=True)
    save_file(tensors, a.export, metadata={"livc-vq": json.dumps(info)})
    import shutil
    shutil.copyfile(LOG, COMMITTED_LOG)
    print(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
