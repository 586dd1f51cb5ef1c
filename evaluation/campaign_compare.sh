#!/usr/bin/env bash
# Issue 17's training campaign on Kodak, as committed: each run of
# training/campaign.sh (training/campaign_runs.sh: campaign_runs), as
# weights/campaign/state.safetensors holds it (the run's moving average of
# its weights, train.py's AVERAGE_DECAY), becomes a model package and is measured with real files
# (`livc eval`, livc only: the AVIF, WebP and x265 rows come from the committed
# evaluation, evaluation/results/kodak), against the default model (its
# committed curve) and those codecs. The runs train side by side, one
# thread each, so their training times are equal: this is the equal-time
# model-size comparison. Prints and writes OUT/summary.md (BD-rates, range,
# steps and training hours of each run).
#
# COOLDOWN=N (default 0) also measures, for each run, a release candidate: N
# more steps from the committed state at a learning rate of 1e-5 (the last
# 10 % at 1e-6), on a branch (RUN-cooldown, measured by its own moving
# average; its log in OUT/RUN-cooldown/).
#
# usage: [COOLDOWN=N] evaluation/campaign_compare.sh [OUT] [KODAK]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-evaluation/results/campaign} kodak=${2:-../shared/datasets/kodak}
committed=evaluation/results/kodak cooldown=${COOLDOWN:-0}
source training/campaign_runs.sh
[ -f weights/campaign/state.safetensors ] || { echo "no committed campaign state: run training/campaign.sh commit first" >&2; exit 1; }
cargo build -q
livc=target/debug/livc
mkdir -p "$out"
# The default's committed curve, alone (the measured codecs come from the cache).
default=$(python3 - "$committed/curves.json" "$out/default.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
curves = {k: v for k, v in d["curves"].items() if k.startswith("livc")}
json.dump({"_about": d["_about"] + " (the default model's curve only)", "curves": curves}, open(sys.argv[2], "w"))
print(*curves)
EOF
)
refs=(--reference "$out/default.json") anchors=$default,avif,webp,x265-444
measure() {  # NAME: the run folder $out/runs/NAME as a package, measured on Kodak
    local r=$1
    python3 training/train.py "$out/runs/$r" --export "$out/$r/export" >/dev/null
    $livc export --run "$out/$r/export" --quality 30 --name "livc-campaign-$r" --force -o "$out/$r.safetensors"
    mkdir -p "$out/$r/eval"
    for c in avif webp x265-444; do cp -n "$committed/$c.json" "$out/$r/eval/"; done
    $livc eval --dataset "$kodak" --codecs livc,avif,webp,x265-444 --model "$out/$r.safetensors" --require-tools \
        "${refs[@]}" --anchors "$anchors" -o "$out/$r/eval" >/dev/null
    # Later runs are also measured against this one, directly.
    refs+=(--reference "$out/$r/eval/curves.json") anchors=$anchors,livc-campaign-$r
    measured+=("$r")
}
measured=()
for r in "${campaign_runs[@]}"; do
    # The committed state (what anyone can rerun this on), not the run folder.
    python3 training/campaign_state.py unpack weights/campaign/state.safetensors "$out/runs" "$r"
    measure "$r"
    if [ "$cooldown" -gt 0 ]; then
        # A release candidate: the run's constant learning rate decayed, as a
        # warmup-stable-decay schedule does (Hägele et al. 2024), on a branch;
        # the campaign itself goes on at its constant rate.
        rm -rf "$out/runs/$r-cooldown"
        OMP_NUM_THREADS=$(nproc) python3 training/train.py "$out/runs/$r-cooldown" --init-from "$out/runs/$r" --compile \
            --lr 1e-5 --steps "$cooldown" --batch 4 --crop 256 --log-every 50 --val-every "$cooldown" >/dev/null
        mkdir -p "$out/$r-cooldown"
        cp "$out/runs/$r-cooldown/log.jsonl" "$out/$r-cooldown/log.jsonl"
        measure "$r-cooldown"
    fi
done
python3 - "$out" "$default" "${measured[@]}" <<'EOF'
import json, sys
out, default, runs = sys.argv[1], sys.argv[2], sys.argv[3:]
fmt = lambda v, f: "n/a" if v is None else f.format(v)
lines = [f"| run | steps | training h (wall) | bpp range | PSNR range (dB) | vs {default} (default) | vs AVIF | vs WebP | vs x265 4:4:4 |",
         "|---|---|---|---|---|---|---|---|---|"]
for r in runs:
    state = json.load(open(f"{out}/{r}/export/state.json"))
    livc = json.load(open(f"{out}/{r}/eval/livc.json"))
    pts = livc["averages"]
    bd = {b["anchor"]: b for b in json.load(open(f"{out}/{r}/eval/bd.json")) if b["codec"] == "livc"}
    cell = lambda a: fmt(bd.get(a, {}).get("bd_rate"), "{:+.1f} %") + fmt(bd.get(a, {}).get("overlap"), " ({:.0%} overlap)")
    steps = f"+{state['step']} at 1e-5" if r.endswith("-cooldown") else state["step"]
    lines.append(f"| {r} | {steps} | {state['wall_seconds'] / 3600:.2f} | "
                 f"{min(p['bpp'] for p in pts):.3f}–{max(p['bpp'] for p in pts):.3f} | "
                 f"{min(p['psnr'] for p in pts):.2f}–{max(p['psnr'] for p in pts):.2f} | "
                 f"{cell(default)} | {cell('avif')} | {cell('webp')} | {cell('x265-444')} |")
lines += ["", "BD-rate at equal PSNR (pchip) on Kodak, real files; negative = the run needs fewer bits.", ""]
for i, r in enumerate(runs):
    for b in json.load(open(f"{out}/{r}/eval/bd.json")):
        for earlier in runs[:i]:
            if b["codec"] == "livc" and b["anchor"] == f"livc-campaign-{earlier}":
                lines.append(f"{r} against {earlier}, directly: {fmt(b['bd_rate'], '{:+.1f} %')} "
                             f"({fmt(b['bd_psnr'], '{:+.2f} dB')}, {fmt(b['overlap'], '{:.0%}')} PSNR overlap).")
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
