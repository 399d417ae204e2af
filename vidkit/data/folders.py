"""Folders of real video: the UCF-101 and HMDB-51 layouts with their official split files, and clip sampling.

The papers the kit teaches report two numbers on these data sets (CoCLR, Table 2 and 3): **linear probe /
fine-tuning top-1 accuracy** on split 1, and **nearest-neighbour retrieval R@k** (test videos query the
training videos). :mod:`vidkit.eval.real_video` runs both protocols on a folder this module reads.

**UCF-101** (13,320 videos, 101 actions, 25 groups of people per action) unpacks as::

    ROOT/UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi       (videos: <class>/v_<class>_g<group>_c<clip>.avi)
    ROOT/ucfTrainTestlist/classInd.txt      "1 ApplyEyeMakeup"       (class number, 1-based, and name)
    ROOT/ucfTrainTestlist/trainlist01.txt   "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"   (path, class number)
    ROOT/ucfTrainTestlist/testlist01.txt    "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"     (path only)

Split ``k`` (1, 2, 3) holds out 7 of the 25 groups for testing, so the same people never appear in train and
test. The class of a test video is its folder, looked up in ``classInd.txt`` without regard to case (the
official lists write ``HandstandPushups/v_HandStandPushups_...``).

**HMDB-51** (6,766 videos, 51 actions) unpacks as one folder of videos per class and one split file per class
and split::

    ROOT/brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi
    ROOT/testTrainMulti_7030_splits/brush_hair_test_split1.txt   "April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1"

where the number is ``1`` for a training video, ``2`` for a test video and ``0`` for a video the split does not
use (70 train, 30 test per class). Classes are the split files' names, sorted.

:func:`read_split` finds the split files in ``ROOT`` or in the official sub-folder (``ucfTrainTestlist/``,
``testTrainMulti_7030_splits/``), and the videos in ``ROOT`` or ``ROOT/UCF-101/`` / ``ROOT/hmdb51_org/``; it
returns a :class:`VideoSplit` of paths and labels, and says which files are missing (a protocol on part of the
data would not be the published one).

**Clip sampling**, as CoCLR samples: a clip is ``frames`` frames taken every ``stride``-th frame, spanning
``(frames - 1) * stride + 1`` frames of the file.

* training (:func:`random_clip_indices`): one clip at a uniformly random start;
* testing (:func:`even_clip_indices`): ``clips`` clips with evenly spaced starts from the first frame to the
  last possible one (``np.linspace(0, N - span, clips)``, rounded); their embeddings are averaged into one
  per video (:func:`vidkit.eval.real_video.embed_videos`).

A video shorter than a clip's span repeats its last frame to fill the clip (it is never dropped).
:class:`VideoFolderDataset` serves either kind of sample as a torch dataset; :func:`write_layout` writes a folder
in either layout (videos and split files), and :func:`write_actions_folder` renders the kit's actions suite into
one, so the protocols run end to end with nothing downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidkit.data.video import VIDEO_SUFFIXES, read_frames, to_clip, write_video
from vidkit.errors import DataFileError
from vidkit.utils.checks import check_choice, check_int, check_real, check_seed

__all__ = ["LAYOUTS", "VideoSplit", "read_split", "list_videos", "clip_span", "random_clip_indices",
           "even_clip_indices", "VideoFolderDataset", "write_layout", "write_actions_folder"]

#: The folder layouts :func:`read_split` reads.
LAYOUTS = ("ucf101", "hmdb51")
#: Where each layout keeps its split files and its videos, tried in this order (relative to ROOT).
_SPLIT_DIRS = {"ucf101": (".", "ucfTrainTestlist"), "hmdb51": (".", "testTrainMulti_7030_splits")}
_VIDEO_DIRS = {"ucf101": (".", "UCF-101"), "hmdb51": (".", "hmdb51_org")}
_SPLITS = {"ucf101": (1, 2, 3), "hmdb51": (1, 2, 3)}


# ---------------------------------------------------------------------------------------------- splits


@dataclass(frozen=True, eq=False)
class VideoSplit:
    """One official split of a folder: the class names and, for each part, video paths and ``(N,)`` int64 labels
    (indices into ``classes``). ``unused``: videos the split files list but leave out (HMDB-51's ``0``)."""

    root: Path
    layout: str
    split: int
    classes: tuple[str, ...]
    train: tuple[Path, ...]
    train_labels: np.ndarray
    test: tuple[Path, ...]
    test_labels: np.ndarray
    unused: int = 0
    note: str = field(default="", compare=False)

    def subset(self, videos_per_class: int | None) -> VideoSplit:
        """At most ``videos_per_class`` videos of each class in each part (``None``: all), evenly spread over
        the class's videos in list order (``np.linspace`` over them, so the groups of UCF-101 stay mixed).
        ``note`` says so when videos were left out (``self`` when none were)."""
        if videos_per_class is None:
            return self
        k = check_int("videos_per_class", videos_per_class, 1, what=" or None (all)")

        def pick(paths: tuple[Path, ...], labels: np.ndarray) -> tuple[tuple[Path, ...], np.ndarray]:
            keep: list[int] = []
            for c in range(len(self.classes)):
                rows = np.flatnonzero(labels == c)
                if len(rows) > k:
                    rows = rows[np.unique(np.round(np.linspace(0, len(rows) - 1, k)).astype(int))]
                keep += rows.tolist()
            keep.sort()
            return tuple(paths[i] for i in keep), labels[keep]

        (tr, trl), (te, tel) = pick(self.train, self.train_labels), pick(self.test, self.test_labels)
        if len(tr) == len(self.train) and len(te) == len(self.test):
            return self
        return replace(self, train=tr, train_labels=trl, test=te, test_labels=tel,
                       note=f"at most {k} videos per class and part")

    def describe(self) -> str:
        """One line: layout, split, classes and video counts."""
        extra = f", {self.unused} unused" if self.unused else ""
        note = f" ({self.note})" if self.note else ""
        return (f"{self.layout} split {self.split} in {self.root}: {len(self.classes)} classes, {len(self.train)} "
                f"train and {len(self.test)} test videos{extra}{note}")


def _check_root(root: Any) -> Path:
    if not isinstance(root, str | os.PathLike):
        raise TypeError(f"root must be a str or os.PathLike folder, got {type(root).__name__}")
    p = Path(root)
    if not p.is_dir():
        raise FileNotFoundError(2, "no such folder (expected the data set's root folder)", str(p))
    return p


def _find(root: Path, dirs: Sequence[str], name: str, what: str) -> Path:
    for d in dirs:
        if (root / d / name).is_file():
            return root / d / name
    tried = ", ".join(str(root / d / name) for d in dirs)
    raise FileNotFoundError(2, f"no {what} (looked for {tried})", str(root / dirs[-1] / name))


def _video_dir(root: Path, layout: str, first: str) -> Path:
    """The folder the split files' paths are relative to: the first candidate holding ``first``."""
    dirs = [root if d == "." else root / d for d in _VIDEO_DIRS[layout]]
    for d in dirs:
        if (d / first).is_file():
            return d
    return dirs[-1] if dirs[-1].is_dir() else root


def _lines(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise DataFileError(f"{path}: cannot be read ({e.strerror or e})") from e
    return [ln.split() for ln in text.splitlines() if ln.strip()]


def _ucf101(root: Path, split: int) -> tuple[tuple[str, ...], list[tuple[str, int]], list[tuple[str, int]], int]:
    dirs = _SPLIT_DIRS["ucf101"]
    ind = _find(root, dirs, "classInd.txt", "UCF-101 class list")
    classes: dict[int, str] = {}
    for row in _lines(ind):
        if len(row) != 2 or not row[0].isdigit():
            raise DataFileError(f"{ind}: expected lines '<number> <class>' such as '1 ApplyEyeMakeup', got {' '.join(row)!r}")
        classes[int(row[0])] = row[1]
    if sorted(classes) != list(range(1, len(classes) + 1)):
        raise DataFileError(f"{ind}: class numbers must run 1..{len(classes)}, got {sorted(classes)[:5]}...")
    names = tuple(classes[i] for i in range(1, len(classes) + 1))
    by_lower = {n.lower(): i for i, n in enumerate(names)}

    def label_of(rel: str, listed: str | None, file: Path) -> int:
        folder = rel.split("/")[0].lower()
        if folder not in by_lower:
            raise DataFileError(f"{file}: {rel!r} is in no class of {ind.name} (its folder {rel.split('/')[0]!r})")
        label = by_lower[folder]
        if listed is not None and (not listed.isdigit() or int(listed) - 1 != label):
            raise DataFileError(f"{file}: {rel!r} is listed as class {listed} but its folder is class {label + 1}")
        return label

    train_file = _find(root, dirs, f"trainlist{split:02d}.txt", f"UCF-101 training list of split {split}")
    test_file = _find(root, dirs, f"testlist{split:02d}.txt", f"UCF-101 test list of split {split}")
    train = [(r[0], label_of(r[0], r[1] if len(r) > 1 else None, train_file)) for r in _lines(train_file)]
    test = [(r[0], label_of(r[0], None, test_file)) for r in _lines(test_file)]
    return names, train, test, 0


def _hmdb51(root: Path, split: int) -> tuple[tuple[str, ...], list[tuple[str, int]], list[tuple[str, int]], int]:
    suffix = f"_test_split{split}.txt"
    files = []
    for d in _SPLIT_DIRS["hmdb51"]:
        files = sorted(p for p in (root / d).glob(f"*{suffix}") if p.is_file())
        if files:
            break
    if not files:
        tried = ", ".join(str(root / d / f"<class>{suffix}") for d in _SPLIT_DIRS["hmdb51"])
        raise FileNotFoundError(2, f"no HMDB-51 split files of split {split} (looked for {tried})", str(root))
    names = tuple(p.name[: -len(suffix)] for p in files)
    train, test, unused = [], [], 0
    for label, (name, path) in enumerate(zip(names, files, strict=True)):
        for row in _lines(path):
            if len(row) != 2 or row[1] not in ("0", "1", "2"):
                raise DataFileError(f"{path}: expected lines '<video> 0|1|2' (1 train, 2 test, 0 unused), "
                                    f"got {' '.join(row)!r}")
            if row[1] == "0":
                unused += 1
            else:
                (train if row[1] == "1" else test).append((f"{name}/{row[0]}", label))
    return names, train, test, unused


def read_split(root: str | os.PathLike, layout: str = "ucf101", split: int = 1, check_files: bool = True) -> VideoSplit:
    """Read an official split of a UCF-101 or HMDB-51 folder (see the module docstring for the layouts).

    Args:
        root: the data set's folder.
        layout: ``"ucf101"`` or ``"hmdb51"``.
        split: 1, 2 or 3.
        check_files: raise if a listed video is missing (the message counts them and names a few).

    Returns:
        A :class:`VideoSplit`: train and test paths in list order, labels indexing ``classes``.
    """
    p = _check_root(root)
    check_choice("layout", layout, LAYOUTS)
    split = check_choice("split", split, _SPLITS[layout])
    names, train, test, unused = (_ucf101 if layout == "ucf101" else _hmdb51)(p, split)
    if not train or not test:
        raise DataFileError(f"{p}: split {split} lists {len(train)} train and {len(test)} test videos; "
                            "both parts need at least one")
    base = _video_dir(p, layout, train[0][0])
    paths = [base / rel for rel, _ in train], [base / rel for rel, _ in test]
    if check_files:
        missing = [q for part in paths for q in part if not q.is_file()]
        if missing:
            raise FileNotFoundError(2, f"{len(missing)} of the {len(train) + len(test)} videos that {layout} "
                                    f"split {split} lists are missing (first: {', '.join(str(q) for q in missing[:3])}); "
                                    "the protocol needs all of them", str(missing[0]))
    return VideoSplit(p, layout, split, names, tuple(paths[0]), np.array([lbl for _, lbl in train], np.int64),
                      tuple(paths[1]), np.array([lbl for _, lbl in test], np.int64), unused)


def list_videos(folder: str | os.PathLike) -> list[Path]:
    """Every video file under ``folder`` (recursively; suffixes :data:`vidkit.data.video.VIDEO_SUFFIXES`, any
    case; hidden files and folders skipped), sorted by path."""
    p = _check_root(folder)
    out = [q for q in p.rglob("*") if q.suffix.lower() in VIDEO_SUFFIXES and q.is_file()
           and not any(part.startswith(".") for part in q.relative_to(p).parts)]
    return sorted(out)


# ---------------------------------------------------------------------------------------------- clips


def clip_span(frames: int, stride: int) -> int:
    """File frames one clip covers: ``(frames - 1) * stride + 1``."""
    return (check_int("frames", frames) - 1) * check_int("stride", stride) + 1


def random_clip_indices(num_video_frames: int, frames: int, stride: int, rng: np.random.Generator) -> np.ndarray:
    """A training clip: ``(frames,)`` file frame numbers ``s, s + stride, ...`` from a uniformly random start ``s``
    in ``0..N - span`` (``N = num_video_frames``); a video shorter than the span starts at 0 and repeats its last
    frame."""
    n = check_int("num_video_frames", num_video_frames)
    span = clip_span(frames, stride)
    s = int(rng.integers(0, n - span + 1)) if n >= span else 0
    return np.minimum(s + stride * np.arange(frames), n - 1)


def even_clip_indices(num_video_frames: int, frames: int, stride: int, clips: int) -> np.ndarray:
    """Test clips: ``(clips, frames)`` file frame numbers, clip ``k`` starting at ``round(k * (N - span) / (clips -
    1))`` (evenly spaced from the first frame to the last possible start; one clip starts at the middle
    possible start); a video shorter than the span repeats its last frame."""
    n = check_int("num_video_frames", num_video_frames)
    span = clip_span(frames, stride)
    k = check_int("clips", clips)
    last = max(0, n - span)
    starts = np.round(np.linspace(0, last, k) if k > 1 else np.array([last / 2])).astype(np.int64)
    return np.minimum(starts[:, None] + stride * np.arange(frames)[None], n - 1)


class VideoFolderDataset(torch.utils.data.Dataset):
    """The videos of one part of a :class:`VideoSplit` as clips, for a torch ``DataLoader``.

    Item ``i`` is ``{"frames": clip, "label": int, "index": i}``: with ``sampling="random"`` (the default for
    ``part="train"``) one clip ``(frames, C, size, size)`` at a random start, a fresh one each time (seeded by
    ``seed``, the item and :meth:`set_epoch`); with ``sampling="even"`` (the default for ``"test"``) ``(clips,
    frames, C, size, size)``, evenly spaced. Float32 in [0, 1], centre-cropped (:func:`vidkit.data.video.read_video`).
    """

    def __init__(self, split: VideoSplit, part: str = "train", *, size: int = 64, channels: int = 3, frames: int = 16,
                 stride: int = 2, clips: int = 5, sampling: str | None = None, seed: int = 0):
        if not isinstance(split, VideoSplit):
            raise TypeError(f"split must be a VideoSplit (read_split), got {type(split).__name__}")
        self.part = check_choice("part", part, ("train", "test"))
        self.sampling = check_choice("sampling", sampling or ("random" if part == "train" else "even"),
                                     ("random", "even"))
        self.paths = split.train if part == "train" else split.test
        self.labels = split.train_labels if part == "train" else split.test_labels
        self.size, self.channels = check_int("size", size), check_choice("channels", channels, (1, 3))
        self.frames, self.stride, self.clips = check_int("frames", frames), check_int("stride", stride), check_int("clips", clips)
        self.seed, self.epoch = check_seed("seed", seed), 0

    def set_epoch(self, epoch: int) -> None:
        """Draw other random clips (a DataLoader's workers see the epoch set before they start)."""
        self.epoch = check_int("epoch", epoch, 0)

    def __len__(self) -> int:
        return len(self.paths)

    def indices(self, i: int) -> Callable[[int], np.ndarray]:
        """``f(N) -> frame numbers`` of item ``i`` (flattened clips) for :func:`vidkit.data.video.read_frames`."""
        if self.sampling == "random":
            rng = np.random.default_rng([self.seed, self.epoch, i])
            return lambda n: random_clip_indices(n, self.frames, self.stride, rng)
        return lambda n: even_clip_indices(n, self.frames, self.stride, self.clips).ravel()

    def __getitem__(self, i: int) -> dict[str, Any]:
        i = check_int("index", i, 0, len(self) - 1)
        frames = read_frames(self.paths[i], self.indices(i), size=self.size, channels=self.channels)
        clip = to_clip(frames)                                                  # (K * T, C, H, W)
        if self.sampling == "even":
            clip = clip.reshape(self.clips, self.frames, *clip.shape[1:])
        return {"frames": clip, "label": int(self.labels[i]), "index": i}


# ---------------------------------------------------------------------------------------------- writing


def write_layout(root: str | os.PathLike, layout: str, train: Sequence[tuple[str, Any]],
                 test: Sequence[tuple[str, Any]], *, unused: Sequence[tuple[str, Any]] = (), fps: float = 10,
                 suffix: str = ".avi") -> VideoSplit:
    """Write videos and split-1 files in a layout :func:`read_split` reads, and read the split back.

    ``train`` / ``test`` (and, for HMDB-51, ``unused``) are ``(class name, frames)`` pairs, ``frames`` as
    :func:`vidkit.data.video.write_video` takes them. UCF-101: ``ROOT/UCF-101/<class>/v_<class>_g<GG>_c01<suffix>``,
    one group per video of a class, numbered test videos first (as split 1 tests groups 1-7), and
    ``ROOT/ucfTrainTestlist/`` with ``classInd.txt``, ``trainlist01.txt``, ``testlist01.txt``. HMDB-51:
    ``ROOT/<class>/<class>_<NN><suffix>`` and ``ROOT/testTrainMulti_7030_splits/<class>_test_split1.txt``.
    Classes are numbered in sorted order. Videos are written atomically, the split files last.
    """
    base = Path(root)
    check_choice("layout", layout, LAYOUTS)
    check_real("fps", fps, 0.0)
    if suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"suffix must be one of {', '.join(VIDEO_SUFFIXES)}, got {suffix!r}")
    if layout == "ucf101" and unused:
        raise ValueError("UCF-101 split files have no unused videos; pass unused=() for layout='ucf101'")
    parts = {"test": list(test), "train": list(train), "unused": list(unused)}
    classes = sorted({c for rows in parts.values() for c, _ in rows})
    if any(not c or any(ch in c for ch in "/\\ ") for c in classes):
        raise ValueError(f"class names must be plain folder names without spaces, got {classes}")
    counter = dict.fromkeys(classes, 0)
    rel: dict[str, list[tuple[str, str]]] = {k: [] for k in parts}
    video_root = base / "UCF-101" if layout == "ucf101" else base
    for part, rows in parts.items():
        for c, frames in rows:
            counter[c] += 1
            name = (f"v_{c}_g{counter[c]:02d}_c01{suffix}" if layout == "ucf101" else f"{c}_{counter[c]:02d}{suffix}")
            write_video(video_root / c / name, frames, fps=fps)
            rel[part].append((c, f"{c}/{name}"))
    number = {c: i + 1 for i, c in enumerate(classes)}
    if layout == "ucf101":
        lists = base / "ucfTrainTestlist"
        texts = {"classInd.txt": [f"{number[c]} {c}" for c in classes],
                 "trainlist01.txt": [f"{r} {number[c]}" for c, r in rel["train"]],
                 "testlist01.txt": [r for _, r in rel["test"]]}
    else:
        lists = base / "testTrainMulti_7030_splits"
        code = {"train": "1", "test": "2", "unused": "0"}
        texts = {f"{c}_test_split1.txt": [f"{r.split('/', 1)[1]} {code[part]}" for part in ("train", "test", "unused")
                                          for cc, r in rel[part] if cc == c] for c in classes}
    from vidkit.utils.fileio import atomic_write

    for name, lines in texts.items():
        text = "\n".join(lines) + "\n"
        atomic_write(lists / name, lambda f, text=text: f.write(text.encode()))
    return read_split(base, layout, 1)


def _camel(name: str) -> str:
    return "".join(w.capitalize() for w in name.split("_"))


def write_actions_folder(root: str | os.PathLike, layout: str = "ucf101", videos_per_class: int = 6, *,
                         size: int = 64, num_frames: int = 24, fps: float = 10, suffix: str = ".avi",
                         seed: int = 0) -> VideoSplit:
    """The kit's actions suite (:func:`vidkit.data.generate_actions`, 8 motion classes) as a small UCF-101 or
    HMDB-51 folder with split-1 files (:func:`write_layout`), to run the real-data protocols with nothing
    downloaded.

    Each class gets ``videos_per_class`` (>= 2) grayscale videos of ``num_frames`` frames of ``size`` pixels at
    ``fps``: about 30 % test videos (at least one; their digits come from the kit's test digits, as UCF-101's
    test groups are other people), for HMDB-51 one unused video when a class has 5 or more, the rest training
    videos. Class names: UCF-101 style ``MoveLeft``, HMDB-51 style ``move_left``.
    """
    from vidkit.data.actions import ACTIONS, generate_actions

    check_choice("layout", layout, LAYOUTS)
    n = check_int("videos_per_class", videos_per_class, 2)
    n_test = max(1, round(0.3 * n))
    n_unused = 1 if layout == "hmdb51" and n >= 5 else 0
    n_train = n - n_test - n_unused
    names = [_camel(a) if layout == "ucf101" else a for a in ACTIONS]
    rows: dict[str, list[tuple[str, Any]]] = {}
    for part, count, digits in (("train", n_train + n_unused, "train"), ("test", n_test, "test")):
        labels = np.repeat(np.arange(len(ACTIONS)), count)
        clips = generate_actions(len(labels), split=digits, seed=seed, num_frames=num_frames, size=size,
                                 action_labels=labels)
        rows[part] = [(names[a], f) for a, f in zip(labels, clips.frames, strict=True)]
    unused = [r for i, r in enumerate(rows["train"]) if n_unused and i % (n_train + n_unused) == n_train]
    train = [r for i, r in enumerate(rows["train"]) if not (n_unused and i % (n_train + n_unused) == n_train)]
    return write_layout(root, layout, train, rows["test"], unused=unused, fps=fps, suffix=suffix)
