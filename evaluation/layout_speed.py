"""The training step's speed in NCHW against channels-last (NHWC) memory
layout, on this machine's CPU, in one run: train.py's model (from a model
package) on one batch of 4 random 256² crops, eager and through
torch.compile, the layouts alternated so that a shared machine's drift hits
both alike. train.py trains in channels-last on the CPU because of this.
Prints a Markdown table of seconds per step and the ratios.

usage: python3 evaluation/layout_speed.py [--from PACKAGE] [--rounds 4] [--steps 3]
"""
import argparse, os, statistics, sys, time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "training"))
import train  # noqa: E402

LAYOUTS = {"NCHW": torch.contiguous_format, "channels-last": torch.channels_last}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--from", dest="start", default="weights/livc-vr4.safetensors")
    p.add_argument("--rounds", type=int, default=4, help="timed rounds of each layout and mode, alternated")
    p.add_argument("--steps", type=int, default=3, help="steps per timed round")
    a = p.parse_args()
    torch.manual_seed(0)
    x = torch.rand(4, 3, 256, 256)
    cases = {}
    for mode in ("eager", "compiled"):
        for name, layout in LAYOUTS.items():
            net = train.load_net(a.start).to(memory_format=layout)
            cases[(mode, name)] = (net, torch.compile(net) if mode == "compiled" else net, x.contiguous(memory_format=layout))
    t = torch.rand(4) * (len(cases[("eager", "NCHW")][0].lambdas) - 1)

    def step(net, model, xx):
        net.zero_grad(set_to_none=True)
        lmbda, bpp, mse = train.rate_distortion(net, xx, t, seeds=[1, 2, 3, 4], forward=model)
        train.rd_loss(lmbda, bpp, mse).mean().backward()

    for case in cases.values():  # compile, caches
        step(*case), step(*case)
    times = {k: [] for k in cases}
    for _ in range(a.rounds):
        for k, case in cases.items():
            t0 = time.time()
            for _ in range(a.steps):
                step(*case)
            times[k].append((time.time() - t0) / a.steps)
    print(f"train.py's step (batch 4 of 256², forward and backward) from {a.start}, "
          f"{torch.get_num_threads()} threads, {a.rounds} rounds of {a.steps} steps\n")
    print("| mode | layout | s per step, each round | median |\n|---|---|---|---|")
    for (mode, name), v in times.items():
        print(f"| {mode} | {name} | {', '.join(f'{s:.3f}' for s in v)} | {statistics.median(v):.3f} |")
    for mode in ("eager", "compiled"):
        r = statistics.median(times[(mode, "NCHW")]) / statistics.median(times[(mode, "channels-last")])
        print(f"\n{mode}: channels-last steps per second {r:.2f}× NCHW's")


if __name__ == "__main__":
    main()
