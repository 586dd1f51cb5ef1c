"""Tests of the PyTorch trainer and the campaign's state (pytest; run by
scripts/test.sh). Small models on generated images, a few seconds each."""
import json, os, shutil, subprocess, sys

import numpy as np
import pytest
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import campaign_state  # noqa: E402
import train  # noqa: E402

TINY = ["--hidden-channels", "16", "--latent-channels", "24", "--slices", "8,16", "--context-hidden", "8", "--blocks", "ssm",
        "--lambda", "0.002,0.02", "--crop", "64", "--lr", "1e-3"]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A train and a validation folder of smooth random photos-to-be."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(3)
    for name, count in (("train", 6), ("val", 2)):
        os.makedirs(root / name)
        for i in range(count):
            coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
            img = Image.fromarray(coarse).resize((96, 80), Image.BICUBIC)
            img.save(root / name / f"{i}.png")
    return root


def run_train(run, images, *extra, processes=1):
    args = [str(run), *TINY, "--train-dir", str(images / "train"), "--val-dir", str(images / "val"),
            "--log-every", "1", "--val-every", "1000", *extra]
    script = os.path.join(HERE, "train.py")
    if processes == 1:
        cmd = [sys.executable, script, *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}", script, *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    try:
        subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=600)
    except subprocess.CalledProcessError as e:  # the trainer's own words, shown with a failed test's output
        print(e.stderr.decode(errors="replace")[-4000:])  # (a 2-process run once failed with nothing to show)
        raise
    with open(run / "log.jsonl") as f:
        log = [json.loads(line) for line in f]
    return torch.load(run / "checkpoint.pt", map_location="cpu"), log


def test_two_processes_train_as_one_with_the_same_global_batch(images, tmp_path):
    """torchrun with 2 gloo processes (2 crops each) = 1 process with 4 crops:
    the same losses and the same weights, up to float summation order."""
    one, log_one = run_train(tmp_path / "one", images, "--batch", "4", "--steps", "3")
    two, log_two = run_train(tmp_path / "two", images, "--batch", "4", "--steps", "3", processes=2)
    assert [e["step"] for e in log_one] == [e["step"] for e in log_two] == [1, 2, 3]
    for a, b in zip(log_one, log_two):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
    assert_ended_alike(one, two, "2 processes", "1 process")


def assert_ended_alike(reference, other, what, reference_name):
    """`other`'s weights are within 1e-3 of how far training moved
    `reference`'s from the TINY model both started from (train.py's seed)."""
    torch.manual_seed(1)
    start = train.Hyperprior(16, 24, (8, 16), 8, (0.002, 0.02), "ssm").plain_state()
    moved = sum(((reference["net"][k] - start[k]) ** 2).sum() for k in start) ** 0.5
    apart = sum(((reference["net"][k] - other["net"][k]) ** 2).sum() for k in start) ** 0.5
    assert moved > 1e-3, "training did not move the weights"
    assert apart < 1e-3 * moved, f"{what} ended {apart:.3g} from {reference_name} (training moved {moved:.3g})"


@pytest.mark.skipif(not shutil.which("c++"), reason="torch.compile's CPU backend needs a C++ compiler")
def test_a_compiled_run_trains_as_the_eager_one(images, tmp_path):
    """--compile (torch.compile) changes the speed, not the training: the same
    losses and the same weights as eager mode, up to float summation order."""
    eager, log_eager = run_train(tmp_path / "eager", images, "--batch", "2", "--steps", "3")
    compiled, log_compiled = run_train(tmp_path / "compiled", images, "--batch", "2", "--steps", "3", "--compile")
    assert [e["step"] for e in log_compiled] == [1, 2, 3]
    for a, b in zip(log_eager, log_compiled):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
    assert_ended_alike(eager, compiled, "compiled", "eager")


def test_a_batch_that_does_not_divide_is_refused(images, tmp_path):
    with pytest.raises(subprocess.CalledProcessError) as e:
        run_train(tmp_path / "odd", images, "--batch", "3", "--steps", "1", processes=2)
    assert b"must divide" in e.value.stderr


def test_widening_starts_as_the_same_codec():
    """widen(): the widened model codes z with the same bits as the source,
    and its reconstruction differs only where a new channel's symbol is not 0,
    through synthesis weights a tenth of a fresh start."""
    torch.manual_seed(0)
    lambdas = (0.002, 0.02)
    src = train.Hyperprior(16, 24, (8, 16), 8, lambdas, "ssm")
    with torch.no_grad():  # a trained-looking source: non-zero context outputs and gains
        for p in src.parameters():
            p.add_(0.01 * torch.randn_like(p))
    wide = train.Hyperprior(16, 40, (8, 16, 16), 8, (0.001, 0.002, 0.02, 0.05), "ssm")
    fresh = train.widen(wide, src.plain_state(), lambdas, (0.001, 0.002, 0.02, 0.05))
    assert fresh and all(k.startswith(("slice_mean.2", "slice_scale.2")) for k in fresh)
    x = torch.rand(2, 3, 64, 64)
    src.eval(), wide.eval()
    with torch.no_grad():
        torch.manual_seed(5)
        a = src(x, torch.tensor([0.0, 1.0]))
        torch.manual_seed(5)
        b = wide(x, torch.tensor([1.0, 2.0]))  # the same λ rows in the longer ladder
    assert torch.allclose(a[2], b[2])
    psnr = -10 * torch.log10(((a[0] - b[0]) ** 2).mean())
    assert psnr > 40, f"the widened model's image is {psnr:.1f} dB from the source's"
    # The new gain rows continue the old ones linearly in log λ.
    g = wide.log_gain.detach()
    step = (g[2, :24] - g[1, :24]) / (np.log(0.02) - np.log(0.002))
    assert torch.allclose(g[3, :24], g[2, :24] + step * (np.log(0.05) - np.log(0.02)), atol=1e-5)


def test_campaign_state_round_trip_resumes_training(images, tmp_path):
    """pack → unpack gives the run back (f16 weights, step, settings) and
    train.py resumes from it with a fresh Adam; the merged log keeps every
    entry once."""
    runs = tmp_path / "runs"
    ck, _ = run_train(runs / "r", images, "--batch", "2", "--steps", "2")
    state, log = str(tmp_path / "campaign.safetensors"), str(tmp_path / "campaign.jsonl")
    campaign_state.pack(state, str(runs), ["r"])
    campaign_state.merge_log(log, str(runs), ["r"])
    campaign_state.merge_log(log, str(runs), ["r"])
    with open(log) as f:
        assert [json.loads(line)["step"] for line in f] == [1, 2]
    elsewhere = tmp_path / "elsewhere"
    campaign_state.unpack(state, str(elsewhere), "r")
    back = torch.load(elsewhere / "r" / "checkpoint.pt", map_location="cpu")
    assert back["step"] == 2 and back["slices"] == ck["slices"] and back["lambda"] == list(ck["lambda"])
    for k, v in ck["average"].items():  # the committed weights are the run's moving average
        assert torch.allclose(back["net"][k], v, rtol=1e-3, atol=1e-4), k
    resumed, log = run_train(elsewhere / "r", images, "--steps", "3")
    assert resumed["step"] == 3 and log[-1]["step"] == 3


def test_video_modules_start_as_the_identity_and_learn_from_motion_pairs(tmp_path):
    """training/video.py: the untrained P-frame modules predict ŷₜ₋₁ and show
    ŷₜ unchanged; simulated motion gives two different frames; a few steps on
    a tiny image model lower the residual's bits on a fixed batch."""
    import random
    import video
    torch.manual_seed(0)
    base = train.Hyperprior(16, 24, (8, 16), 8, (0.002, 0.02), "ssm").eval()
    for p in base.parameters():
        p.requires_grad_(False)
    tnet = video.TemporalNet(16, 24, 8)
    video.start_from_base(tnet, base)
    ref, y, g = torch.randn(2, 24, 8, 8), torch.randn(2, 24, 8, 8), torch.rand(2, 24, 1, 1) + 0.5
    assert torch.equal(tnet.predict(ref, g), ref)
    assert torch.equal(tnet.refine(y, ref, g), y)
    img = (torch.rand(3, 200, 200) * 255).to(torch.uint8)
    rng = random.Random(5)
    pairs = [video.motion_pair(img, rng, 64) for _ in range(6)]
    assert all(p.shape == (2, 3, 64, 64) for p in pairs)
    assert any((p[0] - p[1]).abs().mean() > 0.01 for p in pairs), "no pair moved"
    x0, x1 = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
    t = torch.full((6,), 0.5)
    opt = torch.optim.Adam(tnet.parameters(), lr=3e-3)
    first = None
    for _ in range(8):
        bpp, err_refined, _, ref_bpp = video.step_losses(base, tnet, x0, x1, t)
        first = ref_bpp["bpp_exact"].mean().item() if first is None else first
        opt.zero_grad()
        (bpp.mean() + err_refined.mean()).backward()
        opt.step()
    last = video.step_losses(base, tnet, x0, x1, t)[3]["bpp_exact"].mean().item()
    assert last < first, (first, last)


def test_widen_n_keeps_the_codec_and_the_pack_keeps_only_the_campaign_runs(tmp_path):
    """widen_n without noise: the wider model gives the same image and the
    same bits of y (z's new channels cost a little in the noisy-rate proxy,
    nothing once rounded); with its default noise the copies differ. And a
    run left out of `pack` leaves the committed state."""
    torch.manual_seed(4)
    small = train.Hyperprior(16, 24, (8, 16), 8, (0.002, 0.02), "ssm")
    with torch.no_grad():  # the zero-started block outputs and contexts, moved, so that they are tested too
        for k, p in small.named_parameters():
            if "out_proj" in k or "slice_" in k:
                p.add_(0.05 * torch.randn_like(p))
    wide = train.Hyperprior(32, 24, (8, 16), 8, (0.002, 0.02), "ssm")
    wide.load_plain_state(train.widen_n(small, 32, noise=0.0))
    x, t = torch.rand(2, 3, 64, 64), torch.tensor([0.0, 0.7])
    with torch.no_grad():
        a, b = small(x, t, [1, 2]), wide(x, t, [1, 2])
        assert (a[0] - b[0]).abs().max() < 1e-5
        assert torch.allclose(a[1], b[1], rtol=1e-4)
        noisy = train.widen_n(small, 32)
        assert not torch.equal(noisy["analysis.1.weight"][16:], noisy["analysis.1.weight"][:16])
    runs = tmp_path / "runs"
    for r in ("keep", "drop"):
        os.makedirs(runs / r)
        torch.save({"net": small.plain_state(), "step": 1}, runs / r / "checkpoint.pt")
    state = str(tmp_path / "state.safetensors")
    campaign_state.pack(state, str(runs), ["keep", "drop"])
    campaign_state.pack(state, str(runs), ["keep"])
    assert set(campaign_state.read_meta(state)) == {"keep"}
    # A run folder behind the committed state (stale, on another machine) does not take the run back.
    newer = tmp_path / "newer"
    os.makedirs(newer / "keep")
    torch.save({"net": small.plain_state(), "step": 5}, newer / "keep" / "checkpoint.pt")
    campaign_state.pack(state, str(newer), ["keep"])
    campaign_state.pack(state, str(runs), ["keep"])
    assert campaign_state.read_meta(state)["keep"]["step"] == 5


def test_a_fresh_adam_warms_up(images, tmp_path):
    """A run started with --init-from (fresh Adam moments) moves no weight by
    more than the warmup's first rate: Adam's first steps are about the full
    rate for every weight, which knocked a trained model back by dB."""
    run_train(tmp_path / "src", images, "--batch", "2", "--steps", "2")
    start = torch.load(tmp_path / "src" / "checkpoint.pt", map_location="cpu")["net"]
    one, _ = run_train(tmp_path / "one", images, "--batch", "2", "--steps", "1", "--init-from", str(tmp_path / "src"))
    moved = max((one["net"][k] - start[k]).abs().max().item() for k in start)
    lr = 1e-3  # TINY's
    # Without the warmup the gained analysis output (train.GAINS) moves by about
    # its gain × lr; with it, by that over WARMUP.
    assert 0 < moved <= 0.1 * max(train.GAINS.values()) * lr


def test_the_moving_average_is_validated_exported_and_committed(images, tmp_path):
    """A run keeps a moving average of its weights beside them: validated in
    the log, saved in the checkpoint, and what --export writes and the
    campaign's state holds; a resumed run continues it."""
    ck, log = run_train(tmp_path / "r", images, "--batch", "2", "--steps", "3", "--val-every", "3")
    assert ck["average_start"] == 0
    apart = max((ck["average"][k] - ck["net"][k]).abs().max().item() for k in ck["net"])
    assert apart > 0, "the average is the weights themselves"
    val = log[-1]
    assert len(val["val_average"]) == len(val["val"]) == 2 and val["val_average"] != val["val"]
    subprocess.run([sys.executable, os.path.join(HERE, "train.py"), str(tmp_path / "r"), "--export", str(tmp_path / "x")],
                   check=True, capture_output=True, timeout=300)
    from safetensors.torch import load_file
    exported = load_file(str(tmp_path / "x" / "model.safetensors"))
    assert torch.equal(exported["synthesis.3.weight"], ck["average"]["synthesis.3.weight"])
    state = str(tmp_path / "campaign.safetensors")
    campaign_state.pack(state, str(tmp_path), ["r"])
    campaign_state.unpack(state, str(tmp_path / "back"), "r")
    back = torch.load(tmp_path / "back" / "r" / "checkpoint.pt", map_location="cpu")
    assert torch.allclose(back["net"]["synthesis.3.weight"], ck["average"]["synthesis.3.weight"], rtol=1e-3, atol=1e-4)
    resumed, _ = run_train(tmp_path / "r", images, "--steps", "4")
    assert resumed["average_start"] == 0 and resumed["step"] == 4


def test_the_average_follows_the_weights_first_then_decays_slowly():
    """update_average's decay ramps as (1 + k)/(10 + k) up to AVERAGE_DECAY."""
    torch.manual_seed(0)
    net, average = train.Hyperprior(16, 24), train.Hyperprior(16, 24)
    w, a = next(net.parameters()).detach().clone(), next(average.parameters()).detach().clone()
    train.update_average(average, net, 0)
    assert torch.allclose(next(average.parameters()), 0.1 * a + 0.9 * w)
    a = next(average.parameters()).detach().clone()
    train.update_average(average, net, 10 ** 6)
    d = train.AVERAGE_DECAY
    assert torch.allclose(next(average.parameters()), d * a + (1 - d) * w)


def test_a_resume_keeps_the_rate_and_batch_unless_new_ones_are_given(images, tmp_path):
    """A resumed run trains on at its checkpoint's learning rate and batch;
    `--lr` or `--batch` on a resume replaces it from that step on and the log
    says so (a GPU slice trains the campaign at a larger batch)."""
    run = tmp_path / "run"
    first, _ = run_train(run, images, "--batch", "2", "--steps", "2")
    assert first["lr"] == 1e-3
    kept, log = run_train(run, images, "--batch", "2", "--steps", "3", "--lr", "1e-3")
    assert kept["lr"] == 1e-3 and not [e for e in log if e.get("event") == "lr"]
    halved, log = run_train(run, images, "--batch", "2", "--steps", "4", "--lr", "5e-4")
    assert halved["lr"] == 5e-4 and halved["step"] == 4
    assert [e for e in log if e.get("event") == "lr"] == [{"step": 3, "event": "lr", "from": 1e-3, "to": 5e-4}]
    resumed, log = run_train(run, images, "--steps", "5")  # no --batch: the checkpoint's
    assert resumed["batch"] == 2 and not [e for e in log if e.get("event") == "batch"]
    doubled, log = run_train(run, images, "--batch", "4", "--steps", "6")
    assert doubled["batch"] == 4 and doubled["step"] == 6
    assert [e for e in log if e.get("event") == "batch"] == [{"step": 5, "event": "batch", "from": 2, "to": 4}]


def test_a_channels_last_step_is_the_nchw_step():
    """train.py trains in channels-last on the CPU (speed only): the same loss
    and gradients as NCHW, up to float summation order."""
    torch.manual_seed(1)
    net = train.Hyperprior(16, 24, (8, 16), 8, (0.002, 0.02), "ssm")
    x, t = torch.rand(2, 3, 64, 64), torch.tensor([0.3, 0.8])

    def step(layout):
        net.to(memory_format=layout)
        net.zero_grad(set_to_none=True)
        lmbda, bpp, mse = train.rate_distortion(net, x.contiguous(memory_format=layout), t, seeds=[1, 2])
        loss = train.rd_loss(lmbda, bpp, mse).mean()
        loss.backward()
        return loss.item(), [p.grad.clone() for p in net.parameters() if p.grad is not None]

    loss_nchw, grads_nchw = step(torch.contiguous_format)
    loss_nhwc, grads_nhwc = step(torch.channels_last)
    assert loss_nhwc == pytest.approx(loss_nchw, rel=1e-5)
    assert len(grads_nhwc) == len(grads_nchw) > 0
    for a, b in zip(grads_nchw, grads_nhwc):
        assert (a - b).norm() <= 1e-3 * a.norm() + 1e-7


def test_the_gpu_pack_holds_every_photo_and_the_exact_validation_crops(images, tmp_path):
    """training/pack.py: within its budget, every training photo whole (JPEG),
    and validation crops that train.py reads back as the very tensors it
    validates on from the original folder; a budget too small for every
    photo at the lowest quality keeps fewer, and one too small for any fails."""
    def pack(out, mib):
        return subprocess.run([sys.executable, os.path.join(HERE, "pack.py"), str(out), "--budget-mib", str(mib), "--crop", "64",
                               "--train-dir", str(images / "train"), "--val-dir", str(images / "val")],
                              capture_output=True, text=True, timeout=300)

    r = pack(tmp_path / "p", 1)
    assert r.returncode == 0, r.stderr
    files = sorted(os.listdir(tmp_path / "p" / "train"))
    assert files == [f"{i}.jpg" for i in range(6)]
    sizes = [os.path.getsize(tmp_path / "p" / d / f) for d in ("train", "val") for f in os.listdir(tmp_path / "p" / d)]
    assert sum(sizes) <= 2 ** 20
    assert "quality 98" in r.stdout  # a roomy budget takes the top quality
    theirs = train.centre_batch(train.load_images(str(images / "val"), 64), 64)
    ours = train.centre_batch(train.load_images(str(tmp_path / "p" / "val"), 64), 64)
    assert torch.equal(theirs, ours)
    photo = np.asarray(Image.open(tmp_path / "p" / "train" / "0.jpg"), dtype=np.float64)
    assert photo.shape == (80, 96, 3)
    assert 10 * np.log10(255 ** 2 / ((photo - np.asarray(Image.open(images / "train" / "0.png"), dtype=np.float64)) ** 2).mean()) > 35

    val_bytes = sum(os.path.getsize(tmp_path / "p" / "val" / f) for f in os.listdir(tmp_path / "p" / "val"))
    one = max(os.path.getsize(tmp_path / "p" / "train" / f) for f in files)
    r = pack(tmp_path / "q", (val_bytes + 1.5 * one) / 2 ** 20)  # room for some photos, not all six
    assert r.returncode == 0, r.stderr
    assert 1 <= len(os.listdir(tmp_path / "q" / "train")) < 6
    assert "quality 90" in r.stdout
    assert pack(tmp_path / "r", val_bytes / 2 ** 20).returncode != 0
    assert pack(tmp_path / "p", 1).returncode != 0  # an existing folder is left alone


def test_a_gpu_slice_is_adopted_only_if_it_lowers_the_validation_loss(tmp_path):
    """campaign_state.compare: the slice's last validation of the average
    against the committed log's last for the same run (exit 1: worse or none)."""
    rows = lambda loss: [{"loss": loss, "bpp": 0.5, "psnr": 30.0}] * 3
    log = tmp_path / "campaign.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in [
        {"run": "m96", "step": 500, "val_average": rows(2.9)}, {"run": "other", "step": 600, "val_average": rows(1.0)},
        {"run": "m96", "step": 1000, "val_average": rows(2.8)}, {"run": "m96", "step": 1010, "event": "stop"}]))
    os.makedirs(tmp_path / "slice" / "m96")

    def verdict(*entries):
        (tmp_path / "slice" / "m96" / "log.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
        return subprocess.run([sys.executable, os.path.join(HERE, "campaign_state.py"), "compare", str(log), str(tmp_path / "slice"), "m96"],
                              capture_output=True, text=True).returncode

    start = {"step": 1010, "event": "start"}
    assert verdict(start, {"step": 1500, "val_average": rows(2.79)}, {"step": 1620, "event": "stop"}) == 0
    assert verdict(start, {"step": 1500, "val_average": rows(2.81)}, {"step": 1620, "event": "stop"}) == 1
    assert verdict(start, {"step": 1400, "event": "stop"}) == 1  # no validation: nothing to go on
    # A slice that was not adopted (marked discarded in the log) is not what the next one must beat.
    with open(log, "a") as f:
        for e in [start, {"run": "m96", "step": 1500, "val_average": rows(2.95)}, {"run": "m96", "step": 1510, "event": "discarded"}]:
            f.write(json.dumps(dict({"run": "m96"}, **e)) + "\n")
    assert verdict(start, {"step": 1500, "val_average": rows(2.85)}, {"step": 1620, "event": "stop"}) == 1
    assert verdict(start, {"step": 1500, "val_average": rows(2.79)}, {"step": 1620, "event": "stop"}) == 0


def test_the_weights_are_validated_at_every_fourth_validation_and_the_last(images, tmp_path):
    """Every validation covers the moving average; the weights and the
    ceiling only every 4th (the campaign's CPU time) and at the run's end."""
    _, log = run_train(tmp_path / "r", images, "--batch", "2", "--steps", "5", "--val-every", "1")
    full = [e["step"] for e in log if "val" in e]
    assert [e["step"] for e in log if "val_average" in e] == [1, 2, 3, 4, 5]
    assert full == [4, 5] and all("ceiling_psnr" in e for e in log if "val" in e)
