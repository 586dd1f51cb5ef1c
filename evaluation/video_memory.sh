#!/usr/bin/env bash
# Clips stream: peak memory of `livc encode` and `livc decode` on the first
# 16 and the first 128 frames of a clip (default bikes.mp4, 640×272), read by
# GNU time, with the ratio 128/16 (frames grow 8×; a streaming codec's memory
# stays flat), and encode/decode frames per second on the CPU backend.
# usage: evaluation/video_memory.sh [CLIP] [QUALITY]
set -euo pipefail
cd "$(dirname "$0")/.."
clip=${1:-../shared/datasets/video/bikes.mp4}
q=${2:-50}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p evaluation/results
exec > >(tee evaluation/results/video_memory.txt) 2>&1
command -v /usr/bin/time >/dev/null || apt-get install -y time >/dev/null
cargo build --quiet
livc=target/debug/livc
echo "clip $(basename "$clip"), -q $q, CPU backend ($(nproc) cores)"
peak() { /usr/bin/time -f "%M %e" "$@" 2>&1 >/dev/null | tail -1; }
declare -A enc dec
for n in 16 128; do
    read -r kb s < <(peak $livc encode "$clip" -o "$tmp/c$n.livc" --frames "$n" -q "$q" --backend cpu --quiet --force)
    enc[$n]=$kb
    echo "encode $n frames: peak $((kb / 1024)) MiB, $s s, $(python3 -c "print(f'{$n/$s:.2f}')") frames/s, $(stat -c %s "$tmp/c$n.livc") bytes"
    read -r kb s < <(peak $livc decode "$tmp/c$n.livc" -o "$tmp/d$n.y4m" --backend cpu --quiet --force)
    dec[$n]=$kb
    echo "decode $n frames: peak $((kb / 1024)) MiB, $s s, $(python3 -c "print(f'{$n/$s:.2f}')") frames/s"
    rm -f "$tmp/d$n.y4m"
done
python3 -c "print(f'peak memory ratio 128/16 frames: encode {${enc[128]}/${enc[16]}:.2f}, decode {${dec[128]}/${dec[16]}:.2f} (frames ×8)')"
