#!/usr/bin/env bash
# The one device run a session makes when a GPU is lent to it (the device
# tool's `run`): the training campaign's GPU slice, then the backend
# benchmark on the real GPU (wgpu encode/decode time and the WGSL coder's
# throughput against the CPU's), results to $OUT.
#
# Prepare here (the device cannot read ../shared and has no cargo):
#   target/debug/livc crops -o runs/gpu/train --budget-mib 32
#   target/debug/livc crops -o runs/gpu/val --train-dir ../shared/datasets/train-val --budget-mib 3
#   strip target/debug/livc -o runs/gpu/livc && xz -T2 -f runs/gpu/livc      # ≈ 20 MB
# then run: command "training/gpu_slice.sh 7", carry ["runs/gpu"], timeout_s 600
# (7 minutes of training leave time for start-up, the benchmark and packing).
# Back here: training/campaign.sh adopt FILES_AT; the benchmark is in
# FILES_AT/backend_bench.txt.
#
# usage: OUT=DIR training/gpu_slice.sh MINUTES
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:?usage: OUT=DIR training/gpu_slice.sh MINUTES}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
TRAIN_DIR=runs/gpu/train VAL_DIR=runs/gpu/val training/campaign.sh gpu "$minutes"
xz -dc runs/gpu/livc.xz > /tmp/livc && chmod +x /tmp/livc
LIVC=/tmp/livc evaluation/backend_bench.sh "$OUT/backend_bench.txt" full
