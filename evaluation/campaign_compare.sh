#!/usr/bin/env bash
# Issue 17's training campaign on Kodak, as committed: each run of
# training/campaign.sh (training/campaign_runs.sh: campaign_runs), as
# weights/campaign/state.safetensors holds it, becomes a model package and is measured with real files
# (`livc eval`, livc only: the AVIF, WebP and x265 rows come from the committed
# evaluation, evaluation/results/kodak), against the default model livc-vr
# (its committed curve) and those codecs. The runs train side by side, one
# thread each, so their training times are equal: this is the equal-time
# model-size comparison. Prints and writes OUT/summary.md (BD-rates, range,
# steps and training hours of each run).
#
# usage: evaluation/campaign_compare.sh [OUT] [KODAK]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-evaluation/results/campaign} kodak=${2:-../shared/datasets/kodak}
committed=evaluation/results/kodak
source training/campaign_runs.sh
[ -f weights/campaign/state.safetensors ] || { echo "no committed campaign state: run training/campaign.sh commit first" >&2; exit 1; }
cargo build -q
livc=target/debug/livc
mkdir -p "$out"
# The default's committed curve, alone (the measured codecs come from the cache).
python3 - "$committed/curves.json" "$out/livc-vr.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
json.dump({"_about": d["_about"] + " (the default model's curve only)",
           "curves": {k: v for k, v in d["curves"].items() if k.startswith("livc")}}, open(sys.argv[2], "w"))
EOF
refs=(--reference "$out/livc-vr.json") anchors=livc-vr,avif,webp,x265-444
for r in "${campaign_runs[@]}"; do
    # The committed state (what anyone can rerun this on), not the run folder.
    python3 training/campaign_state.py unpack weights/campaign/state.safetensors "$out/runs" "$r"
    python3 training/train.py "$out/runs/$r" --export "$out/$r/export" >/dev/null
    $livc export --run "$out/$r/export" --quality 30 --name "livc-campaign-$r" --force -o "$out/$r.safetensors"
    mkdir -p "$out/$r/eval"
    for c in avif webp x265-444; do cp -n "$committed/$c.json" "$out/$r/eval/"; done
    $livc eval --dataset "$kodak" --codecs livc,avif,webp,x265-444 --model "$out/$r.safetensors" --require-tools \
        "${refs[@]}" --anchors "$anchors" -o "$out/$r/eval" >/dev/null
    # Later runs are also measured against this one, directly.
    refs+=(--reference "$out/$r/eval/curves.json") anchors=$anchors,livc-campaign-$r
done
python3 - "$out" "${campaign_runs[@]}" <<'EOF'
import json, sys
out, runs = sys.argv[1], sys.argv[2:]
fmt = lambda v, f: "n/a" if v is None else f.format(v)
lines = ["| run | steps | training h (1 thread) | bpp range | PSNR range (dB) | vs livc-vr | vs AVIF | vs WebP | vs x265 4:4:4 |",
         "|---|---|---|---|---|---|---|---|---|"]
for r in runs:
    state = json.load(open(f"{out}/{r}/export/state.json"))
    livc = json.load(open(f"{out}/{r}/eval/livc.json"))
    pts = livc["averages"]
    bd = {b["anchor"]: b for b in json.load(open(f"{out}/{r}/eval/bd.json")) if b["codec"] == "livc"}
    cell = lambda a: fmt(bd.get(a, {}).get("bd_rate"), "{:+.1f} %") + fmt(bd.get(a, {}).get("overlap"), " ({:.0%} overlap)")
    lines.append(f"| {r} | {state['step']} | {state['wall_seconds'] / 3600:.2f} | "
                 f"{min(p['bpp'] for p in pts):.3f}–{max(p['bpp'] for p in pts):.3f} | "
                 f"{min(p['psnr'] for p in pts):.2f}–{max(p['psnr'] for p in pts):.2f} | "
                 f"{cell('livc-vr')} | {cell('avif')} | {cell('webp')} | {cell('x265-444')} |")
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
