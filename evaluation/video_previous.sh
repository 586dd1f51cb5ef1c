#!/usr/bin/env bash
# The P-frames of this build against the previous design's (the image
# hyperprior on yₜ − ŷₜ₋₁, no learned module), as the committed evaluation
# measured it before the temporal prior (commit 4f8d0d4's
# evaluation/results/video/video.json, same clips, frames, qualities and
# metrics): per clip, the BD-rate of each codec now against itself then.
# livc-intra (the same image codec both times) is the control.
# Run after evaluation/video_rd.sh. usage: evaluation/video_previous.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-evaluation/results/video/previous.md}
before=$(mktemp)
trap 'rm -f "$before"' EXIT
git show 4f8d0d4:evaluation/results/video/video.json > "$before"
cargo build --quiet --example video_compare
{
    echo "livc now (evaluation/results/video/video.json) against livc before the learned temporal prior (4f8d0d4); negative = fewer bits now"
    echo
    target/debug/examples/video_compare "$before" evaluation/results/video/video.json
} | tee "$out"
