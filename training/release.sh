#!/usr/bin/env bash
# Releases the training campaign's committed state as the default image model
# (README, "The training campaign"). Run `COOLDOWN=0
# evaluation/campaign_compare.sh` first: its export of the committed state
# (evaluation/results/campaign/RUN/export) is what becomes the release, and
# its summary.md is what says whether it is worth one. Then:
#  1. the outgoing default's measured curves (evaluation/results/<set>/curves.json)
#     are kept as evaluation/reference/OLD-<set>.json, and OLD heads
#     evaluation/reference/previous.txt, so every later evaluation measures
#     against it (its package stays in weights/, embedded, so its files
#     decode; the default before it moves to weights/previous/ unless clips
#     are made with it);
#  2. the export becomes weights/NAME.safetensors and src/model/embedded.rs's
#     DEFAULT_MODEL names it;
#  3. the default's evaluations are rerun with it: evaluation/rd_eval.sh
#     (Kodak and CLIC, every codec), evaluation/kodak_rd.sh,
#     evaluation/size_and_memory.sh and its transforms' ceiling
#     (training/ceiling.py, printed: ceiling.md is written by hand).
# The model card and the README's tables are then written from the results.
# Refuses if the export is not of the committed state, or NAME exists.
# usage: training/release.sh NAME [RUN]
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: training/release.sh NAME [RUN]} run=${2:-m96}
export_dir=evaluation/results/campaign/$run/export
[ -e "weights/$name.safetensors" ] && { echo "weights/$name.safetensors exists" >&2; exit 1; }
[ -f "$export_dir/state.json" ] || { echo "no $export_dir: run COOLDOWN=0 evaluation/campaign_compare.sh first" >&2; exit 1; }
committed=$(python3 training/campaign_state.py step weights/campaign/state.safetensors runs/campaign "$run" | cut -d' ' -f1)
exported=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["step"])' "$export_dir/state.json")
[ "$committed" = "$exported" ] || {
    echo "$export_dir is step $exported, the committed state step $committed: rerun COOLDOWN=0 evaluation/campaign_compare.sh" >&2
    exit 1
}
old=$(sed -n 's/^pub const DEFAULT_MODEL: &str = "\(.*\)";/\1/p' src/model/embedded.rs)
[ -n "$old" ] || { echo "no DEFAULT_MODEL in src/model/embedded.rs" >&2; exit 1; }
commit=$(git rev-parse --short HEAD)
for set in kodak clic-valid; do
    python3 - "evaluation/results/$set/curves.json" "evaluation/reference/$old-$set.json" "$old" "$set" "$commit" <<'EOF'
import json, sys
src, dst, old, dataset, commit = sys.argv[1:]
curve = json.load(open(src))["curves"][old]  # KeyError: the committed results are not of OLD
curve["name"] = f"{old} (previous default)"
about = (f"livc's previous default on {dataset}: the variable-rate model {old} (weights/{old}.safetensors, "
         f"still embedded so that its files decode; weights/MODEL_CARD.md), measured by livc eval "
         f"(evaluation/rd_eval.sh, results at commit {commit})")
json.dump({"_about": about, "curves": {old: curve}}, open(dst, "w"), indent=1)
EOF
done
sed -i "/^# training\/release.sh adds/a $old" evaluation/reference/previous.txt
# The binary embeds the default, the previous default and the models that
# clips are made with (weights/temporal/NAME); older defaults move to
# weights/previous/ (files made with them decode with --model).
for earlier in $(grep -v '^#' evaluation/reference/previous.txt | tail -n +2); do
    if [ -f "weights/$earlier.safetensors" ] && [ ! -f "weights/temporal/$earlier.safetensors" ]; then
        git mv "weights/$earlier.safetensors" weights/previous/
    fi
done
target=target/debug/livc
cargo build --quiet
$target export --run "$export_dir" --quality 30 --name "$name" -o "weights/$name.safetensors"
sed -i "s/^pub const DEFAULT_MODEL: &str = \"$old\";/pub const DEFAULT_MODEL: \&str = \"$name\";/" src/model/embedded.rs
cargo build --quiet  # build.rs embeds the new package
evaluation/rd_eval.sh
evaluation/kodak_rd.sh
evaluation/size_and_memory.sh
python3 training/ceiling.py "weights/$name.safetensors"
