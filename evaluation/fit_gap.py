#!/usr/bin/env python3
"""Does the campaign over-fit its 305 training photos? For each committed
campaign state (git commits of weights/campaign/state.safetensors), the
rate-distortion loss λ·255²·MSE + bpp (train.py's rd_loss, with the codec's
clamp) of RUN's moving average on the centre 256² crops of every fourth
training photo and of every train-val photo, at λ rows 0, 4 and 8. The two
sets hold different pictures, so their losses differ anyway; what tells of
over-fitting is the trend: the ratio val / train rising from one state to
the next (the training photos gaining faster than the unseen ones).

usage: python3 evaluation/fit_gap.py COMMIT... [--run m96] [--data ../shared/datasets]
"""
import argparse, os, subprocess, sys, tempfile

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "training"))
import train as T  # noqa: E402

ROWS = (0, 4, 8)


def state_at(commit, run, folder):
    """RUN's run folder unpacked from the campaign state committed at `commit`."""
    state = os.path.join(folder, "state.safetensors")
    with open(state, "wb") as f:
        subprocess.run(["git", "show", f"{commit}:weights/campaign/state.safetensors"], cwd=ROOT, stdout=f, check=True)
    subprocess.run([sys.executable, os.path.join(ROOT, "training", "campaign_state.py"), "unpack", state, folder, run],
                   check=True, stdout=subprocess.DEVNULL)
    return os.path.join(folder, run)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("commits", nargs="+")
    p.add_argument("--run", default="m96")
    p.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "datasets"))
    a = p.parse_args()
    train = T.centre_batch(T.load_images(os.path.join(a.data, "train"), 256)[::4], 256)
    val = T.centre_batch(T.load_images(os.path.join(a.data, "train-val"), 256), 256)
    print(f"{a.run}: {len(train)} training crops, {len(val)} train-val crops (256², centre); loss per λ row")
    print("| commit | step | " + " | ".join(f"row {r}: train / val (ratio)" for r in ROWS) + " |")
    print("|---" * (len(ROWS) + 2) + "|")
    for commit in a.commits:
        with tempfile.TemporaryDirectory() as tmp:
            folder = state_at(commit, a.run, tmp)
            step = torch.load(os.path.join(folder, "checkpoint.pt"), map_location="cpu")["step"]
            net = T.load_net(folder).eval()
        rd = lambda x, t, clamp=True: T.rate_distortion(net, x, t, clamp=clamp, seeds=list(range(len(x))))
        cells = []
        for r in ROWS:
            tl, vl = (T.validate(rd, crops, r)["loss"] for crops in (train, val))
            cells.append(f"{tl:.4f} / {vl:.4f} ({vl / tl:.4f})")
        print(f"| {commit} | {step} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
