"""Evaluating a frozen video representation: linear probe, weighted kNN and nearest-neighbour retrieval.

The question this module answers: *what does a self-supervised representation capture?* On the actions
suite (:func:`vidkit.data.generate_actions`) every clip has two independent labels, the actor's
**digit** (appearance) and its **action** (motion), so every evaluation is reported for both. A
representation that knows the digit but not the action scores well on one and at chance on the other.

The protocol, with ``N`` train clips, ``M`` test clips and ``D``-dimensional embeddings:

1. :func:`extract_embeddings` runs ``encoder.embed`` over clips once: ``(N, T, C, H, W)`` -> ``(N, D)``.
   The encoder stays frozen: nothing below trains it.
2. :func:`linear_probe` fits a multinomial logistic regression on standardised train features
   (scikit-learn's ``StandardScaler`` + ``LogisticRegression``) and reports test accuracy.
3. :func:`knn_accuracy` is the weighted kNN classifier of Wu et al. 2018 (InstDisc), also used by CoCLR:
   L2-normalised features, cosine similarity ``s`` to every train clip, the ``k`` most similar vote for
   their class with weight ``exp(s / temperature)``, the class with the largest total wins.
4. :func:`retrieval_recall` is CoCLR's nearest-neighbour retrieval: each test clip queries the train
   clips; features are **mean-centred** (the gallery mean is subtracted from both sets) and L2-normalised;
   a query is a hit at ``k`` (``R@k``) if a gallery clip with the query's label is among its ``k``
   nearest, ties counted against the query (:func:`vidkit.eval.retrieval.first_hit_ranks`).
5. :func:`evaluate_representation` runs all three for every label; :func:`results_frame` turns the results
   of several methods into one table (rows: methods, columns: ``(label, metric)``).

Every function takes NumPy arrays or torch tensors (converted to float64 NumPy) and returns plain floats
(fractions in ``[0, 1]``, not percentages). Ties: :func:`retrieval_recall` counts a wrong clip that scores
as high as the right one (or within float rounding of it) as ranked above it, so its ``R@k`` does not
depend on the order of the gallery; :func:`nearest_neighbours` and the kNN classifier list equally similar
neighbours in gallery order (the smaller index first); ties in the kNN vote go to the smaller class
label.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from vidkit.eval.retrieval import cosine_scores, first_hit_ranks, search
from vidkit.utils.checks import check_int, check_real, shape_text

__all__ = [
    "extract_embeddings",
    "linear_probe",
    "pair_accuracy",
    "knn_predict",
    "knn_accuracy",
    "retrieval_recall",
    "evaluate_representation",
    "results_frame",
]

ArrayLike = np.ndarray | torch.Tensor
_CHUNK = 1024  # query rows per similarity block: bounds memory at _CHUNK * N_gallery floats


# ---------------------------------------------------------------------------------------- input checks


def _to_numpy(a: Any, name: str, what: str) -> np.ndarray:
    """Convert a NumPy array or torch tensor to NumPy (on the CPU, detached); anything else is a TypeError."""
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    if isinstance(a, np.ndarray):
        return a
    raise TypeError(f"{name} must be {what} as a numpy array or torch tensor, got {type(a).__name__}")


def _features(x: Any, name: str) -> np.ndarray:
    """Check ``x`` is a finite, non-empty ``(N, D)`` real array and return it as float64."""
    a = _to_numpy(x, name, "(N, D) float features")
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} must be (N, D) float with N, D >= 1, got {shape_text(a)}")
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be (N, D) float, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        bad = int((~np.isfinite(a)).sum())
        raise ValueError(f"{name} must be finite (N, D) float, got {bad} NaN/inf values")
    return a


def _labels(y: Any, name: str, n: int, x_name: str) -> np.ndarray:
    """Check ``y`` is ``(n,)`` integer (or string) class labels, one per row of ``x_name``."""
    a = _to_numpy(y, name, "(N,) integer class labels")
    if a.ndim != 1:
        raise ValueError(f"{name} must be (N,) class labels, got {shape_text(a)}")
    if a.dtype.kind not in "iubUS":
        raise TypeError(f"{name} must be (N,) integer (or string) class labels, got dtype {a.dtype}")
    if len(a) != n:
        raise ValueError(f"{name} has {len(a)} labels but {x_name} has {n} rows; need one label per row")
    return a


def _pair(train_x: Any, train_y: Any, test_x: Any, test_y: Any,
          names: tuple[str, str, str, str] = ("train_x", "train_y", "test_x", "test_y"),
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate a (train, test) pair of features and labels with the same feature dimension ``D``."""
    xa, ya, xb, yb = names
    tx, qx = _features(train_x, xa), _features(test_x, xb)
    if tx.shape[1] != qx.shape[1]:
        raise ValueError(f"{xa} and {xb} must have the same feature dimension D, "
                         f"got {shape_text(tx)} and {shape_text(qx)}")
    return tx, _labels(train_y, ya, len(tx), xa), qx, _labels(test_y, yb, len(qx), xb)


def _search(query: np.ndarray, gallery: np.ndarray, k: int, center: bool = False,
            exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """:func:`vidkit.eval.retrieval.search` (the kit's one cosine top-k search, ties in gallery order) on float64
    NumPy arrays: indices ``(M, k)`` and similarities ``(M, k)``, most similar first."""
    sim, idx = search(query, gallery, k=k, batch=_CHUNK, center=center, exclude_self=exclude_self)
    return idx.numpy(), sim.numpy()


def _clip_batches(clips: Any) -> tuple[int, Callable[[int, int], torch.Tensor]]:
    """``(number of clips, batch(lo, hi) -> float32 (B, T, C, H, W) tensor)`` for every accepted input.

    uint8 pixels are scaled to [0, 1]; float pixels are used as they are.
    """

    def as_float(t: torch.Tensor) -> torch.Tensor:
        return t.float().div(255.0) if t.dtype == torch.uint8 else t.float()

    frames = getattr(clips, "frames", None)
    if frames is not None and not isinstance(clips, torch.Tensor | np.ndarray):
        # ActionClips / MovingMNIST: uint8 (N, T, H, W) frames; add the channel axis.
        if not isinstance(frames, np.ndarray | torch.Tensor) or frames.ndim not in (4, 5):
            raise ValueError(f"clips.frames must be (N, T, H, W) or (N, T, C, H, W), got {shape_text(frames)}")
        clips = frames[:, :, None] if frames.ndim == 4 else frames
    if isinstance(clips, np.ndarray | torch.Tensor):
        if clips.ndim != 5:
            raise ValueError(f"clips must be a (N, T, C, H, W) tensor, got {shape_text(clips)}")
        if isinstance(clips, np.ndarray) and clips.dtype.kind not in "fiu":
            raise TypeError(f"clips must hold float or uint8 pixels, got dtype {clips.dtype}")
        data = clips
        return len(data), lambda lo, hi: as_float(torch.as_tensor(data[lo:hi]))
    if hasattr(clips, "__len__") and hasattr(clips, "__getitem__"):
        # A list or Dataset: each item a (T, C, H, W) tensor/array or a dict with "frames".
        seq = clips

        def item(i: int) -> torch.Tensor:
            x = seq[i]
            x = x["frames"] if isinstance(x, Mapping) else x
            if not isinstance(x, np.ndarray | torch.Tensor) or x.ndim != 4:
                raise ValueError(f"clips[{i}] must be a (T, C, H, W) tensor (or a dict with 'frames'), "
                                 f"got {shape_text(x)}")
            return as_float(torch.as_tensor(x))

        return len(seq), lambda lo, hi: torch.stack([item(i) for i in range(lo, hi)])
    raise TypeError("clips must be a (N, T, C, H, W) tensor/array, an object with .frames (ActionClips), "
                    f"or a sequence/Dataset of (T, C, H, W) clips, got {type(clips).__name__}")


def extract_embeddings(encoder: torch.nn.Module, clips: Any, batch_size: int = 64,
                       device: str | torch.device | None = None, progress: bool = True) -> np.ndarray:
    """Embed every clip with a frozen encoder: ``encoder.embed(x)``, ``(B, T, C, H, W)`` -> ``(B, D)``.

    Args:
        encoder: a module with an ``embed`` method (e.g. ``SrivastavaLSTM``). It runs in ``eval()`` mode
            under ``torch.no_grad()``; its previous train/eval mode is restored afterwards.
        clips: ``N`` clips as one of: a ``(N, T, C, H, W)`` tensor or array; an object with ``.frames``
            ``(N, T, H, W)`` uint8 (:class:`~vidkit.data.ActionClips`, Moving MNIST data), given one
            channel; a list or Dataset whose items are ``(T, C, H, W)`` tensors or dicts with ``"frames"``
            (:class:`~vidkit.data.ActionsDataset`). uint8 pixels are scaled to [0, 1].
        batch_size: clips per forward pass (the last batch may be smaller).
        device: where batches are sent; default: the device of the encoder's parameters (CPU if none).
            The encoder itself is not moved.
        progress: show a tqdm progress bar.

    Returns:
        ``(N, D)`` float32 NumPy array, row ``i`` the embedding of clip ``i``.
    """
    from tqdm.auto import tqdm

    if not callable(getattr(encoder, "embed", None)):
        raise TypeError(f"encoder must have an embed(x) method, (B, T, C, H, W) -> (B, D); "
                        f"got {type(encoder).__name__}")
    batch_size = check_int("batch_size", batch_size)
    n, batch = _clip_batches(clips)
    if n == 0:
        raise ValueError("clips must hold at least one clip (N >= 1), got N = 0")
    if device is None:
        device = next((p.device for p in encoder.parameters()), torch.device("cpu"))
    was_training = encoder.training
    encoder.eval()
    out: list[np.ndarray] = []
    try:
        with torch.no_grad():
            for lo in tqdm(range(0, n, batch_size), desc="embed", disable=not progress, unit="batch"):
                x = batch(lo, min(n, lo + batch_size))
                z = encoder.embed(x.to(device))
                if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[0] != len(x):
                    raise ValueError(f"encoder.embed must return a (B, D) tensor with B = {len(x)}, "
                                     f"got {shape_text(z)}")
                out.append(z.float().cpu().numpy())
    finally:
        encoder.train(was_training)
    return np.concatenate(out, axis=0)


# ------------------------------------------------------------------------------------------ linear probe


def pair_accuracy(probs: Any, labels: Any, partner: Any) -> float:
    """Within-pair accuracy: ``probs (N, C)`` class scores, ``labels (N,)`` the true classes, ``partner (N,)`` one
    other class per row; the fraction of rows where the true class scores strictly above its partner (a tie
    is a miss). Only the two classes are compared, so chance is 0.5 whatever ``C``: e.g. an action against its
    time reversal (:func:`vidkit.data.actions.mirror_of`), or the first of two actions against the second."""
    p = _to_numpy(probs, "probs", "(N, C) class scores")
    y = _to_numpy(labels, "labels", "(N,) class indices")
    o = _to_numpy(partner, "partner", "(N,) class indices")
    if p.ndim != 2 or y.shape != (len(p),) or o.shape != (len(p),) or y.dtype.kind not in "iu" \
            or o.dtype.kind not in "iu":
        raise ValueError(f"need probs (N, C), labels (N,) and partner (N,) integer classes, got {shape_text(p)}, "
                         f"{y.dtype} {shape_text(y)}, {o.dtype} {shape_text(o)}")
    if len(p) == 0:
        raise ValueError("pair_accuracy needs at least one row")
    c = p.shape[1]
    if min(y.min(), o.min()) < 0 or max(y.max(), o.max()) >= c:
        raise ValueError(f"labels and partner must be classes 0..{c - 1} (columns of probs)")
    rows = np.arange(len(p))
    return float(np.mean(p[rows, y] > p[rows, o]))


def linear_probe(train_x: ArrayLike, train_y: ArrayLike, test_x: ArrayLike, test_y: ArrayLike,
                 C: float = 1.0, max_iter: int = 1000, partner: ArrayLike | None = None) -> dict[str, float]:
    """Linear probe: multinomial logistic regression on frozen, standardised features.

    ``StandardScaler`` is fitted on ``train_x (N, D)`` only (zero mean, unit variance per dimension) and
    applied to both sets; ``LogisticRegression(C=C)`` (L2-regularised, softmax over all classes) is fitted
    on the standardised train features and scored on ``test_x (M, D)``. Labels are ``(N,)`` / ``(M,)``
    class labels; at least two classes must occur in ``train_y``.

    Returns ``{"accuracy": test accuracy, "train_accuracy": ..., "chance": ...}``, fractions in [0, 1].
    ``chance`` is the test accuracy of the best constant answer, i.e. the frequency of the most common
    test label (1 / classes for balanced labels): a probe that learnt nothing scores about this.
    A large gap between train and test accuracy means the probe overfits.

    ``partner`` ``(M,)`` integer classes, one per test row: also ``"pair_accuracy"``, the probe's
    :func:`pair_accuracy` on the test set (its probability of the true class above that of the partner; a class
    the probe never saw in training has probability 0). Chance 0.5.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    tx, ty, qx, qy = _pair(train_x, train_y, test_x, test_y)
    C = check_real("C", C, 0.0)
    max_iter = check_int("max_iter", max_iter)
    classes = np.unique(ty)
    if len(classes) < 2:
        raise ValueError(f"train_y must contain at least 2 classes for a probe, got only {classes.tolist()}")
    scaler = StandardScaler().fit(tx)
    clf = LogisticRegression(C=C, max_iter=max_iter).fit(scaler.transform(tx), ty)
    out = {
        "accuracy": float(clf.score(scaler.transform(qx), qy)),
        "train_accuracy": float(clf.score(scaler.transform(tx), ty)),
        "chance": float(np.unique(qy, return_counts=True)[1].max() / len(qy)),
    }
    if partner is not None:
        other = _labels(partner, "partner", len(qx), "test_x")
        if qy.dtype.kind not in "iu" or other.dtype.kind not in "iu" or min(qy.min(), other.min()) < 0:
            raise ValueError("partner needs integer class labels >= 0 in test_y and partner")
        width = int(max(qy.max(), other.max(), classes.max())) + 1
        probs = np.zeros((len(qx), width))
        probs[:, classes.astype(np.int64)] = clf.predict_proba(scaler.transform(qx))
        out["pair_accuracy"] = pair_accuracy(probs, qy.astype(np.int64), other.astype(np.int64))
    return out


# ------------------------------------------------------------------------------------------ weighted kNN


def knn_predict(train_x: ArrayLike, train_y: ArrayLike, test_x: ArrayLike, k: int = 20,
                temperature: float = 0.07) -> np.ndarray:
    """Weighted kNN predictions (Wu et al. 2018): ``(N, D)``, ``(N,)``, ``(M, D)`` -> ``(M,)`` labels.

    Features are L2-normalised, so ``s = cos(query, train clip)``. Each of the ``k`` most similar train
    clips adds ``exp(s / temperature)`` to its class's score; the prediction is the class with the
    largest score (ties: the smaller label). A small temperature lets the nearest neighbours dominate
    (``temperature -> 0`` is 1-NN); a large one gives every neighbour the same vote (majority voting).
    """
    tx = _features(train_x, "train_x")
    ty = _labels(train_y, "train_y", len(tx), "train_x")
    qx = _features(test_x, "test_x")
    if tx.shape[1] != qx.shape[1]:
        raise ValueError(f"train_x and test_x must have the same feature dimension D, "
                         f"got {shape_text(tx)} and {shape_text(qx)}")
    k = check_int("k", k, 1, len(tx), " (the number of train samples)")
    temperature = check_real("temperature", temperature, 0.0)
    classes, y_index = np.unique(ty, return_inverse=True)  # votes are counted per class index
    idx, sim = _search(qx, tx, k)
    # exp((s - s_max) / T) only rescales a query's weights, so the winner is the same and nothing overflows.
    weights = np.exp((sim - sim[:, :1]) / temperature)  # (M, k)
    votes = np.zeros((len(qx), len(classes)))
    np.add.at(votes, (np.arange(len(qx))[:, None], y_index[idx]), weights)
    return classes[np.argmax(votes, axis=1)]


def knn_accuracy(train_x: ArrayLike, train_y: ArrayLike, test_x: ArrayLike, test_y: ArrayLike,
                 k: int = 20, temperature: float = 0.07) -> float:
    """Test accuracy (fraction in [0, 1]) of the weighted kNN classifier, :func:`knn_predict`.

    ``train_x (N, D)``, ``train_y (N,)`` are the labelled memory bank; ``test_x (M, D)``, ``test_y (M,)``
    the clips to classify. ``k`` in ``[1, N]``; ``temperature > 0`` (0.07 as in InstDisc and CoCLR).
    """
    tx, ty, qx, qy = _pair(train_x, train_y, test_x, test_y)
    return float(np.mean(knn_predict(tx, ty, qx, k=k, temperature=temperature) == qy))


# ------------------------------------------------------------------------------------------- retrieval


def nearest_neighbours(query_x: ArrayLike, gallery_x: ArrayLike, k: int = 5, center: bool = True,
                       exclude_self: bool = False) -> np.ndarray:
    """Indices ``(M, k)`` of each query's ``k`` nearest gallery rows, most similar first: cosine similarity
    after subtracting the gallery mean from both sets (``center=True``), the similarity
    :func:`retrieval_recall` ranks by. Equally similar rows come in gallery order (the smaller index
    first: :func:`vidkit.eval.retrieval.search`), a display order; :func:`retrieval_recall` counts ties against
    the query instead."""
    qx, gx = _features(query_x, "query_x"), _features(gallery_x, "gallery_x")
    if qx.shape[1] != gx.shape[1]:
        raise ValueError(f"query_x and gallery_x need the same D, got {qx.shape} and {gx.shape}")
    if exclude_self and len(qx) != len(gx):
        raise ValueError(f"exclude_self=True needs the query set to be the gallery set, "
                         f"got {len(qx)} queries and {len(gx)} gallery items")
    k = check_int("k", k, 1, len(gx) - int(bool(exclude_self)), " (the gallery size)")
    return _search(qx, gx, k, center=bool(center), exclude_self=bool(exclude_self))[0]


def _class_ranks(qx: np.ndarray, qy: np.ndarray, gx: np.ndarray, gy: np.ndarray, center: bool,
                 exclude_self: bool) -> np.ndarray:
    """``(M,)`` first-hit rank of each query (:func:`vidkit.eval.retrieval.first_hit_ranks`) with relevant = same
    label, scored in float64 blocks of ``_CHUNK`` queries; ``inf`` where no gallery item has the label."""
    ranks = np.full(len(qx), np.inf)
    for lo in range(0, len(qx), _CHUNK):
        hi = min(len(qx), lo + _CHUNK)
        scores = cosine_scores(qx[lo:hi], gx, center=center)                   # (B, N) float64
        relevant = torch.from_numpy(gy[None, :] == qy[lo:hi, None])            # (B, N) same label
        if exclude_self:                                       # item i is not in query i's gallery
            rows = torch.arange(hi - lo)
            scores[rows, lo + rows], relevant[rows, lo + rows] = -math.inf, False
        found = relevant.any(dim=1)
        if found.any():
            ranks[lo:hi][found.numpy()] = first_hit_ranks(scores[found], relevant[found]).numpy()
    return ranks


def retrieval_recall(query_x: ArrayLike, query_y: ArrayLike, gallery_x: ArrayLike, gallery_y: ArrayLike,
                     ks: Sequence[int] = (1, 5, 10, 20), exclude_self: bool = False,
                     center: bool = True) -> dict[str, float]:
    """Class-level nearest-neighbour retrieval recall ``R@k``, as CoCLR evaluates it.

    Each query ``(M, D)`` ranks the gallery ``(N, D)`` by cosine similarity, after **mean-centring**: the
    gallery mean ``mu`` is subtracted from both sets (``q - mu``, ``g - mu``), then rows are L2-normalised
    (:func:`vidkit.eval.retrieval.cosine_scores`, in float64). The relevant gallery items of query ``i`` are
    those with label ``query_y[i]``; its rank is :func:`vidkit.eval.retrieval.first_hit_ranks`, the kit's one
    ranking rule::

        best_i = max_{g : gallery_y[g] == query_y[i]} s_ig
        rank_i = 1 + #{ g : gallery_y[g] != query_y[i] and s_ig >= best_i - tol_i }

    i.e. a clip of another label that **ties** with the best same-label clip (or falls short of it by
    float rounding only: ``tol_i`` = 16 float64 eps, 3.6e-15, times the query's largest ``|s_ig|``)
    counts as ranked above it. ``R@k`` is the fraction of queries with ``rank <= k``, in [0, 1] and
    non-decreasing in ``k``; it does not depend on the order of the gallery. Constant (collapsed)
    embeddings give every query the worst rank, ``1 +`` the number of other-label clips, not a lucky
    hit. A query whose label no gallery item has never hits. This is
    :func:`vidkit.eval.retrieval.retrieval_metrics`' ``R@k`` with relevance = same label (which also gives
    the median rank and chance levels).

    Centring matters: raw embeddings often share a large common component (e.g. all-positive ReLU
    features), which makes every cosine close to 1; centring compares clips by how they *differ* from
    the average clip. ``center=False`` skips it (to show the difference).

    ``exclude_self=True`` is for querying a set with itself (``query_x`` is ``gallery_x``, same order):
    gallery item ``i`` is left out of query ``i``'s gallery. Then each ``k`` must be at most ``N - 1``.

    Returns ``{"R@1": ..., "R@5": ...}`` in the order of ``ks``.
    """
    qx, qy, gx, gy = _pair(query_x, query_y, gallery_x, gallery_y,
                           names=("query_x", "query_y", "gallery_x", "gallery_y"))
    if not isinstance(ks, Sequence) or isinstance(ks, str):
        raise TypeError(f"ks must be a sequence of ints such as (1, 5, 10), got {type(ks).__name__}")
    if len(ks) == 0:
        raise ValueError("ks must hold at least one k, such as (1, 5, 10), got an empty sequence")
    if exclude_self and len(qx) != len(gx):
        raise ValueError(f"exclude_self=True needs the query set to be the gallery set, "
                         f"got {len(qx)} queries and {len(gx)} gallery items")
    n = len(gx) - int(bool(exclude_self))
    bound = " (the gallery size minus 1 with exclude_self)" if exclude_self else " (the gallery size)"
    ks = [check_int("each k in ks", k, 1, n, bound) for k in ks]
    ranks = _class_ranks(qx, qy, gx, gy, center=bool(center), exclude_self=bool(exclude_self))
    return {f"R@{k}": float(np.mean(ranks <= k)) for k in ks}


# ------------------------------------------------------------------------------------------ all together


def evaluate_representation(train_x: ArrayLike, train_labels: Mapping[str, ArrayLike], test_x: ArrayLike,
                            test_labels: Mapping[str, ArrayLike], ks: Sequence[int] = (1, 5, 10, 20),
                            knn_k: int = 20, C: float = 1.0,
                            temperature: float = 0.07) -> dict[str, dict[str, float]]:
    """Linear probe, weighted kNN and retrieval ``R@k`` of one representation, for every label.

    ``train_x (N, D)`` and ``test_x (M, D)`` are frozen embeddings; ``train_labels`` / ``test_labels`` map
    the same label names to ``(N,)`` / ``(M,)`` labels, e.g. ``{"action": clips.action, "digit":
    clips.digit}``. Retrieval uses the test clips as queries and the train clips as gallery.

    Returns ``{label: {"probe": ..., "knn": ..., "R@1": ..., ..., "chance": ...}}``: fractions in [0, 1];
    ``chance`` is the frequency of the most common test label, the accuracy of the best constant answer
    (see :func:`linear_probe`). Retrieval's chance level is higher: about ``1 - (1 - p)^k`` for a class of
    frequency ``p``.
    """
    for name, labels in (("train_labels", train_labels), ("test_labels", test_labels)):
        if not isinstance(labels, Mapping) or len(labels) == 0:
            raise TypeError(f"{name} must be a non-empty dict label name -> (N,) labels, "
                            f"e.g. {{'action': ..., 'digit': ...}}, got {type(labels).__name__}")
    if list(train_labels) != list(test_labels):
        raise ValueError(f"train_labels and test_labels must name the same labels, got {list(train_labels)} "
                         f"and {list(test_labels)}")
    results: dict[str, dict[str, float]] = {}
    for name in train_labels:
        names = ("train_x", f"train_labels[{name!r}]", "test_x", f"test_labels[{name!r}]")
        tx, ty, qx, qy = _pair(train_x, train_labels[name], test_x, test_labels[name], names=names)
        probe = linear_probe(tx, ty, qx, qy, C=C)
        results[name] = {
            "probe": probe["accuracy"],
            "knn": knn_accuracy(tx, ty, qx, qy, k=knn_k, temperature=temperature),
            **retrieval_recall(qx, qy, tx, ty, ks=ks),
            "chance": probe["chance"],
        }
    return results


def results_frame(results: Mapping[str, Mapping[str, Mapping[str, float]]]) -> pd.DataFrame:
    """One table of several methods' results: ``{method: {label: {metric: value}}}`` -> DataFrame.

    One row per method (index named ``"method"``), columns a MultiIndex ``(label, metric)`` in first-seen
    order, e.g. ``df["action"]["probe"]``. A metric a method lacks is NaN. The values of
    :func:`evaluate_representation` slot in directly: ``results_frame({"random": r0, "ours": r1})``.
    """
    if not isinstance(results, Mapping) or len(results) == 0:
        raise TypeError(f"results must be a non-empty dict {{method: {{label: {{metric: float}}}}}}, "
                        f"got {type(results).__name__}")
    rows: dict[str, dict[tuple[str, str], float]] = {}
    columns: dict[tuple[str, str], None] = {}  # an ordered set
    for method, by_label in results.items():
        if not isinstance(by_label, Mapping):
            raise TypeError(f"results[{method!r}] must be a dict {{label: {{metric: float}}}}, "
                            f"got {type(by_label).__name__}")
        rows[method] = {}
        for label, metrics in by_label.items():
            if not isinstance(metrics, Mapping):
                raise TypeError(f"results[{method!r}][{label!r}] must be a dict {{metric: float}}, "
                                f"got {type(metrics).__name__}")
            for metric, value in metrics.items():
                columns[(label, metric)] = None
                rows[method][(label, metric)] = float(value)
    index = pd.MultiIndex.from_tuples(list(columns), names=["label", "metric"])
    frame = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=index)
    frame.index.name = "method"
    return frame
