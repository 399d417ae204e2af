"""Argument checks shared by modules of several layers; each raises with the argument's name in the message.

* :func:`positive_int`: ``ValueError("<name> must be a positive int, got <value!r>")`` (bools refused);
  the model constructors use it.
* :func:`int_arg`: an int (NumPy ints too; ``TypeError`` otherwise) in ``lo..hi``; retrieval, the
  text-video experiment and the neighbour browser use it.
* :func:`shape_text`: ``"(2, 3)"`` for anything with a ``shape``, else its type name, for messages.

Checks with their own wording stay next to their users: the data generators' (``vidkit/data/_checks.py``:
"must be an int >= 1, got 0 (int)"), the probes' ``_positive_int`` in :mod:`vidkit.eval.representation`
("must be between 1 and N") and the attention models' ``_shape`` (tensors only).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["positive_int", "int_arg", "shape_text"]


def positive_int(name: str, value: object) -> None:
    """Raise ``ValueError`` unless ``value`` is an ``int`` >= 1 (a ``bool`` is not)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def int_arg(v: Any, name: str, lo: int = 1, hi: int | None = None) -> int:
    """``v`` as an int in ``lo..hi`` (``hi=None``: no upper bound): ``TypeError`` if it is not an int (or a
    NumPy int; a ``bool`` is not), ``ValueError`` if it is out of range."""
    if isinstance(v, bool) or not isinstance(v, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if v < lo or (hi is not None and v > hi):
        raise ValueError(f"{name} must be in {lo}..{hi if hi is not None else 'inf'}, got {v}")
    return int(v)


def shape_text(a: Any) -> str:
    """``str(tuple(a.shape))`` for arrays and tensors, else the type's name: what a message says was passed."""
    return str(tuple(a.shape)) if hasattr(a, "shape") else type(a).__name__
