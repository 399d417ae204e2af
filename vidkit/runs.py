"""A run folder and its layout, in one place.

Every training run of the kit lives in one folder (a *work dir*)::

    <run>/config.json            what it was trained with: {"name", "created", "config", "commands", ...}
          metrics.json           what came out: training facts, then the test scores under "eval"
          log.txt                one timestamped line per event
          checkpoints/last.pt    the latest checkpoint (``step_*.pt`` beside it with keep_checkpoints)
          samples/               rollouts.gif / rollouts.mp4

A reference checkpoint under ``data/checkpoints/<name>/`` has the same layout. :class:`Run` is the only
code that knows these names: the training loop, the recipes, the front doors and the reports read and
write a run through it::

    run = Run.create("tiny", config={"lr": 1e-3})   # <runs>/tiny-<YYYYmmdd-HHMMSS>/config.json
    run.update_metrics(eval=scores)                 # read, change, atomic rewrite
    run = Run.find("convlstm_ref", references=data_dir() / "checkpoints")  # a path or a reference name

Writes are atomic (:func:`vidkit.utils.fileio.write_json_atomic`); a failed write raises
:class:`~vidkit.errors.WriteError` naming the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from vidkit.errors import WriteError
from vidkit.utils import distributed as D
from vidkit.utils.fileio import write_json_atomic

__all__ = ["Run", "check_writable", "write_failure"]


def write_failure(path: Path, e: BaseException) -> WriteError:
    """One line naming ``path`` for a failed write: a full disk, a read-only folder, a missing permission."""
    reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e).strip().splitlines()[-1][:200]
    if isinstance(e, RuntimeError) and ("unexpected pos" in str(e) or "PytorchStreamWriter" in str(e)):
        reason = "the file could not be written completely (is the disk full?)"
    return WriteError(f"{path}: cannot write ({reason}). Free disk space or fix the folder's permissions, then "
                      "run again to resume; the previous checkpoint, if any, is intact.")


def check_writable(folder: Path) -> None:
    """Create ``folder`` if needed and check that a file can be written in it, before any training step;
    raises :class:`~vidkit.errors.WriteError` naming the folder otherwise."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        with open(probe, "wb") as f:
            f.write(b"ok")
        probe.unlink()
    except OSError as e:
        raise WriteError(f"{folder}: not writable ({e.strerror or e}). Choose another --workdir or fix the "
                         "folder's permissions.") from e


def _jsonable(config: Any) -> Any:
    if is_dataclass(config) and not isinstance(config, type):
        return asdict(config)
    return config


class Run:
    """The folder of one training run (see the module docstring for its layout)."""

    def __init__(self, path: str | os.PathLike):
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"a run's path must be a str or os.PathLike, got {type(path).__name__}")
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    # ------------------------------------------------------------------ the layout
    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.json"

    @property
    def log_path(self) -> Path:
        return self.path / "log.txt"

    @property
    def checkpoint(self) -> Path:
        """The latest checkpoint, ``checkpoints/last.pt``."""
        return self.path / "checkpoints" / "last.pt"

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    #: Files a published reference copies from its run, relative to the run folder.
    EXTRAS = ("config.json", "metrics.json", "log.txt", "samples/rollouts.gif", "samples/rollouts.mp4")

    def is_run(self) -> bool:
        """True when the folder has a config and a checkpoint (what :func:`vidkit.load` needs)."""
        return self.config_path.is_file() and self.checkpoint.is_file()

    # ------------------------------------------------------------------ config.json and metrics.json
    @staticmethod
    def _read(path: Path) -> dict[str, Any]:
        return json.loads(path.read_text()) if path.is_file() else {}

    @staticmethod
    def _update(path: Path, fields: dict[str, Any]) -> dict[str, Any]:
        record = {**Run._read(path), **fields}
        write_json_atomic(record, path)
        return record

    def read_config(self) -> dict[str, Any]:
        """The whole record of ``config.json`` (``{}`` when there is none yet)."""
        return self._read(self.config_path)

    def write_config(self, record: dict[str, Any]) -> Path:
        return write_json_atomic(record, self.config_path)

    def update_config(self, **fields: Any) -> dict[str, Any]:
        """Read ``config.json``, set ``fields`` and write it back atomically; returns the new record."""
        return self._update(self.config_path, fields)

    def read_metrics(self) -> dict[str, Any]:
        """The record of ``metrics.json`` (``{}`` when the run has none yet)."""
        return self._read(self.metrics_path)

    def write_metrics(self, record: dict[str, Any]) -> Path:
        return write_json_atomic(record, self.metrics_path)

    def update_metrics(self, **fields: Any) -> dict[str, Any]:
        """Read ``metrics.json``, set ``fields`` and write it back atomically; returns the new record."""
        return self._update(self.metrics_path, fields)

    # ------------------------------------------------------------------ log.txt
    def log(self, msg: str) -> None:
        """Append one timestamped line to ``log.txt``."""
        try:
            with open(self.log_path, "a") as f:
                f.write(f"{datetime.now():%Y-%m-%d %H:%M:%S} {msg}\n")
        except OSError as e:
            raise write_failure(self.log_path, e) from e

    # ------------------------------------------------------------------ making and finding runs
    @classmethod
    def create(cls, name: str, root: str | os.PathLike | None = None, config: Any = None) -> Run:
        """Create ``<root>/<name>-<YYYYmmdd-HHMMSS>`` (``-1``, ``-2``... if taken) and write its
        ``config.json``, ``config`` (a dict or dataclass, optional) under the ``"config"`` key; ``root``
        defaults to the kit's runs folder (:func:`vidkit.runs_dir`). Under torchrun this is collective:
        rank 0 creates the folder and every rank gets its path."""
        if not isinstance(name, str) or not name.strip() or name in {".", ".."} or any(c in name for c in "/\\"):
            raise ValueError(f"name must be a non-empty string without path separators, got {name!r}")
        if root is None:
            from vidkit.profiles import runs_dir

            root = runs_dir()
        if not isinstance(root, str | os.PathLike):
            raise TypeError(f"root must be None, a str or an os.PathLike, got {type(root).__name__}")
        path = None
        if D.is_main():
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            base = path = Path(root) / f"{name}-{stamp}"
            i = 0
            while True:
                try:
                    path.mkdir(parents=True, exist_ok=False)
                    break
                except FileExistsError:
                    i += 1
                    path = Path(f"{base}-{i}")
            cls(path).write_config({"name": name, "created": stamp, "config": _jsonable(config)})
        return cls(D.all_gather_object(str(path) if path else None)[0])

    @classmethod
    def find(cls, path_or_name: str | os.PathLike, references: Path | None = None) -> tuple[Run, Path]:
        """``(run, checkpoint file)`` of a work dir, a checkpoint file in one, or a reference name: a plain
        folder name under ``references`` (the front doors pass ``data/checkpoints/``)."""
        if not isinstance(path_or_name, str | os.PathLike):
            raise TypeError(f"path_or_name must be a str or os.PathLike, got {type(path_or_name).__name__}")
        path = Path(path_or_name)
        if not path.exists():
            if any(sep in str(path_or_name) for sep in "/\\") or str(path_or_name).startswith("."):
                raise FileNotFoundError(f"{path_or_name!r}: no such path (a reference name is a plain folder name "
                                        "under data/checkpoints/)")
            named = None if references is None else Path(references) / str(path_or_name)
            if named is None or not named.exists():
                folder = Path(references) if references is not None else None
                known = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder and folder.is_dir() else []
                raise FileNotFoundError(f"{path_or_name!r} is neither a path nor a reference checkpoint name; "
                                        f"known names: {known or 'none yet'}")
            path = named
        if path.is_file():
            run = cls(path.parent.parent if path.parent.name == "checkpoints" else path.parent)
            ckpt = path
        else:
            run = cls(path)
            ckpt = run.checkpoint
        if not run.config_path.is_file() or not ckpt.is_file():
            raise FileNotFoundError(f"{path}: expected a work dir with config.json and checkpoints/last.pt")
        return run, ckpt

    @classmethod
    def references(cls, folder: Path) -> list[str]:
        """Names of the runs directly under ``folder`` (those with a ``config.json``)."""
        return sorted(p.name for p in folder.iterdir() if cls(p).config_path.is_file()) if folder.is_dir() else []
