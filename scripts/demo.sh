#!/usr/bin/env bash
# Encodes and decodes the bundled sample with the default embedded model and
# prints rate and quality. Builds livc first (one cargo profile for everything).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh   # the FFmpeg libraries and clang the build needs
cargo build --quiet
out=target/demo
mkdir -p "$out"
livc=target/debug/livc
$livc encode datasets/sample/kodim23-crop.png -o "$out/sample.livc" --force
$livc info "$out/sample.livc"
$livc decode "$out/sample.livc" -o "$out/sample.png" --force
$livc compare datasets/sample/kodim23-crop.png "$out/sample.png" --livc "$out/sample.livc"
