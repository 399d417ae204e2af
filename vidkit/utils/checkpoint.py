"""Checkpoints: atomic saves and safe loads.

A vidkit checkpoint is a plain ``dict`` written with ``torch.save`` that carries a format marker::

    {"format": "vidkit-checkpoint", "version": 1, "step": ..., "model": state_dict, ...}

* :func:`save_checkpoint` never leaves a half-written file behind: it writes to a temporary file in
  the same folder, flushes and fsyncs it, then renames it over the target with ``os.replace``
  (atomic on POSIX and Windows). A crash (even SIGKILL) leaves either the old or the new file.
* :func:`load_checkpoint` first checks the file is what ``torch.save`` writes (a zip archive holding a
  ``data.pkl`` record) and that every record matches the CRC-32 stored in the archive, so a flipped byte
  is reported instead of loaded (its cost: ``benchmarks/bench_integrity.py``). It then uses ``torch.load(weights_only=True)``, which refuses to run code hidden in a
  pickle. Anything that is not a vidkit checkpoint (a truncated or damaged file, a random file, a pickle
  of an arbitrary object) raises :class:`CheckpointError` naming the file; a refused pickle names the
  global it would have imported.
"""

from __future__ import annotations

import io
import os
import pickletools
import re
import struct
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from vidkit.errors import CheckpointError
from vidkit.utils.fileio import _check_path, atomic_write, write_json_atomic

__all__ = ["FORMAT", "VERSION", "CheckpointError", "save_checkpoint", "load_checkpoint", "atomic_write",
           "write_json_atomic"]

FORMAT = "vidkit-checkpoint"
VERSION = 1

_ZIP_MAGIC = b"PK\x03\x04"
# torch.save(..., _use_new_zipfile_serialization=False) starts with this pickled magic number (protocol 2)
_LEGACY_MAGIC = b"\x80\x02\x8a\x0a" + int(torch.serialization.MAGIC_NUMBER).to_bytes(10, "little")
_DAMAGED = "use an earlier one or retrain"
_NOT_OURS = "not a vidkit checkpoint"
# "GLOBAL posix.system" / "Unsupported global: GLOBAL __main__.Plain": the dotted name torch refused
_GLOBAL_RE = re.compile(r"\bglobal:?\s+(?:global\s+)?([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)", re.IGNORECASE)
_DOTTED_RE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_REFUSAL_RE = re.compile(r"weights[ _]only|unsupported (?:global|operand)|unpickler", re.IGNORECASE)
_ADVICE_RE = re.compile(r"weights[ _]only|trust|safe_globals|file an issue|documentation|pytorch\.org",
                        re.IGNORECASE)
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


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


def _first_zip_record(head: bytes) -> str:
    """Name of the first record of a zip archive from its local header ('' if unreadable)."""
    if len(head) < 30 or not head.startswith(_ZIP_MAGIC):
        return ""
    (name_len,) = struct.unpack("<H", head[26:28])
    return head[30:30 + name_len].decode("utf-8", "replace")


def _check_archive(path: Path, head: bytes) -> None:
    """Refuse a zip that ``torch.save`` did not write, or one whose records fail their CRC-32."""
    torch_like = _first_zip_record(head).endswith("data.pkl")
    try:
        with zipfile.ZipFile(path) as zf:
            if not any(name.endswith("data.pkl") for name in zf.namelist()):
                raise CheckpointError(f"{path}: {_NOT_OURS} (a zip archive, but not one written by torch.save)")
            bad = zf.testzip()  # reads every record, compares its CRC-32
    except CheckpointError:
        raise
    except Exception as e:  # BadZipFile, EOFError, OSError, NotImplementedError, zlib.error...: damaged
        if not torch_like:
            raise CheckpointError(f"{path}: {_NOT_OURS} (not a complete zip archive written by torch.save)") from e
        raise CheckpointError(f"{path}: not a loadable vidkit checkpoint: this checkpoint is truncated or damaged "
                              f"({_clean(str(e)) or type(e).__name__}); {_DAMAGED}") from e
    if bad is not None:
        raise CheckpointError(f"{path}: not a loadable vidkit checkpoint: this checkpoint is damaged (record "
                              f"{bad!r} fails its CRC-32 check: bytes changed after saving); {_DAMAGED}")


def _pickle_globals(data: bytes, max_pickles: int = 8) -> tuple[list[str], bool]:
    """Globals a pickle stream would import, found by *reading* its opcodes (nothing is executed).

    Returns ``(names, parsed)``: ``parsed`` is False if the bytes do not start with a complete pickle
    (names come from complete pickles only, so random bytes name nothing). Handles
    ``GLOBAL``/``INST`` and ``STACK_GLOBAL`` (whose module and name are the two strings pushed before it,
    possibly through the memo); several concatenated pickles (the legacy torch format) are scanned."""
    names: list[str] = []
    buf = io.BytesIO(data)
    parsed = False
    for _ in range(max_pickles):
        if buf.tell() >= len(data):
            break
        found: list[str] = []
        pushed: list[Any] = []  # recent pushes, strings or None
        memo: dict[int, Any] = {}
        try:
            for op, arg, _pos in pickletools.genops(buf):
                if op.name in ("GLOBAL", "INST"):
                    found.append(str(arg).replace(" ", "."))
                elif op.name == "STACK_GLOBAL":
                    if len(pushed) >= 2 and isinstance(pushed[-2], str) and isinstance(pushed[-1], str):
                        found.append(f"{pushed[-2]}.{pushed[-1]}")
                elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING",
                                 "BINSTRING", "STRING"):
                    pushed.append(arg)
                elif op.name == "MEMOIZE":
                    memo[len(memo)] = pushed[-1] if pushed else None
                elif op.name in ("PUT", "BINPUT", "LONG_BINPUT"):
                    memo[int(arg)] = pushed[-1] if pushed else None
                elif op.name in ("GET", "BINGET", "LONG_BINGET"):
                    pushed.append(memo.get(int(arg)))
                elif op.name not in ("FRAME", "PROTO"):
                    pushed.append(None)
        except Exception:  # not (or no longer) a pickle: keep only what complete pickles named
            break
        names += [n for n in found if _DOTTED_RE.fullmatch(n)]
        parsed = True
    return names, parsed


def _refused_globals(names: list[str]) -> list[str]:
    """The names ``torch.load(weights_only=True)`` would refuse (best effort, for the message only)."""
    try:
        from torch._weights_only_unpickler import _get_allowed_globals

        allowed = set(_get_allowed_globals())
    except Exception:  # a private helper: fall back to a plain prefix rule
        allowed = set()
    out = []
    for name in names:
        if name in allowed or name.startswith(("torch.", "collections.OrderedDict")) or name in out:
            continue
        out.append(name)
    return out


def _clean(text: str) -> str:
    """torch's error text without its advice (never repeat "load with weights_only=False"), one line."""
    text = _ANSI_RE.sub("", text)
    parts = [p.strip() for p in re.split(r"(?<=[.!?])\s+|\n+", text) if p.strip()]
    kept = [p for p in parts if not _ADVICE_RE.search(p)]
    out = " ".join(kept[:2])
    return out if len(out) <= 240 else out[:237] + "..."


def _pickle_bytes(path: Path, zipped: bool) -> bytes:
    """The pickle stream(s) of a checkpoint file: ``data.pkl`` of a zip archive, else the file itself."""
    try:
        if zipped:
            with zipfile.ZipFile(path) as zf:
                name = next(n for n in zf.namelist() if n.endswith("data.pkl"))
                return zf.read(name)
        with open(path, "rb") as f:
            return f.read(64 << 20)
    except Exception:
        return b""


def _refusal(path: Path, names: list[str], detail: str = "") -> CheckpointError:
    what = f"blocked global: {', '.join(names)}" if names else detail
    return CheckpointError(f"{path}: not a loadable vidkit checkpoint: it contains pickled objects that are not "
                           f"plain data, refused for safety{f' ({what})' if what else ''}; only tensors and plain "
                           "Python values load")


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> dict[str, Any]:
    """Load a vidkit checkpoint safely (``torch.load(weights_only=True)``).

    Before loading, the zip archive's CRC-32s are verified (a damaged byte is reported, not loaded).
    Raises :class:`CheckpointError` (naming the file) if it is missing, truncated or damaged, not a
    vidkit checkpoint, from a newer vidkit, or contains a pickle payload that is not plain data (the
    message names the refused global).
    """
    path = _check_path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read the checkpoint ({e.strerror or e})") from e
    if not head:
        raise CheckpointError(f"{path}: {_NOT_OURS} (the file is empty)")
    zipped = head.startswith(_ZIP_MAGIC)
    if zipped:
        _check_archive(path, head)
    elif not head.startswith(_LEGACY_MAGIC):
        # not something torch.save writes: never hand it to torch; name what a pickle would import
        names, parsed = _pickle_globals(_pickle_bytes(path, False))
        refused = _refused_globals(names)
        if parsed and refused:
            raise _refusal(path, refused)
        if parsed:
            raise CheckpointError(f"{path}: {_NOT_OURS} (a plain pickle, not a file written by torch.save)")
        raise CheckpointError(f"{path}: {_NOT_OURS} (neither a zip archive written by torch.save nor a "
                              "pickle; damaged, or another kind of file)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about unusual pickle protocols before failing
            obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types here: UnpicklingError, RuntimeError, OSError, KeyError...
        text = str(e)
        if _REFUSAL_RE.search(text):  # torch's safe unpickler refused something: say which global
            named = [m.group(1) for m in _GLOBAL_RE.finditer(_ANSI_RE.sub("", text))]
            names = list(dict.fromkeys(named)) or _refused_globals(_pickle_globals(_pickle_bytes(path, zipped))[0])
            operand = re.search(r"unsupported operand[^\n.]*", text, re.IGNORECASE)
            raise _refusal(path, names, operand.group(0).strip() if operand else "") from e
        reason = _clean(text) or type(e).__name__
        raise CheckpointError(f"{path}: not a loadable vidkit checkpoint: {reason}") from e
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(f"{path}: {_NOT_OURS} (no '\"format\": \"{FORMAT}\"' marker)")
    version = obj.get("version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path}: vidkit checkpoint has an invalid version {version!r}")
    if version > VERSION:
        raise CheckpointError(f"{path}: checkpoint version {version} is newer than this vidkit "
                              f"(reads up to version {VERSION}); upgrade vidkit")
    return obj
