"""The kit's generic argument checks, each defined once; public functions, constructors and loaders call them
at the boundary, and the private helpers behind them trust their callers.

* :func:`check_int`: an int (NumPy ints too; bools and floats such as ``2.0`` refused) in ``lo..hi``.
* :func:`check_real`: a finite real number in an interval.
* :func:`check_seed`: a non-negative int seed (or a NumPy ``SeedSequence``/``Generator`` where allowed).
* :func:`check_choice`: one of a few allowed values.
* :func:`shape_text`: ``"(2, 3)"`` for anything with a ``shape``, else its type name, for messages.

Wording rule: every check raises ``ValueError("<name> must be <what is expected>, got <value!r> (<type>)")``,
e.g. "n must be a positive int, got 2.0 (float)", "k must be an int in 1..4 (the gallery size), got 5 (int)".
Checks of one concept (a digit bank, a model's tensor layout) live next to that concept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["check_int", "check_real", "check_seed", "check_choice", "shape_text"]


def _got(value: Any) -> str:
    return f"got {value!r} ({type(value).__name__})"


def check_int(name: str, value: Any, lo: int = 1, hi: int | None = None, what: str = "") -> int:
    """``value`` as an int in ``lo..hi`` (``hi=None``: no upper bound); ``ValueError`` for anything else.

    ``what`` follows the range in the message, e.g. ``" (the gallery size)"``."""
    if (isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo
            or (hi is not None and value > hi)):
        if hi is not None:
            expected = f"an int in {lo}..{hi}"
        else:
            expected = "a positive int" if lo == 1 else f"an int >= {lo}"
        raise ValueError(f"{name} must be {expected}{what}, {_got(value)}")
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


def check_seed(name: str, value: Any, seed_sequence: bool = False) -> Any:
    """A non-negative int seed (or, if ``seed_sequence``, a ``np.random.SeedSequence`` / ``Generator``)."""
    if seed_sequence and isinstance(value, np.random.SeedSequence | np.random.Generator):
        return value
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        also = " or a numpy SeedSequence" if seed_sequence else ""
        raise ValueError(f"{name} must be a non-negative int{also}, {_got(value)}")
    return int(value)


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices``: "split must be 'train' or 'test', got 'val' (str)"."""
    try:
        ok = any(isinstance(value, type(c)) and bool(value == c) for c in choices)
    except (TypeError, ValueError):  # e.g. an array compared with a string
        ok = False
    if not ok:
        texts = [repr(c) for c in choices]
        expected = texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " or " + texts[-1]
        raise ValueError(f"{name} must be {expected}, {_got(value)}")
    return value


def shape_text(a: Any) -> str:
    """``str(tuple(a.shape))`` for arrays and tensors, else the type's name: what a message says was passed."""
    return str(tuple(a.shape)) if hasattr(a, "shape") else type(a).__name__
