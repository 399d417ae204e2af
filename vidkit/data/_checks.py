"""Argument checks shared by the data generators' public functions.

Each check raises ``ValueError`` naming the argument, the expected type and range, and the value it got
(with its type), so a bad argument fails at the call, not somewhere inside NumPy, and is never silently
truncated (``2.7`` is not taken for ``2``, ``True`` is not taken for ``1``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

DIGIT = 28


def _got(value: Any) -> str:
    return f"got {value!r} ({type(value).__name__})"


def check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int in ``minimum..maximum``; bools and floats (even ``2.0``) are refused."""
    if (isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum
            or (maximum is not None and value > maximum)):
        bounds = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise ValueError(f"{name} must be an int {bounds}, {_got(value)}")
    return int(value)


def check_seed(name: str, value: Any, seed_sequence: bool = False) -> Any:
    """A non-negative int seed (or, if ``seed_sequence``, a ``np.random.SeedSequence`` / ``Generator``)."""
    if seed_sequence and isinstance(value, np.random.SeedSequence | np.random.Generator):
        return value
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        also = " or a numpy SeedSequence" if seed_sequence else ""
        raise ValueError(f"{name} must be a non-negative int{also}, {_got(value)}")
    return int(value)


def check_real(name: str, value: Any, low: float, high: float = math.inf, *, low_open: bool = True,
               high_open: bool = False, what: str = "") -> float:
    """A finite real number in the interval ``(low, high]`` (brackets as given by ``low_open``/``high_open``)."""
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open or math.isinf(high) else ']'}"
    ok = not isinstance(value, bool) and isinstance(value, int | float | np.integer | np.floating)
    if ok:
        v = float(value)
        ok = (math.isfinite(v) and (v > low if low_open else v >= low)
              and (v < high if high_open else v <= high))
    if not ok:
        raise ValueError(f"{name} must be a finite number in {interval}{what}, {_got(value)}")
    return float(value)


def check_speed_range(value: Any) -> tuple[float, float] | None:
    """``None`` or a pair ``(lo, hi)`` of finite numbers with ``0 < lo <= hi``."""
    if value is None:
        return None
    expected = "None or a pair (lo, hi) of finite speed multipliers with 0 < lo <= hi"
    if isinstance(value, str | bytes) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"speed_range must be {expected}, {_got(value)}")
    lo, hi = value
    for v in (lo, hi):
        if (isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating)
                or not math.isfinite(float(v)) or float(v) <= 0):
            raise ValueError(f"speed_range must be {expected}, got {value!r} (bad value {v!r})")
    if float(lo) > float(hi):
        raise ValueError(f"speed_range must be {expected}, got {value!r} (lo > hi)")
    return float(lo), float(hi)


def check_split(value: Any) -> str:
    if value not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', {_got(value)}")
    return value


def check_digit_bank(digits: Any) -> tuple[np.ndarray, np.ndarray]:
    """``digits = (images, labels)``: uint8 ``(M, 28, 28)`` with ``M >= 1`` and ``M`` integer labels in 0..9.

    Returns ``(images, labels as int64)``."""
    if isinstance(digits, str | bytes) or not isinstance(digits, tuple | list) or len(digits) != 2:
        raise ValueError(f"digits must be a pair (images uint8 (M, 28, 28), labels (M,) in 0..9), "
                         f"got {type(digits).__name__}")
    images, labels = np.asarray(digits[0]), np.asarray(digits[1])
    if images.ndim != 3 or images.shape[1:] != (DIGIT, DIGIT) or images.dtype != np.uint8:
        raise ValueError(f"digits images must be uint8 of shape (M, 28, 28), got {images.dtype} {images.shape}")
    if len(images) == 0:
        raise ValueError("digits must hold at least one digit image (M >= 1), got an empty bank (0, 28, 28)")
    if labels.shape != (len(images),):
        raise ValueError(f"digits labels must have shape ({len(images)},) (one per image), got {labels.shape}")
    if np.issubdtype(labels.dtype, np.floating) and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)):
        labels = labels.astype(np.int64)  # whole-number floats are fine
    if not np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.bool_):
        raise ValueError(f"digits labels must be whole numbers in 0..9, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"digits labels must lie in 0..9, got values from {labels.min()} to {labels.max()}")
    return images, labels.astype(np.int64)
