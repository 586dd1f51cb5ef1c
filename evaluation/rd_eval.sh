#!/usr/bin/env bash
# Regenerates the rate-distortion evaluation: livc and every classical codec on
# Kodak and on CLIC validation, with BD-rates and plots (evaluation/results/<set>/),
# also against livc's previous defaults (evaluation/reference/previous.txt, newest
# first: their curves are evaluation/reference/<name>-<set>.json) and, on Kodak,
# the published curves (../shared/reference/kodak_published_rd.json, VTM among them).
# Per-image results are cached, and a fresh clone starts from the committed
# results, so rerunning after new weights re-measures only livc.
# usage: evaluation/rd_eval.sh [DATASETS_DIR] [JOBS]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/datasets}
jobs=${2:-2}
cargo build --quiet
published=../shared/reference/kodak_published_rd.json
for set in kodak clic-valid; do
    refs=() anchors=x265-444,avif,webp
    for name in $(grep -v '^#' evaluation/reference/previous.txt); do
        ref=evaluation/reference/$name-$set.json
        # The anchor is the reference's curve name (livc-hp's is three packages').
        refs+=(--reference "$ref") anchors=$anchors,$(python3 -c 'import json, sys; print(*json.load(open(sys.argv[1]))["curves"])' "$ref")
    done
    if [ "$set" = kodak ] && [ -f "$published" ]; then refs+=(--reference "$published") anchors=vtm,$anchors; fi
    target/debug/livc eval --dataset "$data/$set" --codecs all --jobs "$jobs" --require-tools \
        "${refs[@]}" --anchors "$anchors" -o "evaluation/results/$set"
done
