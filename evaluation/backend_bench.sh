#!/usr/bin/env bash
# Per-image encode/decode time on each backend and the rANS coder's
# throughput (CPU vs WGSL), in one run. Without a GPU, wgpu runs on lavapipe
# (a software Vulkan driver), so the image is a 128×96 crop of the sample.
# With `full` (on a real GPU) the whole 384×256 sample instead. LIVC=path
# uses that binary (the device machine has no cargo).
# usage: evaluation/backend_bench.sh [OUT_FILE] [crop|full]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-evaluation/results/backend_bench.txt} size=${2:-crop}
livc=${LIVC:-target/debug/livc}
[ -n "${LIVC:-}" ] || cargo build --quiet
set_dir=$(mktemp -d)
trap 'rm -rf "$set_dir"' EXIT
if [ "$size" = full ]; then
    cp datasets/sample/kodim23-crop.png "$set_dir/"
else
    python3 - "$set_dir" <<'PY'
import sys
from PIL import Image
Image.open("datasets/sample/kodim23-crop.png").crop((0, 0, 128, 96)).save(sys.argv[1] + "/crop128x96.png")
PY
fi
{
    echo "# $(date -u +%F) on $(nproc) cores; wgpu adapter: $($livc bench --backend wgpu --limit 0 2>/dev/null | sed -n 's/.*coder on \(.*\), 64 lanes.*/\1/p')"
    for backend in cpu wgpu; do
        echo "## --backend $backend"
        $livc bench --backend "$backend" --dataset "$set_dir" 2>/dev/null
    done
} | tee "$out"
