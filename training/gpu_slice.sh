#!/usr/bin/env bash
# The one device run a session makes when a GPU is lent to it (the device
# tool's `run`): the backend benchmark on the real GPU (examples/device_bench:
# per-image encode/decode time on the CPU and wgpu backends, the WGSL rANS
# coder's throughput against the CPU's), then the training campaign's GPU
# slice, results to $OUT. The benchmark goes first because it is short and
# there is no real-GPU figure yet; the slice takes whatever of BUDGET seconds
# is left (the device tool's timeout_s less a margin).
#
# Prepare here (the device cannot read ../shared, has no cargo and no FFmpeg
# libraries, which is why the benchmark is an example binary and not `livc`):
#   target/debug/livc crops -o runs/gpu/train --size 384 --budget-mib 27
#   target/debug/livc crops -o runs/gpu/val --train-dir ../shared/datasets/train-val --budget-mib 3
#   mkdir runs/gpu/kodak && cp ../shared/datasets/kodak/kodim{01,15,23}.png runs/gpu/kodak/
#   cargo build --example device_bench
#   strip target/debug/examples/device_bench -o runs/gpu/device_bench && xz -T2 runs/gpu/device_bench   # ≈ 18 MB
#   Debian's libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 as .gl/*.deb
#   (the device tool's README says how; with libvulkan1 alone wgpu found no adapter)
# The working tree travels too and all of it must stay under 64 MiB: move
# what the device does not need (evaluation/results, weights/previous, the
# older weights/livc-vr*.safetensors) out of the tree for the call and back.
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
# The Vulkan loader and GL dispatch libraries NVIDIA's Vulkan driver needs (the image lacks them).
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
xz -dc runs/gpu/device_bench.xz > /tmp/device_bench && chmod +x /tmp/device_bench
BENCH=/tmp/device_bench timeout 150 evaluation/backend_bench.sh "$OUT/backend_bench.txt" runs/gpu/kodak
# Training stops on its clock; start-up, the last validation and packing take about a minute more.
minutes=$(python3 -c "print(max(1.0, ($budget - ($SECONDS - $t0) - 75) / 60))")
echo "GPU slice: $minutes minutes of training"
TRAIN_DIR=runs/gpu/train VAL_DIR=runs/gpu/val training/campaign.sh gpu "$minutes"
