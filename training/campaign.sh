#!/usr/bin/env bash
# The image model's training campaign (issue 17): a background job that every
# session starts in its first minutes and commits in its last, so training
# never stops for long. Its runs (training/campaign_runs.sh: campaign_runs,
# run_args) train side by side at nice 19, the cores shared out among them
# (one run since 2026-12-03: both cores); each resumes
# from whichever is further along, its run folder here (runs/campaign/RUN,
# ignored: checkpoint with Adam's moments, local log) or the committed state
# (weights/campaign/state.safetensors: f16 weights, steps and settings of every run,
# one file replaced in place; training/campaign_state.py). One log across all
# slices and machines: weights/training-logs/campaign.jsonl.
#
# usage: training/campaign.sh start            resume every run in the background (nice 19)
#        training/campaign.sh status           steps (checkpointed, committed), speed, last validation
#        training/campaign.sh stop             SIGTERM: each run saves its checkpoint and exits
#        training/campaign.sh commit           stop, then write the committed state and log (then git commit)
#        training/campaign.sh gpu MINUTES      a GPU slice on the device machine: resume from the
#                                              committed state, train MINUTES on cuda, state + log to $OUT
#                                              (images carried in as runs/gpu/{train,val}, or TRAIN_DIR/VAL_DIR)
#        training/campaign.sh adopt DIR        take a GPU slice's results back (DIR: the device tool's
#                                              files_at): if its validation loss is below the committed
#                                              state's (or FORCE=1), its state replaces the committed one;
#                                              its log entries join the committed log either way (marked
#                                              discarded when not adopted); then git commit
set -euo pipefail
cd "$(dirname "$0")/.."
source training/campaign_runs.sh
R=${CAMPAIGN_DIR:-runs/campaign}
STATE=${CAMPAIGN_STATE:-weights/campaign/state.safetensors}
LOG=${CAMPAIGN_LOG:-weights/training-logs/campaign.jsonl}
PY=${PYTHON:-python3}
# Validation (the moving average's, about 17 s on 2 cores) every 1,000 steps,
# 4 % of the CPU's time; it was every 500 until step 111,000.
common="--batch 4 --crop 256 --lr 5e-5 --steps 1000000000 --log-every 50 --val-every 1000 --save-every 50"

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

# Whether RUN's trainer is alive: its pid file names a live train.py (not a
# process that reused the pid of one that died).
running() { [ -f "$R/$1.pid" ] && grep -qs training/train.py "/proc/$(cat "$R/$1.pid")/cmdline"; }

# SIGTERM: each trainer finishes its step (and a validation under way), saves
# its checkpoint and exits. One that has not exited after 10 minutes is
# killed: checkpoints are replaced atomically, so it loses its last <50 steps.
stop() {
    for r in "${campaign_runs[@]}"; do
        if running "$r"; then kill -TERM "$(cat "$R/$r.pid")" || true; fi
    done
    for r in "${campaign_runs[@]}"; do
        local waited=0
        while running "$r"; do
            if [ $waited -ge 600 ]; then
                echo "$r: no exit 10 minutes after SIGTERM: killed" >&2
                kill -KILL "$(cat "$R/$r.pid")" 2>/dev/null || true
                sleep 1
            fi
            sleep 1
            waited=$((waited + 1))
        done
        rm -f "$R/$r.pid"
    done
}

status() {
    at() { [ "$1" -ge 0 ] && echo "at step $1" || echo "none"; }  # a step, or -1: none
    for r in "${campaign_runs[@]}"; do
        local state="stopped" c l
        running "$r" && state="running (pid $(cat "$R/$r.pid"))"
        read -r c l < <($PY training/campaign_state.py step "$STATE" "$R" "$r")
        echo "$r: $state; checkpoint $(at "$l"), committed $(at "$c")"
        [ -f "$R/$r/log.jsonl" ] && $PY - "$R/$r/log.jsonl" <<'EOF'
import json, sys
log = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
steps = [e for e in log if "loss" in e]
if len(steps) >= 2:
    a, b = steps[-2], steps[-1]
    print("  step %d: loss %.4f, %.4f bpp, %.2f dB (training crops); %.1f s/step lately"
          % (b["step"], b["loss"], b["bpp"], b["psnr"], (b["wall_s"] - a["wall_s"]) / (b["step"] - a["step"])))
mean = lambda rows: sum(v["loss"] for v in rows) / len(rows)
for key, what in (("val", "weights"), ("val_average", "moving average")):  # the weights' every 2,000 steps
    vals = [e for e in log if key in e]
    if vals:
        rows = ", ".join("%.3f/%.2f" % (v["bpp"], v["psnr"]) for v in vals[-1][key])
        print("  validation at step %d, %s: loss %.4f; bpp/dB per λ row: %s" % (vals[-1]["step"], what, mean(vals[-1][key]), rows))
    else:
        print("  %s: no validation since this slice started" % what)
vals = [e for e in log if "ceiling_psnr" in e]
if vals:
    print("  transforms' ceiling at step %d (the weights, no quantisation, top row, train-val crops): %.2f dB" % (vals[-1]["step"], vals[-1]["ceiling_psnr"]))
EOF
    done
}

mkdir -p "$R" "$(dirname "$STATE")"
case ${1:-} in
    start)
        deps
        threads=$(( $(nproc) / ${#campaign_runs[@]} )); [ "$threads" -ge 1 ] || threads=1  # the cores, shared out
        for r in "${campaign_runs[@]}"; do
            if running "$r"; then echo "$r: already running"; continue; fi
            resume_point "$r"
            launch "$r" cpu "$threads" 1e9 --compile  # about 1.17× the steps on 2 cores (evaluation/train_speed.py)
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
        [ $# -eq 2 ] && [ -n "${OUT:-}" ] || { echo "usage: OUT=DIR training/campaign.sh gpu MINUTES" >&2; exit 2; }
        minutes=$2
        deps
        nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
        # Batch 16 at the campaign's learning rate: 3× the crops per second of
        # batch 4 on an H200 (evaluation/results/train_speed_h200.md), each
        # step a less noisy gradient of the same objective.
        data=(--train-dir "${TRAIN_DIR:-runs/gpu/train}" --val-dir "${VAL_DIR:-runs/gpu/val}" --save-every 500 --batch 16)
        for r in "${campaign_runs[@]}"; do resume_point "$r"; launch "$r" "${DEVICE:-cuda}" 4 "$minutes" "${data[@]}"; done
        wait
        for r in "${campaign_runs[@]}"; do $PY training/campaign_state.py mark "$R" "$r" stop; tail -n 2 "$R/$r.out"; done
        $PY training/campaign_state.py pack "$OUT/campaign.safetensors" "$R" "${campaign_runs[@]}"
        for r in "${campaign_runs[@]}"; do mkdir -p "$OUT/logs/$r"; cp "$R/$r/log.jsonl" "$OUT/logs/$r/"; done
        ls -lR "$OUT" ;;
    adopt)
        [ $# -eq 2 ] && [ -f "$2/campaign.safetensors" ] || { echo "usage: training/campaign.sh adopt DIR (DIR/campaign.safetensors from a gpu slice)" >&2; exit 2; }
        dir=$2
        # Only a slice that lowered the validation loss (below the committed
        # state's, or below a later one this machine has not committed yet) replaces the committed
        # state (the first, on a pack of 384² windows, raised it by 0.9 %:
        # training/pack.py). A worse one's log joins the committed log, marked
        # discarded, and the state stays; FORCE=1 adopts it anyway.
        worse=()
        for r in "${campaign_runs[@]}"; do
            $PY training/campaign_state.py compare "$LOG" "$dir/logs" "$r" "$R" || worse+=("$r")
        done
        if [ ${#worse[@]} -gt 0 ] && [ -z "${FORCE:-}" ]; then
            tmp=$(mktemp -d)
            cp -r "$dir/logs/." "$tmp/"
            for r in "${campaign_runs[@]}"; do
                $PY training/campaign_state.py mark "$tmp" "$r" discarded "why=the GPU slice $dir did not lower the validation loss"
            done
            $PY training/campaign_state.py log "$LOG" "$tmp" "${campaign_runs[@]}"
            rm -rf "$tmp"
            echo "campaign: not adopted (worse: ${worse[*]}); its log joined $LOG, marked discarded; FORCE=1 adopts it anyway; git add $LOG && git commit"
            exit 1
        fi
        # The GPU slice continued the committed state; steps trained here since
        # that commit are a branch it supersedes: their log stays, marked, and
        # their checkpoints go, so that 'start' resumes from the GPU's state.
        stop
        for r in "${campaign_runs[@]}"; do
            [ -f "$R/$r/checkpoint.pt" ] && $PY training/campaign_state.py mark "$R" "$r" discarded "why=superseded by the GPU slice $dir"
        done
        $PY training/campaign_state.py log "$LOG" "$R" "${campaign_runs[@]}"
        $PY training/campaign_state.py log "$LOG" "$dir/logs" "${campaign_runs[@]}"
        cp "$dir/campaign.safetensors" "$STATE"
        for r in "${campaign_runs[@]}"; do rm -f "$R/$r/checkpoint.pt" "$R/$r/log.jsonl"; done
        echo "campaign: adopted $dir; 'start' resumes from it; git add $STATE $LOG && git commit" ;;
    *) sed -n '/^# usage/,/^set /p' "$0" | sed '$d'; exit 2 ;;
esac
