#!/usr/bin/env python3
"""Moving averages of the weights against the weights themselves, at the
campaign's constant learning rate (evaluation/results/campaign/averaging.md).

From a run's checkpoint (with its Adam moments), trains STEPS more steps as
train.py does (batch 4 of 256² crops, one λ row per crop, constant rate),
keeping one moving average per decay cap (train.py's update_average, its
ramp (1 + k)/(10 + k) capped at each DECAY), and every 600 steps prints the
validation loss (λ·255²·MSE + bpp, mean over the λ rows; train.py's
`validate` on the train-val crops) of the weights and of each average.

`--lr` trains at another constant rate than the checkpoint's (Adam's moments
carry over), to compare rates side by side from one state.

usage: OMP_NUM_THREADS=1 python3 evaluation/averaging_eval.py CHECKPOINT STEPS [DECAY ...] [--lr RATE]
       e.g. evaluation/averaging_eval.py runs/campaign/m96/checkpoint.pt 1800 0.99 0.995 0.999
"""
import argparse, json, os, random, sys
from functools import partial

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "training"))
import train as T  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("steps", type=int)
    p.add_argument("decays", type=float, nargs="*", default=[0.99, 0.995, 0.999])
    p.add_argument("--train-dir", default="../shared/datasets/train")
    p.add_argument("--val-dir", default="../shared/datasets/train-val")
    p.add_argument("--lr", type=float, help="constant learning rate [default: the checkpoint's]")
    a = p.parse_args()
    st = torch.load(a.checkpoint, map_location="cpu")
    cfg = argparse.Namespace(n=st["n"], m=st["m"], slices=tuple(st["slices"]), context_hidden=st["context_hidden"],
                             blocks=st["blocks"], lmbda=T.lambdas_of(st))
    net = T.build(cfg)
    net.load_plain_state(st["net"])
    opt = T.optimizer(net, st["lr"], tuple(st.get("fresh", ())))
    if st.get("opt"):
        opt.load_state_dict(st["opt"])
    for g in opt.param_groups:
        g["lr"] = g["scale"] * (a.lr or st["lr"])
    averages = {}
    for d in a.decays:
        averages[d] = T.build(cfg)
        averages[d].load_plain_state(net.plain_state())
    train = T.load_images(a.train_dir, 256)
    val = T.centre_batch(T.load_images(a.val_dir, 256), 256)
    levels, rng = len(cfg.lmbda), random.Random(12345)

    rd = partial(T.rate_distortion, net)

    def loss(model):
        rows = [T.validate(partial(rd, forward=model), val, k) for k in range(levels)]
        return round(sum(r["loss"] for r in rows) / levels, 4)

    def report(step):
        print(json.dumps({"step": step, "weights": loss(net), **{f"average {d}": loss(m) for d, m in averages.items()}}), flush=True)

    report(0)
    for step in range(1, a.steps + 1):
        x = T.random_batch(train, rng, 4, 256)
        t = torch.tensor([rng.uniform(0, levels - 1) for _ in x])
        lmbda, bpp, mse = rd(x, t, seeds=[rng.randrange(2 ** 62) for _ in x])
        opt.zero_grad()
        T.rd_loss(lmbda, bpp, mse).mean().backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        for d, m in averages.items():
            T.update_average(m, net, step, d)
        if step % 600 == 0:
            report(step)


if __name__ == "__main__":
    main()
