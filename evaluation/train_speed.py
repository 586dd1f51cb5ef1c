"""Training speed of train.py on this machine, in one run: per batch size,
with and without `--compile` (torch.compile), short runs from the same start,
alternated (eager, compiled, eager, compiled, ...) so that a shared machine's
drift hits all alike; each run's seconds per step are timed from its log
after its first `--skip` steps (the compile, the caches). Prints a Markdown
table (seconds per step, crops per second) and, where both modes ran, the
ratio of the medians. `--device cuda --batches 4,16,64 --modes eager` sizes a
GPU slice's batch (training/gpu_slice.sh).

usage: python3 evaluation/train_speed.py [--from RUN_OR_PACKAGE] [--steps 60] [--skip 20] [--pairs 2] [--threads N]
           [--device cpu|cuda] [--batches 4,16] [--modes eager,compile] [--train-dir DIR] [--val-dir DIR]
"""
import argparse, json, os, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.join(HERE, "..", "training", "train.py")


def seconds_per_step(a, batch, compile_):
    with tempfile.TemporaryDirectory() as run:
        cmd = [sys.executable, TRAIN, run, "--init-from", a.start, "--steps", str(a.steps), "--batch", str(batch),
               "--crop", "256", "--log-every", "10", "--val-every", str(10 * a.steps), "--device", a.device]
        for flag, value in (("--train-dir", a.train_dir), ("--val-dir", a.val_dir)):
            if value:
                cmd += [flag, value]
        subprocess.run(cmd + (["--compile"] if compile_ else []), check=True, capture_output=True,
                       env=dict(os.environ, OMP_NUM_THREADS=str(a.threads)))
        log = [json.loads(line) for line in open(os.path.join(run, "log.jsonl"))]
    wall = {e["step"]: e["wall_s"] for e in log if "wall_s" in e}
    return (wall[a.steps] - wall[a.skip]) / (a.steps - a.skip)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--from", dest="start", default="weights/previous/livc-vr2.safetensors",
                   help="what each run starts from (train.py --init-from): a model package or a run folder")
    p.add_argument("--steps", type=int, default=60, help="steps of each run")
    p.add_argument("--skip", type=int, default=20, help="first steps left out of the timing (compiling, caches)")
    p.add_argument("--pairs", type=int, default=2, help="runs of each batch and mode, alternated")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="OMP_NUM_THREADS of each run")
    p.add_argument("--device", default="cpu", help="train.py --device")
    p.add_argument("--batches", default="4", help="batch sizes (crops of 256²), comma-separated")
    p.add_argument("--modes", default="eager,compile", help="eager and/or compile, comma-separated")
    p.add_argument("--train-dir", help="train.py --train-dir (default: train.py's)")
    p.add_argument("--val-dir", help="train.py --val-dir (default: train.py's)")
    a = p.parse_args()
    batches = [int(b) for b in a.batches.split(",")]
    modes = [m == "compile" for m in a.modes.split(",")]
    times = {(b, c): [] for b in batches for c in modes}
    for _ in range(a.pairs):
        for b in batches:
            for c in modes:
                times[(b, c)].append(seconds_per_step(a, b, c))
    print(f"steps {a.skip}–{a.steps} of train.py (256² crops) from {a.start} on {a.device}, {a.threads} threads\n")
    print("| batch | mode | s per step, each run | median | crops/s |\n|---|---|---|---|---|")
    for (b, c), t in times.items():
        m = statistics.median(t)
        print(f"| {b} | {'--compile' if c else 'eager'} | {', '.join(f'{x:.3f}' for x in t)} | {m:.3f} | {b / m:.1f} |")
    for b in batches:
        if (b, False) in times and (b, True) in times:
            ratio = statistics.median(times[(b, False)]) / statistics.median(times[(b, True)])
            print(f"\nbatch {b}: compiled steps per second {ratio:.2f}× eager's")


if __name__ == "__main__":
    main()
