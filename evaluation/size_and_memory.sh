#!/usr/bin/env bash
# Two checks on image size, with the default model:
#  1. padding cost: bpp of a 769×513 crop vs the 768×512 crop at the same origin
#     of a CLIC image (the extra row/column forces a whole extra latent row/column),
#     and the same one-pixel step (752×496 → 753×497) summed over eight Kodak images;
#  2. peak memory and time of encoding and decoding 2048², 4096² and 8192²
#     images (the CLIC image resized; tiles of 1024, windowed transforms),
#     read by GNU time, with each size's ratio to 2048² (pixels grow 16×):
#     memory must stay bounded, far below the pixel ratio.
# usage: evaluation/size_and_memory.sh [CLIC_IMAGE] [KODAK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-$(ls ../shared/datasets/clic-valid/*.png | head -1)}
kodak=${2:-../shared/datasets/kodak}
tmp=$(mktemp -d)
mkdir -p evaluation/results
exec > >(tee evaluation/results/size_and_memory.txt) 2>&1
command -v /usr/bin/time >/dev/null || apt-get install -y time >/dev/null
cargo build --quiet
livc=target/debug/livc
python3 - "$src" "$tmp" "$kodak" <<'PY'
import sys
from PIL import Image
for i in (1, 3, 5, 8, 13, 19, 21, 23):
    k = Image.open(f"{sys.argv[3]}/kodim{i:02d}.png").convert("RGB")
    k.crop((0, 0, 752, 496)).save(f"{sys.argv[2]}/k{i}_752x496.png")
    k.crop((0, 0, 753, 497)).save(f"{sys.argv[2]}/k{i}_753x497.png")
im = Image.open(sys.argv[1]).convert("RGB")
im.crop((0, 0, 768, 512)).save(f"{sys.argv[2]}/a768x512.png")
im.crop((0, 0, 769, 513)).save(f"{sys.argv[2]}/a769x513.png")
for side in (2048, 4096, 8192):
    im.resize((side, side), Image.LANCZOS).save(f"{sys.argv[2]}/big{side}.png", compress_level=1)
PY
for s in 768x512 769x513; do
    $livc encode "$tmp/a$s.png" -o "$tmp/a$s.livc" --quiet
    $livc info "$tmp/a$s.livc" | grep bytes | sed "s/^/$s: /"
done
for s in 752x496 753x497; do
    total=0
    for f in "$tmp"/k*_$s.png; do
        $livc encode "$f" -o "$tmp/k.livc" --quiet --force
        total=$((total + $(stat -c %s "$tmp/k.livc")))
    done
    echo "8 Kodak crops $s: bytes $total"
done
echo "| size | encode s | encode peak RSS MiB | decode s | decode peak RSS MiB | RSS vs 2048² (enc / dec) |"
echo "|---|---|---|---|---|---|"
for side in 2048 4096 8192; do
    /usr/bin/time -o "$tmp/enc.t" -f "%e %M" $livc encode "$tmp/big$side.png" -o "$tmp/big$side.livc" --quiet --backend cpu
    /usr/bin/time -o "$tmp/dec.t" -f "%e %M" $livc decode "$tmp/big$side.livc" -o "$tmp/out$side.png" --quiet --backend cpu
    read -r es ek < "$tmp/enc.t"
    read -r ds dk < "$tmp/dec.t"
    [ "$side" = 2048 ] && { ek0=$ek; dk0=$dk; }
    echo "| ${side}² | $es | $((ek / 1024)) | $ds | $((dk / 1024)) | $(python3 -c "print(f'{$ek/$ek0:.2f} / {$dk/$dk0:.2f}')") |"
    rm -f "$tmp/out$side.png"
done
rm -rf "$tmp"
