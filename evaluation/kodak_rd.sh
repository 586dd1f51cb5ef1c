#!/usr/bin/env bash
# Kodak rate-distortion of every embedded quality (real files: bpp counts the
# whole .livc file), next to the published WebP and JPEG curves at the same bpp.
# usage: evaluation/kodak_rd.sh [KODAK_DIR] [QUALITIES]
set -euo pipefail
cd "$(dirname "$0")/.."
kodak=${1:-../shared/datasets/kodak}
qualities=${2:-"1 2 3"}
out=evaluation/results
mkdir -p "$out"
cargo build --quiet
for q in $qualities; do
    target/debug/livc bench --dataset "$kodak" -q "$q" --json "$out/kodak_q$q.json" | tail -2
done
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
print("| quality | λ | Kodak bpp | Kodak PSNR (dB) | WebP at that bpp | JPEG at that bpp | encode s | decode s |")
print("|---|---|---|---|---|---|---|---|")
for q in qs:
    r = json.load(open(f"{out}/kodak_q{q}.json"))
    m = r["mean"]
    print(f"| {q} | {r.get('lambda', '')} | {m['bpp']:.4f} | {m['psnr']:.2f} | {psnr_at('webp', m['bpp']):.2f} | {psnr_at('jpeg', m['bpp']):.2f} | {m['encode_s']:.2f} | {m['decode_s']:.2f} |")
PY
