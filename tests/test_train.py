"""The training loop and its helpers (vidkit.train), the tiny model and the first recipe."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import torch
from torch import nn

import vidkit.train as T
from vidkit.models import TinyFramePredictor
from vidkit.train import (
    NonFiniteLossError,
    StepInfo,
    TrainConfig,
    make_workdir,
    pick_device,
    train,
    warmup_cosine,
)
from vidkit.utils.checkpoint import load_checkpoint
from vidkit.viz import liveplot
from vidkit.viz.liveplot import LivePlot


class ToyStream:
    """Deterministic linear-regression batches ``(x, y)``; batch i is a function of (seed, i)."""

    def __init__(self, batch_size: int = 32, seed: int = 0):
        self.batch_size, self.seed, self.step = batch_size, seed, 0
        self.w = torch.linspace(-1, 1, 8).unsqueeze(1)

    def __iter__(self):
        return self

    def __next__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.step)
        self.step += 1
        x = torch.randn(self.batch_size, 8, generator=g)
        return x, x @ self.w

    def state_dict(self) -> dict:
        return {"seed": self.seed, "step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.step = state["step"]


def mse(model, batch, _step=0):
    x, y = batch
    return nn.functional.mse_loss(model(x), y)


def noisy_mse(model, batch, _step=0):  # uses all three global RNGs (with the dropout in `make_model`)
    return mse(model, batch) * (1 + 0.01 * random.random()) * (1 + 0.01 * float(np.random.rand()))


def make_model(dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Dropout(dropout), nn.Linear(16, 1))


def cfg(**kw) -> TrainConfig:
    base = dict(steps=20, lr=1e-2, log_every=1, ckpt_every=5, device="cpu")
    return TrainConfig(**{**base, **kw})


# ----------------------------------------------------------------------------- device, schedule, config

def test_pick_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device() == torch.device("cpu")
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        pick_device("cuda")
    with pytest.raises(ValueError, match="invalid device"):
        pick_device("toaster")


def test_warmup_cosine_values():
    f = warmup_cosine(warmup_steps=4, total_steps=14, min_lr_ratio=0.1)
    assert [f(i) for i in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert f(4) == pytest.approx(1.0)  # cosine starts at the peak
    assert f(9) == pytest.approx(0.1 + 0.9 * 0.5)  # half way through the decay
    assert f(14) == pytest.approx(0.1) and f(100) == pytest.approx(0.1)
    assert all(f(i) >= f(i + 1) for i in range(3, 20))
    g = warmup_cosine(0, 10)
    assert g(0) == pytest.approx(1.0) and g(5) == pytest.approx(0.5) and g(10) == pytest.approx(0.0)


def test_lr_in_history_follows_the_schedule():
    res = train(make_model(), mse, ToyStream(), cfg(steps=12, warmup_steps=3, lr=0.01, min_lr_ratio=0.0),
                progress=False)
    lrs = [h["lr"] for h in res.history]
    f = warmup_cosine(3, 12)
    assert lrs == pytest.approx([0.01 * f(i) for i in range(12)])
    assert lrs[0] == pytest.approx(0.01 / 3) and lrs[2] == pytest.approx(0.01) and lrs[-1] < 0.001


@pytest.mark.parametrize("kw, match", [
    ({"steps": 0}, "steps must be a positive int"),
    ({"steps": 2.5}, "steps must be a positive int"),
    ({"steps": True}, "steps must be a positive int"),
    ({"lr": 0}, "lr must be a positive"),
    ({"lr": float("nan")}, "lr must be a positive"),
    ({"time_budget_s": -1}, "time_budget_s"),
    ({"grad_clip": 0}, "grad_clip"),
    ({"warmup_steps": -1}, "warmup_steps"),
    ({"weight_decay": -0.1}, "weight_decay"),
    ({"ckpt_every": 0}, "ckpt_every"),
    ({"log_every": 0}, "log_every"),
    ({"amp": "yes"}, "amp must be a bool"),
    ({"min_lr_ratio": 2.0}, "min_lr_ratio"),
])
def test_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kw)


def test_train_input_validation(tmp_path):
    m, s = make_model(), ToyStream()
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        train("not a model", mse, s, cfg(), progress=False)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        train(m, 3, s, cfg(), progress=False)
    with pytest.raises(TypeError, match="batches must be an iterable"):
        train(m, mse, 5, cfg(), progress=False)
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        train(m, mse, s, {"steps": 3}, progress=False)
    with pytest.raises(TypeError, match="workdir must be"):
        train(m, mse, s, cfg(), workdir=123, progress=False)
    with pytest.raises(TypeError, match="callback"):
        train(m, mse, s, cfg(), callbacks=[1], progress=False)
    with pytest.raises(TypeError, match="scalar loss"):
        train(m, lambda model, b, _step: model(b[0]), s, cfg(), progress=False)
    for bad in ["", "a/b", "..", 7]:
        with pytest.raises(ValueError, match="name must be"):
            make_workdir(bad, root=tmp_path)


# ----------------------------------------------------------------------------- the loop

def test_train_lowers_loss_and_writes_workdir(tmp_path):
    wd = make_workdir("toy", root=tmp_path, config={"hello": 1})
    assert wd.parent == tmp_path and wd.name.startswith("toy-") and len(wd.name) == len("toy-20260101-120000")
    assert json.loads((wd / "config.json").read_text())["config"] == {"hello": 1}
    assert make_workdir("toy", root=tmp_path) != wd  # same second: a unique suffix

    res = train(make_model(), mse, ToyStream(), cfg(steps=40, log_every=10, keep_checkpoints=True), workdir=wd)
    assert res.steps == 40 and res.stopped_by == "steps" and res.workdir == wd and res.resumed_from is None
    assert [h["step"] for h in res.history] == [10, 20, 30, 40]
    assert set(res.history[0]) >= {"step", "loss", "lr", "time", "samples_per_s"}
    assert res.history[-1]["loss"] < 0.5 * res.history[0]["loss"]
    assert all(h["samples_per_s"] > 0 for h in res.history)
    metrics = json.loads((wd / "metrics.json").read_text())
    assert metrics["steps"] == 40 and metrics["stopped_by"] == "steps" and math.isclose(metrics["final_loss"],
                                                                                       res.final_loss)
    log = (wd / "log.txt").read_text()
    assert "step 40 loss" in log and "done: 40 steps" in log
    ckpts = sorted(p.name for p in (wd / "checkpoints").iterdir())
    assert ckpts == ["last.pt"] + [f"step_{s:07d}.pt" for s in (5, 10, 15, 20, 25, 30, 35, 40)]
    last = load_checkpoint(wd / "checkpoints" / "last.pt")
    assert last["step"] == 40 and last["data"] == [{"seed": 0, "step": 40}]
    assert all(torch.equal(v, res.model.state_dict()[k]) for k, v in last["model"].items())


def test_extras_dict_batches_and_exhausted_iterator():
    def loss_with_extras(model, batch, _step):
        loss = mse(model, (batch["x"], batch["y"]))
        return loss, {"twice": 2 * loss.item()}

    stream = ToyStream()
    batches = [dict(zip("xy", next(stream), strict=True)) for _ in range(7)]
    res = train(make_model(), loss_with_extras, batches, cfg(steps=100, log_every=3), progress=False)
    assert res.steps == 7 and res.stopped_by == "data"
    assert [h["step"] for h in res.history] == [3, 6, 7]
    assert all(h["twice"] == pytest.approx(2 * h["loss"]) for h in res.history)


def test_time_budget_stops_the_run_early():
    def slow_loss(model, batch, _step):
        import time
        time.sleep(0.02)
        return mse(model, batch)

    res = train(make_model(), slow_loss, ToyStream(), cfg(steps=100_000, time_budget_s=0.3), progress=True)
    assert res.stopped_by == "time"
    assert 1 <= res.steps <= 16  # each step sleeps 0.02 s, so at most 16 fit in 0.3 s
    assert 0.3 <= res.elapsed_s < 30
    assert res.history[-1]["step"] == res.steps  # the last (partial) window is recorded too


def test_grad_clip_bounds_the_gradient_norm():
    def grad_norm_after_step(clip):
        norms = []

        def probe(info: StepInfo) -> None:
            norms.append(torch.linalg.vector_norm(torch.stack(
                [p.grad.norm() for p in info.model.parameters()])).item())

        loss = lambda m, b, _step: 100 * mse(m, b)  # noqa: E731 - big gradients
        train(make_model(), loss, ToyStream(), cfg(steps=3, grad_clip=clip), callbacks=[probe], progress=False)
        return max(norms)

    assert grad_norm_after_step(0.5) <= 0.5 + 1e-5
    assert grad_norm_after_step(None) > 5


def test_bf16_autocast_on_cpu():
    model = make_model()
    seen = []
    model[0].register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    res = train(model, mse, ToyStream(), cfg(steps=40, amp=True, log_every=10), progress=False)
    assert seen and all(d == torch.bfloat16 for d in seen)  # activations inside the forward are bf16
    assert all(p.dtype == torch.float32 for p in res.model.parameters())  # the weights stay fp32
    assert res.history[-1]["loss"] < 0.5 * res.history[0]["loss"]
    seen.clear()
    train(model, mse, ToyStream(), cfg(steps=1, amp=False), progress=False)
    assert seen == [torch.float32]


def test_compile_option_goes_through_torch_compile(monkeypatch):
    calls = []
    real_compile = torch.compile

    def eager_compile(model, **kw):  # dynamo traces the model; the eager backend skips C++ codegen
        calls.append(model)
        return real_compile(model, backend="eager", **kw)

    monkeypatch.setattr(torch, "compile", eager_compile)
    model = make_model()
    res = train(model, mse, ToyStream(), cfg(steps=5, compile=True), progress=False)
    assert calls == [model] and res.model is model and res.steps == 5


def test_nonfinite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    for bad in (float("nan"), float("inf")):
        wd, calls = tmp_path / str(bad), [0]

        def poisoned(model, batch, _step, bad=bad, calls=calls):
            calls[0] += 1
            loss = mse(model, batch)
            return loss * bad if calls[0] == 7 else loss

        model = make_model()
        with pytest.raises(NonFiniteLossError, match=f"non-finite loss {bad} at step 7") as err:
            train(model, poisoned, ToyStream(), cfg(steps=20, ckpt_every=5), workdir=wd, progress=False)
        assert err.value.step == 7 and not math.isfinite(err.value.loss)
        ckpt = load_checkpoint(wd / "checkpoints" / "last.pt")
        assert ckpt["step"] == 5  # the good one, not a state after the bad step
        assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
        assert all(torch.isfinite(p).all() for p in model.parameters())  # the bad step was not applied
        assert "non-finite loss" in (wd / "log.txt").read_text()
        assert not (wd / "metrics.json").exists()


def test_resume_in_process_is_exact(tmp_path, monkeypatch):
    """Crash at step 7 (checkpoint at 5), resume in a new train() call: same weights as no crash."""
    config = cfg(steps=12, warmup_steps=2, weight_decay=0.1, ckpt_every=5)
    ref = train(make_model(0.2), noisy_mse, ToyStream(), config, workdir=tmp_path / "ref", progress=False)

    class Crash(Exception):
        pass

    def crash_at_7(info: StepInfo) -> None:
        if info.step == 7:
            raise Crash

    def crashed_then_resumed(wd):
        with pytest.raises(Crash):
            train(make_model(0.2), noisy_mse, ToyStream(), config, workdir=wd, callbacks=[crash_at_7], progress=False)
        random.random(), np.random.rand(), torch.rand(3)  # disturb the global RNGs in between
        return train(make_model(0.2), noisy_mse, ToyStream(), config, workdir=wd, progress=False)

    res = crashed_then_resumed(tmp_path / "run")
    assert res.resumed_from == 5 and res.steps == 12
    assert [h["step"] for h in res.history] == list(range(1, 13))  # history survives the resume
    for k, v in ref.model.state_dict().items():
        assert torch.equal(v, res.model.state_dict()[k]), k

    # the check is sensitive: without restoring the RNG states, the weights differ
    monkeypatch.setattr(T, "_set_rng_state", lambda state: None)
    broken = crashed_then_resumed(tmp_path / "broken")
    assert not all(torch.equal(v, broken.model.state_dict()[k]) for k, v in ref.model.state_dict().items())


def test_resume_false_starts_over(tmp_path):
    train(make_model(), mse, ToyStream(), cfg(steps=5), workdir=tmp_path, progress=False)
    res = train(make_model(), mse, ToyStream(), cfg(steps=5), workdir=tmp_path, resume=False, progress=False)
    assert res.resumed_from is None and res.history[0]["step"] == 1
    again = train(make_model(), mse, ToyStream(), cfg(steps=5), workdir=tmp_path, progress=False)
    assert again.resumed_from == 5 and again.steps == 5  # nothing left to do


def test_resume_warns_or_refuses_when_it_cannot_be_exact(tmp_path):
    batches = [next(ToyStream()) for _ in range(10)]
    train(make_model(), mse, batches, cfg(steps=3), workdir=tmp_path, progress=False)
    with pytest.warns(UserWarning, match="data starts over"):
        res = train(make_model(), mse, batches, cfg(steps=5), workdir=tmp_path, progress=False)
    assert res.resumed_from == 3 and res.steps == 5
    other = nn.Sequential(nn.Linear(8, 4), nn.Linear(4, 1))
    with pytest.raises(T.CheckpointError, match=r"last\.pt: does not match this model"):
        train(other, mse, ToyStream(), cfg(steps=8), workdir=tmp_path, progress=False)


# ----------------------------------------------------------------------------- live plot

def test_liveplot_headless_and_in_notebook(tmp_path, monkeypatch):
    hist = [{"step": i, "loss": 1 / i, "lr": 1e-3, "time": i, "samples_per_s": 10.0} for i in range(1, 6)]
    plot = LivePlot(every=2, path=tmp_path / "loss.png")
    plot(StepInfo(step=1, loss=1, lr=1e-3, elapsed_s=1, history=hist[:1], model=nn.Identity()))
    assert plot.figure is None  # not a redraw step
    plot(StepInfo(step=2, loss=0.5, lr=1e-3, elapsed_s=1, history=hist[:2], model=nn.Identity()))
    assert plot.figure is not None and (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"

    shown = []

    class Handle:
        def update(self, obj):
            shown.append(("update", obj))

    def fake_display(obj, display_id=False):
        shown.append(("display", obj))
        return Handle()

    import IPython.display

    monkeypatch.setattr(liveplot, "_in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", fake_display)
    nb = LivePlot(every=2)
    res = train(make_model(), mse, ToyStream(), cfg(steps=5), callbacks=[nb], progress=False)
    assert [kind for kind, _ in shown] == ["display", "update", "update"]  # steps 2, 4 and the final one
    assert isinstance(shown[0][1], IPython.display.Image)
    assert len(res.history) == 5
    with pytest.raises(ValueError):
        LivePlot(every=0)


def test_liveplot_writes_its_png_atomically(tmp_path, monkeypatch):
    import vidkit.utils.fileio

    hist = [{"step": i, "loss": 1 / i, "lr": 1e-3, "time": i, "samples_per_s": 10.0} for i in range(1, 4)]
    target = tmp_path / "plots" / "loss.png"
    LivePlot(path=target).draw(hist)  # creates the missing folder
    first = target.read_bytes()
    assert first[:4] == b"\x89PNG"
    renames = []

    def failing_replace(src, dst):
        renames.append((src, dst))
        raise OSError("disk full")

    monkeypatch.setattr(vidkit.utils.fileio.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        LivePlot(path=target).draw(hist + [{"step": 4, "loss": 0.1, "lr": 1e-4, "time": 4, "samples_per_s": 9.0}])
    # written to a temp file then renamed: a failed write leaves the old plot intact and no temp file behind
    assert len(renames) == 1 and renames[0][1] == target
    assert target.read_bytes() == first
    assert sorted(p.name for p in target.parent.iterdir()) == ["loss.png"]


# ----------------------------------------------------------------------------- tiny model and recipe

def test_tiny_frame_predictor_shapes_and_validation():
    m = TinyFramePredictor(in_frames=10, out_frames=5, channels=1, hidden=8)
    x = torch.rand(2, 10, 1, 64, 64)
    assert m(x).shape == (2, 5, 1, 64, 64)
    p = m.predict(x)
    assert p.shape == (2, 5, 1, 64, 64) and 0 <= p.min() and p.max() <= 1
    for bad in (torch.rand(2, 9, 1, 64, 64), torch.rand(10, 1, 64, 64), torch.rand(2, 10, 3, 64, 64),
                torch.rand(2, 10, 1, 63, 64)):
        with pytest.raises(ValueError):
            m(bad)
    with pytest.raises(ValueError, match="hidden"):
        TinyFramePredictor(hidden=0)


def test_recipe_smoke_runs_and_resumes(tmp_path):
    from vidkit.experiments.future_prediction import RECIPES, recipe_config, run_recipe

    assert "mmnist_tiny" in RECIPES
    c = recipe_config("mmnist_tiny", "smoke")
    assert c["steps"] == 30 and c["batch_size"] == 16 and c["time_budget_s"] == 20.0
    with pytest.raises(ValueError, match="unknown recipe"):
        recipe_config("nope", "smoke")
    with pytest.raises(ValueError, match="steps"):
        run_recipe("mmnist_tiny", profile="smoke", steps=0, root=tmp_path)

    wd = run_recipe("mmnist_tiny", profile="smoke", steps=3, root=tmp_path, progress=False)
    assert wd.parent == tmp_path and wd.name.startswith("mmnist_tiny-")
    m = json.loads((wd / "metrics.json").read_text())
    assert m["steps"] == 3 and m["recipe"] == "mmnist_tiny" and m["profile"] == "smoke"
    assert m["eval"]["sequences"] == 64 and len(m["eval"]["per_horizon"]["mse"]) == 10
    assert 0 < m["eval"]["mean"]["mse"] < 4096 and 0 < m["eval"]["mean"]["cross_entropy"]
    assert json.loads((wd / "config.json").read_text())["config"]["model"]["hidden"] == 16
    run_recipe("mmnist_tiny", profile="smoke", steps=5, workdir=wd, progress=False)
    m = json.loads((wd / "metrics.json").read_text())
    assert m["steps"] == 5 and m["resumed_from"] == 3


# ----------------------------------------------------------------------------- faults (issue 13, B2, B3, B5, B7)

def test_nonfinite_gradient_at_a_checkpoint_step_never_reaches_a_checkpoint(tmp_path):
    """A finite loss whose gradient is NaN (0 * d sqrt(u)/du at u = 0) at a checkpoint step: the step is not
    applied, the checkpoint before it is kept and named, and the run resumes from it."""
    calls = [0]

    def nan_gradient(model, batch, _step):
        calls[0] += 1
        loss = mse(model, batch)
        if calls[0] == 6:
            loss = loss + 0.0 * torch.sqrt(model[0].weight.abs().sum() * 0.0)  # forward 0, backward NaN
        return loss

    wd = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match="non-finite gradient norm nan at step 6") as err:
        train(make_model(), nan_gradient, ToyStream(), cfg(steps=20, ckpt_every=3), workdir=wd, progress=False)
    assert err.value.checkpoint == (wd / "checkpoints" / "last.pt", 3)
    assert "step 3) is kept" in str(err.value)
    ckpt = load_checkpoint(wd / "checkpoints" / "last.pt")
    assert ckpt["step"] == 3 and all(torch.isfinite(v).all() for v in ckpt["model"].values())
    res = train(make_model(), mse, ToyStream(), cfg(steps=8, ckpt_every=3), workdir=wd, progress=False)
    assert res.resumed_from == 3 and all(torch.isfinite(p).all() for p in res.model.parameters())


def test_nonfinite_without_a_checkpoint_says_so(tmp_path):
    def nan_loss(model, batch, _step):
        return mse(model, batch) * float("nan")

    with pytest.raises(NonFiniteLossError, match="no checkpoint was written") as err:
        train(make_model(), nan_loss, ToyStream(), cfg(steps=5), workdir=tmp_path, progress=False)
    assert err.value.checkpoint is None


def test_a_checkpoint_with_nonfinite_weights_is_never_written(tmp_path):
    model = make_model()
    with torch.no_grad():
        model[0].weight[0, 0] = float("inf")  # weights already broken, loss and gradients may still be finite
    wd = tmp_path / "run"
    with pytest.raises(NonFiniteLossError):
        train(model, mse, ToyStream(), cfg(steps=5, ckpt_every=1), workdir=wd, progress=False)
    assert not (wd / "checkpoints" / "last.pt").exists()


class Crash(Exception):
    """Raised by :func:`crash_at` to stop a run in the middle, as a kill would."""


def crash_at(step: int):
    def callback(info: StepInfo) -> None:
        if info.step == step:
            raise Crash

    return callback


def test_resume_with_a_new_lr_scales_the_rest_of_the_schedule(tmp_path):
    with pytest.raises(Crash):
        train(make_model(), mse, ToyStream(), cfg(steps=10, warmup_steps=2, ckpt_every=5), workdir=tmp_path,
              callbacks=[crash_at(5)], progress=False)
    res = train(make_model(), mse, ToyStream(), cfg(steps=10, warmup_steps=2, ckpt_every=5, lr=5e-3),
                workdir=tmp_path, progress=False)
    lrs = {h["step"]: h["lr"] for h in res.history}
    schedule = warmup_cosine(2, 10)
    assert lrs[5] == pytest.approx(1e-2 * schedule(4))  # before the change
    assert lrs[8] == pytest.approx(5e-3 * schedule(7))  # after: the same schedule at the new peak
    assert "peak lr changed from 0.01 to 0.005" in (tmp_path / "log.txt").read_text()


def test_resume_logs_the_same_history_as_an_uninterrupted_run(tmp_path):
    """The open logging window is in the checkpoint: crash mid-window, resume, same logged losses."""
    config = cfg(steps=21, log_every=7, ckpt_every=5)
    ref = train(make_model(), mse, ToyStream(), config, workdir=tmp_path / "ref", progress=False)
    with pytest.raises(Crash):
        train(make_model(), mse, ToyStream(), config, workdir=tmp_path / "run", callbacks=[crash_at(12)],
              progress=False)
    res = train(make_model(), mse, ToyStream(), config, workdir=tmp_path / "run", progress=False)
    assert res.resumed_from == 10
    assert [(h["step"], h["loss"]) for h in res.history] == [(h["step"], h["loss"]) for h in ref.history]


def test_unwritable_workdir_fails_before_training(tmp_path, monkeypatch):
    from vidkit.errors import WriteError

    calls = [0]

    def counting(model, batch, _step):
        calls[0] += 1
        return mse(model, batch)

    wd = tmp_path / "run"
    wd.mkdir()
    (wd / "checkpoints").write_text("a file where the checkpoint folder should be")
    with pytest.raises(WriteError, match="checkpoints: not writable"):
        train(make_model(), counting, ToyStream(), cfg(steps=5), workdir=wd, progress=False)
    assert calls[0] == 0

    import builtins

    real_open = builtins.open

    def read_only(path, mode="r", *args, **kw):  # a read-only work dir (chmod does not stop root)
        if str(path).startswith(str(tmp_path / "ro")) and any(c in mode for c in "wax"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, mode, *args, **kw)

    monkeypatch.setattr(builtins, "open", read_only)
    with pytest.raises(WriteError, match=r"ro: not writable \(Permission denied\)"):
        train(make_model(), counting, ToyStream(), cfg(steps=5), workdir=tmp_path / "ro", progress=False)
    assert calls[0] == 0


def test_full_disk_during_a_checkpoint_names_the_file(tmp_path, monkeypatch):
    import vidkit.utils.checkpoint as C
    from vidkit.errors import WriteError

    real_save = torch.save

    def save_to_full_disk(obj, f):  # the bytes go to /dev/full: a real ENOSPC from the OS
        with open("/dev/full", "wb") as full:
            real_save(obj, full)

    monkeypatch.setattr(C.torch, "save", save_to_full_disk)
    wd = tmp_path / "run"
    with pytest.raises(WriteError, match=r"last\.pt: cannot write \(No space left on device\)"):
        train(make_model(), mse, ToyStream(), cfg(steps=5), workdir=wd, progress=False)
    assert list((wd / "checkpoints").iterdir()) == []  # no temp file left behind


def test_a_run_stopped_by_time_continues_when_run_again(tmp_path):
    """The time budget is per call: re-running a run that used its budget trains more (issue 14)."""
    def slow_loss(model, batch, _step):
        import time
        time.sleep(0.02)
        return mse(model, batch)

    config = cfg(steps=1_000, time_budget_s=0.3, ckpt_every=5)
    first = train(make_model(), slow_loss, ToyStream(), config, workdir=tmp_path, progress=False)
    assert first.stopped_by == "time" and first.steps < 1_000
    assert first.stop_reason.startswith("stopped by the time budget (0.3 s per call) at step")
    assert "run it again" in first.stop_reason
    again = train(make_model(), slow_loss, ToyStream(), config, workdir=tmp_path, progress=False)
    assert again.resumed_from == first.steps and again.steps > first.steps  # it trained more
    assert again.elapsed_s > first.elapsed_s  # elapsed still counts the whole run
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["stop_reason"] == again.stop_reason
    done = train(make_model(), mse, ToyStream(), cfg(steps=again.steps + 3, ckpt_every=5), workdir=tmp_path,
                 progress=False)
    assert done.stop_reason == f"finished: all {again.steps + 3} steps done"


def test_a_bar_stopped_by_the_time_budget_ends_complete_and_says_why(monkeypatch, capsys):
    """A notebook progress bar closed short of its total turns red; an expected stop must not."""
    from tqdm.std import tqdm as std_tqdm

    bars = []

    class Recording(std_tqdm):
        def close(self):
            bars.append((self.n, self.total, self.desc))
            super().close()

    monkeypatch.setattr(T, "tqdm", Recording)

    def slow_loss(model, batch, _step):
        import time
        time.sleep(0.02)
        return mse(model, batch)

    res = train(make_model(), slow_loss, ToyStream(), cfg(steps=500, time_budget_s=0.2), progress=True)
    n, total, desc = bars[-1]
    assert n == total == res.steps < 500
    assert desc.rstrip(": ") == f"train (stopped by the time budget at {res.steps}/500)"
    assert f"train: {res.stop_reason}" in capsys.readouterr().out
