#!/usr/bin/env python3
"""The committed state of the training campaign (training/campaign.sh): one
file, weights/campaign/state.safetensors, holding every run's weights as f16 (under
"RUN/…", train.py's plain parameter names) and, in its metadata, each run's
checkpoint fields (step, wall time, architecture, λ ladder, provenance); and
one log, weights/training-logs/campaign.jsonl, every run's entries tagged with
"run". (Not at the top of weights/: build.rs embeds every package there.) Adam's moments stay in the ignored run folder: a machine that starts
from the committed file starts a fresh Adam (and a fresh moving average) from
the committed weights, which are the run's moving average (train.py's
AVERAGE_DECAY).

usage: campaign_state.py pack STATE RUNS_DIR RUN...     run folders → STATE
       campaign_state.py unpack STATE RUNS_DIR RUN      STATE → RUNS_DIR/RUN/checkpoint.pt
       campaign_state.py step STATE RUNS_DIR RUN        prints "committed local" steps (-1: none)
       campaign_state.py log LOG RUNS_DIR RUN...        appends the runs' new log entries to LOG
       campaign_state.py mark RUNS_DIR RUN EVENT [k=v ...]  a line in RUN's local log (slice start/stop)
       campaign_state.py compare LOG SLICE_RUNS_DIR RUN [LOCAL_RUNS_DIR]  a GPU slice's last validation against
                                                    LOG's, or a later one of LOCAL_RUNS_DIR/RUN (exit 1: worse)
"""
import json, os, sys, time

import torch
from safetensors import safe_open
from safetensors.torch import save_file

FIELDS = ("step", "wall", "lambda", "batch", "crop", "n", "m", "slices", "context_hidden", "blocks", "lr",
          "fresh", "steps", "origin")


def read_meta(state):
    if not os.path.exists(state):
        return {}
    with safe_open(state, "pt") as f:
        return json.loads(f.metadata()["campaign"])


def pack(state, runs_dir, runs):
    """Every run's latest checkpoint, f16, into one file (replaced atomically):
    its moving average of the weights (train.py's AVERAGE_DECAY) where it has
    one, so a machine that resumes from the file starts from the average.
    It holds exactly `runs`: a run dropped from the campaign leaves the file
    (its last state stays in the file's git history), and a run given without a
    run folder here, or whose run folder is behind the file (a stale folder
    on a machine that did not start the campaign), keeps what the file holds."""
    committed = read_meta(state)
    local = {r: os.path.join(runs_dir, r, "checkpoint.pt") for r in runs}
    local = {r: torch.load(ck, map_location="cpu") for r, ck in local.items() if os.path.exists(ck)}
    for r, ck in list(local.items()):
        if ck["step"] < committed.get(r, {}).get("step", -1):
            print(f"{r}: the run folder is at step {ck['step']}, the committed state at "
                  f"{committed[r]['step']}: keeping the committed state", file=sys.stderr)
            del local[r]
    kept = set(runs) - set(local)  # given, but with no (current) run folder here
    tensors, meta = {}, {r: v for r, v in committed.items() if r in kept}
    if os.path.exists(state):
        with safe_open(state, "pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys() if k.split("/")[0] in kept}
    for r, ck in local.items():
        for k, v in ck.get("average", ck["net"]).items():
            tensors[f"{r}/{k}"] = v.half().contiguous()
        meta[r] = {k: ck.get(k) for k in FIELDS}
    save_file(tensors, state + ".tmp", metadata={"campaign": json.dumps(meta)})
    os.chmod(state + ".tmp", 0o644)
    os.replace(state + ".tmp", state)


def unpack(state, runs_dir, run):
    """A run folder from the committed file: f32 weights, fresh Adam (gains None)."""
    meta = read_meta(state)[run]
    with safe_open(state, "pt") as f:
        net = {k[len(run) + 1:]: f.get_tensor(k).float() for k in f.keys() if k.startswith(run + "/")}
    os.makedirs(os.path.join(runs_dir, run), exist_ok=True)
    ck = dict(meta, net=net, gains=None, opt=None)
    ck["slices"], ck["fresh"] = tuple(ck["slices"]), tuple(ck["fresh"])
    path = os.path.join(runs_dir, run, "checkpoint.pt")
    torch.save(ck, path + ".tmp")  # replaced whole: a kill mid-write leaves the old one
    os.replace(path + ".tmp", path)


def steps(state, runs_dir, run):
    committed = read_meta(state).get(run, {}).get("step", -1)
    ck = os.path.join(runs_dir, run, "checkpoint.pt")
    local = torch.load(ck, map_location="cpu")["step"] if os.path.exists(ck) else -1
    print(committed, local)


def merge_log(log, runs_dir, runs):
    """Appends each run's local entries that LOG does not hold yet (exact
    duplicates only: two slices that trained the same step numbers on
    different machines both stay, told apart by their wall times and events)."""
    key = lambda e: json.dumps(e, sort_keys=True, ensure_ascii=False)
    have = set()
    if os.path.exists(log):
        with open(log) as f:
            have = {key(json.loads(line)) for line in f if line.strip()}
    new = []
    for r in runs:
        path = os.path.join(runs_dir, r, "log.jsonl")
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    if line.strip():
                        e = dict(run=r, **json.loads(line))
                        if key(e) not in have:
                            have.add(key(e))
                            new.append(e)
    with open(log, "a") as f:
        for e in new:
            f.write(json.dumps(e, ensure_ascii=False) + "\n")
    print(f"{log}: {len(new)} new entries")


def last_step(path):
    """The last step a log names (0 for no log)."""
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return max((json.loads(line)["step"] for line in f if line.strip()), default=0)


def mark(runs_dir, run, event, *kv):
    """A line in RUN's local log: the step of its checkpoint (without one, as
    in a GPU slice's logs, the log's last step), the date, torch."""
    ck = os.path.join(runs_dir, run, "checkpoint.pt")
    log = os.path.join(runs_dir, run, "log.jsonl")
    step = torch.load(ck, map_location="cpu")["step"] if os.path.exists(ck) else last_step(log)
    entry = {"step": step, "event": event, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "torch": torch.__version__, **dict(x.split("=", 1) for x in kv)}
    os.makedirs(os.path.join(runs_dir, run), exist_ok=True)
    with open(log, "a") as f:
        f.write(json.dumps(entry) + "\n")


def last_validation(path, run=None):
    """(step, validation loss of the moving average: λ·255²·MSE + bpp, the
    mean over the λ rows) of the last validation in a log, or None. A slice
    (from a "start" event) later marked "discarded" (a GPU slice not
    adopted, CPU steps an adopted slice superseded) does not count: its
    state was never committed."""
    kept, slice_ = [], []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                e = json.loads(line) if line.strip() else {}
                if e.get("run", run) != run:
                    continue
                if e.get("event") == "start":
                    kept, slice_ = kept + slice_, []
                elif e.get("event") == "discarded":
                    slice_ = []
                elif "val_average" in e:
                    rows = e["val_average"]
                    slice_.append((e["step"], sum(v["loss"] for v in rows) / len(rows)))
    kept += slice_
    return kept[-1] if kept else None


def compare(log, slice_runs_dir, run, local_runs_dir=None):
    """Whether a GPU slice improved on the state it would replace: its last
    validation against the committed log's last, or, when this machine's run
    folder (LOCAL_RUNS_DIR/RUN) has validated a later step since the commit,
    against that one (adopting the slice drops those steps); all on
    train-val's centre crops (training/pack.py carries them exactly). Prints
    both and the slice's last step; exits 1 if the slice is worse or has no
    validation."""
    before = last_validation(log, run)
    if local_runs_dir is not None:
        local = last_validation(os.path.join(local_runs_dir, run, "log.jsonl"), run)
        if local is not None and (before is None or local[0] > before[0]):
            before = local
    path = os.path.join(slice_runs_dir, run, "log.jsonl")
    after, end = last_validation(path), last_step(path)
    show = lambda v: "none" if v is None else f"{v[1]:.4f} at step {v[0]}"
    print(f"{run}: validation loss of the average, before {show(before)}, the slice's {show(after)}; the slice ends at step {end}")
    sys.exit(0 if after is not None and (before is None or after[1] <= before[1]) else 1)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"pack": lambda: pack(args[0], args[1], args[2:]), "unpack": lambda: unpack(*args),
     "step": lambda: steps(*args), "log": lambda: merge_log(args[0], args[1], args[2:]),
     "mark": lambda: mark(*args), "compare": lambda: compare(*args)}[cmd]()
