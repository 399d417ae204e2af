"""Where did a model look? Attention maps scored against the actor's boxes of the actions suite:
:func:`pointing_game`, :func:`attention_mass`, :func:`box_area_fraction` (the chance level of both) and
:func:`temporal_weight_profile`."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vidkit.utils.checks import check_int

__all__ = ["pointing_game", "attention_mass", "box_area_fraction", "temporal_weight_profile"]


# ----------------------------------------------------------------------------- attention maps
# Where did a model look? Scored against the actor's per-frame boxes of the actions suite: ``(N, T, 4)``
# float (x0, y0, x1, y1) in pixels, x1 / y1 exclusive, all zeros where the actor is invisible. Frames whose
# box is empty (x1 <= x0 or y1 <= y0) are left out of every score. An attention map ``(N, T, K, K)`` lays
# a K x K grid over the frame: cell (i, j) (row i from the top, column j from the left) covers the pixels
# [j s, (j + 1) s) x [i s, (i + 1) s), s = frame_size / K, the layout of ``AttentionOutput.spatial``.

def _array(name: str, x: object, layout: str) -> np.ndarray:
    """``x`` (a numpy array or a torch tensor) as a float64 numpy array, finite and non-negative."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        x = x.float() if x.dtype in (torch.bfloat16, torch.float16) else x
        x = x.numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array or torch tensor {layout}, got {type(x).__name__}")
    if x.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers {layout}, got dtype {x.dtype}")
    x = x.astype(np.float64)
    if not np.isfinite(x).all():
        raise ValueError(f"{name} {layout} must be finite (no NaN or inf)")
    if (x < 0).any():
        raise ValueError(f"{name} {layout} must be non-negative, got min {x.min():.3g}")
    return x


def _frame_size(frame_size: object) -> int:
    return check_int("frame_size", frame_size, what=" (the frame side in pixels)")


def _boxes(boxes: object, frame_size: int, rows: tuple[int, int] | None = None) -> np.ndarray:
    """Validated ``(N, T, 4)`` boxes, flattened to ``(N*T, 4)``."""
    layout = "(N, T, 4)" if rows is None else f"(N, T, 4) = ({rows[0]}, {rows[1]}, 4)"
    b = _array("boxes", boxes, layout)
    if b.ndim != 3 or b.shape[2] != 4 or (rows is not None and b.shape[:2] != rows):
        raise ValueError(f"boxes must have shape {layout} (x0, y0, x1, y1 in pixels), got {b.shape}")
    if b.size and b.max() > frame_size:
        raise ValueError(f"boxes must lie inside the {frame_size} px frame, got a coordinate {b.max():.3g}")
    b = b.reshape(-1, 4)
    if ((b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1])).any():
        raise ValueError("boxes must be (x0, y0, x1, y1) with x1 >= x0 and y1 >= y0 (all zeros = no actor)")
    return b


def _non_empty(b: np.ndarray) -> np.ndarray:
    """``(F, 4)`` boxes -> ``(F,)`` bool: the box holds pixels (x1 > x0 and y1 > y0)."""
    keep = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
    if not keep.any():
        raise ValueError("no frame has a non-empty box (x1 > x0 and y1 > y0): nothing to score")
    return keep


def _attention(attention: object, boxes: object, frame_size: object) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated ``(N*T, K, K)`` maps and ``(N*T, 4)`` boxes of the frames with a non-empty box, and K."""
    a = _array("attention", attention, "(N, T, K, K)")
    if a.ndim != 4 or a.shape[2] != a.shape[3] or min(a.shape) < 1:
        raise ValueError(f"attention must have shape (N, T, K, K) (a square grid per frame), got {a.shape}")
    size = _frame_size(frame_size)
    b = _boxes(boxes, size, rows=a.shape[:2])
    a = a.reshape(-1, a.shape[2], a.shape[3])
    keep = _non_empty(b)
    return a[keep], b[keep], a.shape[-1]


def pointing_game(attention: Any, boxes: Any, frame_size: int) -> float:
    """Fraction of frames whose most attended cell lies on the actor (Zhang et al. 2016's "pointing game").

    ``attention`` ``(N, T, K, K)`` non-negative maps, ``boxes`` ``(N, T, 4)`` (see above), ``frame_size``
    the frame side in pixels. For each frame with a non-empty box, take the argmax cell ``(i, j)`` (the
    first one in row-major order on ties) and its centre::

        (x, y) = ((j + 0.5) * frame_size / K, (i + 0.5) * frame_size / K)
        hit    = x0 <= x < x1  and  y0 <= y < y1

    Returns hits / frames scored. A model pointing at a random cell scores about
    :func:`box_area_fraction` (exactly the fraction of cell centres inside the boxes).
    """
    a, b, k = _attention(attention, boxes, frame_size)
    cell = a.reshape(len(a), -1).argmax(axis=1)
    step = _frame_size(frame_size) / k
    x, y = (cell % k + 0.5) * step, (cell // k + 0.5) * step
    hit = (b[:, 0] <= x) & (x < b[:, 2]) & (b[:, 1] <= y) & (y < b[:, 3])
    return float(hit.mean())


def attention_mass(attention: Any, boxes: Any, frame_size: int) -> float:
    """Mean over frames of the share of attention that falls inside the actor's box.

    Each cell's weight is spread uniformly over its pixels (the map upsampled to ``frame_size`` by
    repetition, a cell covering ``s x s`` pixels, ``s = frame_size / K``, which need not be an integer),
    and the weight on the box's pixels is summed::

        mass = sum_{i,j} a_ij * overlap(cell ij, box) / s^2  /  sum_{i,j} a_ij

    The division by the frame's total makes it a share, so maps need not sum to exactly 1 (each must
    have a positive total). Frames with an empty box are left out. A uniform map scores exactly the
    box's area fraction (:func:`box_area_fraction`, the chance level); all mass on the box, 1.
    """
    a, b, k = _attention(attention, boxes, frame_size)
    totals = a.sum(axis=(1, 2))
    if (totals <= 0).any():
        raise ValueError("attention: every scored frame's map must have a positive total weight")
    step = _frame_size(frame_size) / k
    lo = np.arange(k) * step                                           # (K,) cell edges, same in x and y

    def overlap(start: np.ndarray, stop: np.ndarray) -> np.ndarray:    # (F,), (F,) -> (F, K) pixels shared
        return np.clip(np.minimum(stop[:, None], lo + step) - np.maximum(start[:, None], lo), 0, None)

    ox, oy = overlap(b[:, 0], b[:, 2]), overlap(b[:, 1], b[:, 3])      # (F, K) each
    inside = np.einsum("fij,fi,fj->f", a, oy, ox) / step ** 2
    return float((inside / totals).mean())


def box_area_fraction(boxes: Any, frame_size: int) -> float:
    """Mean box area / frame area over the frames with a non-empty box: the chance level of
    :func:`attention_mass` (exactly, for a uniform map) and of :func:`pointing_game` (about).

    ``boxes`` ``(N, T, 4)`` (x0, y0, x1, y1) in pixels; ``frame_size`` the frame side.
    """
    size = _frame_size(frame_size)
    b = _boxes(boxes, size)
    b = b[_non_empty(b)]
    return float(((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).mean() / size ** 2)


def temporal_weight_profile(weights: Any, labels: Any, num_classes: int) -> np.ndarray:
    """Mean temporal attention per class: ``weights`` ``(N, T)``, ``labels`` ``(N,)`` -> ``(num_classes, T)``.

    Row ``c`` is the average of ``weights[n]`` over the clips with ``labels[n] == c``: when in the clip
    the model looks, action by action (e.g. ``AttentionOutput.temporal`` of
    :class:`vidkit.models.TemporalAttentionLSTM`). A class with no clip gets a row of NaN. Returns a
    float64 numpy array.
    """
    check_int("num_classes", num_classes)
    w = _array("weights", weights, "(N, T)")
    if w.ndim != 2 or min(w.shape) < 1:
        raise ValueError(f"weights must have shape (N, T) (one weight per clip and frame), got {w.shape}")
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu":
        got = labels.dtype if isinstance(labels, np.ndarray) else type(labels).__name__
        raise TypeError(f"labels must be an integer numpy array or tensor ({w.shape[0]},), got {got}")
    if labels.shape != (w.shape[0],):
        raise ValueError(f"labels must have shape ({w.shape[0]},) (one per row of weights), got {labels.shape}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}), got [{labels.min()}, {labels.max()}]")
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)     # (C,)
    sums = np.zeros((num_classes, w.shape[1]))
    np.add.at(sums, labels, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]
