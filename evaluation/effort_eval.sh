#!/usr/bin/env bash
# The encoder's effort levels (livc encode --effort, src/model/refine.rs) on
# Kodak: one `livc eval` of the default model per effort, in one run, the
# first LIMIT images at -q 0, 20, …, 100; BD-rate of each effort against
# effort 1 (the same images, measured in the same run) and the mean encode
# and decode times. Writes OUT/{eN/,summary.md} (OUT: evaluation/results/effort).
# SKIP=N starts after the first N images: the search's settings were tuned on
# Kodak 1–4 (evaluation/effort_search.py), so `SKIP=4` is the held-out check.
#
# usage: [SKIP=N] [OUT=DIR] evaluation/effort_eval.sh [LIMIT] [EFFORTS]     (default: 4 images, efforts 2 3 4; about 25 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-4} efforts=${2:-2 3 4} kodak=${KODAK:-../shared/datasets/kodak}
out=${OUT:-evaluation/results/effort} skip=${SKIP:-0}
if [ "$skip" -gt 0 ]; then  # the images after the first SKIP, as a folder of links
    held_out=$(mktemp -d) && trap 'rm -rf "$held_out"' EXIT
    ls "$kodak"/*.png | sort | tail -n +$((skip + 1)) | head -n "$limit" | while read -r f; do ln -s "$(realpath "$f")" "$held_out/"; done
    kodak=$held_out
fi
cargo build -q
livc=target/debug/livc
$livc eval --dataset "$kodak" --codecs livc --limit "$limit" --anchors none -o "$out/e1" >/dev/null
# The default model's curve name (its package's name) is the anchor.
model=$(python3 -c 'import json, sys; print(*[k for k in json.load(open(sys.argv[1]))["curves"] if k.startswith("livc")])' "$out/e1/curves.json")
for e in $efforts; do
    $livc eval --dataset "$kodak" --codecs livc --limit "$limit" --effort "$e" \
        --reference "$out/e1/curves.json" --anchors "$model" -o "$out/e$e" >/dev/null
done
# Times from `livc bench` one effort after another (the first 2 images, the
# default quality), so that they compare like with like.
for e in 1 $efforts; do
    $livc bench --dataset "$kodak" --limit 2 --effort "$e" --json "$out/bench_e$e.json" --force >/dev/null
done
python3 - "$out" "$limit" "$skip" "$model" 1 $efforts <<'EOF'
import json, sys
out, limit, skip, model, efforts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
base = json.load(open(f"{out}/e1/livc.json"))["averages"]
mean = lambda pts, k: sum(p[k] for p in pts) / len(pts)
which = f"{limit} images after the first {skip} (held out from the search's tuning)" if skip != "0" else f"first {limit} images"
lines = [f"Kodak, {which}, -q 0, 20, …, 100, CPU backend, 2 cores (evaluation/effort_eval.sh)", "",
         "| effort | iterations | BD-rate vs effort 1 (PSNR) | BD-PSNR | bpp at q0 / q100 | PSNR at q0 / q100 | encode s/image | decode s/image |",
         "|---|---|---|---|---|---|---|---|"]
for e in efforts:
    pts = json.load(open(f"{out}/e{e}/livc.json"))["averages"]
    bd = [b for b in json.load(open(f"{out}/e{e}/bd.json")) if b["codec"] == "livc" and b["anchor"] == model] if e != "1" else []
    rate = f"{bd[0]['bd_rate']:+.2f} %" if bd and bd[0]["bd_rate"] is not None else "—"
    dpsnr = f"{bd[0]['bd_psnr']:+.3f} dB" if bd and bd[0]["bd_psnr"] is not None else "—"
    its = 0 if e == "1" else 2 ** int(e)
    lines.append(f"| {e} | {its} | {rate} | {dpsnr} | {pts[0]['bpp']:.4f} / {pts[-1]['bpp']:.4f} | "
                 f"{pts[0]['psnr']:.2f} / {pts[-1]['psnr']:.2f} | {mean(pts, 'encode_s'):.2f} | {mean(pts, 'decode_s'):.2f} |")
lines += ["", "Times from `livc bench` (its first 2 images, default quality, one effort after another):", "",
          "| effort | encode s/image | decode s/image | encode time vs effort 1 |", "|---|---|---|---|"]
t1 = json.load(open(f"{out}/bench_e1.json"))["mean"]["encode_s"]
for e in efforts:
    m = json.load(open(f"{out}/bench_e{e}.json"))["mean"]
    lines.append(f"| {e} | {m['encode_s']:.2f} | {m['decode_s']:.2f} | {m['encode_s'] / t1:.1f}× |")
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
