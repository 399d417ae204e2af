"""Recipes: named, profile-aware training configs, and :func:`run_recipe` to run one end to end.

A recipe is a plain dict in :data:`RECIPES`: a base config plus per-profile overrides under
``"profiles"``. :func:`recipe_config` resolves it for a profile (batch size, step and time budgets
come from :func:`vidkit.profile`); :func:`run_recipe` builds the model and the data, trains with
:func:`vidkit.train.train`, evaluates on the fixed cached test set (:func:`vidkit.metrics.evaluate_predictor`) and writes ``metrics.json``::

    workdir = run_recipe("mmnist_tiny", profile="smoke")   # runs/mmnist_tiny-YYYYmmdd-HHMMSS/
    run_recipe("mmnist_tiny", workdir=workdir, steps=500)  # resume the same run, to 500 steps
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vidkit import distributed as D
from vidkit.fileio import write_json_atomic
from vidkit.metrics import evaluate_predictor
from vidkit.models import TinyFramePredictor
from vidkit.profiles import Profile
from vidkit.profiles import profile as get_profile
from vidkit.train import StepInfo, TrainConfig, make_workdir, seed_everything, train

__all__ = ["RECIPES", "MODELS", "recipe_config", "build_model", "frame_bce", "run_recipe"]

MODELS: dict[str, type[nn.Module]] = {"tiny": TinyFramePredictor}


RECIPES: dict[str, dict[str, Any]] = {
    "mmnist_tiny": {
        "description": "TinyFramePredictor on bouncing Moving MNIST: 10 frames in, the next 10 out, "
                       "per-frame binary cross-entropy.",
        "model": {"name": "tiny", "hidden": 64},
        "data": {"num_digits": 2, "seq_len": 20, "in_frames": 10},
        "train": {"lr": 2e-3, "weight_decay": 0.01, "warmup_frac": 0.05, "min_lr_ratio": 0.1, "grad_clip": 1.0,
                  "amp": False, "compile": False, "seed": 0},
        "eval_sequences": 1000,  # a prefix of the cached test set; None: all of it
        "profiles": {
            "smoke": {"model": {"hidden": 16}, "eval_sequences": 64},
            "laptop": {"model": {"hidden": 48}},
            "full": {"model": {"hidden": 128}, "train": {"amp": True}, "eval_sequences": None},
        },
    },
}


def _merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in override.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def _resolve_profile(profile: str | Profile | None) -> Profile:
    if isinstance(profile, Profile):
        return profile
    if profile is not None and not isinstance(profile, str):
        raise TypeError(f"profile must be None, a profile name or a Profile, got {type(profile).__name__}")
    return get_profile(profile)


def recipe_config(name: str, profile: str | Profile | None = None) -> dict[str, Any]:
    """The recipe ``name`` resolved for ``profile`` (default: the active one), as a JSON-able dict."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; available: {sorted(RECIPES)}")
    prof = _resolve_profile(profile)
    base = {k: v for k, v in RECIPES[name].items() if k != "profiles"}
    cfg = _merge(base, RECIPES[name].get("profiles", {}).get(prof.name, {}))
    cfg.update(recipe=name, profile=prof.name, batch_size=prof.batch_size, eval_batch_size=prof.eval_batch,
               steps=prof.train_steps, time_budget_s=prof.time_budget_s)
    return cfg


def build_model(cfg: dict[str, Any]) -> nn.Module:
    """Instantiate ``cfg["model"]`` (``{"name": ..., **kwargs}``) with the frame counts from ``cfg["data"]``."""
    kwargs = dict(cfg["model"])
    name = kwargs.pop("name")
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; available: {sorted(MODELS)}")
    t_in = cfg["data"]["in_frames"]
    return MODELS[name](in_frames=t_in, out_frames=cfg["data"]["seq_len"] - t_in, **kwargs)


def frame_bce(model: nn.Module, frames: torch.Tensor, in_frames: int = 10) -> torch.Tensor:
    """Per-frame binary cross-entropy of the predicted future: ``frames[:, :in_frames]`` in, the rest out.

    ``frames`` is ``(B, T, C, H, W)`` in [0, 1]; the model returns logits for ``T - in_frames`` frames.
    """
    if frames.dim() != 5 or not 0 < in_frames < frames.shape[1]:
        raise ValueError(f"expected frames (B, T, C, H, W) with T > in_frames={in_frames}, got {tuple(frames.shape)}")
    logits = model(frames[:, :in_frames])
    return F.binary_cross_entropy_with_logits(logits.float(), frames[:, in_frames:])


def run_recipe(name: str, *, profile: str | Profile | None = None, workdir: str | os.PathLike | None = None,
               steps: int | None = None, time_budget_s: float | None = None, resume: bool = True,
               root: str | os.PathLike = "runs", progress: bool = True,
               callbacks: Iterable[Callable[[StepInfo], Any]] = ()) -> Path:
    """Train recipe ``name`` and evaluate it; returns the work dir (``log.txt``, ``metrics.json``,
    ``checkpoints/last.pt``).

    ``steps`` / ``time_budget_s`` override the profile's budgets. With ``workdir=None`` a fresh
    ``<root>/<name>-<timestamp>`` folder is made; pass an existing work dir to resume it.
    Works under torchrun (each rank draws its own data; rank 0 evaluates and writes files).
    """
    from vidkit.data import MovingMNISTStream, load_test_set  # lazy: keeps this module importable on its own

    cfg = recipe_config(name, profile)
    if steps is not None:
        if not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0:
            raise ValueError(f"steps must be a positive int, got {steps!r}")
        cfg["steps"] = steps
    if time_budget_s is not None:
        if not isinstance(time_budget_s, int | float) or isinstance(time_budget_s, bool) or time_budget_s <= 0:
            raise ValueError(f"time_budget_s must be a positive number, got {time_budget_s!r}")
        cfg["time_budget_s"] = float(time_budget_s)
    if workdir is not None and not isinstance(workdir, str | os.PathLike):
        raise TypeError(f"workdir must be None, a str or an os.PathLike, got {type(workdir).__name__}")

    was_distributed = D.is_distributed()
    D.init_distributed()
    try:
        workdir = make_workdir(name, root, cfg) if workdir is None else Path(workdir)
        if D.is_main() and not (workdir / "config.json").exists():  # an explicit, new work dir
            write_json_atomic({"name": name, "config": cfg}, workdir / "config.json")
        t = dict(cfg["train"])
        n = cfg["steps"]
        config = TrainConfig(steps=n, time_budget_s=cfg["time_budget_s"], lr=t["lr"], weight_decay=t["weight_decay"],
                             warmup_steps=int(t["warmup_frac"] * n), min_lr_ratio=t["min_lr_ratio"],
                             grad_clip=t["grad_clip"], amp=t["amp"], compile=t["compile"], seed=t["seed"],
                             ckpt_every=min(500, max(10, n // 10)), log_every=max(1, min(50, n // 100)))
        seed_everything(t["seed"])  # same initial weights on every rank and every run
        model = build_model(cfg)
        d = cfg["data"]
        stream = MovingMNISTStream(cfg["batch_size"], seed=t["seed"], rank=D.rank(), world_size=D.world_size(),
                                   num_digits=d["num_digits"], seq_len=d["seq_len"])
        result = train(model, lambda m, x: frame_bce(m, x, d["in_frames"]), stream, config, workdir=workdir,
                       resume=resume, callbacks=callbacks, progress=progress)
        if D.is_main():
            # always the fixed, cached test set (a prefix of it in small profiles), never a selection set
            test = load_test_set(get_profile(cfg["profile"]).test_size, d["num_digits"], d["seq_len"],
                                 progress=progress)
            scores = evaluate_predictor(result.model, test, d["in_frames"], d["seq_len"] - d["in_frames"],
                                        max_sequences=cfg["eval_sequences"], batch_size=cfg["eval_batch_size"],
                                        progress=progress)
            metrics_path = workdir / "metrics.json"
            metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
            metrics.update(recipe=name, profile=cfg["profile"], eval=scores)
            write_json_atomic(metrics, metrics_path)
        D.barrier()
    except BaseException:
        if not was_distributed:
            D.cleanup(barrier=False)  # a peer may be gone: do not wait for it
        raise
    if not was_distributed:
        D.cleanup()
    return workdir
