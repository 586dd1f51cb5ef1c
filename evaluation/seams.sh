#!/usr/bin/env bash
# Seams and window cost on large images (issue 18): the default windowed
# transforms against whole-image processing and against independent tiles
# (windows without halo, livc's behaviour before), on four CLIC photos whose
# 2048-pixel side crosses a window border, at -q 0 (where seams show most).
# Writes evaluation/results/seams.md. Usage: evaluation/seams.sh [QUALITY]
set -euo pipefail
cd "$(dirname "$0")/.."
q=${1:-0}
clic=../shared/datasets/clic-valid
out=evaluation/results/seams.md
cargo build --quiet --example seams
{
  echo "# Window borders at -q $q (\`evaluation/seams.sh $q\`, $(date -u +%F))"
  echo
  target/debug/examples/seams -q "$q" "$clic"/c80999cd5533*.png "$clic"/b939ac34faa9*.png \
    "$clic"/4cd6910a0b7b*.png "$clic"/097cb426910b*.png
} > "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
