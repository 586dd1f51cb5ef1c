#!/usr/bin/env bash
# Video rate-distortion (issue 19): `livc eval-video` on the evaluation clips
# of ../shared/datasets/video: livc with P-frames, livc all-intra, x264
# (veryslow; medium + zerolatency) and x265 (veryslow), low-delay, one intra
# period, the first FRAMES frames of each clip (x264/x265 at CRF 12-37, where
# livc's rates are); BD-rates (YUV and RGB PSNR),
# fps, plots. Needs ffmpeg with libx264/libx265 (Debian's ffmpeg package).
# The clips run smallest first (an interrupted run keeps its finished clips).
# usage: evaluation/video_rd.sh [FRAMES] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${1:-24}
out=${2:-evaluation/results/video}
command -v ffmpeg >/dev/null || { apt-get update -qq && apt-get install -y -qq ffmpeg >/dev/null; }
cargo build --quiet
v=../shared/datasets/video
target/debug/livc eval-video $v/carphone_pristine.mp4 $v/bikes.mp4 $v/cup.mp4 $v/bigbuckbunny.mp4 \
    -o "$out" --frames "$frames" --qualities 0,30,60,90 --crfs 12,17,22,27,32,37
# livc's decode speed on the wgpu backend (lavapipe here, a CPU driver: not a GPU figure).
target/debug/livc eval-video $v/carphone_pristine.mp4 -o "$out/wgpu" --frames "$frames" --qualities 30 \
    --codecs livc --backend wgpu
# Cross-backend drift over a whole GOP: one clip (32 frames = one I-frame and
# 31 P-frames) encoded on the CPU, decoded on the CPU and on wgpu; the
# per-frame PSNR between the two decodes, first and last frame of the GOP.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
target/debug/livc encode $v/carphone_pristine.mp4 -o "$tmp/c.livc" --frames 32 -q 50 --backend cpu --quiet
target/debug/livc decode "$tmp/c.livc" -o "$tmp/cpu.y4m" --backend cpu --quiet
target/debug/livc decode "$tmp/c.livc" -o "$tmp/wgpu.y4m" --backend wgpu --quiet
ffmpeg -v error -i "$tmp/cpu.y4m" -i "$tmp/wgpu.y4m" -lavfi "psnr=stats_file=$tmp/psnr.log" -f null -
{
    echo "CPU vs wgpu decode of one clip (carphone, 32 frames, GOP 32, -q 50): per-frame PSNR between the two decodes"
    sed -n '1p;$p' "$tmp/psnr.log"
} | tee "$out/cross_backend.txt"
