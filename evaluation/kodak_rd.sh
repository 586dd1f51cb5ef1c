#!/usr/bin/env bash
# Kodak rate-distortion and CPU time of the default model at qualities 0, 20, …,
# 100 (real files: bpp counts the whole .livc file), next to the published WebP
# and JPEG curves at the same bpp; then the previous default (the first name in
# evaluation/reference/previous.txt, still embedded so that its files decode, at
# its default quality) in the same run, for the time ratio.
# usage: evaluation/kodak_rd.sh [KODAK_DIR] [QUALITIES]
set -euo pipefail
cd "$(dirname "$0")/.."
kodak=${1:-../shared/datasets/kodak}
qualities=${2:-"0 20 40 60 80 100"}
out=evaluation/results
mkdir -p "$out"
cargo build --quiet
for q in $qualities; do
    target/debug/livc bench --dataset "$kodak" -q "$q" --json "$out/kodak_q$q.json" --force | tail -2
done
previous=$(grep -v '^#' evaluation/reference/previous.txt | head -1)
target/debug/livc bench --dataset "$kodak" --model "weights/$previous.safetensors" \
    --json "$out/kodak_previous.json" --force | tail -2
python3 - "$out" $qualities <<'PY' | tee "$out/kodak_rd.md"
import json, sys
out, qs = sys.argv[1], sys.argv[2:]
ref = json.load(open("../shared/reference/kodak_published_rd.json"))["curves"]
def psnr_at(curve, bpp):
    pts = sorted((p["bpp"], p["psnr"]) for p in ref[curve]["points"])
    for (b0, p0), (b1, p1) in zip(pts, pts[1:]):
        if b0 <= bpp <= b1:
            return p0 + (p1 - p0) * (bpp - b0) / (b1 - b0)
    return float("nan")
print("| quality | λ | Kodak bpp | Kodak PSNR (dB) | WebP at that bpp | JPEG at that bpp | encode s | decode s | kMAC/px enc / dec |")
print("|---|---|---|---|---|---|---|---|---|")
runs = [json.load(open(f"{out}/kodak_q{q}.json")) for q in qs]
prev = json.load(open(f"{out}/kodak_previous.json"))
for r in runs + [prev]:
    m = r["mean"]
    label = r["quality"] if r is not prev else f"{r['model']} (previous, q{r['quality']})"
    print(f"| {label} | {r['lambda']:.4f} | {m['bpp']:.4f} | {m['psnr']:.2f} | {psnr_at('webp', m['bpp']):.2f} | "
          f"{psnr_at('jpeg', m['bpp']):.2f} | {m['encode_s']:.2f} | {m['decode_s']:.2f} | "
          f"{m['encode_macs_per_pixel'] / 1e3:.1f} / {m['decode_macs_per_pixel'] / 1e3:.1f} |")
mean = lambda key: sum(r["mean"][key] for r in runs) / len(runs)
print(f"\n{runs[0]['model']} against {prev['model']}, same run: encode {mean('encode_s') / prev['mean']['encode_s']:.2f}×, "
      f"decode {mean('decode_s') / prev['mean']['decode_s']:.2f}× the time; "
      f"{mean('encode_macs_per_pixel') / prev['mean']['encode_macs_per_pixel']:.2f}× / "
      f"{mean('decode_macs_per_pixel') / prev['mean']['decode_macs_per_pixel']:.2f}× the MACs per pixel.")
PY
