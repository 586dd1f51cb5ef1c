#!/usr/bin/env bash
# Builds livc and runs every test. Needs a Rust toolchain. The evaluation's
# codec-driver tests also need the classical codecs' tools, and the GPU coder
# tests a Vulkan driver (lavapipe, a CPU one, will do); this script installs
# both when it runs as root on Debian/Ubuntu (CI does), and otherwise the
# tests that need them report SKIPPED.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target
./scripts/setup.sh   # the FFmpeg libraries and clang the build needs

tools="cjpeg djpeg cwebp dwebp avifenc avifdec cjxl djxl ffmpeg"
packages="libjpeg-turbo-progs webp libavif-bin libjxl-tools ffmpeg fonts-dejavu-core mesa-vulkan-drivers libvulkan1"
missing() { for t in $tools; do command -v "$t" >/dev/null || echo "$t"; done; }
vulkan() { ls /usr/share/vulkan/icd.d/*.json >/dev/null 2>&1; }
if { [ -n "$(missing)" ] || ! vulkan; } && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing the classical codecs and a Vulkan driver for the tests: $packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null
fi
if [ -z "$(missing)" ]; then
    export LIVC_REQUIRE_CODECS=1   # a driver test may not skip when its tool is here
else
    echo "NOTE: not installed: $(missing | tr '\n' ' ')— those codec tests will print SKIPPED" >&2
fi
if vulkan; then
    export LIVC_REQUIRE_WGPU=1     # the GPU coder tests may not skip when a driver is here
else
    echo "NOTE: no Vulkan driver — the GPU coder tests will print SKIPPED" >&2
fi

# Failing tests must not stop the script before the summary: keep cargo's status.
status=0
cargo test --no-fail-fast 2>&1 | tee target/test.log || status=$?
# The PyTorch trainer's tests (training/test_train.py): DistributedDataParallel
# against one process, the widening, the campaign's committed state.
if ! python3 -c "import torch, safetensors, PIL, numpy, pytest" 2>/dev/null; then
    echo "installing torch safetensors pillow numpy pytest (pip) for the trainer's tests"
    python3 -m pip install -q torch safetensors pillow numpy pytest >/dev/null 2>&1 || true
fi
if python3 -c "import torch, safetensors, PIL, numpy, pytest" 2>/dev/null; then
    OMP_NUM_THREADS=1 python3 -m pytest -q -p no:cacheprovider training/test_train.py 2>&1 | tee target/pytest.log || status=1
else
    echo "SKIPPED: the trainer's tests (torch, safetensors, Pillow, NumPy or pytest could not be installed)" | tee target/pytest.log
fi
# One summary over all test binaries and the trainer's tests.
awk '/^test result:/ { split($0, a, /[ ;.]+/); for (i in a) { if (a[i] == "passed") p += a[i-1]; if (a[i] == "failed") f += a[i-1]; if (a[i] == "ignored") g += a[i-1] } }
     /^[0-9]+ (passed|failed)/ && FILENAME ~ /pytest/ { n = split($0, a, /[ ,]+/); for (i = 2; i <= n; i++) { if (a[i] == "passed") p += a[i-1]; if (a[i] == "failed" || a[i] == "errors" || a[i] == "error") f += a[i-1] } }
     END { printf "SUMMARY: %d passed, %d failed, %d ignored\n", p, f, g }' target/test.log target/pytest.log
grep -h "^SKIPPED" target/test.log target/pytest.log | sort -u || true
exit "$status"
