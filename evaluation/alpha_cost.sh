#!/usr/bin/env bash
# What the lossless alpha plane costs (issue 18): the bundled sample
# (384×256) with three alpha planes, each encoded at the default quality:
# a cut-out (an ellipse with a 6-pixel soft edge), a smooth vignette
# (alpha falling off radially), and a hard-edged text-like mask. Prints the
# file's bytes and the alpha plane's bytes and bpp (from livc's summary line),
# and checks that decoding restores the alpha exactly.
# usage: evaluation/alpha_cost.sh   (writes evaluation/results/alpha_cost.md)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
livc=target/debug/livc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp" <<'PY'
import sys
import numpy as np
from PIL import Image, ImageDraw, ImageFilter
d = sys.argv[1]
rgb = Image.open("datasets/sample/kodim23-crop.png").convert("RGB")
w, h = rgb.size
yy, xx = np.mgrid[0:h, 0:w]
r = np.sqrt(((xx - w / 2) / (w * 0.4)) ** 2 + ((yy - h / 2) / (h * 0.4)) ** 2)
masks = {
    "cut-out": np.clip((1.0 - r) * (min(w, h) * 0.4) / 6.0, 0, 1),
    "vignette": np.clip(1.3 - r, 0, 1),
}
text = Image.new("L", (w, h), 0)
draw = ImageDraw.Draw(text)
for i in range(8):
    draw.text((10 + 40 * (i % 4), 20 + 100 * (i // 4)), "livc alpha", fill=255)
masks["text"] = np.asarray(text, dtype=np.float64) / 255.0
for name, m in masks.items():
    a = Image.fromarray(np.round(m * 255).astype(np.uint8))
    rgba = rgb.copy()
    rgba.putalpha(a)
    rgba.save(f"{d}/{name}.png")
PY
{
    echo "# Alpha plane cost on the 384×256 sample, default quality (\`evaluation/alpha_cost.sh\`, $(date -u +%F))"
    echo
    echo "| alpha | file bytes | alpha bytes | alpha bpp | alpha exact after decode |"
    echo "|---|---|---|---|---|"
    for name in cut-out vignette text; do
        line=$($livc encode "$tmp/$name.png" -o "$tmp/$name.livc" --backend cpu 2>&1 | tail -1)
        $livc decode "$tmp/$name.livc" -o "$tmp/$name.out.png" --quiet --backend cpu
        exact=$(python3 -c "
import numpy as np; from PIL import Image
a = np.asarray(Image.open('$tmp/$name.png'))[..., 3]; b = np.asarray(Image.open('$tmp/$name.out.png'))[..., 3]
print('yes' if (a == b).all() else 'NO')")
        bytes=$(stat -c %s "$tmp/$name.livc")
        alpha=$(echo "$line" | sed -n 's/.*alpha plane \([0-9]*\) bytes, \([0-9.]*\) bpp.*/\1 | \2/p')
        echo "| $name | $bytes | $alpha | $exact |"
    done
} | tee evaluation/results/alpha_cost.md.tmp
mv evaluation/results/alpha_cost.md.tmp evaluation/results/alpha_cost.md
