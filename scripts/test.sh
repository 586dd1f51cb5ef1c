#!/usr/bin/env bash
# Builds livc and runs every test. Needs only a Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target
cargo test --no-fail-fast 2>&1 | tee target/test.log
# One summary over all test binaries.
awk '/^test result:/ { split($0, a, /[ ;.]+/); for (i in a) { if (a[i] == "passed") p += a[i-1]; if (a[i] == "failed") f += a[i-1]; if (a[i] == "ignored") g += a[i-1] } }
     END { printf "SUMMARY: %d passed, %d failed, %d ignored\n", p, f, g; exit (f > 0) }' target/test.log
