"""Recipes: named, profile-aware training configs, and :func:`run_recipe` to run one end to end.

A recipe is a plain dict in :data:`RECIPES`: what is trained (model, loss, data, optimiser), plus the model's
width per profile under ``"sizes"``. How long it trains, on what batch and how many test sequences score it
come from the profile's typed budget (:attr:`vidkit.profiles.Profile.prediction`), never from the recipe.
:func:`recipe_config` resolves a recipe for a profile; :func:`run_recipe` builds the model and the data, trains with
:func:`vidkit.train.train`, evaluates on the fixed cached test set (:func:`vidkit.eval.prediction.evaluate_predictor`) and writes ``metrics.json``::

    workdir = run_recipe("mmnist_tiny", profile="smoke")   # <vidkit.runs_dir()>/mmnist_tiny-YYYYmmdd-HHMMSS/
    run_recipe("mmnist_tiny", workdir=workdir, steps=500)  # resume the same run, to 500 steps
"""

from __future__ import annotations

import copy
import json
import os
import shlex
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vidkit.eval.claims import Arm, Claim
from vidkit.eval.prediction import evaluate_predictor, prediction_metrics
from vidkit.models import (
    ConvRNNPredictor,
    PredFormer,
    SimVP,
    SrivastavaLSTM,
    TinyFramePredictor,
    scheduled_sampling,
    srivastava_loss,
)
from vidkit.profiles import Profile, runs_dir
from vidkit.profiles import profile as get_profile
from vidkit.runs import Run, check_writable
from vidkit.train import (
    NonFiniteLossError,
    StepInfo,
    TrainConfig,
    seed_everything,
    train,
)
from vidkit.utils import distributed as D

__all__ = ["RECIPES", "LAPTOP_10MIN", "CLAIM_RUNS", "CLAIMS", "claim_run", "MODELS", "REFERENCES", "reference_commands", "recipe_config", "build_model", "make_loss", "run_recipe",
           "evaluate_run", "evaluate_baselines", "write_samples"]


# ----------------------------------------------------------------------------- models

def _frames(data: dict[str, Any]) -> dict[str, int]:
    return {"in_frames": data["in_frames"], "out_frames": data["seq_len"] - data["in_frames"]}


#: model name -> builder(model kwargs, data config). One line per model family, no registry magic.
MODELS: dict[str, Callable[[dict[str, Any], dict[str, Any]], nn.Module]] = {
    "tiny": lambda kw, data: TinyFramePredictor(**_frames(data), **kw),
    "simvp": lambda kw, data: SimVP(**_frames(data), **kw),
    "predformer": lambda kw, data: PredFormer(**_frames(data), size=data["size"], **kw),
    "srivastava": lambda kw, data: SrivastavaLSTM(frame_shape=(1, data["size"], data["size"]), **kw),
    "convrnn": lambda kw, data: ConvRNNPredictor(**{**kw, "hidden": tuple(kw.get("hidden", (64, 64)))}),
}

_TRAIN = {"lr": 2e-3, "weight_decay": 0.01, "warmup_frac": 0.05, "min_lr_ratio": 0.1, "grad_clip": 1.0,
          "amp": False, "compile": False, "seed": 0}
_DATA = {"num_digits": 2, "seq_len": 20, "in_frames": 10, "size": 64}


def _convrnn_recipe(cell: str, description: str) -> dict[str, Any]:
    """The ConvLSTM and ConvGRU recipes differ only in the cell."""
    return {
        "description": description,
        "model": {"name": "convrnn", "cell": cell, "hidden": [32, 32], "kernel": 3, "patch": 4},
        "loss": {"kind": "bce", "teacher_forcing": [1.0, 0.0]},
        "data": _DATA,
        "train": {**_TRAIN, "lr": 1e-3},
        "sizes": {
            "smoke": {"model": {"hidden": [8, 8], "kernel": 3}},
            "full": {"model": {"hidden": [128, 128, 128, 128], "kernel": 5}},
        },
    }

RECIPES: dict[str, dict[str, Any]] = {
    "mmnist_tiny": {
        "description": "TinyFramePredictor: 10 frames in, the next 10 out, per-frame binary cross-entropy.",
        "model": {"name": "tiny", "hidden": 64},
        "loss": {"kind": "bce"},
        "data": _DATA,
        "train": _TRAIN,
        "sizes": {
            "smoke": {"model": {"hidden": 16}},
            "laptop": {"model": {"hidden": 48}},
            "full": {"model": {"hidden": 128}, "train": {"amp": True}},
        },
    },
    "mmnist_lstm": {
        "description": "Srivastava et al. 2015 fully connected LSTM on flattened frames (composite, "
                       "unconditioned, 1 layer by default; set model.mode / model.conditioned / model.layers).",
        "model": {"name": "srivastava", "mode": "composite", "conditioned": False, "layers": 1, "hidden": 128},
        "loss": {"kind": "bce"},
        "data": _DATA,
        "train": {**_TRAIN, "lr": 1e-3, "weight_decay": 0.0},
        "sizes": {
            "smoke": {"model": {"hidden": 32}},
            "full": {"model": {"hidden": 2048}},
        },
    },
    "mmnist_convlstm": _convrnn_recipe("lstm", "ConvLSTM encoder-forecaster (Shi et al. 2015), 4x4 space-to-depth "
                                              "patches, scheduled sampling from teacher forcing to free running."),
    "mmnist_convgru": _convrnn_recipe("gru", "ConvGRU encoder-forecaster, otherwise as mmnist_convlstm."),
    "mmnist_simvp": {
        "description": "SimVP-style non-recurrent predictor: frames stacked on channels, conv encoder, "
                       "gated translator, conv decoder; all 10 future frames at once. 4x4 space-to-depth "
                       "patches make it fast on a CPU. LAPTOP_10MIN is its 10-minute laptop run.",
        "model": {"name": "simvp", "hidden_s": 32, "hidden_t": 128, "n_translator": 4, "patch": 4},
        "loss": {"kind": "bce"},
        "data": _DATA,
        "train": {**_TRAIN, "lr": 5e-3, "warmup_frac": 200 / 4200, "min_lr_ratio": 0.01},
        "sizes": {
            "smoke": {"model": {"hidden_s": 4, "hidden_t": 8, "n_translator": 1}},
            "full": {"model": {"hidden_s": 64, "hidden_t": 256, "n_translator": 8, "patch": 2}},
        },
    },
    "mmnist_predformer": {
        "description": "PredFormer-style pure transformer (Tang et al. 2024): 8x8-pixel patch tokens, blocks of "
                       "temporal then spatial attention with gated (SwiGLU) MLPs, all 10 future frames at once "
                       "by a linear read-out of each input frame's tokens; no recurrence, no convolutions.",
        "model": {"name": "predformer", "patch": 8, "dim": 64, "depth": 4, "heads": 4, "mlp_ratio": 4,
                  "gated": True},
        "loss": {"kind": "bce"},
        "data": _DATA,
        "train": {**_TRAIN, "lr": 1e-3, "warmup_frac": 200 / 4200, "min_lr_ratio": 0.01},
        "sizes": {
            "smoke": {"model": {"dim": 16, "depth": 1, "heads": 2, "mlp_ratio": 2}},
            "full": {"model": {"dim": 256, "depth": 6, "heads": 8}},
        },
    },
}

#: The kit's best 10-minute laptop run (docs/benchmarks.md, chosen on the validation set among the candidates of
#: ``benchmarks/learning_curves.py``): SimVP with an 8x8 latent (one stride-2 stage after the 4x4 patches) and the
#: dynamic-filter read-out (each future frame made by moving the pixels of the one before), batch 16, 3,900 steps
#: or 600 s. Before: the pixel read-out for 5,200 steps (0.524x zeros); before 2026-11-30, the 4x4 latent (0.576x).
LAPTOP_10MIN = ("vidkit train mmnist_simvp --profile laptop --workdir runs/laptop_simvp_10min --steps 3900 --time 600 "
                "--set batch_size=16 --set model.downsample=1 --set model.readout=filter")


#: reference checkpoint (``data/checkpoints/<name>``) -> the commands that train and publish it, exactly as
#: its README records them. ``vidkit train`` resumes from the work dir, so running the train command again
#: continues an interrupted run; when it finishes it scores the run on the test set, and ``publish`` then
#: replaces the shipped checkpoint. ``tests/test_repo.py`` checks these against the published folders.
REFERENCES: dict[str, tuple[str, str]] = {
    "simvp_ref": (
        "vidkit train mmnist_simvp --profile laptop --workdir runs/ref_simvp_filter --steps 24000 --time 7300 "
        "--set model.patch=4 --set model.downsample=1 --set model.hidden_s=32 --set model.hidden_t=192 "
        "--set model.n_translator=4 --set model.readout=filter --set batch_size=16 --set train.lr=0.004 "
        "--set train.warmup_frac=0.01 --set train.min_lr_ratio=0.01",
        "vidkit publish runs/ref_simvp_filter simvp_ref"),
    "convlstm_ref": (
        "vidkit train mmnist_convlstm --profile laptop --workdir runs/ref_convlstm --steps 7000 --time 7200 "
        "--set batch_size=16 --set train.lr=0.002 --set train.warmup_frac=0.01 --set train.min_lr_ratio=0.01",
        "vidkit publish runs/ref_convlstm convlstm_ref"),
    "lstm_composite_ref": (
        "vidkit train mmnist_lstm --profile laptop --workdir runs/ref_lstm_composite --steps 20000 --time 14000",
        "vidkit publish runs/ref_lstm_composite lstm_composite_ref --half"),
}


def reference_commands(name: str, runs: str | os.PathLike | None = None) -> list[list[str]]:
    """The argument lists (without the leading ``vidkit``) that retrain and publish reference ``name``,
    for :func:`vidkit.cli.main`. Work dirs ``runs/X`` become ``<runs>/X``, absolute (default: the kit's
    runs folder, :func:`vidkit.runs_dir`), so the commands work from any directory, a notebook's too."""
    if name not in REFERENCES:
        raise ValueError(f"unknown reference {name!r}; available: {sorted(REFERENCES)}")
    folder = Path(runs).absolute() if runs is not None else runs_dir()
    out = []
    for command in REFERENCES[name]:
        argv = shlex.split(command)[1:]
        argv = [str(folder / a.removeprefix("runs/")) if a.startswith("runs/") else a for a in argv]
        out.append(argv)
    return out


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


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["model.mode=future", "train.lr=3e-3"]`` -> ``{"model": {"mode": "future"}, "train": {"lr": 0.003}}``.

    Values are parsed as JSON when they can be (numbers, ``true``, ``[64, 64]``), else kept as strings.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = str(item).partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise ValueError(f"override {item!r}: expected KEY.PATH=VALUE, e.g. model.hidden=128")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def recipe_config(name: str, profile: str | Profile | None = None,
                  overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The recipe ``name`` resolved for ``profile`` (default: the active one), as a JSON-able dict.

    ``overrides`` (a nested dict, see :func:`parse_overrides`) is merged last, e.g.
    ``{"model": {"mode": "future", "conditioned": True}}``; it may also set ``steps``, ``batch_size``, ...
    """
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; available: {sorted(RECIPES)}")
    if overrides is not None and not isinstance(overrides, dict):
        raise TypeError(f"overrides must be a dict, got {type(overrides).__name__}")
    prof = _resolve_profile(profile)
    # the profile's budget; the recipe's base config; the model's size for this profile
    budget = prof.prediction
    cfg = {"batch_size": budget.batch, "eval_batch_size": prof.eval_batch, "steps": budget.steps,
           "time_budget_s": budget.time_s, "eval_sequences": budget.eval_sequences}
    cfg = _merge(cfg, {k: v for k, v in RECIPES[name].items() if k != "sizes"})
    cfg = _merge(cfg, RECIPES[name].get("sizes", {}).get(prof.name, {}))
    cfg.update(recipe=name, profile=prof.name)
    unknown = set(overrides or {}) - set(cfg)
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}; the config has {sorted(cfg)}")
    for section in ("train", "data"):  # model kwargs are checked by the model; loss keys vary by model
        extra = set((overrides or {}).get(section, {})) - set(cfg[section])
        if extra:
            raise ValueError(f"unknown {section} keys {sorted(extra)}; known: {sorted(cfg[section])}")
    return _merge(cfg, overrides or {})


def build_model(cfg: dict[str, Any]) -> nn.Module:
    """Instantiate ``cfg["model"]`` (``{"name": ..., **kwargs}``) for the frames described by ``cfg["data"]``."""
    kwargs = dict(cfg["model"])
    name = kwargs.pop("name")
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; available: {sorted(MODELS)}")
    data = {**_DATA, **cfg.get("data", {})}
    try:
        return MODELS[name](kwargs, data)
    except TypeError as e:  # an unknown or missing keyword: say which model and what it got
        raise ValueError(f"model {name!r} cannot be built from {kwargs}: {e}") from None


# ----------------------------------------------------------------------------- losses

def _pixel_loss(logits: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean over pixels of BCE on logits (``"bce"``) or squared error of the probabilities (``"mse"``)."""
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits.float(), target)
    return F.mse_loss(torch.sigmoid(logits.float()), target)


def make_loss(cfg: dict[str, Any]) -> Callable[[nn.Module, torch.Tensor, int], Any]:
    """``loss_fn(model, frames, step)`` for :func:`vidkit.train.train`, from ``cfg["model"]["name"]`` and
    ``cfg["loss"]`` (``kind``: ``"bce"`` or ``"mse"``; ``teacher_forcing: [start, end]`` for ConvRNNs, a
    linear scheduled-sampling ramp over ``cfg["steps"]``). ``frames`` is ``(B, T, C, H, W)``, float in [0, 1] or
    uint8 pixels (the recipes' stream; converted here, on the device: :func:`vidkit.data.pixels_to_float`)."""
    from vidkit.data.moving_mnist import pixels_to_float

    name, loss = cfg["model"]["name"], cfg.get("loss", {"kind": "bce"})
    kind, t_in, total = loss.get("kind", "bce"), cfg["data"]["in_frames"], cfg["steps"]
    if kind not in ("bce", "mse"):
        raise ValueError(f"loss.kind must be 'bce' or 'mse', got {kind!r}")

    def window_loss(model: nn.Module, frames: torch.Tensor, step: int) -> torch.Tensor:  # tiny, simvp, predformer
        return _pixel_loss(model(frames[:, :t_in]), frames[:, t_in:], kind)

    def lstm_loss(model: nn.Module, frames: torch.Tensor, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        x, future = frames[:, :t_in], frames[:, t_in:]
        ae = cfg["model"].get("mode") == "autoencoder"
        out = model(x, steps=future.shape[1], target=None if ae else future)
        return srivastava_loss(out, x, None if ae else future, kind)

    def convrnn_loss(model: nn.Module, frames: torch.Tensor, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        start, end = loss.get("teacher_forcing", [0.0, 0.0])
        p = scheduled_sampling(step, total, start, end)
        x, future = frames[:, :t_in], frames[:, t_in:]
        logits = model(x, steps=future.shape[1], target=future, teacher_forcing=p)
        return _pixel_loss(logits, future, kind), {"teacher_forcing": p}

    model_loss = {"srivastava": lstm_loss, "convrnn": convrnn_loss}.get(name, window_loss)

    def loss_fn(model: nn.Module, frames: torch.Tensor, step: int) -> Any:
        return model_loss(model, pixels_to_float(frames), step)   # uint8 pixels from the stream -> [0, 1]

    return loss_fn


# ----------------------------------------------------------------------------- evaluation and samples

@torch.no_grad()
def _evaluate_reconstruction(model: nn.Module, data: Any, in_frames: int, n: int | None,
                             batch_size: int) -> dict[str, Any]:
    """An autoencoder has no future: score its reconstruction of the ``in_frames`` input frames instead."""
    n = len(data) if n is None else min(n, len(data))
    sums: dict[str, torch.Tensor] = {}
    model.eval()
    for lo in range(0, n, batch_size):
        x = data.subset(slice(lo, min(n, lo + batch_size))).tensors()[:, :in_frames]  # (b, T_in, 1, H, W)
        rec = torch.sigmoid(model(x)["reconstruction"])
        for name, v in prediction_metrics(rec, x).items():
            sums[name] = sums.get(name, 0) + v.double().sum(0)
    curves = {name: (s / n).tolist() for name, s in sums.items()}
    return {"mean": {k: float(sum(c) / len(c)) for k, c in curves.items()}, "per_horizon": curves,
            "sequences": n, "task": "reconstruction"}


def _is_autoencoder(cfg: dict[str, Any]) -> bool:
    """An autoencoder run has no future: it is scored on reconstruction, and baselines do not apply."""
    return cfg["model"]["name"] == "srivastava" and cfg["model"].get("mode") == "autoencoder"


def evaluate_run(model: nn.Module, cfg: dict[str, Any], max_sequences: int | None | str = "config",
                 progress: bool = True, split: str = "test") -> dict[str, Any]:
    """Score ``model`` on the fixed cached test set as ``cfg`` describes (future prediction, or
    reconstruction for an autoencoder). ``max_sequences="config"`` uses ``cfg["eval_sequences"]``.
    ``split="val"`` scores the validation set instead (:func:`vidkit.data.load_val_set`, as many
    sequences), the one to look at while choosing recipes or deciding how long to train."""
    from vidkit.data import load_test_set, load_val_set

    if split not in ("test", "val"):
        raise ValueError(f"split must be 'test' or 'val', got {split!r}")
    d = cfg["data"]
    n = cfg.get("eval_sequences") if max_sequences == "config" else max_sequences
    if split == "val":
        test = load_val_set(n or get_profile(cfg["profile"]).test_size, d["num_digits"], d["seq_len"], progress=progress)
    else:
        test = load_test_set(get_profile(cfg["profile"]).test_size, d["num_digits"], d["seq_len"], progress=progress)
    if _is_autoencoder(cfg):
        return {**_evaluate_reconstruction(model, test, d["in_frames"], n, cfg["eval_batch_size"]), "split": split}
    scores = evaluate_predictor(model, test, d["in_frames"], d["seq_len"] - d["in_frames"], max_sequences=n,
                                batch_size=cfg["eval_batch_size"], progress=progress)
    return {**scores, "task": "future", "split": split}


def evaluate_baselines(cfg: dict[str, Any], max_sequences: int | None | str = "config",
                       progress: bool = False) -> dict[str, dict[str, Any]]:
    """Score every trivial baseline (:data:`vidkit.models.BASELINES`: zeros, copy_last, mean_frame) exactly
    as :func:`evaluate_run` scores a model of ``cfg``: same test set, same sequences. Returns
    ``{baseline: scores}``; empty for an autoencoder, whose task (reconstruction) has no baselines."""
    from vidkit.models import BASELINES

    if _is_autoencoder(cfg):
        return {}
    return {name: evaluate_run(make(), cfg, max_sequences, progress=progress) for name, make in BASELINES.items()}


def write_samples(model: nn.Module, cfg: dict[str, Any], folder: str | os.PathLike, n: int = 4,
                  fps: float = 4) -> list[Path]:
    """Sample rollouts of the first ``n`` test sequences as ``rollouts.gif`` and ``rollouts.mp4`` in ``folder``:
    one row per sequence, ``truth | model | error`` over the whole sequence (inputs, then predictions)."""
    from vidkit.data import load_test_set
    from vidkit.viz import frames as viz

    d = cfg["data"]
    t_in, steps = d["in_frames"], d["seq_len"] - d["in_frames"]
    test = load_test_set(get_profile(cfg["profile"]).test_size, d["num_digits"], d["seq_len"], progress=False)
    if not 1 <= n <= len(test):
        raise ValueError(f"n must be in 1..{len(test)}, got {n!r}")
    x = test.subset(slice(0, n)).tensors()  # (n, T, 1, H, W) in [0, 1]
    model.eval()
    if _is_autoencoder(cfg):
        with torch.no_grad():
            pred = torch.sigmoid(model(x[:, :t_in])["reconstruction"])
        rows = [viz.rollout_panels(x[i, :t_in], None, {"reconstruction": pred[i]}) for i in range(n)]
    else:
        pred = model.predict(x[:, :t_in], steps=steps).float()
        rows = [viz.rollout_panels(x[i, :t_in], x[i, t_in:], {"model": pred[i]}) for i in range(n)]
    grid = np.concatenate([viz.side_by_side(r if i == 0 else list(r.values())) for i, r in enumerate(rows)],
                          axis=1)
    folder = Path(folder)
    for stale in folder.glob(".*.tmp*"):  # left by a run killed while writing its samples
        stale.unlink(missing_ok=True)
    return [viz.save_gif(grid, folder / "rollouts.gif", fps=fps, scale=2),
            viz.save_mp4(grid, folder / "rollouts.mp4", fps=fps, scale=2)]


# ----------------------------------------------------------------------------- the whole run

AFTER_NON_FINITE = ("train.lr", "train.grad_clip", "train.amp")
"""The settings a resume may change after a run stopped on a non-finite loss: they change how the next
steps are taken, not what is learnt, so the run stays one run. The change is recorded in config.json."""


def _changed(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> dict[str, tuple[Any, Any]]:
    """Dotted keys whose values differ between two nested configs: ``{"train.lr": (old, new)}``."""
    out: dict[str, tuple[Any, Any]] = {}
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out.update(_changed(a, b, f"{prefix}{k}."))
        elif a != b:
            out[f"{prefix}{k}"] = (a, b)
    return out


def _train_config(cfg: dict[str, Any]) -> TrainConfig:
    """The :class:`TrainConfig` of a resolved recipe config (raises ValueError naming a bad setting)."""
    t, n = cfg["train"], cfg["steps"]
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"steps must be a positive int, got {n!r}")
    warmup = t["warmup_frac"]
    if not isinstance(warmup, int | float) or isinstance(warmup, bool) or not 0 <= warmup <= 1:
        raise ValueError(f"train.warmup_frac must be a number in [0, 1], got {warmup!r}")
    return TrainConfig(steps=n, time_budget_s=cfg["time_budget_s"], lr=t["lr"], weight_decay=t["weight_decay"],
                       warmup_steps=round(warmup * n), min_lr_ratio=t["min_lr_ratio"], grad_clip=t["grad_clip"],
                       amp=t["amp"], compile=t["compile"], seed=t["seed"], ckpt_every=min(500, max(10, n // 10)),
                       log_every=max(1, min(50, n // 100)))


def run_recipe(name: str, *, profile: str | Profile | None = None, workdir: str | os.PathLike | None = None,
               steps: int | None = None, time_budget_s: float | None = None, resume: bool = True,
               overrides: dict[str, Any] | None = None, root: str | os.PathLike | None = None, progress: bool = True,
               samples: bool = True, callbacks: Iterable[Callable[[StepInfo], Any]] = (),
               command: str | None = None) -> Path:
    """Train recipe ``name``, evaluate it on the fixed cached test set and return its work dir::

        <workdir>/config.json  log.txt  checkpoints/last.pt  metrics.json  samples/rollouts.{gif,mp4}

    ``steps`` / ``time_budget_s`` override the profile's budgets and ``overrides`` any config entry
    (see :func:`recipe_config`). With ``workdir=None`` a fresh ``<root>/<name>-<timestamp>`` folder is
    made (``root`` defaults to the kit's runs folder, :func:`vidkit.runs_dir`); an existing work dir is resumed with ITS saved config (only the budgets may change).
    Works under torchrun (each rank draws its own data; rank 0 evaluates and writes files).
    ``command`` (the CLI passes its command line) is appended to ``config.json``'s ``"commands"``, so a
    run records every invocation that trained it.
    """
    from vidkit.data import MovingMNISTStream  # lazy: keeps this module importable on its own

    cfg = recipe_config(name, profile, overrides)
    if workdir is not None and not isinstance(workdir, str | os.PathLike):
        raise TypeError(f"workdir must be None, a str or an os.PathLike, got {type(workdir).__name__}")
    saved = Run(workdir) if workdir is not None else None
    change = None  # a setting changed on resume after a non-finite loss, recorded in config.json
    if resume and saved is not None and saved.config_path.is_file():
        try:
            record = saved.read_config()
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{saved.config_path} is not valid JSON ({e}); use a new work dir") from None
        old = record.get("config", {})
        if "model" not in old or "train" not in old:
            raise ValueError(f"{saved.config_path} was not written by a vidkit recipe; use a new work dir")
        if old.get("recipe") != name:
            raise ValueError(f"{workdir} is a run of recipe {old.get('recipe')!r}, not {name!r}")
        if profile is not None and _resolve_profile(profile).name != old.get("profile"):
            raise ValueError(f"{workdir} was trained in the {old.get('profile')!r} profile; resuming keeps it")
        new = _merge(old, overrides or {})
        changed = _changed(old, new)
        stopped = record.get("stopped") or {}
        if changed and (stopped.get("reason") != "non_finite" or not set(changed) <= set(AFTER_NON_FINITE)):
            allowed = (f" It stopped on a non-finite value at step {stopped.get('step')}: resuming may change "
                       f"only {', '.join(AFTER_NON_FINITE)}." if stopped.get("reason") == "non_finite" else "")
            raise ValueError(f"{workdir} was made with a different config ({', '.join(changed)} differ); resuming "
                             f"keeps it.{allowed} Drop the overrides (use --steps / --time for the budgets) or use "
                             "a new work dir.")
        if changed:
            change = {"after_step": stopped.get("checkpoint_step"), "reason": f"resumed after a non-finite "
                      f"{stopped.get('what', 'loss')} at step {stopped.get('step')}",
                      "changed": {k: [v[0], v[1]] for k, v in changed.items()}}
        cfg = new
    if steps is not None:
        if not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0:
            raise ValueError(f"steps must be a positive int, got {steps!r}")
        cfg["steps"] = steps
    if time_budget_s is not None:
        if not isinstance(time_budget_s, int | float) or isinstance(time_budget_s, bool) or time_budget_s <= 0:
            raise ValueError(f"time_budget_s must be a positive number, got {time_budget_s!r}")
        cfg["time_budget_s"] = float(time_budget_s)
    # everything is validated before anything is written: a rejected --set leaves the work dir as it was
    config = _train_config(cfg)
    seed_everything(cfg["train"]["seed"])  # same initial weights on every rank and every run
    model = build_model(cfg)

    was_distributed = D.is_distributed()
    D.init_distributed()
    try:
        d = cfg["data"]
        stream = MovingMNISTStream(cfg["batch_size"], seed=cfg["train"]["seed"], rank=D.rank(),
                                   world_size=D.world_size(), num_digits=d["num_digits"], seq_len=d["seq_len"],
                                   dtype=torch.uint8)  # pixels as drawn; the loss converts them on the device
        run = Run.create(name, runs_dir() if root is None else root, cfg) if workdir is None else Run(workdir)
        workdir = run.path
        if D.is_main():  # keep the budgets of the latest call in config.json
            check_writable(workdir)
            record = run.read_config()
            # a fresh start (resume=False) discards the old weights, so also the commands that trained them
            commands = (record.get("commands", []) if resume else []) + ([command] if command else [])
            changes = (record.get("changes", []) if resume else []) + ([change] if change else [])
            record = {**record, "name": name, "config": cfg, "commands": commands}
            record.pop("stopped", None)
            run.write_config({**record, **({"changes": changes} if changes else {})})
        try:
            result = train(model, make_loss(cfg), stream, config, workdir=workdir, resume=resume,
                           callbacks=callbacks, progress=progress)
        except NonFiniteLossError as e:  # recorded, so that a resume may change the lr (see AFTER_NON_FINITE)
            if D.is_main():
                run.update_config(stopped={"reason": "non_finite", "what": e.what, "step": e.step,
                                           "checkpoint_step": e.checkpoint[1] if e.checkpoint else None})
            raise
        if D.is_main():
            # always the fixed, cached test set (a prefix of it in small profiles), never a selection set
            scores = evaluate_run(result.model, cfg, progress=progress)
            run.update_metrics(recipe=name, profile=cfg["profile"], eval=scores)
            if samples:
                write_samples(result.model, cfg, run.samples)
        D.barrier()
    except BaseException:
        if not was_distributed:
            D.cleanup(barrier=False)  # a peer may be gone: do not wait for it
        raise
    if not was_distributed:
        D.cleanup()
    return workdir


# ------------------------------------------------------------------------------------ recorded claims (notebook 01)

#: The runs notebook 01's claims compare: name -> (recipe, overrides). For a claim every run trains the profile's
#: ``prediction.steps`` steps on batch ``prediction.batch``, with no time cap, so that the arms are equal in steps
#: on any machine (:func:`claim_run`).
CLAIM_RUNS: dict[str, tuple[str, dict[str, Any]]] = {
    "LSTM future": ("mmnist_lstm", {"model": {"mode": "future"}}),
    "LSTM composite": ("mmnist_lstm", {}),
    "LSTM composite, 2 layers": ("mmnist_lstm", {"model": {"layers": 2}}),
    "LSTM future, conditioned": ("mmnist_lstm", {"model": {"mode": "future", "conditioned": True}}),
    "LSTM composite, conditioned": ("mmnist_lstm", {"model": {"conditioned": True}}),
    "ConvLSTM": ("mmnist_convlstm", {}),
}

_SRIVASTAVA = "Srivastava et al. 2015"
#: Notebook 01's claims, checked over seeds by ``vidkit reproduce prediction`` (metric: future MSE per frame on the
#: profile's test sequences; ``zeros_mse`` is the all-black prediction on the same sequences).
CLAIMS: tuple[Claim, ...] = (
    Claim("prediction.composite_beats_future", "Does the composite model (reconstruct + predict) predict the future "
          "better than the future predictor alone?", f"{_SRIVASTAVA}, Table 1",
          Arm("LSTM composite", "future_mse"), Arm("LSTM future", "future_mse"), "less"),
    Claim("prediction.conditioning_helps_future", "Does conditioning the future decoder on its own last output help "
          "the future predictor?", f"{_SRIVASTAVA}, Table 1",
          Arm("LSTM future, conditioned", "future_mse"), Arm("LSTM future", "future_mse"), "less"),
    Claim("prediction.conditioning_helps_composite", "Does conditioning the decoders help the composite model?",
          f"{_SRIVASTAVA}, Table 1",
          Arm("LSTM composite, conditioned", "future_mse"), Arm("LSTM composite", "future_mse"), "less"),
    Claim("prediction.two_layers_beat_one", "Does a 2-layer composite LSTM predict better than a 1-layer one?",
          f"{_SRIVASTAVA}, Sec. 3.2 (deeper models)",
          Arm("LSTM composite, 2 layers", "future_mse"), Arm("LSTM composite", "future_mse"), "less"),
    Claim("prediction.convlstm_beats_fc_lstm", "Does the ConvLSTM predict better than the fully connected LSTM?",
          "Shi et al. 2015, Table 1 (Moving MNIST)",
          Arm("ConvLSTM", "future_mse"), Arm("LSTM composite", "future_mse"), "less"),
    Claim("prediction.lstm_beats_zeros", "Does the composite LSTM beat predicting black frames?",
          "the kit's sanity check", Arm("LSTM composite", "future_mse"), Arm("LSTM composite", "zeros_mse"), "less"),
    Claim("prediction.out_of_domain_one_digit", "Trained on two digits, does the composite LSTM still beat black "
          "frames on sequences of one digit?", f"{_SRIVASTAVA}, Sec. 3.4 (out-of-domain inputs)",
          Arm("LSTM composite", "mse_1_digit"), Arm("LSTM composite", "zeros_mse_1_digit"), "less"),
    Claim("prediction.out_of_domain_three_digits", "Trained on two digits, does the composite LSTM still beat "
          "black frames on sequences of three digits?", f"{_SRIVASTAVA}, Sec. 3.4 (out-of-domain inputs)",
          Arm("LSTM composite", "mse_3_digits"), Arm("LSTM composite", "zeros_mse_3_digits"), "less"),
)


def claim_run(name: str, profile: str | Profile, seed: int, root: str | os.PathLike,
              progress: bool = False) -> dict[str, Any]:
    """Train and score claim run ``name`` (:data:`CLAIM_RUNS`) with ``seed`` (initial weights and data order) for
    the profile's ``prediction.steps``, no time cap, in a fresh work dir under ``root``. Returns the record entry
    ``{"run", "seed", "config", "steps", "metrics"}``: ``future_mse`` and ``zeros_mse`` on the
    profile's test sequences, and for ``"LSTM composite"`` the same on one- and three-digit sequences
    (``mse_1_digit``, ``zeros_mse_1_digit``, ``mse_3_digits``, ``zeros_mse_3_digits``)."""

    from vidkit.data import load_test_set
    from vidkit.models import ZerosBaseline
    from vidkit.utils.checkpoint import load_checkpoint

    if name not in CLAIM_RUNS:
        raise ValueError(f"unknown claim run {name!r}; available: {sorted(CLAIM_RUNS)}")
    recipe, overrides = CLAIM_RUNS[name]
    overrides = _merge(overrides, {"time_budget_s": None, "train": {"seed": int(seed)}})
    workdir = run_recipe(recipe, profile=profile, overrides=overrides, root=root, progress=progress, samples=False)
    run = Run(workdir)
    cfg, metrics = run.read_config()["config"], run.read_metrics()
    out = {"future_mse": metrics["eval"]["mean"]["mse"],
           "zeros_mse": evaluate_run(ZerosBaseline(), cfg, progress=False)["mean"]["mse"]}
    if name == "LSTM composite":
        model = build_model(cfg)
        model.load_state_dict(load_checkpoint(run.checkpoint)["model"])
        n, d = cfg["eval_sequences"] or get_profile(cfg["profile"]).test_size, cfg["data"]
        for digits, suffix in ((1, "1_digit"), (3, "3_digits")):  # the first n sequences of those test sets
            test = load_test_set(n, digits, d["seq_len"], progress=False)
            for key, predictor in ((f"mse_{suffix}", model), (f"zeros_mse_{suffix}", ZerosBaseline())):
                out[key] = evaluate_predictor(predictor, test, d["in_frames"], d["seq_len"] - d["in_frames"],
                                              batch_size=cfg["eval_batch_size"], progress=False)["mean"]["mse"]
    return {"run": name, "seed": int(seed), "config": cfg, "steps": int(metrics["steps"]),
            "metrics": {k: float(v) for k, v in out.items()}}
