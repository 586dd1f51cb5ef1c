#!/usr/bin/env python3
"""The data a GPU slice of the campaign carries (training/gpu_slice.sh
prepare): the training photos, whole, and train.py's exact validation crops,
within a size budget.

The device cannot read ../shared, and what travels to it is at most 64 MiB,
so the 113 MB of lossless training photos do not fit. The first slice
(2026-12-04) carried one lossless 384² window of each of the first photos
instead (27 MiB, about 125 windows) and trained 8,182 steps of 4 crops on
them, each window about 260 times: its state's validation loss (the CPU's,
train-val centre crops) was 2.8606 against 2.8345 for the state it started
from, 0.9 % worse, where CPU steps lower it. So the pack holds every photo
whole, as JPEG with full chroma (4:4:4) at the highest quality whose total
fits the budget (about quality 93, 39.6 dB against the lossless photos, in
42 MiB), and the slice draws random crops from all of them as the CPU does.
Learned codecs commonly train on JPEG-compressed photos (CompressAI's models
on Vimeo-90k, Ballé et al. 2018 on ImageNet); at this quality the coding
noise is a seventh of the error of the campaign's top λ row (31 dB), but it
is not free: JPEG's block structure is not the photos' own, and the model
codes such images a little worse. Whether a slice on them helps is what
`training/campaign.sh adopt` checks, on lossless validation crops. Only if
the budget cannot hold every photo at quality 90 does the pack take fewer
photos, in an order the seed shuffles. (Near-lossless WebP, whose error is
not blocky, is well over the budget for all the photos: `cwebp -lossless
-near_lossless 40` keeps more than half of the lossless size.)

The validation crops are written losslessly (PNG), cut as train.py's
`centre_batch` cuts them, so the slice's validation loss is the CPU's and
`training/campaign.sh adopt` can compare the two.

usage: training/pack.py OUT [--budget-mib 44] [--train-dir D] [--val-dir D] [--seed S]
       OUT/train: the photos (JPEG); OUT/val: the validation crops (PNG)
"""
import argparse, io, os, random, sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as T  # noqa: E402

MIN_QUALITY, MAX_QUALITY = 90, 98


def images(folder):
    """(name, RGB image) of every image train.py's load_images would read, sorted."""
    names = sorted(f for f in os.listdir(folder) if f.lower().endswith(T.IMAGE_SUFFIXES))
    return [(os.path.splitext(f)[0], Image.open(os.path.join(folder, f)).convert("RGB")) for f in names]


def jpeg(img, quality):
    b = io.BytesIO()
    img.save(b, "JPEG", quality=quality, subsampling=0)  # 4:4:4
    return b.getvalue()


def psnr(files, photos):
    """RGB PSNR (dB) of the decoded JPEGs against the photos, over all their pixels."""
    se = n = 0
    for data, (_, img) in zip(files, photos):
        a = np.asarray(img, dtype=np.float64)
        se += ((np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64) - a) ** 2).sum()
        n += a.size
    return 10 * np.log10(255 ** 2 * n / se)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", help="output folder (must not exist yet)")
    p.add_argument("--budget-mib", type=float, default=44, help="size of the whole pack, training photos and validation crops (MiB)")
    p.add_argument("--train-dir", default="../shared/datasets/train")
    p.add_argument("--val-dir", default="../shared/datasets/train-val")
    p.add_argument("--crop", type=int, default=256, help="train.py's crop: the validation crops' size, and photos smaller are left out")
    p.add_argument("--seed", type=int, default=1, help="the order photos are taken in when not all fit")
    a = p.parse_args()
    if os.path.exists(a.out):
        sys.exit(f"pack: {a.out} exists; choose a new folder")
    budget = int(a.budget_mib * 2 ** 20)

    val = [(name, img) for name, img in images(a.val_dir) if min(img.size) >= a.crop]
    crops = T.centre_batch([torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1) for _, img in val], a.crop)
    val_files = []
    for (name, _), c in zip(val, crops):
        b = io.BytesIO()
        Image.fromarray((c * 255).round().byte().permute(1, 2, 0).numpy()).save(b, "PNG", optimize=True)
        val_files.append((name + ".png", b.getvalue()))
    left = budget - sum(len(d) for _, d in val_files)

    photos = [(name, img) for name, img in images(a.train_dir) if min(img.size) >= a.crop]
    if not photos or left <= 0:
        sys.exit(f"pack: a budget of {a.budget_mib} MiB holds no training photo beside the validation crops")
    quality, files = MIN_QUALITY, None
    for q in range(MAX_QUALITY, MIN_QUALITY - 1, -1):  # the highest quality that fits
        files = [jpeg(img, q) for _, img in photos]
        quality = q
        if sum(map(len, files)) <= left:
            break
    if sum(map(len, files)) > left:  # not every photo fits at the lowest quality: a seeded subset
        order = list(range(len(photos)))
        random.Random(a.seed).shuffle(order)
        keep, total = [], 0
        for i in order:
            if total + len(files[i]) <= left:
                keep.append(i)
                total += len(files[i])
        keep.sort()
        photos, files = [photos[i] for i in keep], [files[i] for i in keep]
    if not photos:
        sys.exit(f"pack: a budget of {a.budget_mib} MiB holds no training photo beside the validation crops")

    os.makedirs(os.path.join(a.out, "train"))
    os.makedirs(os.path.join(a.out, "val"))
    for (name, _), data in zip(photos, files):
        with open(os.path.join(a.out, "train", name + ".jpg"), "wb") as f:
            f.write(data)
    for name, data in val_files:
        with open(os.path.join(a.out, "val", name), "wb") as f:
            f.write(data)
    mib = lambda n: n / 2 ** 20
    print(f"pack: {len(photos)} training photos as JPEG 4:4:4 quality {quality} ({mib(sum(map(len, files))):.1f} MiB, "
          f"{psnr(files, photos):.2f} dB against the originals), {len(val_files)} validation crops of {a.crop}² "
          f"as PNG ({mib(sum(len(d) for _, d in val_files)):.1f} MiB) in {a.out}")


if __name__ == "__main__":
    main()
