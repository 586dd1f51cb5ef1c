#!/usr/bin/env bash
# Encode and decode time of the working tree against an earlier commit, in one
# run on one machine: builds BASE in a temporary git worktree (sharing
# target/, so only livc itself recompiles), then alternates `livc bench`
# (CPU backend, default model and quality) between the two binaries ROUNDS
# times on the Kodak images. Prints each round and the ratio BASE / HEAD of
# the summed times (above 1: the working tree is faster), and the bpp and PSNR
# of both (the same, unless the change was meant to change the files).
# Writes evaluation/results/bench_commits.md, or OUT.
# usage: [OUT=FILE] evaluation/bench_commits.sh BASE [ROUNDS] [KODAK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: evaluation/bench_commits.sh BASE [ROUNDS] [KODAK_DIR]}
rounds=${2:-2}
kodak=${3:-../shared/datasets/kodak}
out=${OUT:-evaluation/results/bench_commits.md}
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/base" 2>/dev/null; rm -rf "$tmp"' EXIT
git worktree add -q --detach "$tmp/base" "$base"
(cd "$tmp/base" && CARGO_TARGET_DIR="$OLDPWD/target" cargo build --quiet --bin livc)
cp target/debug/livc "$tmp/livc-base"
cargo build --quiet --bin livc
cp target/debug/livc "$tmp/livc-head"
for i in $(seq "$rounds"); do
    for b in base head; do
        "$tmp/livc-$b" bench --dataset "$kodak" --json "$tmp/$b-$i.json" > /dev/null
    done
done
python3 - "$tmp" "$rounds" "$(git rev-parse --short "$base")" "$(git rev-parse --short HEAD)" <<'PY' | tee "$out"
import json, sys
tmp, rounds, base, head = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
load = lambda b, i: json.load(open(f"{tmp}/{b}-{i}.json"))["mean"]
print(f"Kodak, `livc bench` (CPU backend, default model and quality), mean s per image; base {base}, head {head} (+ working tree)\n")
print("| round | base encode | base decode | head encode | head decode |")
print("|---|---|---|---|---|")
tot = {k: 0.0 for k in ("be", "bd", "he", "hd")}
for i in range(1, rounds + 1):
    b, h = load("base", i), load("head", i)
    print(f"| {i} | {b['encode_s']:.3f} | {b['decode_s']:.3f} | {h['encode_s']:.3f} | {h['decode_s']:.3f} |")
    tot["be"] += b["encode_s"]; tot["bd"] += b["decode_s"]; tot["he"] += h["encode_s"]; tot["hd"] += h["decode_s"]
print(f"\nbase / head: encode {tot['be'] / tot['he']:.2f}×, decode {tot['bd'] / tot['hd']:.2f}×, "
      f"encode + decode {(tot['be'] + tot['bd']) / (tot['he'] + tot['hd']):.2f}×")
same = (round(b["bpp"], 6), round(b["psnr"], 4)) == (round(h["bpp"], 6), round(h["psnr"], 4))
print(f"bpp and PSNR: {'the same, ' if same else ''}base {b['bpp']:.4f} / {b['psnr']:.2f} dB, head {h['bpp']:.4f} / {h['psnr']:.2f} dB")
PY
