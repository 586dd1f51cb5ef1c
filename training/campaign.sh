#!/usr/bin/env bash
# The image model's training campaign (issue 17): a background job that every
# session starts in its first minutes and commits in its last, so training
# never stops for long. Its runs (training/campaign_runs.sh: campaign_runs,
# run_args) train side by side, one thread each, at nice 19; each resumes
# from whichever is further along, its run folder here (runs/campaign/RUN,
# ignored: checkpoint with Adam's moments, local log) or the committed state
# (weights/campaign.safetensors: f16 weights, steps and settings of every run,
# one file replaced in place; training/campaign_state.py). One log across all
# slices and machines: weights/training-logs/campaign.jsonl.
#
# usage: training/campaign.sh start            resume every run in the background (nice 19)
#        training/campaign.sh status           steps, speed, last validation
#        training/campaign.sh stop             SIGTERM: each run saves its checkpoint and exits
#        training/campaign.sh commit           stop, then write the committed state and log (then git commit)
#        training/campaign.sh gpu MINUTES      a GPU slice on the device machine: resume from the
#                                              committed state, train MINUTES on cuda, state + log to $OUT
#                                              (images carried in as runs/gpu/{train,val}, or TRAIN_DIR/VAL_DIR)
#                                              (bring back: cp $OUT/campaign.safetensors weights/ and
#                                              append $OUT/campaign.jsonl with `campaign_state.py log`)
set -euo pipefail
cd "$(dirname "$0")/.."
source training/campaign_runs.sh
R=${CAMPAIGN_DIR:-runs/campaign}
STATE=${CAMPAIGN_STATE:-weights/campaign.safetensors}
LOG=${CAMPAIGN_LOG:-weights/training-logs/campaign.jsonl}
PY=${PYTHON:-python3}
common="--batch 4 --crop 256 --lr 1e-4 --steps 1000000000 --log-every 50 --val-every 500"

deps() {  # PyTorch, safetensors, Pillow, NumPy (pip: the wheels of PyPI, CPU or CUDA alike)
    $PY -c "import torch, safetensors, PIL, numpy" 2>/dev/null && return
    echo "campaign: installing torch safetensors pillow numpy with pip" >&2
    $PY -m pip install -q torch safetensors pillow numpy
}

resume_point() {  # RUN folder holds the newest state of the run (from here or from the committed file)
    local r=$1 c l
    read -r c l < <($PY training/campaign_state.py step "$STATE" "$R" "$r")
    if [ "$c" -gt "$l" ]; then
        $PY training/campaign_state.py unpack "$STATE" "$R" "$r"
        echo "$r: from the committed state, step $c (fresh Adam)"
    elif [ "$l" -ge 0 ]; then
        echo "$r: from its run folder, step $l"
    else
        echo "$r: new, $(run_start "$r")"
    fi
}

launch() {  # r device threads minutes [train.py arguments]
    local r=$1 dev=$2 threads=$3 minutes=$4 init=()
    shift 4
    [ -f "$R/$r/checkpoint.pt" ] || init=($(run_start "$r"))
    $PY training/campaign_state.py mark "$R" "$r" start "device=$dev" "threads=$threads" "host=$(hostname)" \
        "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    OMP_NUM_THREADS=$threads PYTHONUNBUFFERED=1 nice -n 19 $PY training/train.py "$R/$r" --device "$dev" \
        --minutes "$minutes" "${init[@]}" $common $(run_args "$r") "$@" >> "$R/$r.out" 2>&1 &
    echo $! > "$R/$r.pid"
}

running() { [ -f "$R/$1.pid" ] && kill -0 "$(cat "$R/$1.pid")" 2>/dev/null; }

stop() {
    for r in "${campaign_runs[@]}"; do
        if running "$r"; then kill -TERM "$(cat "$R/$r.pid")"; fi
    done
    for r in "${campaign_runs[@]}"; do
        while running "$r"; do sleep 1; done
        rm -f "$R/$r.pid"
    done
}

status() {
    for r in "${campaign_runs[@]}"; do
        local state="stopped"
        running "$r" && state="running (pid $(cat "$R/$r.pid"))"
        echo "$r: $state"
        [ -f "$R/$r/log.jsonl" ] && { grep '"loss"' "$R/$r/log.jsonl" | tail -n 1 | cut -c1-200 || true; }
        [ -f "$R/$r/log.jsonl" ] && grep '"val"' "$R/$r/log.jsonl" | tail -n 1 | $PY -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    rows = ", ".join("%.3f bpp/%.2f dB" % (v["bpp"], v["psnr"]) for v in e["val"])
    print("  validation at step %d: %s" % (e["step"], rows))' || true
    done
}

mkdir -p "$R"
case ${1:-} in
    start)
        deps
        for r in "${campaign_runs[@]}"; do
            if running "$r"; then echo "$r: already running"; continue; fi
            resume_point "$r"
            launch "$r" cpu 1 1e9
        done
        echo "campaign: running at nice 19; logs in $R/*.out; 'training/campaign.sh commit' before the session ends" ;;
    status) status ;;
    stop) stop ;;
    commit)
        stop
        for r in "${campaign_runs[@]}"; do $PY training/campaign_state.py mark "$R" "$r" stop; done
        $PY training/campaign_state.py pack "$STATE" "$R" "${campaign_runs[@]}"
        $PY training/campaign_state.py log "$LOG" "$R" "${campaign_runs[@]}"
        ls -l "$STATE"
        echo "campaign: committed state written; git add $STATE $LOG && git commit" ;;
    gpu)
        minutes=$2
        deps
        nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
        data=(--train-dir "${TRAIN_DIR:-runs/gpu/train}" --val-dir "${VAL_DIR:-runs/gpu/val}")
        for r in "${campaign_runs[@]}"; do resume_point "$r"; launch "$r" "${DEVICE:-cuda}" 4 "$minutes" "${data[@]}"; done
        wait
        for r in "${campaign_runs[@]}"; do $PY training/campaign_state.py mark "$R" "$r" stop; tail -n 2 "$R/$r.out"; done
        $PY training/campaign_state.py pack "$OUT/campaign.safetensors" "$R" "${campaign_runs[@]}"
        for r in "${campaign_runs[@]}"; do cp "$R/$r/log.jsonl" "$OUT/$r.log.jsonl"; done
        ls -l "$OUT" ;;
    *) sed -n '/^# usage/,/^set /p' "$0" | sed '$d'; exit 2 ;;
esac
