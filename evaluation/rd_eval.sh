#!/usr/bin/env bash
# Regenerates the rate-distortion evaluation: livc and every classical codec on
# Kodak and on CLIC validation, with BD-rates and plots (evaluation/results/<set>/),
# also against livc's previous defaults (evaluation/reference/livc-vr3-<set>.json,
# livc-vr2-<set>.json and livc-vr-<set>.json, the variable-rate livc-vr3, livc-vr2 and
# livc-vr, and livc-hp-<set>.json, the per-rate models before them).
# Per-image results are cached, and a fresh clone starts from the committed
# results, so rerunning after new weights re-measures only livc.
# usage: evaluation/rd_eval.sh [DATASETS_DIR] [JOBS]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/datasets}
jobs=${2:-2}
cargo build --quiet
previous=livc-vr3,livc-vr2,livc-vr,livc-hp-q1+livc-hp-q2+livc-hp-q3
published=../shared/reference/kodak_published_rd.json
kodak_refs=(--reference evaluation/reference/livc-vr3-kodak.json --reference evaluation/reference/livc-vr2-kodak.json --reference evaluation/reference/livc-vr-kodak.json --reference evaluation/reference/livc-hp-kodak.json)
kodak_anchors=x265-444,avif,webp,$previous
[ -f "$published" ] && kodak_refs+=(--reference "$published") kodak_anchors=vtm,$kodak_anchors
target/debug/livc eval --dataset "$data/kodak" --codecs all --jobs "$jobs" --require-tools \
    "${kodak_refs[@]}" --anchors "$kodak_anchors" -o evaluation/results/kodak
target/debug/livc eval --dataset "$data/clic-valid" --codecs all --jobs "$jobs" --require-tools \
    --reference evaluation/reference/livc-vr3-clic-valid.json --reference evaluation/reference/livc-vr2-clic-valid.json --reference evaluation/reference/livc-vr-clic-valid.json --reference evaluation/reference/livc-hp-clic-valid.json \
    --anchors x265-444,avif,webp,$previous \
    -o evaluation/results/clic-valid
