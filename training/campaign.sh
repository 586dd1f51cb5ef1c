#!/usr/bin/env bash
# One GPU slice of the issue-5 training campaign, for the device machine
# (an H100: runs/gpu/{train,val} carried in; see weights/MODEL_CARD.md); every run
# but wide starts from the previous default's q2 (weights/previous/).
# Trains the candidate default model and its ablations (training/campaign_runs.sh)
# side by side on the one GPU (each is small: concurrent runs keep it busy), for
# MINUTES, then writes each run's log and a slim checkpoint (f16 weights, no Adam
# state: ≤ 16 MiB, what the device tool can bring back) to $OUT. A later slice
# resumes from checkpoints carried back in as runs/campaign/NAME/checkpoint.pt.
#
# usage: training/campaign.sh MINUTES STEPS [RUN ...]   (default: every run)
set -euo pipefail
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2  # 16 cores shared by the runs
minutes=$1 steps=$2
shift 2
source training/campaign_runs.sh
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=("${ablation_runs[@]}")
G=runs/gpu C=runs/campaign
common="--device ${DEVICE:-cuda} --train-dir $G/train --val-dir $G/val --batch 16 --crop 256 --lr 1e-4
        --steps $steps --minutes $minutes --log-every 200 --val-every 1000"
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
for r in ${runs[*]}; do
    mkdir -p /tmp/c/$r
    if [ -f $C/$r/checkpoint.pt ]; then  # a later slice: resume (fresh Adam, see slim below)
        cp $C/$r/checkpoint.pt /tmp/c/$r/
        python3 training/train.py /tmp/c/$r $common > /tmp/c/$r.log 2>&1 &
    else
        init="--init-from $start"
        [ $r = wide ] && init=""
        python3 training/train.py /tmp/c/$r $init $common $(run_args $r) > /tmp/c/$r.log 2>&1 &
    fi
done
wait
nvidia-smi --query-gpu=name,memory.used --format=csv,noheader || true
for r in ${runs[*]}; do
    echo "$r: $(tail -n 1 /tmp/c/$r.log | cut -c1-600)"
    mkdir -p $OUT/$r
    python3 - /tmp/c/$r/checkpoint.pt $OUT/$r/checkpoint.pt <<'EOF'
import sys, torch
s = torch.load(sys.argv[1], map_location="cpu")
s["net"] = {k: v.half() for k, v in s["net"].items()}
s.pop("opt"); s["gains"] = None  # resuming without Adam's moments starts a fresh Adam
torch.save(s, sys.argv[2])
EOF
done
# At most 8 files come back: the logs travel as one archive.
tar czf $OUT/logs.tar.gz -C /tmp/c $(cd /tmp/c && ls */log.jsonl *.log)
ls -la $OUT/*/ $OUT/logs.tar.gz
