#!/usr/bin/env bash
# The VQ codebook mode at extreme low bitrate (issue 20): `livc eval --codecs
# low-rate` on Kodak and CLIC validation — livc VQ at every codebook size,
# livc's scalar model (its lowest quality is the only one below 0.3 bpp),
# AVIF at its lowest qualities, AVIF and JPEG on the image downscaled 2× and
# 4× (Lanczos 3, upscaled back the same way after decoding) — with PSNR,
# MS-SSIM and SSIMULACRA 2; then evaluation/vq_report.py: every codec at
# equal bpp (0.01–0.05), BD-rates of livc VQ against each anchor over their
# overlapping range, the index prior's saving, and side-by-side crops.
# CLIC's photos are large (2K): the first CLIC_LIMIT (default 8) of them only,
# which keeps the run under an hour on 2 cores; CLIC_LIMIT=0 runs all.
# usage: evaluation/vq_rd.sh [DATASETS_DIR] [JOBS]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/datasets}
jobs=${2:-2}
cargo build --quiet --bins --examples
clic_limit=${CLIC_LIMIT:-8}
limit=()
[ "$clic_limit" != 0 ] && limit=(--limit "$clic_limit")
target/debug/livc eval --dataset "$data/kodak" --codecs low-rate --jobs "$jobs" --require-tools \
    -o evaluation/results/vq/kodak
target/debug/livc eval --dataset "$data/clic-valid" --codecs low-rate --jobs "$jobs" --require-tools \
    "${limit[@]}" -o evaluation/results/vq/clic-valid
# The plots again without livc's scalar model (up to 0.75 bpp), to show the
# low-rate range: the same cached measurements, another folder.
for set in kodak clic-valid; do
    mkdir -p "evaluation/results/vq/$set-zoom"
    cp -r "evaluation/results/vq/$set/cache" "evaluation/results/vq/$set-zoom/"
    lim=()
    [ "$set" = clic-valid ] && lim=("${limit[@]}")
    target/debug/livc eval --dataset "$data/$set" --codecs livc-vq,avif-low,avif-2x,avif-4x,jpeg-2x,jpeg-4x \
        --jobs "$jobs" --require-tools "${lim[@]}" -o "evaluation/results/vq/$set-zoom"
done
python3 -c "import scipy" 2>/dev/null || python3 -m pip install -q scipy
python3 evaluation/vq_report.py evaluation/results/vq/kodak evaluation/results/vq/clic-valid \
    > evaluation/results/vq/report.md
# The index prior against fixed-length indices, codebook usage, times (Kodak).
target/debug/examples/vq_prior "$data/kodak" | tee evaluation/results/vq/prior.md
# Side by side at about 0.03 bpp: two Kodak images, livc VQ and the anchors.
target/debug/examples/vq_crops "$data/kodak" evaluation/results/vq/crops 0.03 kodim04 kodim23
