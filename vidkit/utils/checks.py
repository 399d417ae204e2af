"""Argument checks shared by several modules (each raises with the argument's name in the message)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["int_arg"]


def int_arg(v: Any, name: str, lo: int = 1, hi: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if v < lo or (hi is not None and v > hi):
        raise ValueError(f"{name} must be in {lo}..{hi if hi is not None else 'inf'}, got {v}")
    return int(v)
