#!/usr/bin/env bash
# Wall time of livc from the command line (issue 17's "encode + decode of a
# Kodak image within 1 s", as a user meets it): one `livc encode` plus one
# `livc decode` of IMAGE at the default settings, with start-up, model
# loading and PNG I/O, RUNS times; and the same for its 64×64 corner, whose
# time is nearly all start-up (the fixed cost every command pays). `livc
# bench` gives the in-process times, model loaded and warm.
# Prints min / median / max seconds and writes evaluation/results/cli_time.txt.
# usage: evaluation/cli_time.sh [IMAGE] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:-../shared/datasets/kodak/kodim19.png} runs=${2:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p evaluation/results
exec > >(tee evaluation/results/cli_time.txt) 2>&1
cargo build --quiet
livc=target/debug/livc
python3 -c "from PIL import Image; import sys; Image.open(sys.argv[1]).convert('RGB').crop((0, 0, 64, 64)).save(sys.argv[2])" \
    "$image" "$tmp/corner.png"
now() { date +%s.%N; }
stats() { sort -n | awk '{v[NR] = $1} END {printf "min %.3f  median %.3f  max %.3f s\n", v[1], v[int((NR + 1) / 2)], v[NR]}'; }
echo "$(date -u +%FT%TZ), $(nproc) cores, $($livc --version), default settings (-q 30, effort 1, backend auto), $runs runs"
for input in "$image" "$tmp/corner.png"; do
    : >"$tmp/enc" && : >"$tmp/dec" && : >"$tmp/both"
    for _ in $(seq "$runs"); do
        t0=$(now); $livc encode "$input" -o "$tmp/a.livc" --force >/dev/null 2>&1
        t1=$(now); $livc decode "$tmp/a.livc" -o "$tmp/a.png" --force >/dev/null 2>&1
        t2=$(now)
        echo "$t1 - $t0" | bc >>"$tmp/enc"; echo "$t2 - $t1" | bc >>"$tmp/dec"; echo "$t2 - $t0" | bc >>"$tmp/both"
    done
    echo "$(basename "$input"):"
    echo "  encode           $(stats <"$tmp/enc")"
    echo "  decode           $(stats <"$tmp/dec")"
    echo "  encode + decode  $(stats <"$tmp/both")"
done
