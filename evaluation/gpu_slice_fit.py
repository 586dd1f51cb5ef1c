#!/usr/bin/env python3
"""Did a GPU slice fit the data it carried? (evaluation/results/campaign/gpu-slice-fit.md)

The first GPU slice of the campaign (2026-12-04) trained on one lossless 384²
window of each of the first 127 training photos with sides of at least 384
(in name order). This measures each given run's loss (its moving average, as committed)
(λ·255²·MSE + bpp, train.py's `validate`) on two random 256² crops of each of
the first 100 such photos (in that pack) and of the last 150 (not in it), at
λ rows 2 and 7; the same crops and rate noise for every checkpoint.

usage: OMP_NUM_THREADS=1 python3 evaluation/gpu_slice_fit.py RUN... [--train-dir D]
       (a run folder from a committed state: campaign_state.py unpack STATE DIR m96, then DIR/m96)
"""
import argparse, json, os, random, sys
from functools import partial

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "training"))
import train as T  # noqa: E402


def crops(images, seed):
    rng, out = random.Random(seed), []
    for img in images:
        for _ in range(2):
            _, h, w = img.shape
            y, x = rng.randrange(h - 255), rng.randrange(w - 255)
            out.append(img[:, y : y + 256, x : x + 256])
    return torch.stack(out).float() / 255


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+")
    p.add_argument("--train-dir", default="../shared/datasets/train")
    a = p.parse_args()
    photos = T.load_images(a.train_dir, 384)
    sets = {"in the pack (first 100)": crops(photos[:100], 7), "not in it (last 150)": crops(photos[-150:], 7)}
    for run in a.runs:
        src = T.load_source(run)
        net = T.source_net(src)
        torch.manual_seed(0)  # the same rate noise for every checkpoint
        rd = partial(T.rate_distortion, net)
        loss = {name: {row: round(T.validate(rd, x, row)["loss"], 4) for row in (2, 7)} for name, x in sets.items()}
        print(json.dumps({"step": src["step"], "loss": loss}), flush=True)


if __name__ == "__main__":
    main()
