#!/usr/bin/env bash
# Coverage-guided fuzzing of livc with cargo-fuzz (libFuzzer), on the CPU path.
#   scripts/fuzz.sh TARGET [SECONDS]    TARGET: decode | read_image
# decode:     any bytes as a .livc file (as given, and with the CRC repaired)
# read_image: any bytes as an input image (PNG/JPEG/WebP/TIFF/BMP/PNM)
# The corpus starts from fuzz/seeds/TARGET (small real files of every mode:
# RGB, alpha, several tiles, efforts, format version 1, VQ files (version 3);
# every input format)
# and grows in fuzz/corpus/TARGET (ignored). Crashes land in fuzz/artifacts/.
# Limits: 2 GiB RSS and 2 GiB per allocation (livc's documented limits are
# far below that for the sizes the targets let through), 30 s per input.
# Works with the stable toolchain (RUSTC_BOOTSTRAP for cargo-fuzz's flags;
# no sanitizer, as ASan needs nightly: libFuzzer still catches panics,
# out-of-memory and timeouts). The last lines give executions and coverage.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh decode|read_image [SECONDS]}
seconds=${2:-600}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none "$target"
mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
cp -n "fuzz/seeds/$target"/* "fuzz/corpus/$target/"
log="fuzz/artifacts/$target/last-run.log"
set +e
cargo fuzz run -s none "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=30 \
    -max_len=65536 -print_final_stats=1 2>&1 | tee "$log" | grep -E "^#[0-9]+ +(pulse|DONE|NEW)|==|panicked|ERROR|SUMMARY" | tail -n 40
status=${PIPESTATUS[0]}
set -e
grep -E "^stat::|^#[0-9]+ +DONE" "$log" || true
exit "$status"
