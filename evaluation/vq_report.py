#!/usr/bin/env python3
"""The VQ mode's low-rate table (issue 20), from `livc eval --codecs low-rate`
output folders (one per dataset): every codec's mean PSNR, MS-SSIM and
SSIMULACRA 2 at equal bpp 0.01–0.05 (pchip in log bpp over its measured
qualities; "–" outside its measured range: no extrapolation), and the BD
rate of livc VQ against each anchor on each metric over their overlapping
quality range (pchip, log rate, as in Bjøntegaard's method).

usage: evaluation/vq_report.py RESULTS_DIR... > report.md
"""
import json, os, sys

import numpy as np
from scipy.interpolate import PchipInterpolator

BPPS = (0.01, 0.02, 0.03, 0.04, 0.05)
METRICS = (("psnr", "PSNR (dB)", "{:.2f}"), ("ms_ssim", "MS-SSIM", "{:.4f}"), ("ssimulacra2", "SSIMULACRA 2", "{:.1f}"))
ORDER = ("livc-vq", "livc", "avif-low", "avif-2x", "avif-4x", "jpeg-2x", "jpeg-4x")


def curve(results, metric):
    pts = sorted((a["bpp"], a[metric]) for a in results["averages"] if a.get(metric) is not None)
    # A curve must rise with rate; keep the monotone hull from the left.
    out = []
    for b, q in pts:
        if not out or (b > out[-1][0] and q > out[-1][1]):
            out.append((b, q))
    return np.array(out)


def at_bpp(c, bpp):
    if len(c) < 2 or not (c[0, 0] <= bpp <= c[-1, 0]):
        return None
    return float(PchipInterpolator(np.log(c[:, 0]), c[:, 1])(np.log(bpp)))


def bd_rate(test, anchor):
    """Mean log-rate difference of test against anchor over the overlapping quality range, in %."""
    if len(test) < 2 or len(anchor) < 2:
        return None
    lo, hi = max(test[0, 1], anchor[0, 1]), min(test[-1, 1], anchor[-1, 1])
    if hi <= lo:
        return None
    grid = np.linspace(lo, hi, 200)
    rt = PchipInterpolator(test[:, 1], np.log(test[:, 0]))(grid)
    ra = PchipInterpolator(anchor[:, 1], np.log(anchor[:, 0]))(grid)
    span = (hi - lo) / (max(test[-1, 1], anchor[-1, 1]) - min(test[0, 1], anchor[0, 1]))
    return (np.exp(np.mean(rt - ra)) - 1) * 100, span


def main():
    print("# livc VQ mode at extreme low bitrate\n")
    print("Made by `evaluation/vq_rd.sh` (`livc eval --codecs low-rate`, then `evaluation/vq_report.py`). "
          "Each codec's mean over the dataset at each of its qualities, interpolated (pchip in log bpp) to equal bpp; "
          "'–': outside the codec's measured range. No pretrained-network metric (LPIPS, FID) can be computed "
          "here: their weights cannot be downloaded on these machines.\n")
    for folder in sys.argv[1:]:
        results = {}
        for name in ORDER:
            path = os.path.join(folder, f"{name}.json")
            if os.path.exists(path):
                results[name] = json.load(open(path))
        if not results:
            continue
        dataset = next(iter(results.values()))["dataset"]
        print(f"## {dataset}\n")
        for metric, label, fmt in METRICS:
            print(f"### {label} at equal bpp\n")
            print("| codec | " + " | ".join(f"{b} bpp" for b in BPPS) + " |")
            print("|---|" + "---|" * len(BPPS))
            for name, r in results.items():
                c = curve(r, metric)
                cells = [at_bpp(c, b) for b in BPPS]
                print(f"| {r['label']} | " + " | ".join("–" if v is None else fmt.format(v) for v in cells) + " |")
            print()
        if "livc-vq" in results:
            print("### BD-rate of livc VQ against each anchor (negative: livc VQ needs fewer bits)\n")
            print("| anchor | " + " | ".join(label for _, label, _ in METRICS) + " |")
            print("|---|" + "---|" * len(METRICS))
            for name, r in results.items():
                if name == "livc-vq":
                    continue
                cells = []
                for metric, _, _ in METRICS:
                    bd = bd_rate(curve(results["livc-vq"], metric), curve(r, metric))
                    cells.append("n/a (no overlap)" if bd is None else f"{bd[0]:+.1f} % ({bd[1] * 100:.0f} % overlap)")
                print(f"| {r['label']} | " + " | ".join(cells) + " |")
            print()
            print("| livc VQ quality | bpp | PSNR | MS-SSIM | SSIMULACRA 2 | encode s | decode s |")
            print("|---|---|---|---|---|---|---|")
            for a in results["livc-vq"]["averages"]:
                s2 = "–" if a.get("ssimulacra2") is None else f"{a['ssimulacra2']:.1f}"
                ms = "–" if a.get("ms_ssim") is None else f"{a['ms_ssim']:.4f}"
                print(f"| {a['quality']} | {a['bpp']:.4f} | {a['psnr']:.2f} | {ms} | {s2} | "
                      f"{a['encode_s']:.2f} | {a['decode_s']:.2f} |")
            print()


if __name__ == "__main__":
    main()
