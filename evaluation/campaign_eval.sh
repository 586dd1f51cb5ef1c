#!/usr/bin/env bash
# Turns a training campaign's runs (a folder of NAME/checkpoint.pt, as
# training/campaign.sh writes them) into model packages, measures each on
# Kodak, and prints issue 5's ablations as BD-rates of `full` against:
#
#   conv                       SSM blocks vs the same blocks without the scan
#   plain                      multi-reference context vs the hyperprior alone
#   fixed-q1+fixed-q2+fixed-q3 one variable-rate model vs one model per rate
#   the shipped models, AVIF and x265 (measured), VTM (published)
#
# Runs that are absent are left out. The classical codecs' rows come from the
# committed evaluation (evaluation/results/kodak/*.json), so only livc is
# measured: about 4 minutes per variable-rate model on 2 cores.
# Writes DIR/NAME.safetensors, DIR/eval/NAME/ and DIR/ablations.md.
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
mkdir -p "$dir/eval/shipped" && cp -n $committed/livc.json "$dir/eval/shipped/"
curve shipped weights/livc-hp-q1.safetensors weights/livc-hp-q2.safetensors weights/livc-hp-q3.safetensors
refs=(--reference "$dir/eval/shipped/curves.json") anchors=(avif x265-444 livc-hp-q1+livc-hp-q2+livc-hp-q3)
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
python3 - "$dir/eval/full/bd.json" "$dir/ablations.md" <<'EOF'
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if r["codec"] == "livc"]
lines = ["| livc-full vs | BD-rate (PSNR) | BD-PSNR | PSNR overlap |", "|---|---|---|---|"]
fmt = lambda v, f: "n/a" if v is None else f.format(v)
for r in rows:
    lines.append(f"| {r['anchor']} | {fmt(r['bd_rate'], '{:+.1f} %')} | {fmt(r['bd_psnr'], '{:+.2f} dB')} | {fmt(r['overlap'], '{:.0%}')} |")
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
