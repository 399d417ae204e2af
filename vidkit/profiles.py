"""Run profiles: one place that decides how big every notebook and recipe is.

Three profiles exist:

* ``smoke``  - every notebook runs in about 90 s on 2 CPU cores. Used by CI (``CI=true``).
* ``laptop`` - the default without CUDA: meaningful results in <= 10 min per notebook on 2 CPU cores.
* ``full``   - the default with CUDA: paper-scale sizes and step budgets.

``VIDKIT_PROFILE=smoke|laptop|full`` overrides the default; ``CI=true`` implies ``smoke``
unless ``VIDKIT_PROFILE`` says otherwise.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import torch

__all__ = ["Profile", "PROFILES", "profile", "profile_name"]


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
