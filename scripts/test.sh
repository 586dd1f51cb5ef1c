#!/usr/bin/env bash
# Builds livc and runs every test. Needs a Rust toolchain; the evaluation's
# codec-driver tests also need the classical codecs' tools, which this script
# installs when it runs as root on Debian/Ubuntu (CI does), and otherwise
# reports as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target

tools="cjpeg djpeg cwebp dwebp avifenc avifdec cjxl djxl ffmpeg"
packages="libjpeg-turbo-progs webp libavif-bin libjxl-tools ffmpeg fonts-dejavu-core"
missing() { for t in $tools; do command -v "$t" >/dev/null || echo "$t"; done; }
if [ -n "$(missing)" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing the classical codecs for the evaluation tests: $packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null
fi
if [ -z "$(missing)" ]; then
    export LIVC_REQUIRE_CODECS=1   # a driver test may not skip when its tool is here
else
    echo "NOTE: not installed: $(missing | tr '\n' ' ')— those codec tests will print SKIPPED" >&2
fi

cargo test --no-fail-fast 2>&1 | tee target/test.log
# One summary over all test binaries.
awk '/^test result:/ { split($0, a, /[ ;.]+/); for (i in a) { if (a[i] == "passed") p += a[i-1]; if (a[i] == "failed") f += a[i-1]; if (a[i] == "ignored") g += a[i-1] } }
     END { printf "SUMMARY: %d passed, %d failed, %d ignored\n", p, f, g; exit (f > 0) }' target/test.log
grep -h "^SKIPPED" target/test.log | sort -u || true
