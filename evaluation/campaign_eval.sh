#!/usr/bin/env bash
# Turns a training campaign's runs (a folder of NAME/checkpoint.pt, as
# training/campaign.sh writes them) into model packages, measures each on
# Kodak, and prints issue 5's ablations as BD-rates of `full` against:
#
#   conv                       SSM blocks vs the same blocks without the scan
#   plain                      multi-reference context vs the hyperprior alone
#   fixed-q1+fixed-q2+fixed-q3 one variable-rate model vs one model per rate
#   the per-rate models they start from, AVIF and x265 (measured), VTM (published)
#
# Runs that are absent are left out. The classical codecs' rows come from the
# committed evaluation (evaluation/results/kodak/*.json), so only livc is
# measured: about 4 minutes per variable-rate model on 2 cores.
# Writes DIR/NAME.safetensors, DIR/eval/NAME/, DIR/eval/bench_NAME.json and DIR/ablations.md.
#
# usage: evaluation/campaign_eval.sh DIR [KODAK]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1 kodak=${2:-../shared/datasets/kodak}
committed=evaluation/results/kodak
published=../shared/reference/kodak_published_rd.json
cargo build -q
livc=target/debug/livc

# Packages: a variable-rate model at quality 50 (its header's quality is the
# one the encoder is given), fixed-qN at quality N so the three make one curve.
for ckpt in "$dir"/*/checkpoint.pt; do
    name=$(basename "$(dirname "$ckpt")")
    [ -f "$dir/$name.safetensors" ] && continue
    python3 training/train.py "$dir/$name" --export "$dir/$name/export" >/dev/null
    quality=50
    [[ $name == fixed-q* ]] && quality=${name#fixed-q}
    $livc export --run "$dir/$name/export" --quality "$quality" --name "livc-$name" -o "$dir/$name.safetensors"
done

# One curve per evaluation, seeded with the committed rows of what it shares;
# EXTRA (an array) adds eval arguments: the last, full's, takes the others as anchors.
extra=()
curve() {  # NAME MODEL...
    local out=$dir/eval/$1
    shift
    mkdir -p "$out"
    cp -n $committed/avif.json $committed/x265-444.json "$out/"
    local models=()
    for m in "$@"; do models+=(--model "$m"); done
    $livc eval --dataset "$kodak" --codecs livc,avif,x265-444 "${models[@]}" --require-tools "${extra[@]}" \
        -o "$out" >/dev/null
}
# The per-rate models every run starts from, as measured by the committed evaluation.
refs=(--reference evaluation/reference/livc-hp-kodak.json) anchors=(avif x265-444 livc-hp-q1+livc-hp-q2+livc-hp-q3)
[ -f "$published" ] && { refs+=(--reference "$published"); anchors+=(vtm); }
for name in conv plain; do
    [ -f "$dir/$name.safetensors" ] || continue
    curve "$name" "$dir/$name.safetensors"
    refs+=(--reference "$dir/eval/$name/curves.json") anchors+=("livc-$name")
done
if [ -f "$dir/fixed-q1.safetensors" ] && [ -f "$dir/fixed-q2.safetensors" ] && [ -f "$dir/fixed-q3.safetensors" ]; then
    curve fixed "$dir"/fixed-q{1,2,3}.safetensors
    refs+=(--reference "$dir/eval/fixed/curves.json") anchors+=(livc-fixed-q1+livc-fixed-q2+livc-fixed-q3)
fi
extra=("${refs[@]}" --anchors "$(IFS=,; echo "${anchors[*]}")")
curve full "$dir/full.safetensors"
for name in full conv plain fixed-q2; do
    [ -f "$dir/$name.safetensors" ] && $livc bench --dataset "$kodak" --limit 8 --model "$dir/$name.safetensors" \
        --json "$dir/eval/bench_$name.json" --force >/dev/null
done
python3 - "$dir/eval" "$dir/ablations.md" <<'EOF'
import json, os, sys
evals, out = sys.argv[1:]
rows = [r for r in json.load(open(f"{evals}/full/bd.json")) if r["codec"] == "livc"]
lines = ["| livc-full vs | BD-rate (PSNR) | BD-PSNR | PSNR overlap |", "|---|---|---|---|"]
fmt = lambda v, f: "n/a" if v is None else f.format(v)
for r in rows:
    lines.append(f"| {r['anchor']} | {fmt(r['bd_rate'], '{:+.1f} %')} | {fmt(r['bd_psnr'], '{:+.2f} dB')} | {fmt(r['overlap'], '{:.0%}')} |")
# Cost: MACs per pixel, and CPU time per image from the `livc bench` runs just
# above, one after another, so that the times compare like with like.
lines += ["", "| run | kMAC/px encode / decode | CPU s/image encode / decode |", "|---|---|---|"]
for name in ["full", "conv", "plain", "fixed-q2"]:
    path = f"{evals}/bench_{name}.json"
    if os.path.exists(path):
        m = json.load(open(path))["mean"]
        lines.append(f"| {name} | {m['encode_macs_per_pixel'] / 1e3:.1f} / {m['decode_macs_per_pixel'] / 1e3:.1f} | "
                     f"{m['encode_s']:.3f} / {m['decode_s']:.3f} |")
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
