#!/usr/bin/env bash
# The encoder's RDOQ (src/codec/rdoq.rs) against nearest rounding, on real
# files: livc built at several values of RDOQ_KAPPA (κ 0.0 is nearest rounding:
# no step toward zero can cost less than nothing), each in a temporary git
# worktree of HEAD with the constant edited (sharing target/). Measures, with
# `livc eval` (default model, -q 0, 20, …, 100, effort 1): every κ on Kodak
# 1–8 (where κ was chosen), rounding and HEAD's κ on Kodak 9–24 (held out),
# and rounding and HEAD's κ on the first FRAMES frames of two clips with
# `livc eval-video` (P-frames, -q 0, 30, 60, 90). BD-rate at equal RGB PSNR
# against rounding, by linear interpolation of log bpp over PSNR in the range
# both curves share. Writes OUT/summary.md (OUT: evaluation/results/rdoq).
# About 12 minutes on 2 cores.
# usage: [OUT=DIR] evaluation/rdoq_eval.sh [KAPPAS] [FRAMES]
set -euo pipefail
cd "$(dirname "$0")/.."
kappas=${1:-"0.01 0.04"} frames=${2:-12} out=${OUT:-evaluation/results/rdoq}
kodak=../shared/datasets/kodak video=../shared/datasets/video
head_kappa=$(sed -n 's/^pub const RDOQ_KAPPA: f64 = \(.*\);/\1/p' src/codec/rdoq.rs)
[ -n "$head_kappa" ] || { echo "no RDOQ_KAPPA in src/codec/rdoq.rs" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/tree" 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -p "$out" "$tmp/tuned" "$tmp/held-out"
ls "$kodak"/*.png | sort | head -n 8 | while read -r f; do ln -s "$(realpath "$f")" "$tmp/tuned/"; done
ls "$kodak"/*.png | sort | tail -n +9 | while read -r f; do ln -s "$(realpath "$f")" "$tmp/held-out/"; done
git worktree add -q --detach "$tmp/tree" HEAD
for k in 0.0 $head_kappa $kappas; do
    sed -i "s/^pub const RDOQ_KAPPA: f64 = .*;/pub const RDOQ_KAPPA: f64 = $k;/" "$tmp/tree/src/codec/rdoq.rs"
    (cd "$tmp/tree" && CARGO_TARGET_DIR="$OLDPWD/target" cargo build --quiet --bin livc)
    cp target/debug/livc "$tmp/livc-$k"
done
cargo build --quiet --bin livc  # target/ back to the working tree's binary
for k in 0.0 $head_kappa $kappas; do
    "$tmp/livc-$k" eval --dataset "$tmp/tuned" --codecs livc --anchors none -o "$tmp/tuned-$k" >/dev/null
done
for k in 0.0 $head_kappa; do
    "$tmp/livc-$k" eval --dataset "$tmp/held-out" --codecs livc --anchors none -o "$tmp/held-out-$k" >/dev/null
    "$tmp/livc-$k" eval-video "$video/carphone_pristine.mp4" "$video/bikes.mp4" --codecs livc --frames "$frames" \
        --qualities 0,30,60,90 -o "$tmp/video-$k" >/dev/null
done
python3 - "$tmp" "$head_kappa" "$frames" 0.0 $head_kappa $kappas <<'EOF' | tee "$out/summary.md"
import json, sys
import numpy as np
tmp, head, frames, kappas = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]

def bd(ref, test):
    """Bit-rate change (%) of test against ref at equal PSNR: each a list of (bpp, PSNR)."""
    (r1, p1), (r2, p2) = (np.array(sorted(c, key=lambda t: t[1])).T for c in (ref, test))
    lo, hi = max(p1.min(), p2.min()), min(p1.max(), p2.max())
    x = np.linspace(lo, hi, 400)
    return (np.exp(np.mean(np.interp(x, p2, np.log(r2)) - np.interp(x, p1, np.log(r1)))) - 1) * 100

def image_curve(name):
    curves = json.load(open(f"{tmp}/{name}/curves.json"))["curves"]
    (curve,) = [c for k, c in curves.items() if k.startswith("livc")]
    return [(p["bpp"], p["psnr"]) for p in curve["points"]]

def clip_curves(name):
    rows = json.load(open(f"{tmp}/{name}/video.json"))
    clips = {}
    for r in rows:
        clips.setdefault(r["clip"], []).append((r["bpp"], r["psnr_rgb"]))
    return clips

print("RDOQ against nearest rounding (κ 0), livc's default models (images; clips: theirs), effort 1; BD-rate at equal RGB PSNR "
      "(linear in log bpp over the shared PSNR range; negative = fewer bits). `evaluation/rdoq_eval.sh`\n")
print("| κ | Kodak 1–8 (κ chosen here) | bpp at q0 / q100 |")
print("|---|---|---|")
ref = image_curve("tuned-0.0")
for k in kappas:
    c = image_curve(f"tuned-{k}")
    mark = " (HEAD)" if k == head else ""
    print(f"| {k}{mark} | {'—' if k == '0.0' else f'{bd(ref, c):+.2f} %'} | {min(c)[0]:.4f} / {max(c)[0]:.4f} |")
print(f"\nκ {head} on Kodak 9–24 (held out): {bd(image_curve('held-out-0.0'), image_curve(f'held-out-{head}')):+.2f} %")
rv, tv = clip_curves("video-0.0"), clip_curves(f"video-{head}")
for clip in rv:
    print(f"κ {head} on {clip}, first {frames} frames, P-frames (-q 0, 30, 60, 90): {bd(rv[clip], tv[clip]):+.2f} %")
EOF
