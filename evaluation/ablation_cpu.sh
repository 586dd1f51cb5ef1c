#!/usr/bin/env bash
# Short CPU ablations of issue 5's architecture, each a fine-tune of the same
# start (the shipped weights/livc-hp-q2.safetensors, λ 0.0035) on identical batches
# (batch 4 × 256², lr 1e-4, one thread each), then Kodak through `livc bench`:
#
#   plain  the hyperprior alone             ctx10  + context slices 8,8,16,24,40
#   ssm    + selective-scan blocks          conv   + the same blocks without the scan
#
# plain and ctx10 run a 2,000-step schedule and are compared at its step
# 1,000 checkpoint; ssm and conv run 1,000 steps (lr ÷10 for the last 100).
# A run folder that exists is resumed, not restarted. Prints one line per run:
# validation (train-val crops) and Kodak bpp / PSNR / RD loss, CPU times, MACs.
#
# usage: evaluation/ablation_cpu.sh RUNS [KODAK]     (about 1 hour per run on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=$1 kodak=${2:-../shared/datasets/kodak}
common="--init-from weights/livc-hp-q2.safetensors --lr 1e-4 --batch 4 --crop 256 --log-every 100 --val-every 500"
declare -A extra=([plain]="--steps 2000" [ctx10]="--steps 2000 --slices 8,8,16,24,40"
                  [ssm]="--steps 1000 --blocks ssm" [conv]="--steps 1000 --blocks conv")
cargo build -q
for r in plain ctx10 ssm conv; do
    # Stop at step 1,000 whatever the schedule: the checkpoint written there.
    if ! grep -q '"step": 1000,' $runs/$r/log.jsonl 2>/dev/null; then
        OMP_NUM_THREADS=1 python3 training/train.py $runs/$r $common ${extra[$r]} --minutes 1e9 &
        pid=$!
        until grep -q '"step": 1000,' $runs/$r/log.jsonl 2>/dev/null; do sleep 30; done
        kill $pid 2>/dev/null || true  # a 1,000-step schedule has ended by itself
        wait $pid 2>/dev/null || true
    fi
    python3 training/train.py $runs/$r --export $runs/$r-export >/dev/null
    target/debug/livc export --run $runs/$r-export --quality 2 --name abl-$r -o $runs/$r.safetensors --force 2>/dev/null
    target/debug/livc bench --model $runs/$r.safetensors --dataset "$kodak" --json $runs/$r.json >/dev/null
    python3 - $runs/$r <<'EOF'
import json, sys
run = sys.argv[1]
val = [json.loads(l) for l in open(run + "/log.jsonl") if '"step": 1000,' in l][0]["val"]
bench = json.load(open(run + ".json"))
b = bench["mean"]
# The training loss on Kodak: λ·255²·MSE + bpp, averaged over images.
loss = sum(0.0035 * 255 ** 2 * 10 ** (-i["psnr"] / 10) + i["bpp"] for i in bench["images"]) / len(bench["images"])
print(f"{run.split('/')[-1]:6} val {val['bpp']:.4f} bpp {val['psnr']:.2f} dB loss {val['loss']:.4f} | "
      f"Kodak {b['bpp']:.4f} bpp {b['psnr']:.2f} dB loss {loss:.4f} | encode {b['encode_s']:.3f} s decode {b['decode_s']:.3f} s | "
      f"{b['encode_macs_per_pixel'] / 1e3:.1f}/{b['decode_macs_per_pixel'] / 1e3:.1f} kMAC/px")
EOF
done
