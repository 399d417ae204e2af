"""Checkpoints: atomic saves and safe loads.

A vidkit checkpoint is a plain ``dict`` written with ``torch.save`` that carries a format marker::

    {"format": "vidkit-checkpoint", "version": 1, "step": ..., "model": state_dict, ...}

* :func:`save_checkpoint` never leaves a half-written file behind: it writes to a temporary file in
  the same folder, flushes and fsyncs it, then renames it over the target with ``os.replace``
  (atomic on POSIX and Windows). A crash (even SIGKILL) leaves either the old or the new file.
* :func:`load_checkpoint` uses ``torch.load(weights_only=True)``, which refuses to run code hidden in
  a pickle. Anything that is not a vidkit checkpoint (a truncated file, a random file, a pickle of
  an arbitrary object) raises :class:`CheckpointError` naming the file.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from vidkit.errors import CheckpointError
from vidkit.fileio import _check_path, atomic_write, write_json_atomic

__all__ = ["FORMAT", "VERSION", "CheckpointError", "save_checkpoint", "load_checkpoint", "atomic_write",
           "write_json_atomic"]

FORMAT = "vidkit-checkpoint"
VERSION = 1


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Atomically save ``state`` (a dict of tensors / plain Python values) as a vidkit checkpoint.

    The format marker and version are added; ``state`` must not use the keys ``format``/``version``.
    Returns the path written.
    """
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict, got {type(state).__name__}")
    if "format" in state or "version" in state:
        raise ValueError("state must not contain the reserved keys 'format' or 'version'")
    payload = {"format": FORMAT, "version": VERSION, **state}
    return atomic_write(path, lambda f: torch.save(payload, f))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> dict[str, Any]:
    """Load a vidkit checkpoint safely (``torch.load(weights_only=True)``).

    Raises :class:`CheckpointError` (naming the file) if it is missing, truncated, not a vidkit
    checkpoint, from a newer vidkit, or contains a pickle payload that is not plain data.
    """
    path = _check_path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about unusual pickle protocols before failing
            obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types here: UnpicklingError, RuntimeError, OSError, KeyError...
        text = str(e).strip()
        reason = text.splitlines()[0] if text else type(e).__name__
        if "weights only" in text.lower():  # torch refused a pickled object: say which one if it told us
            found = re.search(r"(Unsupported global|Unsupported operand|Trying to call)[^\n.]*", text)
            reason = (f"it contains pickled objects that are not plain data, refused for safety"
                      f"{' (' + found.group(0).strip() + ')' if found else ''}")
        raise CheckpointError(f"{path}: not a loadable vidkit checkpoint: {reason}") from e
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a vidkit checkpoint (no '\"format\": \"{FORMAT}\"' marker)")
    version = obj.get("version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path}: vidkit checkpoint has an invalid version {version!r}")
    if version > VERSION:
        raise CheckpointError(f"{path}: checkpoint version {version} is newer than this vidkit "
                              f"(reads up to version {VERSION}); upgrade vidkit")
    return obj
