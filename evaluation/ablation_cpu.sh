#!/usr/bin/env bash
# Issue 5's ablations at a budget this 2-core machine has: the campaign's runs
# (training/campaign_runs.sh: full, conv, plain, fixed-q1..q3), each a
# fine-tune of the previous default weights/previous/livc-hp-q2.safetensors for STEPS steps of
# batch 4 × 256² (lr 1e-4, a tenth for the last 10 %), then
# evaluation/campaign_eval.sh: Kodak curves and the BD-rates
# of full against each ablation in RUNS/ablations.md, copied to
# evaluation/results/ablation_cpu.md.
#
# Equal steps per run: the three per-rate models together get three times
# the variable-rate model's training. A run folder that exists is resumed.
#
# usage: evaluation/ablation_cpu.sh RUNS [STEPS] [KODAK]   (1,000 steps: ~8 min per run on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=$1 steps=${2:-1000} kodak=${3:-../shared/datasets/kodak}
source training/campaign_runs.sh
export PYTHONUNBUFFERED=1
train() {
    local args="--batch 4 --crop 256 --lr 1e-4 --steps $steps --log-every 100 --val-every $steps"
    [ -f "$runs/$1/checkpoint.pt" ] || args="--init-from $start $(run_args "$1") $args"
    python3 training/train.py "$runs/$1" $args > "$runs/$1.log" 2>&1
}
mkdir -p "$runs"
for r in "${ablation_runs[@]}"; do
    grep -q "\"step\": $steps," "$runs/$r/log.jsonl" 2>/dev/null && continue
    train "$r"
done
evaluation/campaign_eval.sh "$runs" "$kodak"
{
    echo "# \`evaluation/ablation_cpu.sh $runs $steps\` ($(date -u +%F), $(nproc) cores)"
    echo
    echo "Each run: $steps steps from $start (batch 4 × 256², lr 1e-4); Kodak, RGB PSNR."
    echo
    cat "$runs/ablations.md"
} > evaluation/results/ablation_cpu.md
