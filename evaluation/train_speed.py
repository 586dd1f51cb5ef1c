"""Training speed with and without `train.py --compile` (torch.compile), on
this machine, in one run: short runs of train.py from the same start,
alternated (eager, compiled, eager, compiled, ...) so that a shared machine's
drift hits both alike; each run's seconds per step are timed from its log
after its first `--skip` steps (the compile, the caches). Prints a Markdown
table and the ratio of the medians.

usage: python3 evaluation/train_speed.py [--from RUN_OR_PACKAGE] [--steps 60] [--skip 20] [--pairs 2] [--threads N]
"""
import argparse, json, os, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.join(HERE, "..", "training", "train.py")


def seconds_per_step(start, steps, skip, threads, compile_):
    with tempfile.TemporaryDirectory() as run:
        cmd = [sys.executable, TRAIN, run, "--init-from", start, "--steps", str(steps), "--batch", "4",
               "--crop", "256", "--log-every", "10", "--val-every", str(10 * steps)]
        subprocess.run(cmd + (["--compile"] if compile_ else []), check=True, capture_output=True,
                       env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
        log = [json.loads(line) for line in open(os.path.join(run, "log.jsonl"))]
    wall = {e["step"]: e["wall_s"] for e in log if "wall_s" in e}
    return (wall[steps] - wall[skip]) / (steps - skip)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--from", dest="start", default="weights/livc-vr2.safetensors",
                   help="what each run starts from (train.py --init-from): a model package or a run folder")
    p.add_argument("--steps", type=int, default=60, help="steps of each run")
    p.add_argument("--skip", type=int, default=20, help="first steps left out of the timing (compiling, caches)")
    p.add_argument("--pairs", type=int, default=2, help="eager + compiled runs, alternated")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="OMP_NUM_THREADS of each run")
    a = p.parse_args()
    times = {False: [], True: []}
    for _ in range(a.pairs):
        for c in (False, True):
            times[c].append(seconds_per_step(a.start, a.steps, a.skip, a.threads, c))
    print(f"steps {a.skip}–{a.steps} of train.py (batch 4 of 256² crops) from {a.start}, {a.threads} threads\n")
    print("| mode | s per step, each run | median |\n|---|---|---|")
    for c, name in ((False, "eager"), (True, "--compile")):
        print(f"| {name} | {', '.join(f'{t:.3f}' for t in times[c])} | {statistics.median(times[c]):.3f} |")
    print(f"\ncompiled steps per second: {statistics.median(times[False]) / statistics.median(times[True]):.2f}× eager's")


if __name__ == "__main__":
    main()
