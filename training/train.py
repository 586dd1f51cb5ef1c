#!/usr/bin/env python3
"""Trains livc's hyperprior in PyTorch and exports weights for `livc export`.

The network is src/model/mod.rs layer for layer, with the same parameter
names, so the exported safetensors loads straight into the burn model
(tests/parity.rs checks both give the same outputs). The loss is livc
train's: λ·255²·MSE + bpp, noise for the rates, straight-through rounding
for the synthesis, scales through the same 64-level table.

usage: train.py RUN_DIR --lambda 0.0067 [--steps N] [--minutes M] [--device cuda] [--slices 8,8,16,24,40]
       train.py RUN_DIR --lambda 0.0018,0.0035,0.0067,0.013,0.025,0.0483 ...   (one variable-rate model)
       train.py RUN_DIR --export DIR      (then: livc export --run DIR -o model.safetensors ...)
       torchrun --nproc-per-node K train.py RUN_DIR ...   (K processes, DistributedDataParallel; --batch is global)
A run folder holds checkpoint.pt and log.jsonl; rerunning resumes it. SIGTERM
or Ctrl-C stops a run after the current step and saves its checkpoint.
"""
import argparse, json, math, os, random, signal, time
from functools import partial
import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

SCALE_MIN, SCALE_MAX, SCALE_LEVELS = 0.11, 256.0, 64  # src/entropy/tables.rs
# With the default init y has σ ≈ 0.05 and z ≈ 0.02: rounding erases both, and
# nothing reaches the synthesis until they grow. These layers therefore compute
# gain · conv(x): y starts at σ ≈ 3, z near 1, and a scale level moves by 8 per
# unit. The gain is a constant, not a parameter, so Adam (whose steps have a fixed
# size) moves these weights as fast as the others; baked into the weights instead,
# as before, it froze them (analysis.3 ended 8,500 steps where it started).
# Export multiplies it into the weights, so the burn model is unchanged.
GAINS = {"analysis.3": 60.0, "hyper_analysis.2": 8.0, "hyper_scale.2": 8.0}


class Gdn(nn.Module):
    """Simplified GDN (src/model/gdn.rs): x / (β² + γ²·|x|), or x · (…) inverted."""

    def __init__(self, c):
        super().__init__()
        self.beta = nn.Parameter(torch.ones(c))
        self.gamma = nn.Parameter(torch.eye(c) * 0.1 ** 0.5)

    def norm(self, x):
        c = x.shape[1]
        return F.conv2d(x.abs(), (self.gamma ** 2).view(c, c, 1, 1), self.beta ** 2 + 1e-6)

    def forward(self, x, inverse=False):
        return x * self.norm(x) if inverse else x / self.norm(x)


class Conv(nn.Conv2d):
    """A convolution whose output is multiplied by a constant gain (see GAINS)."""

    gain = 1.0

    def forward(self, x):
        out = super().forward(x)
        return out if self.gain == 1.0 else out * self.gain


def conv(cin, cout, k, s=1):
    return Conv(cin, cout, k, s, k // 2)


def up(cin, cout):  # sub-pixel ×2: conv 3×3 to 4·cout channels, then pixel shuffle
    return conv(cin, cout * 4, 3)


class SliceContext(nn.Module):
    """One slice's context network (src/model/context.rs): a correction added
    to the hyperprior's mean or scale level, from the slices decoded before
    and, in the checkerboard's second pass, the slice's own anchors. The
    output layer starts at zero, so a model started from a plain hyperprior
    starts exactly where that hyperprior was."""

    def __init__(self, cin, cout, hidden):
        super().__init__()
        self.hidden = conv(cin, hidden, 3)
        self.output = conv(hidden, cout, 3)
        with torch.no_grad():
            self.output.weight.zero_()
            self.output.bias.zero_()

    def forward(self, x):
        return self.output(F.relu(self.hidden(x)))


def checkerboard(h, w, device):
    """1 at the anchors (row + column even), decoded first in each slice."""
    i = torch.arange(h, device=device).view(h, 1)
    j = torch.arange(w, device=device).view(1, w)
    return ((i + j) % 2 == 0).float().view(1, 1, h, w)


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of each position (src/model/scan.rs)."""

    def __init__(self, c):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))

    def forward(self, x):
        mean = x.mean(1, keepdim=True)
        var = ((x - mean) ** 2).mean(1, keepdim=True)
        return (x - mean) / torch.sqrt(var + 1e-5) * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class Scan(nn.Module):
    """A 2-D selective scan (src/model/scan.rs): four directional state-space
    recurrences h_t = exp(Δ_t·A)·h_{t−1} + Δ_t·B_t·v_t, y_t = C_t·h_t, with Δ,
    B, C computed from the input (Mamba), run in Mamba-2's matrix form."""

    def __init__(self, c, heads, state):
        super().__init__()
        self.heads, self.state = heads, state
        self.x_proj = nn.Conv2d(c, 4 * heads + 2 * state, 1)
        # Mamba-2's start: decay rates A in [1, 16], step sizes Δ in [0.001, 0.1].
        self.a_log = nn.Parameter(torch.linspace(1, 16, heads).log().repeat(4, 1))
        dt = torch.exp(torch.linspace(math.log(0.001), math.log(0.1), heads)).repeat(4, 1)
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))  # softplus⁻¹
        self.skip = nn.Parameter(torch.ones(c))

    def forward(self, v):
        bsz, c, h, w = v.shape
        k, s = self.heads, self.state
        dt, b, cc = self.x_proj(v).split([4 * k, s, s], 1)
        dt = F.softplus(dt + self.dt_bias.view(1, -1, 1, 1))
        a = -self.a_log.exp()
        vh = v.view(bsz, k, c // k, h, w)
        out = 0
        for d in range(4):  # →, ←, ↓, ↑
            flip, transpose = d % 2 == 1, d >= 2
            def orient(t):
                t = t.transpose(-1, -2) if transpose else t
                return t.flip(-1) if flip else t
            y = scan_rows(orient(vh), orient(dt[:, d * k : (d + 1) * k]), a[d], orient(b), orient(cc))
            y = y.flip(-1) if flip else y
            out = out + (y.transpose(-1, -2) if transpose else y)
        return out.reshape(bsz, c, h, w) + v * self.skip.view(1, -1, 1, 1)


def scan_rows(v, dt, a, b, c):
    """The scan along each row, all steps at once: y_t = Σ_{s≤t} exp(Σ_{s<r≤t} Δ_r·A)
    (C_t·B_s) Δ_s v_s. v [B, K, P, H, W], dt [B, K, H, W], a [K], b and c [B, S, H, W]."""
    w = v.shape[-1]
    cs = torch.cumsum(dt * a.view(1, -1, 1, 1), -1)
    later = torch.ones(w, w, dtype=torch.bool, device=v.device).triu(1)  # s > t
    decay = torch.exp((cs[..., :, None] - cs[..., None, :]).masked_fill(later, float("-inf")))
    mix = decay * torch.einsum("bnht,bnhs->bhts", c, b)[:, None]
    return torch.einsum("bkhts,bkphs->bkpht", mix, v * dt[:, :, None])


class ScanBlock(nn.Module):
    """Residual block at 1/8 resolution (src/model/scan.rs): norm → 1×1 to
    (v, gate) → depthwise 3×3, SiLU → selective scan (or nothing, the CNN
    ablation) → × SiLU(gate) → 1×1. The output layer starts at zero, so the
    block starts as the identity."""

    def __init__(self, c, scan=True, heads=4, state=16):
        super().__init__()
        self.norm = ChannelNorm(c)
        self.in_proj = nn.Conv2d(c, 2 * c, 1)
        self.local = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.scan = Scan(c, heads, state) if scan else None
        self.out_proj = nn.Conv2d(c, c, 1)
        with torch.no_grad():
            self.out_proj.weight.zero_()
            self.out_proj.bias.zero_()

    def forward(self, x):
        v, gate = self.in_proj(self.norm(x)).chunk(2, 1)
        v = F.silu(self.local(v))
        if self.scan is not None:
            v = self.scan(v)
        return x + self.out_proj(v * F.silu(gate))


# Largest |q| and |level| the context networks see (the integer copy clamps alike).
CONTEXT_CLAMP = 255.0


class Hyperprior(nn.Module):
    def __init__(self, n=64, m=96, slices=(), context_hidden=64, lambdas=(), blocks=""):
        super().__init__()
        # Optional residual blocks at 1/8 resolution, after the analysis's third
        # stage and the synthesis's first: "ssm" (selective scan) or "conv"
        # (the same block without the scan, the ablation).
        assert blocks in ("", "ssm", "conv"), "blocks is ssm, conv or empty"
        self.blocks = blocks
        if blocks:
            self.analysis_block = ScanBlock(n, scan=blocks == "ssm")
            self.synthesis_block = ScanBlock(n, scan=blocks == "ssm")
        assert not slices or sum(slices) == m, "slices must add up to m"
        self.slices = tuple(slices)
        self.analysis = nn.ModuleList([conv(3, n, 5, 2), conv(n, n, 5, 2), conv(n, n, 5, 2), conv(n, m, 5, 2)])
        self.analysis_gdn = nn.ModuleList([Gdn(n) for _ in range(3)])
        self.synthesis = nn.ModuleList([up(m, n), up(n, n), up(n, n), up(n, 3)])
        self.synthesis_igdn = nn.ModuleList([Gdn(n) for _ in range(3)])
        self.hyper_analysis = nn.ModuleList([conv(m, n, 3), conv(n, n, 5, 2), conv(n, n, 5, 2)])
        self.hyper_mean = nn.ModuleList([up(n, n), up(n, n), conv(n, m, 3)])
        self.hyper_scale = nn.ModuleList([up(n, n), up(n, n), conv(n, m, 3)])
        # Slice k sees the s_k hyperprior outputs of its channels, the c_k
        # channels decoded before it and its own anchors: c_k + 2·s_k inputs.
        starts = np.cumsum((0,) + self.slices)[:-1]
        self.slice_mean = nn.ModuleList([SliceContext(int(c) + 2 * s, s, context_hidden) for c, s in zip(starts, self.slices)])
        self.slice_scale = nn.ModuleList([SliceContext(int(c) + 2 * s, s, context_hidden) for c, s in zip(starts, self.slices)])
        for name, g in self.gains().items():
            self.get_submodule(name).gain = g
        with torch.no_grad():  # the start src/model/mod.rs gives the burn model
            self.hyper_scale[2].bias.fill_(20.0 / GAINS["hyper_scale.2"])  # level 20: σ ≈ 1.3
            self.synthesis[0].weight.mul_(1 / 5)
            self.synthesis[3].bias.fill_(0.45)  # mid-grey
        self.z_mean = nn.Parameter(torch.zeros(n))
        self.z_log_scale = nn.Parameter(torch.zeros(n))
        # One model for every rate (Cui et al. 2021, asymmetric gained VAE): at
        # quality t ∈ [0, L-1] the encoder codes y·g(t) and the synthesis sees
        # ŷ·g⁻¹(t), g interpolated geometrically between the rows of the L
        # trained λ. Gains start at √(λ/λ_mid), the high-rate optimum of a
        # uniform quantiser whose step shrinks as λ grows.
        self.lambdas = tuple(lambdas)
        if len(self.lambdas) > 1:
            start = torch.tensor([0.5 * math.log(l / self.lambdas[len(self.lambdas) // 2]) for l in self.lambdas])
            self.log_gain = nn.Parameter(start[:, None].repeat(1, m))
            self.log_inverse_gain = nn.Parameter(-start[:, None].repeat(1, m))

    def gains(self):
        """GAINS, plus the scale context outputs (levels, like hyper_scale.2)."""
        out = dict(GAINS)
        for k in range(len(self.slices)):
            out[f"slice_scale.{k}.output"] = GAINS["hyper_scale.2"]
        return out

    def plain_state(self):
        """The weights with the gains multiplied in: what the burn model loads."""
        out = {k: v.detach().clone(memory_format=torch.contiguous_format) for k, v in self.state_dict().items()}
        for name, g in self.gains().items():
            out[name + ".weight"] *= g
            out[name + ".bias"] *= g
        return out

    def burn_state(self):
        """plain_state under the burn model's names: it holds the gain vectors
        themselves, where training holds their logarithms."""
        out = self.plain_state()
        if len(self.lambdas) > 1:
            out["quality.gain"] = out.pop("log_gain").exp()
            out["quality.inverse"] = out.pop("log_inverse_gain").exp()
        return out

    def rate_gains(self, t):
        """Per sample, the gain and inverse gain at quality t (shape [B]), and λ."""
        i = t.floor().clamp(max=len(self.lambdas) - 2).long()
        f = (t - i)[:, None]
        lerp = lambda rows: rows[i] * (1 - f) + rows[i + 1] * f
        log_l = torch.tensor(self.lambdas, device=t.device).log()[:, None]
        shape = (len(t), -1, 1, 1)
        return lerp(self.log_gain).exp().view(shape), lerp(self.log_inverse_gain).exp().view(shape), lerp(log_l).exp().view(-1)

    def load_plain_state(self, state, strict=True):
        """`strict=False` starts a context model from a plain hyperprior's
        weights (the context networks keep their zero-output start)."""
        state = {k: v.clone() for k, v in state.items()}
        for name, g in self.gains().items():
            if name + ".weight" in state:
                state[name + ".weight"] /= g
                state[name + ".bias"] /= g
        missing, unexpected = self.load_state_dict(state, strict=strict)
        assert not unexpected, f"weights this model does not have: {unexpected}"
        return missing

    def analysis_fwd(self, x):
        for i, c in enumerate(self.analysis):
            x = c(x)
            if i < 3:
                x = self.analysis_gdn[i](x)
            if i == 2 and self.blocks:
                x = self.analysis_block(x)
        return x

    def synthesis_fwd(self, y):
        for i, c in enumerate(self.synthesis):
            y = F.pixel_shuffle(c(y), 2)
            if i < 3:
                y = self.synthesis_igdn[i](y, inverse=True)
            if i == 0 and self.blocks:
                y = self.synthesis_block(y)
        return y

    def hyper_analysis_fwd(self, y):
        a, b, c = self.hyper_analysis
        return c(F.relu(b(F.relu(a(y)))))

    @staticmethod
    def branch(layers, z):
        h = F.relu(F.pixel_shuffle(layers[0](z), 2))
        h = F.relu(F.pixel_shuffle(layers[1](h), 2))
        return layers[2](h)

    def forward(self, x, t=None, seeds=None):
        """Reconstruction and per-sample bits of y and z; a variable-rate model
        codes at qualities t (one per sample). `seeds` (one int per sample)
        makes each sample's rate noise its own, whichever process draws it."""
        y = self.analysis_fwd(x)
        if t is not None:
            gain, inverse, _ = self.rate_gains(t)
            y = y * gain
        z = self.hyper_analysis_fwd(y)
        z_hat = ste_round(z)
        n = z.shape[1]
        z_scale = Bound.apply(self.z_log_scale.exp(), SCALE_MIN, SCALE_MAX).view(1, n, 1, 1)
        bits_z = gaussian_bits(z + uniform(z, seeds, 1) - 0.5 - self.z_mean.view(1, n, 1, 1), z_scale)
        mean = self.branch(self.hyper_mean, z_hat)
        level = self.branch(self.hyper_scale, z_hat)
        if self.slices:
            mean, level = self.context(y, mean, level)
        bits_y = gaussian_bits(y + uniform(y, seeds, 0) - 0.5 - mean, level_to_scale(level))
        y_hat = ste_round(y - mean) + mean
        if t is not None:
            y_hat = y_hat * inverse
        return self.synthesis_fwd(y_hat), bits_y, bits_z

    def context(self, y, hyper_mean, hyper_level):
        """Means and levels of every y element with the slice and checkerboard
        context, all positions at once (the decoder needs 2 passes per slice).
        Means see the reconstructed ŷ; levels see only the integer symbols
        q = round(y − μ) and the hyperprior's level, so that the integer copy
        can compute them exactly from what has been parsed."""
        anchor = checkerboard(y.shape[2], y.shape[3], y.device)
        means, levels, y_hats, qs = [], [], [], []
        c = 0
        for k, s in enumerate(self.slices):
            yk, mh, lh = y[:, c : c + s], hyper_mean[:, c : c + s], hyper_level[:, c : c + s]
            lh_in = lh.clamp(-CONTEXT_CLAMP, CONTEXT_CLAMP)
            none = torch.zeros_like(yk)
            mu_a = mh + self.slice_mean[k](torch.cat(y_hats + [mh, none], 1))
            q_a = ste_round(yk - mu_a) * anchor
            mu_b = mh + self.slice_mean[k](torch.cat(y_hats + [mh, (q_a + mu_a) * anchor], 1))
            mu = mu_a * anchor + mu_b * (1 - anchor)
            lv_a = lh + self.slice_scale[k](torch.cat(qs + [lh_in, none], 1))
            lv_b = lh + self.slice_scale[k](torch.cat(qs + [lh_in, q_a.clamp(-CONTEXT_CLAMP, CONTEXT_CLAMP)], 1))
            q = ste_round(yk - mu)
            means.append(mu)
            levels.append(lv_a * anchor + lv_b * (1 - anchor))
            y_hats.append(q + mu)
            qs.append(q.clamp(-CONTEXT_CLAMP, CONTEXT_CLAMP))
            c += s
        return torch.cat(means, 1), torch.cat(levels, 1)


def uniform(like, seeds, stream):
    """U[0, 1) noise shaped like `like`: from torch's generator, or per sample
    from its own seed (so a sample's noise does not depend on the batch split)."""
    if seeds is None:
        return torch.rand_like(like)
    gens = [torch.Generator().manual_seed(2 * s + stream) for s in seeds]
    return torch.stack([torch.rand(like.shape[1:], generator=g) for g in gens]).to(like.device)


def ste_round(x):
    return x + (x.round() - x).detach()


class Bound(torch.autograd.Function):
    """clamp(lo, hi), but a gradient that points back into [lo, hi] still
    passes: a plain clamp leaves a level below 0 with no gradient, however
    many bits its too-small scale costs."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        inside = (x >= ctx.lo) & (x <= ctx.hi)
        back_in = ((x < ctx.lo) & (grad < 0)) | ((x > ctx.hi) & (grad > 0))
        return grad * (inside | back_in), None, None


def level_to_scale(level):
    step = math.log(SCALE_MAX / SCALE_MIN) / (SCALE_LEVELS - 1)
    return torch.exp(Bound.apply(level, 0.0, SCALE_LEVELS - 1.0) * step + math.log(SCALE_MIN))


def gaussian_bits(v, scale):
    v = -v.abs()
    inv = 1.0 / (scale * math.sqrt(2))
    p = 0.5 * (torch.erf((v + 0.5) * inv) - torch.erf((v - 0.5) * inv))
    p = p + (p.clamp_min(1e-9) - p).detach()  # bound in the forward pass only
    return -p.log().sum((1, 2, 3)) / math.log(2)  # per sample


IMAGE_SUFFIXES = (".png", ".webp", ".jpg", ".jpeg")  # what load_images reads


def load_images(folder, min_side):
    out = []
    for f in sorted(os.listdir(folder)):
        if f.lower().endswith(IMAGE_SUFFIXES):
            img = np.asarray(Image.open(os.path.join(folder, f)).convert("RGB"))
            if min(img.shape[:2]) >= min_side:
                out.append(torch.from_numpy(img.copy()).permute(2, 0, 1))
    return out


def random_batch(images, rng, batch, crop):
    out = []
    for _ in range(batch):
        img = images[rng.randrange(len(images))]
        _, h, w = img.shape
        y, x = rng.randrange(h - crop + 1), rng.randrange(w - crop + 1)
        c = img[:, y : y + crop, x : x + crop]
        out.append(c.flip(2) if rng.random() < 0.5 else c)
    return torch.stack(out).float() / 255.0


def centre_batch(images, crop):
    out = []
    for img in images:
        _, h, w = img.shape
        y, x = (h - crop) // 2, (w - crop) // 2
        out.append(img[:, y : y + crop, x : x + crop])
    return torch.stack(out).float() / 255.0


# Parameters a run adds to the model it starts from (context networks, scan
# blocks, gain vectors) learn this much faster than the ones it inherits:
# at the fine-tuning rate, zero-started layers barely move in 1,000 steps.
FRESH_LR_SCALE = 10.0

# Steps over which the learning rate ramps up linearly whenever Adam's moments
# start fresh (a new run, --init-from, a resume from the committed state): its
# first steps move every weight by about the full rate whatever its gradient
# (Liu et al. 2020, RAdam): without the ramp, one step at 1e-4 from livc-vr
# cost several dB on the demo crop, and 20 steps later most of it was still lost.
WARMUP = 200

# Polyak averaging: a run keeps an exponential moving average of its weights
# (a second Hyperprior, `average`), which it validates beside the weights
# themselves, checkpoints, exports and commits to the campaign's state. At a
# constant learning rate Adam's steps scatter around the valley floor, and
# their average sits nearer to it (Polyak & Juditsky 1992; Izmailov et al.
# 2018; Hägele et al. 2024 for constant-rate runs): in 600 steps from the
# campaign's m96 at step 17,188 the average's validation loss was 2.4 % below
# the weights' (evaluation/results/campaign/averaging.md). The decay ramps as
# (1 + k)/(10 + k) over the k steps since the average started, up to
# AVERAGE_DECAY, so a new average follows the weights at first.
AVERAGE_DECAY = 0.999


@torch.no_grad()
def update_average(average, net, k, cap=AVERAGE_DECAY):
    """One step of the moving average: average ← d·average + (1 − d)·net, d
    the decay after k steps of averaging, (1 + k)/(10 + k) up to `cap`."""
    d = min(cap, (1 + k) / (10 + k))
    for a, w in zip(average.parameters(), net.parameters()):
        a.mul_(d).add_(w, alpha=1 - d)


def optimizer(net, lr, fresh=()):
    named = list(net.named_parameters())
    groups = [{"params": [p for k, p in named if k not in fresh], "scale": 1.0},
              {"params": [p for k, p in named if k in fresh], "scale": FRESH_LR_SCALE}]
    return torch.optim.Adam([g for g in groups if g["params"]], lr=lr)


def build(a):
    return Hyperprior(a.n, a.m, a.slices, a.context_hidden, a.lmbda or (), a.blocks)


def load_source(path):
    """The weights --init-from starts from: a run folder's checkpoint.pt (its
    moving average of the weights, AVERAGE_DECAY), or a
    model package livc ships (weights/*.safetensors: f16 weights under the burn
    names), so a new run can start from a committed model."""
    if not path.endswith(".safetensors"):  # a run's weights are its moving average, where it has one
        ck = torch.load(os.path.join(path, "checkpoint.pt"), map_location="cpu")
        return dict(ck, net=ck.get("average", ck["net"]))
    from safetensors import safe_open

    with safe_open(path, "pt") as f:
        meta = json.loads(f.metadata()["livc"])
        net = {k[4:]: f.get_tensor(k).float() for k in f.keys() if k.startswith("net.")}
    if "quality.gain" in net:  # burn_state, undone
        net["log_gain"] = net.pop("quality.gain").log()
        net["log_inverse_gain"] = net.pop("quality.inverse").log()
    config = meta["config"]
    return {"net": net, "lambda": config.get("lambdas", meta["lambda"]), "slices": config.get("slices", ()),
            "context_hidden": config.get("context_hidden", 64), "blocks": config.get("blocks", ""),
            "step": "its end", "origin": meta.get("trained")}


def source_net(src, n=None):
    """The model load_source read as a Hyperprior, its hidden channels
    widened to `n` (widen_n) if given."""
    state = src["net"]
    make = lambda n: Hyperprior(n, state["analysis.3.weight"].shape[0], tuple(src.get("slices", ())),
                                src.get("context_hidden", 64), lambdas_of(src), src.get("blocks", ""))
    net = make(state["analysis.0.weight"].shape[0])
    net.load_plain_state(state)
    if n:
        state = widen_n(net, n)
        net = make(n)
        net.load_plain_state(state)
    return net


def load_net(path, n=None):
    """The model at `path` (a run folder or a package) as a Hyperprior: source_net(load_source(path), n)."""
    return source_net(load_source(path), n)


def regain(rows, old, new):
    """Gain rows [len(old), M] for the λ ladder `new`: interpolated, or
    extrapolated from the nearest two rows, linearly in log λ (the high-rate
    optimum makes log gain linear in log λ)."""
    lo, ln = torch.tensor(old).log(), torch.tensor(new).log()
    i = (torch.searchsorted(lo, ln) - 1).clamp(0, len(old) - 2)
    f = ((ln - lo[i]) / (lo[i + 1] - lo[i]))[:, None]
    return rows[i] * (1 - f) + rows[i + 1] * f


@torch.no_grad()
def widen(net, src, src_lambdas, lambdas):
    """Loads the weights `src` of an M-channel model into `net`, whose latent has
    M' > M channels (one more context slice), so that `net` starts as nearly
    the same codec: the new channels change neither z (their hyper-analysis
    inputs are zero) nor, while their symbols are 0, the image; their analysis
    filters and synthesis inputs are a tenth of `net`'s fresh random start,
    small but not zero (a zero filter feeding a zero input never moves, and a
    zero synthesis input gives y's new channels no distortion gradient); their
    hyperprior starts at mean 0 and scale level 4 (σ = 0.18: a 0 costs 0.01
    bits, a ±1 8.5 bits). Returns the names of the parameters that are wholly
    new (10× learning rate)."""
    state = net.plain_state()
    m = src["analysis.3.weight"].shape[0]
    if "log_gain" in src:
        for k in ("log_gain", "log_inverse_gain"):
            src = dict(src, **{k: regain(src[k], src_lambdas, lambdas)})
    new = []
    for k, v in state.items():
        if k not in src:
            new.append(k)
            continue
        old = src[k]
        if old.shape == v.shape:
            state[k] = old.clone()
        elif k in ("synthesis.0.weight", "hyper_analysis.0.weight"):  # [out, M, k, k]: the new inputs
            v *= 0.1 if k.startswith("synthesis") else 0.0
            v[:, :m] = old
        elif k.startswith(("log_gain", "log_inverse_gain")):  # [L, M]
            v[:, :m] = old
        else:  # outputs over the latent's channels: [M, ...] (analysis.3, hyper_mean.2, hyper_scale.2)
            assert v.shape[1:] == old.shape[1:] and v.shape[0] > old.shape[0], k
            v[m:] *= 0.1 if k.startswith("analysis.") else 0.0
            if k == "hyper_scale.2.bias":
                v[m:] = 4.0  # scale level 4
            v[:m] = old
    net.load_plain_state(state)
    return tuple(k for k, _ in net.named_parameters() if k in new)


@torch.no_grad()
def widen_n(net, n2, noise=0.01, seed=0):
    """The plain state of `net`, an N-channel model, widened to N2 = r·N
    hidden channels (the transforms, their scan blocks and the hyperprior's
    hidden layers; the latent y keeps its M channels), so that the new model
    computes the same image: each hidden channel gets r − 1 copies (Net2Net,
    Chen et al. 2016), every layer reading the copies divides its weights by r,
    and a GDN's γ by √r (its sum over |x_j| sees each input r times). Inside a
    scan block the copies stay in their head. The copies' incoming weights get
    `noise` × the tensor's standard deviation of Gaussian noise, or they would
    stay identical; so the start is the same codec up to that. z's new channels
    start at nearly zero weights, mean 0 and the smallest scale, so they cost
    almost no bits and change nothing until they learn to. The noise is drawn
    in the model's parameter order (so it takes the model, not a state dict)."""
    state = net.plain_state()
    n = state["analysis.0.weight"].shape[0]
    r = n2 // n
    assert n2 % n == 0 and r > 1, "--widen-n must be a multiple of the model's N"
    g = torch.Generator().manual_seed(seed)
    hidden = torch.arange(n2) % n  # new channel → the channel it copies
    heads = 4
    p, p2 = n // heads, n2 // heads
    inner = torch.tensor([h * p + i % p for h in range(heads) for i in range(p2)])  # a scan block's v channels
    shuffled = lambda idx: (idx[:, None] * 4 + torch.arange(4)).reshape(-1)  # a sub-pixel conv's output rows

    def copies(idx):  # rows that are copies, not the originals
        return torch.tensor([i for i in range(len(idx)) if list(idx[: i + 1]).count(idx[i]) > 1], dtype=torch.long)

    def widen(w, rows=None, cols=None, jitter=True):
        if rows is not None:
            w = w[rows].clone()
            c = copies(rows)
            if jitter and w.dim() > 1 and len(c):
                w[c] += noise * w.std() * torch.randn(w[c].shape, generator=g)
        if cols is not None:
            w = w[:, cols] / r
        return w

    out = {}
    for k, v in state.items():
        name, _, leaf = k.rpartition(".")
        block = name.split(".")[0] in ("analysis_block", "synthesis_block")
        if block:
            part = name.split(".", 1)[1]
            if part == "norm":
                out[k] = widen(v, hidden)
            elif part == "in_proj":  # rows: v then gate, both in the head order
                rows = torch.cat([inner, inner + n])
                out[k] = widen(v, rows, hidden if leaf == "weight" else None)
            elif part in ("local", "scan") and leaf != "x_proj":
                out[k] = widen(v, inner) if v.shape[0] == n else v  # skip, local (per channel); a_log, dt_bias (per head)
            elif part == "scan.x_proj":
                out[k] = widen(v, cols=inner) if leaf == "weight" else v
            elif part == "out_proj":
                out[k] = widen(v, hidden, inner if leaf == "weight" else None)
            else:
                raise KeyError(k)
        elif name in ("analysis.0", "hyper_analysis.0"):
            out[k] = widen(v, hidden)
        elif name in ("analysis.1", "analysis.2", "hyper_analysis.1"):
            out[k] = widen(v, hidden, hidden if leaf == "weight" else None)
        elif name in ("analysis.3", "synthesis.3", "hyper_mean.2", "hyper_scale.2"):
            out[k] = widen(v, cols=hidden) if leaf == "weight" else v
        elif name == "synthesis.0":
            out[k] = widen(v, shuffled(hidden))
        elif name in ("synthesis.1", "synthesis.2", "hyper_mean.1", "hyper_scale.1"):
            out[k] = widen(v, shuffled(hidden), hidden if leaf == "weight" else None)
        elif name.startswith(("analysis_gdn", "synthesis_igdn")):
            out[k] = widen(v, hidden) if leaf == "beta" else widen(v, hidden, hidden, jitter=False) * r ** 0.5
        elif name == "hyper_analysis.2":  # z: the new channels start near zero
            w = widen(v, hidden, hidden if leaf == "weight" else None)
            w[n:] *= 0.01 if leaf == "weight" else 0.0
            out[k] = w
        elif k in ("z_mean", "z_log_scale"):
            out[k] = torch.cat([v, torch.zeros(n2 - n) if k == "z_mean" else torch.full((n2 - n,), math.log(SCALE_MIN))])
        elif name in ("hyper_mean.0", "hyper_scale.0"):
            if leaf == "weight":  # the new z channels' inputs start at zero
                w = torch.zeros(4 * n2, n2, *v.shape[2:])
                w[:, :n] = widen(v, shuffled(hidden))
                out[k] = w
            else:
                out[k] = widen(v, shuffled(hidden))
        else:  # the latent's context networks and gains do not see N
            out[k] = v
    return out


def lambdas_of(checkpoint):
    """The λ of a checkpoint as a tuple (older ones hold a single float)."""
    l = checkpoint["lambda"]
    return tuple(l) if isinstance(l, (list, tuple)) else (l,)


def rate_distortion(net, x, t, clamp=False, seeds=None, forward=None):
    """Per sample of x (N×3×H×W in [0, 1]) at qualities t (shape [N]): λ, bpp
    and MSE (of the clamped image, as the codec writes it, when validating).
    `forward` runs the model (net itself by default; its DDP wrapper, or a
    moving average of it)."""
    variable = len(net.lambdas) > 1
    x_hat, bits_y, bits_z = (net if forward is None else forward)(x, t if variable else None, seeds)
    lmbda = net.rate_gains(t)[2] if variable else torch.full((len(x),), net.lambdas[0], device=x.device)
    x_hat = x_hat.clamp(0, 1) if clamp else x_hat
    return lmbda, (bits_y + bits_z) / x[0, 0].numel(), ((x_hat - x) ** 2).mean((1, 2, 3))


def rd_loss(lmbda, bpp, mse):
    """The rate-distortion objective per sample, λ·255²·MSE + bpp (MSE of
    [0, 1] pixels, so λ is on the 8-bit scale CompressAI uses)."""
    return lmbda * 255 ** 2 * mse + bpp


@torch.no_grad()
def validate(rd, val, level):
    """Loss, bpp and PSNR on the validation crops at one trained quality."""
    out = [rd(x, torch.full((len(x),), float(level), device=x.device), clamp=True) for x in val.split(8)]
    lmbda, bpp, mse = (torch.cat(v) for v in zip(*out))
    return {"loss": rd_loss(lmbda, bpp, mse).mean().item(), "bpp": bpp.mean().item(),
            "psnr": -10 * math.log10(mse.mean().item())}


def unquantised_latent(net, x):
    """The synthesis's input for x (N×3×H×W in [0, 1]) at the top trained
    quality with no quantisation: analysis(x) times its gain and inverse gain
    (N×M×H/16×W/16)."""
    y = net.analysis_fwd(x)
    if len(net.lambdas) > 1:
        gain, inverse, _ = net.rate_gains(torch.full((len(x),), float(len(net.lambdas) - 1), device=x.device))
        y = y * gain * inverse
    return y


def unquantised(net, x):
    """synthesis(analysis(x)) at the top trained quality with no quantisation
    (x: N×3×H×W in [0, 1]; the output unclamped)."""
    return net.synthesis_fwd(unquantised_latent(net, x))


@torch.no_grad()
def ceiling(net, val):
    """PSNR (dB) of `unquantised` on the validation crops: the most any rate
    can give. When the rows near the top stop gaining, this says whether the
    transforms (not the entropy model or the bits) are the limit."""
    mse = torch.cat([((unquantised(net, x).clamp(0, 1) - x) ** 2).mean((1, 2, 3)) for x in val.split(8)])
    return -10 * math.log10(mse.mean().item())


def export(net, a, step, wall, folder):
    """Writes a run folder `livc export --run` reads: model.safetensors with
    the burn parameter names, and state.json in livc train's schema. `net`
    is the run's moving average (AVERAGE_DECAY), what a run releases."""
    from safetensors.torch import save_file

    os.makedirs(folder, exist_ok=True)
    save_file({k: v.float().contiguous().cpu() for k, v in net.burn_state().items()}, os.path.join(folder, "model.safetensors"))
    model = {"n": a.n, "m": a.m}
    if a.slices:
        model.update(slices=list(a.slices), context_hidden=a.context_hidden)
    if a.blocks:
        model.update(blocks=a.blocks)
    if len(a.lmbda) > 1:
        model.update(lambdas=list(a.lmbda))
    settings = {"model": model, "lambda": a.lmbda[len(a.lmbda) // 2], "batch": a.batch, "crop": a.crop,
                "learning_rate": a.lr, "seed": a.seed, "total_steps": a.steps, "log_every": a.log_every,
                "checkpoint_every": a.val_every, "train_dir": a.train_dir, "val_dir": a.val_dir}
    trainer = f"training/train.py (PyTorch {torch.__version__}, {a.device})"
    if a.origin:  # started from another run's weights
        trainer += f", from {a.origin}"
    with open(os.path.join(folder, "state.json"), "w") as f:
        json.dump({"settings": settings, "step": step, "wall_seconds": wall, "trainer": trainer}, f, indent=1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("--lambda", dest="lmbda", help="λ, or several (0.0018,0.0035,...) for one variable-rate model; "
                   "required for a new run, --init-from defaults to the source's")
    # --hidden-channels / --latent-channels under torchrun, whose own parser takes --n for an abbreviation
    p.add_argument("--n", "--hidden-channels", dest="n", type=int, default=64)
    p.add_argument("--m", "--latent-channels", dest="m", type=int, default=96)
    p.add_argument("--slices", default="", help="channel slices of the context model, e.g. 8,8,16,24,40 (default: none, a plain hyperprior)")
    p.add_argument("--context-hidden", type=int, default=64)
    p.add_argument("--blocks", default="", choices=["", "ssm", "conv"],
                   help="residual blocks at 1/8 resolution: ssm (selective scan) or conv (the same without the scan)")
    p.add_argument("--batch", type=int, help="crops per step, the global batch (default 8); when resuming, a batch given "
                   "here replaces the checkpoint's from this step on (logged as a 'batch' event)")
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, help="Adam's constant learning rate (default 1e-4); when resuming, "
                   "a rate given here replaces the checkpoint's from this step on (logged as an 'lr' event)")
    p.add_argument("--steps", type=int, help="total steps of this run (default: the checkpoint's, else 10000)")
    p.add_argument("--minutes", type=float, default=1e9)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--train-dir", default="../shared/datasets/train")
    p.add_argument("--val-dir", default="../shared/datasets/train-val")
    p.add_argument("--device", default="cpu")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--save-every", type=int, default=0, help="checkpoint every N steps too (default: at validation only)")
    p.add_argument("--init-from", metavar="RUN", help="start a new run from another run's weights (its moving average, where it has one), or from a "
                   "model package (weights/*.safetensors), with a fresh Adam")
    p.add_argument("--widen", type=int, metavar="M", help="with --init-from: grow the source's latent to M "
                   "channels, the new ones one more context slice, starting function-preserving (widen())")
    p.add_argument("--widen-n", type=int, metavar="N2", help="with --init-from: grow the source's hidden channels "
                   "to N2 (a multiple of its N), starting function-preserving up to a little noise (widen_n())")
    p.add_argument("--compile", action="store_true", help="train through torch.compile (forward and backward): "
                   "about 1.17× the steps per second on a 2-core CPU (evaluation/train_speed.py), after 2–3 minutes of compiling (cached for later starts)")
    p.add_argument("--export", metavar="DIR", help="write the run (its moving average of the weights) as a folder for `livc export --run DIR` and stop")
    a = p.parse_args()
    os.makedirs(a.run, exist_ok=True)
    ckpt = os.path.join(a.run, "checkpoint.pt")
    # Under torchrun (WORLD_SIZE > 1): one process per device, DistributedDataParallel,
    # gloo on CPUs, NCCL on GPUs; --batch is the global batch.
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    if world > 1:
        cuda = a.device.startswith("cuda")
        if cuda:
            a.device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
            torch.cuda.set_device(a.device)
        dist.init_process_group("nccl" if cuda else "gloo")
    dev = torch.device(a.device)
    torch.manual_seed(a.seed)
    a.slices = tuple(int(s) for s in a.slices.split(",") if s)
    a.lmbda = tuple(float(v) for v in a.lmbda.split(",")) if a.lmbda else None
    new_lr, a.lr, new_batch, a.batch, changed = a.lr, a.lr or 1e-4, a.batch, a.batch or 8, []
    net = build(a).to(dev)
    opt = optimizer(net, a.lr)
    step, wall, a.origin, a.fresh = 0, 0.0, None, ()
    adam_start = 0  # the step this optimizer's moments started at (see WARMUP)
    if os.path.exists(ckpt) or a.export:
        state = torch.load(ckpt, map_location="cpu")
        a.n, a.m = state["n"], state["m"]
        a.slices, a.context_hidden = tuple(state.get("slices", ())), state.get("context_hidden", 64)
        a.blocks = state.get("blocks", "")
        a.lmbda = lambdas_of(state)
        a.fresh = tuple(state.get("fresh", ()))
        net = build(a).to(dev)
        opt = optimizer(net, state["lr"], a.fresh)
        net.load_plain_state(state["net"])
        step, wall = state["step"], state["wall"]
        adam_start = step
        if state.get("gains") == net.gains():  # Adam's moments are per parametrisation
            opt.load_state_dict(state["opt"])
            adam_start = state.get("adam_start", 0)
        a.batch, a.crop, a.lr = state["batch"], state["crop"], state["lr"]
        if new_lr and new_lr != a.lr:
            changed.append({"step": step, "event": "lr", "from": a.lr, "to": new_lr})
            a.lr = new_lr
        if new_batch and new_batch != a.batch:
            changed.append({"step": step, "event": "batch", "from": a.batch, "to": new_batch})
            a.batch = new_batch
        a.steps = a.steps or state.get("steps")
        a.origin = state.get("origin")
    elif a.init_from:
        src = load_source(a.init_from)
        # The source's architecture, extended by what is given here.
        a.n, a.m = src["net"]["analysis.0.weight"].shape[0], src["net"]["analysis.3.weight"].shape[0]
        a.lmbda = a.lmbda or lambdas_of(src)
        if a.widen:
            old = tuple(src.get("slices", ())) or (a.m,)
            assert a.widen > a.m and not a.slices, "--widen M grows the latent (M > the source's) and sets the slices"
            a.slices, a.context_hidden = old + (a.widen - a.m,), src.get("context_hidden", a.context_hidden)
            a.m = a.widen
            a.blocks = a.blocks or src.get("blocks", "")
            net = build(a).to(dev)
            a.fresh = widen(net, src["net"], lambdas_of(src), a.lmbda)
            opt = optimizer(net, a.lr, a.fresh)
            a.origin = f"{a.init_from} at step {src['step']}, widened to M = {a.m} (λ {src['lambda']}" + (f", {src['origin']})" if src.get("origin") else ")")
        else:
            if a.widen_n:
                src["net"] = widen_n(source_net(src), a.widen_n)
                src["step"] = f"{src['step']}, widened to N = {a.widen_n}"
                a.n = a.widen_n
            if not a.slices:
                a.slices, a.context_hidden = tuple(src.get("slices", ())), src.get("context_hidden", a.context_hidden)
            a.blocks = a.blocks or src.get("blocks", "")
            net = build(a).to(dev)
            same = (tuple(src.get("slices", ())), lambdas_of(src), src.get("blocks", "")) == (a.slices, a.lmbda, a.blocks)
            if len(a.lmbda) > 1 and len(lambdas_of(src)) > 1 and lambdas_of(src) != a.lmbda:
                src["net"] = dict(src["net"], log_gain=regain(src["net"]["log_gain"], lambdas_of(src), a.lmbda),
                                  log_inverse_gain=regain(src["net"]["log_inverse_gain"], lambdas_of(src), a.lmbda))
                same = (tuple(src.get("slices", ())), src.get("blocks", "")) == (a.slices, a.blocks)
            a.fresh = tuple(net.load_plain_state(src["net"], strict=same))
            opt = optimizer(net, a.lr, a.fresh)
            a.origin = f"{a.init_from} at step {src['step']} (λ {src['lambda']}" + (f", {src['origin']})" if src.get("origin") else ")")
    a.steps = a.steps or 10000
    if a.lmbda is None:
        p.error("a new run needs --lambda")
    # The moving average (see AVERAGE_DECAY): the checkpoint's, or the weights'.
    kept = os.path.exists(ckpt) and "average" in state
    average = build(a).to(dev)
    average.load_plain_state(state["average"] if kept else net.plain_state())
    average_start = state["average_start"] if kept else step
    if a.export:
        export(average, a, step, wall, a.export)
        return
    if a.batch % world:
        p.error(f"--batch {a.batch} is the global batch: it must divide among {world} processes")
    # On the CPU, channels-last (NHWC) tensors suit oneDNN's convolutions:
    # 1.05× the compiled step's speed, 1.13× the eager one's
    # (evaluation/layout_speed.py), with the same numbers up to float
    # summation order (training/test_train.py). The GPU keeps NCHW (untested).
    layout = torch.channels_last if dev.type == "cpu" else torch.contiguous_format
    net.to(memory_format=layout)
    model = net
    if world > 1:  # gradients averaged across processes: one process with the global batch
        model = torch.nn.parallel.DistributedDataParallel(net, device_ids=[dev.index] if dev.type == "cuda" else None)
    if a.compile:  # the same step fused by TorchInductor; validation and the average stay eager
        model = torch.compile(model)
    train = load_images(a.train_dir, a.crop)
    val = centre_batch(load_images(a.val_dir, a.crop), a.crop).to(dev)
    rng = random.Random(a.seed * 1_000_003 + step)
    log = open(os.path.join(a.run, "log.jsonl"), "a") if rank == 0 else None
    for event in changed if log else ():
        log.write(json.dumps(event) + "\n")
        log.flush()
    t0, acc = time.time(), []

    def save():
        if rank:
            return
        torch.save({"net": net.plain_state(), "average": average.plain_state(), "average_start": average_start, "gains": net.gains(), "opt": opt.state_dict(), "step": step, "wall": wall + time.time() - t0,
                    "lambda": a.lmbda, "batch": a.batch, "crop": a.crop, "n": a.n, "m": a.m, "slices": a.slices, "context_hidden": a.context_hidden, "blocks": a.blocks, "lr": a.lr, "fresh": a.fresh, "adam_start": adam_start,
                    "steps": a.steps, "origin": a.origin}, ckpt + ".tmp")
        os.replace(ckpt + ".tmp", ckpt)

    levels = len(a.lmbda)

    rd = partial(rate_distortion, net)

    def validation(model):
        """`validate` at every trained quality (one row for a single λ)."""
        rows = [validate(partial(rd, forward=model), val, level) for level in range(levels)]
        return rows[0] if levels == 1 else rows

    def all_processes(values, op="mean"):
        """`values` reduced over the processes (identity for one process)."""
        v = torch.tensor(values, dtype=torch.float64, device=dev)
        if world > 1:
            dist.all_reduce(v, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
            v = v / world if op == "mean" else v
        return v.tolist()

    stop = []  # SIGTERM/SIGINT end the run after the current step, with a checkpoint
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(1))
    local = slice(rank * a.batch // world, (rank + 1) * a.batch // world)
    while step < a.steps:
        if all_processes([float(bool(stop) or time.time() - t0 >= a.minutes * 60)], "max")[0]:
            break
        warm = min(1.0, (step - adam_start + 1) / WARMUP)
        for g in opt.param_groups:  # constant rate after the warmup, a tenth for the last 10 %
            g["lr"] = warm * g["scale"] * (a.lr if step < 0.9 * a.steps else a.lr / 10)
        # Every process draws the whole global batch (crops, qualities, noise
        # seeds) from the same generator and trains on its own share.
        x = random_batch(train, rng, a.batch, a.crop)
        t = torch.tensor([rng.uniform(0, levels - 1) for _ in x] if levels > 1 else [0.0] * len(x))
        seeds = [rng.randrange(2 ** 62) for _ in x]
        lmbda, bpp, mse = rd(x[local].to(dev, memory_format=layout), t[local].to(dev), seeds=seeds[local], forward=model)
        loss = rd_loss(lmbda, bpp, mse).mean()
        bpp, mse = bpp.mean(), mse.mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        update_average(average, net, step - average_start)
        step += 1
        acc.append(all_processes([loss.item(), bpp.item(), mse.item()]))
        if step % a.log_every == 0:
            l, b, m = np.mean(acc, axis=0)
            entry = {"step": step, "wall_s": round(wall + time.time() - t0, 1), "loss": l, "bpp": b,
                     "psnr": -10 * math.log10(m)}
            if step % a.val_every == 0 and rank == 0:
                # The moving average (what is committed and exported) at every
                # validation; the weights and their ceiling at every 4th and the
                # last: on 2 cores a full validation cost 33 s per 500 steps of
                # 229 s (the campaign's log), the average's alone 16 s.
                entry["val_average"] = validation(average)
                if step % (4 * a.val_every) == 0 or step >= a.steps:
                    entry["val"] = validation(net)
                    entry["ceiling_psnr"] = ceiling(net, val)
                save()
            elif a.save_every and step % a.save_every == 0:
                save()
            acc = []
            if rank == 0:
                print(json.dumps(entry), flush=True)
                log.write(json.dumps(entry) + "\n")
                log.flush()
    save()
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
