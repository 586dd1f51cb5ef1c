#!/usr/bin/env bash
# CPU benchmark, both sides in one run on the same machine: livc (burn flex,
# full encode/decode including entropy coding) and PyTorch running the same
# network (transforms only), per Kodak image. Prints the ratio. The network is
# the previous default's plain hyperprior (weights/previous/livc-hp-q2), which is
# what evaluation/torch_reference.py implements; evaluation/kodak_rd.sh times
# the default model against it.
# usage: evaluation/cpu_bench.sh [KODAK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
kodak=${1:-../shared/datasets/kodak}
out=evaluation/results
mkdir -p "$out"
exec > >(tee "$out/cpu_bench.txt")
if ! /usr/bin/python3 -c "import torch, PIL, numpy" 2>/dev/null; then
    apt-get install -y python3-torch python3-pil python3-numpy >/dev/null
fi
cargo build --quiet
target/debug/livc bench --dataset "$kodak" --model weights/previous/livc-hp-q2.safetensors --json "$out/cpu_bench_livc.json" --force
n=$(/usr/bin/python3 -c "import json;print(json.load(open('$out/cpu_bench_livc.json'))['n'])")
m=$(/usr/bin/python3 -c "import json;print(json.load(open('$out/cpu_bench_livc.json'))['m'])")
/usr/bin/python3 evaluation/torch_reference.py "$kodak" "$n" "$m" > "$out/cpu_bench_torch.json"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
l = json.load(open(f"{out}/cpu_bench_livc.json"))["mean"]
t = json.load(open(f"{out}/cpu_bench_torch.json"))
tm = t["mean"]
print(f"per Kodak image, mean of {len(t['images'])} (PyTorch {t['torch']}, {t['threads']} threads; PyTorch runs the transforms only):")
print(f"  encode: livc {l['encode_s']:.3f} s   PyTorch {tm['encode_s']:.3f} s   ratio livc/PyTorch {l['encode_s']/tm['encode_s']:.2f}")
print(f"  decode: livc {l['decode_s']:.3f} s   PyTorch {tm['decode_s']:.3f} s   ratio livc/PyTorch {l['decode_s']/tm['decode_s']:.2f}")
print(f"  encode+decode: livc {l['encode_s']+l['decode_s']:.3f} s")
PY
