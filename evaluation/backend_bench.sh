#!/usr/bin/env bash
# Per-image encode/decode time on each backend (cpu, wgpu) and the rANS
# coder's throughput (Rust vs WGSL), in one run of examples/device_bench with
# the default model at its default quality. Without a GPU, wgpu runs on
# lavapipe (a software Vulkan driver), so the default image set is a 128×96
# crop of the sample; on a real GPU (training/gpu_slice.sh) pass Kodak images.
# BENCH=path uses that device_bench binary (the device machine has no cargo).
# usage: evaluation/backend_bench.sh [OUT_FILE] [IMAGE_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-evaluation/results/backend_bench.txt} images=${2:-}
bench=${BENCH:-target/debug/examples/device_bench}
[ -n "${BENCH:-}" ] || cargo build --quiet --example device_bench
model=weights/$(sed -n 's/^pub const DEFAULT_MODEL: &str = "\(.*\)";/\1/p' src/model/embedded.rs).safetensors
if [ -z "$images" ]; then
    images=$(mktemp -d)
    trap 'rm -rf "$images"' EXIT
    python3 - "$images" <<'PY'
import sys
from PIL import Image
Image.open("datasets/sample/kodim23-crop.png").crop((0, 0, 128, 96)).save(sys.argv[1] + "/crop128x96.png")
PY
fi
{
    echo "# $(date -u +%F) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); $model"
    "$bench" "$model" "$images" 2>&1 | grep -v XDG_RUNTIME_DIR
} | tee "$out"
