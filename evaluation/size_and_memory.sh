#!/usr/bin/env bash
# Two checks on image size, with the default model:
#  1. padding cost: bpp of a 769×513 crop vs the 768×512 crop at the same origin
#     of a CLIC image (the extra row/column forces a whole extra latent row/column);
#  2. peak memory: maximum resident set size of encoding and decoding a
#     4096×4096 image (tiles of 1024), read by GNU time.
# usage: evaluation/size_and_memory.sh [CLIC_IMAGE]
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-$(ls ../shared/datasets/clic-valid/*.png | head -1)}
tmp=$(mktemp -d)
mkdir -p evaluation/results
exec > >(tee evaluation/results/size_and_memory.txt) 2>&1
command -v /usr/bin/time >/dev/null || apt-get install -y time >/dev/null
cargo build --quiet
livc=target/debug/livc
/usr/bin/python3 - "$src" "$tmp" <<'PY'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
im.crop((0, 0, 768, 512)).save(f"{sys.argv[2]}/a768x512.png")
im.crop((0, 0, 769, 513)).save(f"{sys.argv[2]}/a769x513.png")
im.resize((4096, 4096), Image.LANCZOS).save(f"{sys.argv[2]}/big4096.png")
PY
for s in 768x512 769x513; do
    $livc encode "$tmp/a$s.png" -o "$tmp/a$s.livc" --quiet
    $livc info "$tmp/a$s.livc" | grep bytes | sed "s/^/$s: /"
done
/usr/bin/time -f "encode 4096x4096: %e s, peak RSS %M KiB" $livc encode "$tmp/big4096.png" -o "$tmp/big.livc" --quiet
/usr/bin/time -f "decode 4096x4096: %e s, peak RSS %M KiB" $livc decode "$tmp/big.livc" -o "$tmp/big.png" --quiet
rm -rf "$tmp"
