#!/usr/bin/env bash
# Regenerates the rate-distortion evaluation: livc and every classical codec on
# Kodak and on CLIC validation, with BD-rates and plots (evaluation/results/<set>/).
# Per-image results are cached, so rerunning after an interruption resumes, and
# rerunning after new weights re-measures only livc.
# usage: evaluation/rd_eval.sh [DATASETS_DIR] [JOBS]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/datasets}
jobs=${2:-2}
cargo build --quiet
ref=../shared/reference/kodak_published_rd.json
kodak_ref=()
[ -f "$ref" ] && kodak_ref=(--reference "$ref")
target/debug/livc eval --dataset "$data/kodak" --codecs all --jobs "$jobs" --require-tools \
    "${kodak_ref[@]}" -o evaluation/results/kodak
target/debug/livc eval --dataset "$data/clic-valid" --codecs all --jobs "$jobs" --require-tools \
    --anchors x265-444,avif -o evaluation/results/clic-valid
