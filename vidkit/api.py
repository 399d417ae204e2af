"""The high-level API, MMDetection-style: ``model = vidkit.load(...)``, ``vidkit.predict(model, clip)``,
``vidkit.show(...)``.

    run = vidkit.load("runs/mmnist_tiny-20261122-170454")   # a work dir written by `vidkit train`
    future = vidkit.predict(run, clip, steps=10)             # clip: (T, H, W) uint8 or float in [0, 1]
    vidkit.show({"input": clip, "prediction": future})       # a ClipPlayer
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["load", "predict", "show"]


def _as_clips(clip: Any) -> tuple[torch.Tensor, bool]:
    """Any clip layout -> float ``(B, T, C, H, W)`` in [0, 1], and whether a batch axis was added."""
    x = torch.as_tensor(np.asarray(clip)) if not isinstance(clip, torch.Tensor) else clip.detach().cpu()
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    elif x.is_floating_point():
        x = x.float()
        lo, hi = float(x.min()), float(x.max())
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise ValueError(f"float clips must have pixels in [0, 1], got [{lo:.3g}, {hi:.3g}]")
    else:
        raise TypeError(f"clip must be uint8 (0..255) or float in [0, 1], got {x.dtype}")
    if x.dim() == 3:  # (T, H, W)
        return x[None, :, None], True
    if x.dim() == 4:  # (T, C, H, W)
        return x[None], True
    if x.dim() == 5:  # (B, T, C, H, W)
        return x, False
    raise ValueError(f"clip must be (T, H, W), (T, C, H, W) or (B, T, C, H, W), got shape {tuple(x.shape)}")


@torch.no_grad()
def predict(model: nn.Module, clip: Any, steps: int = 10) -> torch.Tensor:
    """Predict ``steps`` future frames of ``clip`` with ``model`` (any vidkit predictor or baseline).

    ``clip`` is ``(T, H, W)``, ``(T, C, H, W)`` or ``(B, T, C, H, W)``, uint8 or float in [0, 1], numpy or
    torch; all its frames are the model's input. Returns pixel probabilities on the CPU: ``(steps, C, H, W)``
    for a single clip, ``(B, steps, C, H, W)`` for a batch.
    """
    if not isinstance(model, nn.Module) or not callable(getattr(model, "predict", None)):
        raise TypeError(f"model must be a vidkit model with .predict(x, steps), got {type(model).__name__}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    x, single = _as_clips(clip)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    model.eval()
    try:
        out = model.predict(x.to(device), steps=steps).float().cpu()
    finally:
        model.train(was_training)
    return out[0] if single else out


def load(path_or_name: str | os.PathLike, map_location: str = "cpu") -> nn.Module:
    """Load a trained model from a work dir written by ``vidkit train`` (or its ``checkpoints/*.pt``),
    or by name from ``data/checkpoints/<name>/`` (reference checkpoints, same layout).

    The model is rebuilt from the run's ``config.json`` and its weights are read with
    ``torch.load(weights_only=True)``; it is returned in eval mode.
    """
    from vidkit.checkpoint import load_checkpoint
    from vidkit.data import data_dir
    from vidkit.recipes import build_model

    if not isinstance(path_or_name, str | os.PathLike):
        raise TypeError(f"path_or_name must be a str or os.PathLike, got {type(path_or_name).__name__}")
    path = Path(path_or_name)
    if not path.exists():
        named = data_dir() / "checkpoints" / str(path_or_name)
        if not named.exists():
            folder = data_dir() / "checkpoints"
            known = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
            raise FileNotFoundError(f"{path_or_name!r} is neither a path nor a reference checkpoint name; "
                                    f"known names: {known or 'none yet'}")
        path = named
    if path.is_file():
        ckpt_path, workdir = path, path.parent.parent if path.parent.name == "checkpoints" else path.parent
    else:
        ckpt_path, workdir = path / "checkpoints" / "last.pt", path
    config_path = workdir / "config.json"
    if not config_path.is_file() or not ckpt_path.is_file():
        raise FileNotFoundError(f"{path}: expected a work dir with config.json and checkpoints/last.pt")
    config = json.loads(config_path.read_text()).get("config", {})
    if "model" not in config:
        raise ValueError(f"{config_path}: no model description (was this run made by a vidkit recipe?)")
    model = build_model(config)
    model.load_state_dict(load_checkpoint(ckpt_path, map_location=map_location)["model"])
    return model.eval()


def show(clips: Any, labels: list[str] | None = None, fps: float = 5, scale: int = 3, title: str | None = None):
    """A :class:`vidkit.widgets.ClipPlayer` of ``clips`` (a dict ``{label: clip}``, a list, or one clip)."""
    from vidkit.widgets import ClipPlayer

    return ClipPlayer(clips, labels=labels, fps=fps, scale=scale, title=title)
