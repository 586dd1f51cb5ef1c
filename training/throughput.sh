#!/usr/bin/env bash
# Training throughput on the device machine: `livc train` (burn, wgpu backend)
# against training/train.py (PyTorch, CUDA) on the same network, batch, crop
# size and images. Each trains STEPS steps; the rate is taken between the
# first log line and the last, so start-up (shader compilation, cuDNN's
# autotuning) stays out. Prints steps/s and images/s for both, and the ratio.
#
# Carry (the binary does not fit beside a full pack): a small pack made here
# with `python3 training/pack.py runs/tp-pack --budget-mib 8`, the livc binary as
# `strip target/debug/livc -o runs/tp/livc && xz -T2 runs/tp/livc`, and, when
# the machine has no Vulkan loader, Debian's libvulkan1 as .gl/*.deb (see the
# device tool's README).
#
# usage: training/throughput.sh runs/tp/livc.xz runs/tp-pack [STEPS] [BATCH] [CROP]
set -euo pipefail
export PYTHONUNBUFFERED=1
binary=$1 pack=$2 steps=${3:-300} batch=${4:-16} crop=${5:-256}
if ! ldconfig -p | grep -q libvulkan && ls .gl/*.deb >/dev/null 2>&1; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
xz -dc "$binary" > /tmp/livc && chmod +x /tmp/livc
nvidia-smi --query-gpu=name --format=csv,noheader || true
every=$((steps / 6))
rm -rf /tmp/tp-burn /tmp/tp-torch
/tmp/livc train --run /tmp/tp-burn --backend wgpu --train-dir "$pack/train" --val-dir "$pack/val" --lambda 0.0035 \
    --batch "$batch" --crop "$crop" --steps "$steps" --log-every "$every" --checkpoint-every $((steps * 2)) 2>&1 | tail -3
python3 training/train.py /tmp/tp-torch --device ${DEVICE:-cuda} --train-dir "$pack/train" --val-dir "$pack/val" --lambda 0.0035 \
    --batch "$batch" --crop "$crop" --steps "$steps" --log-every "$every" --val-every $((steps * 2)) | tail -1
python3 - "$batch" <<'EOF'
import json, sys
batch = int(sys.argv[1])
def rate(log):
    lines = [json.loads(l) for l in open(log)]
    a, b = lines[0], lines[-1]
    return (b["step"] - a["step"]) / (b["wall_s"] - a["wall_s"])
burn, torch = rate("/tmp/tp-burn/log.jsonl"), rate("/tmp/tp-torch/log.jsonl")
print(f"burn wgpu: {burn:.2f} steps/s = {burn * batch:.1f} images/s")
print(f"PyTorch CUDA: {torch:.2f} steps/s = {torch * batch:.1f} images/s")
print(f"PyTorch / burn: {torch / burn:.2f}×")
EOF
