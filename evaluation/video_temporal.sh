#!/usr/bin/env bash
# What the P-frame modules add on the evaluation clips (issue 19):
# examples/temporal.rs codes the first FRAMES frames of each clip with the
# embedded model and its temporal prior (GOP 32) and all-intra, and decodes
# the P-frame clip with and without the temporal latent refinement.
# usage: evaluation/video_temporal.sh [FRAMES] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${1:-12}
out=${2:-evaluation/results/video/temporal.md}
v=../shared/datasets/video
cargo build --quiet --example temporal
target/debug/examples/temporal --frames "$frames" -q 0,30,60,90 \
    $v/carphone_pristine.mp4 $v/bikes.mp4 $v/cup.mp4 | tee "$out"
