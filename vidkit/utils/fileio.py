"""Atomic file writes, the one implementation used by checkpoints, caches, JSON and video export.

A file is written to a temporary name in the same folder, flushed and fsynced, then renamed over the
target with ``os.replace`` (atomic on POSIX and Windows). A crash, even SIGKILL, leaves either the old
file or the new one, never half of one. No torch here, so light modules (``vidkit.viz.frames``) can use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "atomic_write_path", "write_json_atomic"]


def _check_path(path: Any, what: str = "path") -> Path:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{what} must be a str or os.PathLike, got {type(path).__name__}")
    return Path(path)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable by syncing its folder (POSIX only; a no-op elsewhere)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None]) -> Path:
    """Write a file atomically: ``write(f)`` fills a binary file object for a temp file in the same folder,
    which is then fsynced and renamed over ``path``. On any error the temp file is removed and ``path`` is
    untouched. (Built on :func:`atomic_write_path`.)"""

    def to_path(tmp: Path) -> None:
        with open(tmp, "xb") as f:
            write(f)

    return atomic_write_path(path, to_path)


def write_json_atomic(obj: Any, path: str | os.PathLike) -> Path:
    """Write ``obj`` as indented JSON, atomically (see :func:`atomic_write`)."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode()))


def atomic_write_path(path: str | os.PathLike, write: Callable[[Path], None], suffix: str | None = None) -> Path:
    """Like :func:`atomic_write` for writers that need a *file name* (e.g. moviepy picks the format
    from the extension): ``write(tmp)`` creates ``tmp``, a hidden name in the same folder ending in
    ``suffix`` (default: ``path``'s suffix), which is then fsynced and renamed over ``path``."""
    path = _check_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:12]}.tmp{suffix if suffix is not None else path.suffix}")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path
