#!/usr/bin/env bash
# The one device run a session makes when a GPU is lent to it (the device
# tool's `run`): the backend benchmark on the real GPU when its binary is
# carried (examples/device_bench: per-image encode/decode time on the CPU and
# wgpu backends, the WGSL rANS coder's throughput against the CPU's), then
# the training campaign's GPU slice (batch 16: training/campaign.sh gpu) for
# whatever of BUDGET seconds is left (the device tool's timeout_s less a
# margin), results to $OUT.
#
# Prepare here (the device cannot read ../shared, has no cargo and no FFmpeg
# libraries, which is why the benchmark is an example binary and not `livc`).
# The working tree travels too and all of it must stay under 64 MiB: move
# what the device does not need (evaluation/results, weights/previous,
# weights/temporal, weights/vq and the default's predecessors
# weights/livc-vr*.safetensors) out of the tree for the call and back; the
# rest is about 12 MiB. Then the crop pack takes what is left: a new --seed
# each slice (the day of the year will do), so that slices cover different
# photos of the set (113 MB, more than a run carries):
#   target/debug/livc crops -o runs/gpu/train --size 384 --seed $(date +%j) --budget-mib 44
#   target/debug/livc crops -o runs/gpu/val --train-dir ../shared/datasets/train-val --budget-mib 3
# and only when the benchmark is due (the GPU code changed; it costs the pack
# 20 MiB, so then --budget-mib 24):
#   mkdir runs/gpu/kodak && cp ../shared/datasets/kodak/kodim{01,15,23}.png runs/gpu/kodak/
#   cargo build --example device_bench
#   strip target/debug/examples/device_bench -o runs/gpu/device_bench && xz -T2 runs/gpu/device_bench
#   Debian's libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 as .gl/*.deb
#   (the device tool's README says how; with libvulkan1 alone wgpu found no adapter)
# Then run: command "training/gpu_slice.sh 530", carry ["runs/gpu", ".gl"], timeout_s 600.
# Back here: training/campaign.sh adopt FILES_AT; the benchmark is in
# FILES_AT/backend_bench.txt.
#
# usage: OUT=DIR training/gpu_slice.sh BUDGET_SECONDS
set -uo pipefail
cd "$(dirname "$0")/.."
budget=${1:?usage: OUT=DIR training/gpu_slice.sh BUDGET_SECONDS}
t0=$SECONDS
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
if [ -f runs/gpu/device_bench.xz ]; then
    # The Vulkan loader and GL dispatch libraries NVIDIA's Vulkan driver needs (the image lacks them).
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    xz -dc runs/gpu/device_bench.xz > /tmp/device_bench && chmod +x /tmp/device_bench
    BENCH=/tmp/device_bench timeout 150 evaluation/backend_bench.sh "$OUT/backend_bench.txt" runs/gpu/kodak
fi
# Training stops on its clock; start-up, the last validation and packing take about a minute more.
minutes=$(python3 -c "print(max(1.0, ($budget - ($SECONDS - $t0) - 75) / 60))")
echo "GPU slice: $minutes minutes of training"
TRAIN_DIR=runs/gpu/train VAL_DIR=runs/gpu/val training/campaign.sh gpu "$minutes"
