"""Your own video: embed a folder of video files, search it, and the standard protocols on UCF-101 / HMDB-51.

**One embedding per video** (:func:`embed_videos`): each file is read at the sizes of a
:class:`vidkit.profiles.RealVideoBudget` (centre crop to ``size`` x ``size``, ``channels``), cut into
``test_clips`` evenly spaced clips of ``frames`` frames every ``stride``-th frame
(:func:`vidkit.data.folders.even_clip_indices`), each clip goes through ``encoder.embed`` and the clip embeddings
are averaged: ``(N videos, D)`` float32. Any ``nn.Module`` with ``embed((B, T, C, H, W)) -> (B, D)`` is an encoder
(:func:`vidkit.eval.representation.extract_embeddings` runs it); :class:`vidkit.models.PixelEncoder` is the
untrained ``pixels`` baseline.

**An index** (:func:`save_index` / :func:`load_index`) is an ``.npz`` file: the sorted relative ``paths`` of the
videos under ``root``, their ``embeddings`` ``(N, D)`` float32, the ``encoder`` name and the reading sizes
(``sampling``, JSON: the budget's fields but ``videos_per_class``), so a query is read and embedded exactly like the videos it is compared with.
:func:`search_index` ranks the index by cosine similarity after centring on the index mean, with the kit's one
nearest-neighbour search, :func:`vidkit.eval.retrieval.search`.

**The protocols** (:func:`evaluate_folder`), on one official split (:func:`vidkit.data.folders.read_split`):

1. every train and test video is embedded as above (the encoder stays frozen);
2. **linear probe top-1**: a logistic regression on the standardised train embeddings, scored on the test
   embeddings (:func:`vidkit.eval.representation.linear_probe`). CoCLR trains a linear layer on frozen features
   of random, augmented clips; here the probe is fitted on the clip-averaged features, which needs no training
   loop;
3. **fine-tuning top-1** (``finetune=True``, :func:`finetune_split`): a copy of the encoder and a new linear
   classifier on its embedding, :class:`FineTunedClassifier`, train end to end on the training videos with the
   kit's one training loop (:func:`vidkit.train.train`): each step is ``batch`` training videos, one random clip
   of each (:class:`vidkit.data.folders.VideoFolderDataset`), and the cross-entropy of their class;
   ``finetune_steps`` steps at peak learning rate ``finetune_lr`` (AdamW, cosine decay). A test video's class is
   the argmax of its logits averaged over its ``test_clips`` evenly spaced clips. An encoder without trainable
   weights (the ``pixels`` baseline) keeps its features and only the classifier trains: a linear classifier on
   random clips, CoCLR's linear-probe recipe; the result says which (``finetune_trained``);
4. **retrieval R@k** as CoCLR reports it (k = 1, 5, 10, 20, 50): each test video queries all training videos
   (cosine similarity after subtracting the training mean); a query is a hit at ``k`` if a training video of its
   class is among its ``k`` nearest, ties counted against it (:func:`vidkit.eval.representation.retrieval_recall`,
   which ranks with :func:`vidkit.eval.retrieval.first_hit_ranks`). ``chance@k`` is what a random ranking scores.

Sizes come from the profile (``vidkit.profile().real_video``); ``full`` is the recipe for a GPU and all the data.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from vidkit.data.folders import VideoFolderDataset, VideoSplit, even_clip_indices, list_videos, read_split
from vidkit.data.video import read_frames, to_clip
from vidkit.eval.representation import extract_embeddings, linear_probe, retrieval_recall
from vidkit.eval.retrieval import _chance_recall, search
from vidkit.profiles import RealVideoBudget, profile
from vidkit.utils.checks import check_int, check_real, check_seed, shape_text

__all__ = ["RETRIEVAL_KS", "embed_video", "embed_videos", "embed_folder", "VideoIndex", "save_index", "load_index",
           "search_index", "FineTunedClassifier", "FineTuneResult", "finetune_split", "evaluate_folder"]

#: The ``k`` of CoCLR's retrieval table.
RETRIEVAL_KS = (1, 5, 10, 20, 50)


def _check_encoder(encoder: Any) -> nn.Module:
    if not isinstance(encoder, nn.Module) or not callable(getattr(encoder, "embed", None)):
        raise TypeError(f"encoder must be an nn.Module with embed((B, T, C, H, W)) -> (B, D), "
                        f"got {type(encoder).__name__}")
    return encoder


def _budget(budget: RealVideoBudget | None) -> RealVideoBudget:
    if budget is None:
        return profile().real_video
    if not isinstance(budget, RealVideoBudget):
        raise TypeError(f"budget must be a vidkit.profiles.RealVideoBudget or None (the profile's), "
                        f"got {type(budget).__name__}")
    return budget


def _video_clips(path: str | os.PathLike, b: RealVideoBudget) -> torch.Tensor:
    """``(test_clips, frames, C, size, size)`` float clips of one file."""
    frames = read_frames(path, lambda n: even_clip_indices(n, b.frames, b.stride, b.test_clips).ravel(),
                         size=b.size, channels=b.channels)
    clip = to_clip(frames)
    return clip.reshape(b.test_clips, b.frames, *clip.shape[1:])


def embed_video(encoder: nn.Module, path: str | os.PathLike, budget: RealVideoBudget | None = None) -> np.ndarray:
    """One video's embedding ``(D,)`` float32: the mean of ``encoder.embed`` over its ``test_clips`` evenly spaced
    clips (see the module docstring)."""
    b = _budget(budget)
    z = extract_embeddings(_check_encoder(encoder), _video_clips(path, b), batch_size=b.batch, progress=False)
    return z.mean(axis=0).astype(np.float32)


def embed_videos(encoder: nn.Module, paths: Sequence[str | os.PathLike], budget: RealVideoBudget | None = None,
                 progress: bool = True, desc: str = "embed videos") -> np.ndarray:
    """``(N, D)`` float32: :func:`embed_video` of each of ``paths`` (N >= 1), with a tqdm bar over the videos."""
    _check_encoder(encoder)
    b = _budget(budget)
    if isinstance(paths, str | os.PathLike) or len(paths) == 0:
        raise ValueError(f"paths must be a non-empty sequence of video files, got {paths!r}")
    out = [embed_video(encoder, p, b) for p in tqdm(paths, desc=desc, unit="video", disable=not progress)]
    return np.stack(out)


# ---------------------------------------------------------------------------------------------- index


@dataclass(frozen=True, eq=False)
class VideoIndex:
    """An embedded folder: ``root`` (absolute), ``paths`` (sorted, relative to ``root``, POSIX style),
    ``embeddings`` ``(N, D)`` float32, the ``encoder`` name and the reading ``budget`` its videos were embedded
    with."""

    root: Path
    paths: tuple[str, ...]
    embeddings: np.ndarray
    encoder: str
    budget: RealVideoBudget

    def __len__(self) -> int:
        return len(self.paths)

    def files(self) -> list[Path]:
        """The videos' full paths."""
        return [self.root / p for p in self.paths]


def save_index(path: str | os.PathLike, root: str | os.PathLike, paths: Sequence[str | os.PathLike],
               embeddings: Any, encoder: str, budget: RealVideoBudget) -> Path:
    """Write a :class:`VideoIndex` as ``.npz`` (atomically): ``paths`` are stored relative to ``root`` and
    sorted, with their rows of ``embeddings`` ``(N, D)``."""
    from vidkit.utils.fileio import atomic_write

    root = Path(root).absolute()
    rel = [Path(p).absolute().relative_to(root).as_posix() for p in paths]
    emb = np.asarray(embeddings, dtype=np.float32)
    if emb.ndim != 2 or len(emb) != len(rel) or len(rel) == 0:
        raise ValueError(f"embeddings must be (N, D) with one row per path (N = {len(rel)} >= 1), got {shape_text(emb)}")
    order = sorted(range(len(rel)), key=rel.__getitem__)
    sampling = json.dumps({k: v for k, v in asdict(budget).items() if k != "videos_per_class"})
    arrays = {"root": np.array(str(root)), "paths": np.array([rel[i] for i in order]),
              "embeddings": emb[order], "encoder": np.array(str(encoder)), "sampling": np.array(sampling)}
    return atomic_write(Path(path), lambda f: np.savez(f, **arrays))


def load_index(path: str | os.PathLike) -> VideoIndex:
    """Read an index written by :func:`save_index` (``vidkit embed``); a file that is not one raises a
    :class:`~vidkit.errors.DataFileError` naming it."""
    from vidkit.errors import DataFileError

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(2, "no such index file (write one with `vidkit embed FOLDER --out EMB.npz`)", str(p))
    try:
        with np.load(p, allow_pickle=False) as z:
            data = {k: z[k] for k in ("root", "paths", "embeddings", "encoder", "sampling")}
        sampling = json.loads(str(data["sampling"]))
        known = {f.name for f in fields(RealVideoBudget)}
        # an index written before fine-tuning had a budget: those fields (unused by search) from the profile
        tuning = {k: getattr(profile().real_video, k) for k in ("finetune_steps", "finetune_lr")}
        budget = RealVideoBudget(**(tuning | {k: v for k, v in sampling.items() if k in known}), videos_per_class=None)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataFileError(f"{p}: not a vidkit video index ({type(e).__name__}: {e}); write one with "
                            "`vidkit embed FOLDER --out EMB.npz`") from e
    emb = data["embeddings"]
    if emb.ndim != 2 or len(emb) != len(data["paths"]) or emb.dtype.kind != "f":
        raise DataFileError(f"{p}: embeddings {emb.dtype} {emb.shape} do not match its {len(data['paths'])} paths")
    return VideoIndex(Path(str(data["root"])), tuple(str(x) for x in data["paths"]), emb.astype(np.float32),
                      str(data["encoder"]), budget)


def search_index(index: VideoIndex, query: Any, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` videos of ``index`` nearest to ``query`` (a ``(D,)`` embedding, e.g. :func:`embed_video` with the
    index's encoder and budget): ``[(relative path, cosine score), ...]``, best first, scores after centring on
    the index mean (:func:`vidkit.eval.retrieval.search` with ``center=True``; equal scores in path order)."""
    q = torch.as_tensor(np.asarray(query, dtype=np.float32)).reshape(1, -1)
    if q.shape[1] != index.embeddings.shape[1]:
        raise ValueError(f"query must be a ({index.embeddings.shape[1]},) embedding like the index's, got "
                         f"{q.shape[1]} values (embed it with the index's encoder {index.encoder!r})")
    k = check_int("k", k, 1, len(index), what=" (the number of videos in the index)")
    scores, idx = search(q, index.embeddings, k=k, center=True)
    return [(index.paths[i], float(s)) for s, i in zip(scores[0].tolist(), idx[0].tolist(), strict=True)]


def embed_folder(encoder: nn.Module, folder: str | os.PathLike, out: str | os.PathLike, encoder_name: str,
                 budget: RealVideoBudget | None = None, progress: bool = True) -> VideoIndex:
    """Embed every video under ``folder`` (:func:`vidkit.data.folders.list_videos`: recursive, sorted) and
    write the index to ``out``; returns it."""
    b = _budget(budget)
    paths = list_videos(folder)
    if not paths:
        from vidkit.data.video import VIDEO_SUFFIXES

        raise FileNotFoundError(2, f"no video files ({', '.join(VIDEO_SUFFIXES)}) in this folder or below it", str(folder))
    emb = embed_videos(encoder, paths, b, progress=progress)
    save_index(out, folder, paths, emb, encoder_name, b)
    return load_index(out)


# ---------------------------------------------------------------------------------------------- protocols


class FineTunedClassifier(nn.Module):
    """An encoder and a linear classifier on its embedding: ``forward(clips (B, T, C, H, W)) -> (B, classes)``
    logits, ``head(encoder.embed(clips))``. :func:`finetune_split` trains it end to end."""

    def __init__(self, encoder: nn.Module, dim: int, classes: int):
        super().__init__()
        self.encoder = _check_encoder(encoder)
        self.head = nn.Linear(check_int("dim", dim), check_int("classes", classes, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder.embed(x))


@dataclass(frozen=True, eq=False)
class FineTuneResult:
    """What :func:`finetune_split` returns: ``top1`` on the test videos (clip-averaged logits), ``train_top1``
    (the training clips of the last logged steps), ``chance`` (the most common test class's share), the
    ``steps`` done and the peak ``lr``, ``trained`` (``"encoder and classifier"`` or ``"classifier only"``, for an
    encoder without trainable weights), ``encoder_params`` (the encoder's weights that trained: those the loss
    reaches through ``embed``), ``final_loss``, the training
    ``history`` and the fine-tuned ``model`` (a :class:`FineTunedClassifier` around a copy of the encoder)."""

    top1: float
    train_top1: float
    chance: float
    steps: int
    lr: float
    trained: str
    encoder_params: int
    final_loss: float
    history: list[dict[str, float]]
    model: FineTunedClassifier

    def summary(self) -> dict[str, Any]:
        """The numbers (no model, no history), with the keys :func:`evaluate_folder` reports them under."""
        return {"finetune_top1": self.top1, "finetune_train_top1": self.train_top1, "finetune_steps": self.steps,
                "finetune_lr": self.lr, "finetune_trained": self.trained, "finetune_loss": self.final_loss}


class _TrainClips:
    """Fine-tuning batches: batch ``s`` is ``{"frames": (B, T, C, H, W), "label": (B,)}``, ``B = min(batch,
    videos)`` distinct training videos drawn with ``default_rng([seed, s])``, one random clip of each (the
    dataset's epoch set to ``s``, so every step sees fresh clips). A pure function of ``(seed, s)``; the
    position is its ``state_dict`` (an exact resume in :func:`vidkit.train.train`)."""

    def __init__(self, dataset: VideoFolderDataset, batch: int, seed: int):
        self.dataset, self.batch, self.seed, self.step = dataset, min(batch, len(dataset)), seed, 0

    def __iter__(self) -> _TrainClips:
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.step])
        rows = rng.choice(len(self.dataset), size=self.batch, replace=False)
        self.dataset.set_epoch(self.step)
        items = [self.dataset[int(i)] for i in rows]
        self.step += 1
        return {"frames": torch.stack([it["frames"] for it in items]),
                "label": torch.tensor([it["label"] for it in items], dtype=torch.long)}

    def state_dict(self) -> dict[str, int]:
        return {"step": self.step}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.step = int(state["step"])


def _classify_loss(model: nn.Module, batch: dict[str, torch.Tensor], _step: int) -> tuple[torch.Tensor, dict]:
    logits = model(batch["frames"])
    accuracy = (logits.argmax(1) == batch["label"]).float().mean()
    return nn.functional.cross_entropy(logits, batch["label"]), {"accuracy": float(accuracy)}


def finetune_split(encoder: nn.Module, split: VideoSplit, budget: RealVideoBudget | None = None, *, seed: int = 0,
                   progress: bool = True, workdir: str | os.PathLike | None = None) -> FineTuneResult:
    """Fine-tuning top-1 on one split (see the module docstring, protocol 3): train a copy of ``encoder`` and a new
    linear classifier end to end on ``split``'s training videos, then classify its test videos.

    Args:
        encoder: an ``nn.Module`` with ``embed((B, T, C, H, W)) -> (B, D)``; it is not modified (a copy trains).
            Without trainable weights (``pixels``) only the classifier trains.
        split: a :class:`vidkit.data.folders.VideoSplit` (:func:`vidkit.data.folders.read_split`, optionally
            ``.subset(...)``) with at least 2 classes among its training videos.
        budget: reading sizes, ``batch`` clips per step, ``finetune_steps`` and ``finetune_lr`` (default: the
            profile's ``real_video``).
        seed: the classifier's initial weights, which videos and clips each step sees.
        progress: the training loop's progress bar and its closing line.
        workdir: optional run folder of :func:`vidkit.train.train` (checkpoints; calling again resumes).

    Returns:
        A :class:`FineTuneResult`; ``top1`` in [0, 1].
    """
    import copy

    from vidkit.train import TrainConfig, train

    _check_encoder(encoder)
    if not isinstance(split, VideoSplit):
        raise TypeError(f"split must be a vidkit.data.folders.VideoSplit (read_split), got {type(split).__name__}")
    b = _budget(budget)
    steps = check_int("budget.finetune_steps", b.finetune_steps)
    lr = check_real("budget.finetune_lr", b.finetune_lr, 0.0)
    seed = check_seed("seed", seed)
    classes = len(split.classes)
    if classes < 2 or len(np.unique(split.train_labels)) < 2:
        raise ValueError(f"fine-tuning needs training videos of at least 2 classes; {split.describe()} has "
                         f"{len(np.unique(split.train_labels))}")
    data = VideoFolderDataset(split, "train", size=b.size, channels=b.channels, frames=b.frames, stride=b.stride,
                              seed=seed)
    tuned = copy.deepcopy(encoder).eval()
    with torch.no_grad():                                                 # the embedding's width D
        dim = int(tuned.embed(data[0]["frames"][None]).shape[-1])
    torch.manual_seed(seed)
    model = FineTunedClassifier(tuned, dim, classes)
    config = TrainConfig(steps=steps, lr=lr, weight_decay=1e-4, log_every=max(1, min(10, steps)), seed=seed)
    result = train(model, _classify_loss, _TrainClips(data, b.batch, seed), config, workdir=workdir,
                   progress=progress)
    model = result.model.eval()
    # the encoder's weights the fine-tuning trained: those the loss reaches (a predictor's decoders do not); after
    # a resumed run that had no step left to do, every trainable one
    ran = model.head.weight.grad is not None
    encoder_params = sum(p.numel() for p in model.encoder.parameters() if p.requires_grad and (p.grad is not None or not ran))
    model.zero_grad(set_to_none=True)
    device = next(model.parameters()).device
    correct = 0
    with torch.no_grad():
        for path, label in zip(split.test, split.test_labels, strict=True):
            logits = model(_video_clips(path, b).to(device)).mean(dim=0)      # (classes,): clip-averaged
            correct += int(int(logits.argmax()) == int(label))
    last = result.history[-1] if result.history else {}
    return FineTuneResult(top1=correct / len(split.test), train_top1=float(last.get("accuracy", float("nan"))),
                          chance=float(np.bincount(split.test_labels).max() / len(split.test)), steps=result.steps,
                          lr=lr, trained="encoder and classifier" if encoder_params else "classifier only",
                          encoder_params=int(encoder_params), final_loss=result.final_loss, history=result.history,
                          model=model)


def evaluate_folder(encoder: nn.Module, root: str | os.PathLike, layout: str = "ucf101", split: int = 1, *,
                    budget: RealVideoBudget | None = None, ks: Sequence[int] = RETRIEVAL_KS,
                    finetune: bool = False, progress: bool = True) -> dict[str, Any]:
    """Linear-probe top-1 and retrieval R@k of a frozen ``encoder`` on one split of a UCF-101 / HMDB-51 folder,
    and with ``finetune=True`` its fine-tuning top-1 (:func:`finetune_split` on the same videos).

    ``budget`` (default: the profile's ``real_video``) sets the reading sizes and, with ``videos_per_class``,
    an evenly spread subset of each class (then the numbers are a quick look, not the published protocol).
    ``ks`` larger than the number of training videos are left out (``R@k`` would be 1 by construction).

    Returns a dict: ``layout``, ``split``, ``classes``, ``train_videos``, ``test_videos``, ``subset`` (the
    note, or ``""``); ``top1``, ``top1_train``, ``top1_chance`` (the probe's test and train accuracy and the
    most common test class's share); ``R@k`` and ``chance@k`` for each kept ``k``; ``ks``; ``budget`` (its fields).
    With ``finetune=True`` also ``finetune_top1``, ``finetune_train_top1``, ``finetune_steps``, ``finetune_lr``,
    ``finetune_trained`` and ``finetune_loss`` (:meth:`FineTuneResult.summary`). Fractions in [0, 1].
    """
    _check_encoder(encoder)
    b = _budget(budget)
    if not isinstance(finetune, bool):
        raise TypeError(f"finetune must be a bool, got {finetune!r}")
    vs = read_split(root, layout, split).subset(b.videos_per_class)
    train = embed_videos(encoder, vs.train, b, progress=progress, desc=f"{layout} train videos")
    test = embed_videos(encoder, vs.test, b, progress=progress, desc=f"{layout} test videos")
    probe = linear_probe(train, vs.train_labels, test, vs.test_labels) if len(np.unique(vs.train_labels)) > 1 else \
        {"accuracy": float("nan"), "train_accuracy": float("nan"), "chance": float("nan")}
    kept = [check_int("each k in ks", k, 1) for k in ks if k <= len(train)]
    if not kept:
        raise ValueError(f"every k in ks={list(ks)} exceeds the {len(train)} training videos")
    recall = retrieval_recall(test, vs.test_labels, train, vs.train_labels, ks=kept)
    n_rel = (vs.test_labels[:, None] == vs.train_labels[None, :]).sum(axis=1)
    chance = {f"chance@{k}": float(np.mean(_chance_recall(len(train), n_rel, k))) for k in kept}
    tuned = finetune_split(encoder, vs, b, progress=progress).summary() if finetune else {}
    return {"layout": vs.layout, "split": vs.split, "classes": len(vs.classes), "train_videos": len(vs.train),
            "test_videos": len(vs.test), "subset": vs.note, "top1": probe["accuracy"],
            "top1_train": probe["train_accuracy"], "top1_chance": probe["chance"], **recall, **chance,
            "ks": kept, **tuned, "budget": asdict(b)}
