#!/usr/bin/env bash
# The one device run a session makes when a GPU is lent to it (the device
# tool's `run`): the backend benchmark on the real GPU when its binary is
# carried (examples/device_bench: per-image encode/decode time on the CPU and
# wgpu backends, the WGSL rANS coder's throughput against the CPU's), then
# the training campaign's GPU slice (batch 16: training/campaign.sh gpu) for
# whatever of BUDGET seconds is left (the device tool's timeout_s less a
# margin), results to $OUT.
#
# The device cannot read ../shared and has no cargo and no FFmpeg libraries
# (hence the benchmark is an example binary, not `livc`), and what travels,
# the working tree with the carried files, must stay under 64 MiB. So, here:
#   training/gpu_slice.sh prepare [bench]   pack the data (training/pack.py, 47 MiB: every training photo
#                                           whole as JPEG 4:4:4, about quality 93, and the CPU's exact
#                                           validation crops; 24 MiB with `bench`, which also builds and
#                                           packs the benchmark binary, three Kodak images and the
#                                           Vulkan loader, and leaves room for fewer photos, a new
#                                           seeded choice each day), then delete from the working tree
#                                           the committed files the device does not need, and print
#                                           the size that will travel
#   device run: command "training/gpu_slice.sh run 530", carry ["runs/gpu", ".gl"], timeout_s 600
#   training/gpu_slice.sh restore           put the deleted files back (git checkout)
#   training/campaign.sh adopt FILES_AT     take the slice's state and log; the benchmark is in
#                                           FILES_AT/backend_bench.txt
#
# usage: training/gpu_slice.sh prepare [bench] | restore | run BUDGET_SECONDS (on the device, OUT set)
set -uo pipefail
cd "$(dirname "$0")/.."
# Committed files the device does not need: everything in weights/ but the
# default model and the campaign's state, and the evaluation results.
default=weights/$(sed -n 's/^pub const DEFAULT_MODEL: &str = "\(.*\)";/\1/p' src/model/embedded.rs).safetensors
stay_home() { git ls-files evaluation/results weights | grep -v -x -e "$default" -e weights/campaign/state.safetensors -e 'weights/training-logs/.*'; }

case ${1:-} in
prepare)
    set -e
    [ -z "$(git status --porcelain -- evaluation/results weights)" ] ||
        { echo "commit or stash the changes under evaluation/results and weights/ first (restore checks them out)" >&2; exit 1; }
    rm -rf runs/gpu
    budget=47
    if [ "${2:-}" = bench ]; then
        budget=24
        cargo build --quiet --example device_bench
        mkdir -p runs/gpu/kodak
        cp ../shared/datasets/kodak/kodim{01,15,23}.png runs/gpu/kodak/
        strip target/debug/examples/device_bench -o runs/gpu/device_bench
        xz -T2 runs/gpu/device_bench
        # The Vulkan loader and the GL dispatch libraries NVIDIA's Vulkan driver needs
        # (the device tool's README; with libvulkan1 alone wgpu found no adapter).
        if ! ls .gl/*.deb >/dev/null 2>&1; then
            o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
            mkdir -p .gl /tmp/amd64/partial
            apt-get $o update -qq
            (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
        fi
    fi
    python3 training/pack.py runs/gpu/pack --budget-mib "$budget" --seed "$(date +%j)"
    stay_home | tr '\n' '\0' | xargs -0 rm -f
    tree=$( { git ls-files -z | xargs -0 ls -d 2>/dev/null | tr '\n' '\0'; git ls-files -z --others --exclude-standard; } | du -cb --files0-from=- | tail -1 | cut -f1)
    carried=$(du -cb runs/gpu $(ls -d .gl 2>/dev/null) | tail -1 | cut -f1)
    echo "travels: $(( (tree + carried) / 1048576 )) MiB of 64 (working tree $(( tree / 1048576 )), carried $(( carried / 1048576 )))"
    echo "next: the device tool's run, command \"training/gpu_slice.sh run 530\", carry [\"runs/gpu\", \".gl\"], timeout_s 600; then training/gpu_slice.sh restore" ;;
restore)
    # Only what prepare deleted: the campaign's state and log, which adopt
    # and commit change, stay as they are.
    stay_home | tr '\n' '\0' | xargs -0 git checkout --
    git status --short -- evaluation/results weights ;;
run)
    budget=${2:?usage: OUT=DIR training/gpu_slice.sh run BUDGET_SECONDS}
    t0=$SECONDS
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    if [ -f runs/gpu/device_bench.xz ]; then
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
    TRAIN_DIR=runs/gpu/pack/train VAL_DIR=runs/gpu/pack/val training/campaign.sh gpu "$minutes" ;;
*)
    sed -n '/^# usage/p' "$0" >&2
    exit 2 ;;
esac
