"""Run profiles: one place that decides how big every notebook and recipe is.

Three profiles exist:

* ``smoke``  - every notebook runs in about 90 s on 2 CPU cores. Used by CI (``CI=true``).
* ``laptop`` - the default without CUDA: meaningful results in <= 10 min per notebook on 2 CPU cores.
* ``full``   - the default with CUDA: paper-scale sizes and step budgets.

``VIDKIT_PROFILE=smoke|laptop|full`` overrides the default; ``CI=true`` implies ``smoke``
unless ``VIDKIT_PROFILE`` says otherwise.

:func:`runs_dir` is the one folder every notebook writes its runs and files to.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["Profile", "PROFILES", "profile", "profile_name", "runs_dir"]

#: The checkout's root: the folder holding ``vidkit/`` (and ``data/``, ``notebooks/``, ``pyproject.toml``).
_REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Profile:
    """Sizes and budgets shared by notebooks, recipes and benchmarks."""

    name: str
    # Moving MNIST (Srivastava protocol)
    test_size: int  # sequences in the fixed cached test set
    batch_size: int
    train_steps: int  # default step budget for one model
    time_budget_s: float  # default wall-clock budget for one model (seconds)
    # actions suite
    actions_train: int  # clips in the fixed actions training set
    actions_test: int  # clips in the fixed actions test set
    actions_frames: int
    actions_size: int  # frame side in pixels
    # evaluation / visualisation
    eval_batch: int
    num_workers: int

    def describe(self) -> str:
        """One human-readable line, printed in each notebook's first cell."""
        fields = ", ".join(f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self) if f.name != "name")
        return f"vidkit profile '{self.name}': {fields}"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.describe()


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke", test_size=256, batch_size=16, train_steps=30, time_budget_s=20.0,
        actions_train=512, actions_test=256, actions_frames=16, actions_size=32,
        eval_batch=128, num_workers=0,
    ),
    "laptop": Profile(
        name="laptop", test_size=10_000, batch_size=32, train_steps=2_000, time_budget_s=120.0,
        actions_train=8_000, actions_test=1_000, actions_frames=16, actions_size=32,
        eval_batch=256, num_workers=0,
    ),
    "full": Profile(
        name="full", test_size=10_000, batch_size=64, train_steps=100_000, time_budget_s=6 * 3600.0,
        actions_train=50_000, actions_test=10_000, actions_frames=16, actions_size=64,
        eval_batch=512, num_workers=4,
    ),
}


def profile_name() -> str:
    """Name of the active profile: ``VIDKIT_PROFILE``, else ``smoke`` under ``CI=true``,
    else ``full`` with CUDA, else ``laptop``."""
    env = os.environ.get("VIDKIT_PROFILE", "").strip().lower()
    if env:
        if env not in PROFILES:
            raise ValueError(f"VIDKIT_PROFILE={env!r} is not one of {sorted(PROFILES)}")
        return env
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        return "smoke"
    return "full" if torch.cuda.is_available() else "laptop"


def profile(name: str | None = None) -> Profile:
    """Return the active :class:`Profile` (or the one called ``name``)."""
    if name is None:
        name = profile_name()
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; expected one of {sorted(PROFILES)}")
    return PROFILES[name]


def runs_dir() -> Path:
    """The folder for training runs and files the notebooks write: ``$VIDKIT_RUNS`` if set, else ``runs/`` at
    the repository root (beside ``data/``, found the way :func:`vidkit.data.data_dir` finds it), whatever the
    current directory is.

    If vidkit is installed outside its checkout (no ``pyproject.toml`` beside the package), the default is
    ``runs/`` in the current directory. A relative ``$VIDKIT_RUNS`` is taken from the current directory. The
    returned path is absolute; the folder is not created (:func:`vidkit.experiments.future_prediction.run_recipe` creates it).
    """
    env = os.environ.get("VIDKIT_RUNS", "").strip()
    if env:
        return Path(env).expanduser().absolute()
    if (_REPO_ROOT / "pyproject.toml").is_file():
        return _REPO_ROOT / "runs"
    return Path.cwd().absolute() / "runs"
