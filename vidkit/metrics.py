"""Video prediction metrics, per frame, on pixels in [0, 1].

Definitions (so figures compare with the literature):

* **MSE / MAE per frame** follow OpenSTL: the squared / absolute error *summed over the pixels* of a
  frame (``C*H*W`` values), then averaged over frames and sequences. On 64x64 Moving MNIST the
  all-zeros prediction scores about 177 per frame.
* **Cross-entropy per frame** is Srivastava et al.'s: the Bernoulli negative log-likelihood of the
  target pixels under the predicted pixel probabilities, summed over a frame's pixels::

      CE(p, x) = -sum_pixels [ x log p + (1 - x) log(1 - p) ]   (p clamped to [eps, 1 - eps])

* **SSIM** is computed as OpenSTL's published tables computed it (see :func:`frame_ssim`):
  scikit-image's ``structural_similarity`` per frame, 7x7 uniform window, border dropped,
  ``data_range=2``.
* **PSNR** comes from ``torchmetrics`` (``data_range=1``), computed per frame.

Every function takes ``pred`` and ``target`` of shape ``(B, T, C, H, W)`` and returns a ``(B, T)``
tensor: one value per frame, so per-horizon curves (error at t+1 ... t+T) are a mean over ``B``.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
import torch
from torchmetrics.functional.image import peak_signal_noise_ratio

__all__ = ["frame_mse", "frame_mae", "frame_cross_entropy", "frame_ssim", "frame_psnr", "prediction_metrics",
           "evaluate_predictor",
           "METRICS",
           "pointing_game", "attention_mass", "box_area_fraction", "temporal_weight_profile"]


def _check(pred: torch.Tensor, target: torch.Tensor, probabilities: bool = True) -> None:
    for name, x in (("pred", pred), ("target", target)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor (B, T, C, H, W), got {type(x).__name__}")
        if x.dim() != 5:
            raise ValueError(f"{name} must have shape (B, T, C, H, W), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"{name} must be a float tensor with pixels in [0, 1], got {x.dtype}")
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must have the same shape")
    checked = (pred, target) if probabilities else (target,)
    for name, x in zip(("pred", "target") if probabilities else ("target",), checked):
        lo, hi = float(x.min()), float(x.max())
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise ValueError(f"{name} pixels must lie in [0, 1] (apply sigmoid to logits), got [{lo:.3g}, {hi:.3g}]")


def frame_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error summed over each frame's pixels: ``(B, T, C, H, W)`` x2 -> ``(B, T)``."""
    _check(pred, target)
    return (pred.float() - target.float()).pow(2).flatten(2).sum(-1)


def frame_mae(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Absolute error summed over each frame's pixels: ``(B, T, C, H, W)`` x2 -> ``(B, T)``."""
    _check(pred, target)
    return (pred.float() - target.float()).abs().flatten(2).sum(-1)


def frame_cross_entropy(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Srivastava's per-frame Bernoulli cross-entropy (see the module docstring), ``(B, T)``.

    ``pred`` holds pixel *probabilities* in [0, 1], clamped to ``[eps, 1 - eps]``.
    """
    _check(pred, target)
    if not 0 < eps < 0.5:
        raise ValueError(f"eps must be in (0, 0.5), got {eps}")
    p = pred.float().clamp(eps, 1 - eps)
    x = target.float()
    return -(x * p.log() + (1 - x) * (1 - p).log()).flatten(2).sum(-1)


def frame_ssim(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """SSIM of each frame, on the scale of OpenSTL's published tables: ``(B, T, C, H, W)`` x2 -> ``(B, T)``.

    OpenSTL scores SSIM with ``skimage.metrics.structural_similarity(pred, true, multichannel=True)``
    on float frames in [0, 1], one frame at a time, with no ``data_range``. Its pinned scikit-image
    (``scikit-image<=0.19.3`` in its ``environment.yml``) then took ``data_range`` from the float dtype's
    nominal range (-1, 1), i.e. **data_range = 2**, so ``C1 = (0.01 * 2)**2`` and ``C2 = (0.03 * 2)**2``.
    The window is scikit-image's default: 7x7 uniform, sample covariances (``N / (N - 1)``), and the mean
    is taken over the frame with a 3-pixel border dropped (the 58x58 interior of a 64x64 frame). Channels
    are averaged. Newer scikit-image refuses float input without ``data_range``, so the kit passes 2
    explicitly and calls scikit-image itself (torchmetrics' uniform-window SSIM uses population
    covariances and differs by up to 0.04 on real predictions). About 0.15 ms per 64x64 frame.

    The same frames with ``data_range=1`` score lower (about 0.02 on the kit's SimVP reference), and
    torchmetrics' Gaussian-window SSIM, which the kit used before, higher (about 0.01 to 0.1).
    """
    from skimage.metrics import structural_similarity

    _check(pred, target)
    b, t, c = pred.shape[:3]
    p = pred.detach().double().cpu().flatten(0, 1).numpy()  # (B*T, C, H, W)
    x = target.detach().double().cpu().flatten(0, 1).numpy()
    if min(p.shape[-2:]) < 7:
        raise ValueError(f"SSIM needs frames of at least 7x7 pixels (its window), got {tuple(p.shape[-2:])}")
    values = [structural_similarity(p[i], x[i], data_range=2.0, channel_axis=0) if c > 1
              else structural_similarity(p[i, 0], x[i, 0], data_range=2.0) for i in range(len(p))]
    return torch.tensor(values, dtype=torch.float32).reshape(b, t)


def frame_psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of each frame (torchmetrics, ``data_range=1``): ``(B, T)``. A perfect frame gives inf."""
    _check(pred, target)
    b, t = pred.shape[:2]
    psnr = peak_signal_noise_ratio(pred.float().flatten(0, 1), target.float().flatten(0, 1), data_range=1.0,
                                   reduction="none", dim=(1, 2, 3))
    return psnr.reshape(b, t)


METRICS = {"mse": frame_mse, "mae": frame_mae, "ssim": frame_ssim, "psnr": frame_psnr,
           "cross_entropy": frame_cross_entropy}
"""Name -> per-frame metric, in the column order of the kit's results tables."""


@torch.no_grad()
def prediction_metrics(pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every metric in :data:`METRICS` per frame, ``{name: (B, T)}``.

    Average over dim 0 for per-horizon curves, over everything for the table entry.
    """
    return {name: fn(pred, target) for name, fn in METRICS.items()}


@torch.no_grad()
def evaluate_predictor(model: torch.nn.Module, data: Any = None, in_frames: int = 10, steps: int = 10,
                       max_sequences: int | None = None, batch_size: int = 64,
                       progress: bool = True) -> dict[str, Any]:
    """Score a future predictor on the fixed, cached Moving MNIST test set (never a model-selection set).

    ``model.predict(x, steps)`` must return probabilities ``(B, steps, C, H, W)`` for inputs
    ``x (B, in_frames, C, H, W)``; every vidkit predictor and baseline does. ``data`` defaults to
    :func:`vidkit.data.load_test_set` for the active profile; ``max_sequences`` (None or a positive int)
    evaluates a prefix; ``batch_size`` must be a positive int.

    Returns ``{"mean": {metric: float}, "per_horizon": {metric: [steps floats]}, "sequences": n}``:
    means over sequences and frames, and the curves "error at t+1 ... t+steps".
    """
    from tqdm.auto import tqdm

    from vidkit.data import MovingMNISTDataset, load_test_set
    from vidkit.models.convrnn import _check_positive_int

    _check_positive_int("batch_size", batch_size)
    if max_sequences is not None:
        _check_positive_int("max_sequences (None for the whole test set)", max_sequences)
    data = load_test_set(progress=progress) if data is None else data
    n = len(data) if max_sequences is None else min(max_sequences, len(data))
    if n < 1:
        raise ValueError(f"need at least one sequence to evaluate, got max_sequences={max_sequences}")
    seq_len = data.frames.shape[1]
    if in_frames + steps > seq_len:
        raise ValueError(f"in_frames + steps = {in_frames + steps} exceeds the test sequences' {seq_len} frames")
    ds = MovingMNISTDataset(data)
    was_training = model.training
    model.eval()
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    sums = {name: torch.zeros(steps, dtype=torch.float64) for name in METRICS}
    for lo in tqdm(range(0, n, batch_size), desc="evaluate", disable=not progress, unit="batch"):
        x = torch.stack([ds[i]["frames"] for i in range(lo, min(n, lo + batch_size))])
        pred = model.predict(x[:, :in_frames].to(device), steps=steps).float().cpu()
        for name, values in prediction_metrics(pred, x[:, in_frames:in_frames + steps]).items():
            sums[name] += values.double().sum(0)
    model.train(was_training)
    curves = {name: (s / n).tolist() for name, s in sums.items()}
    return {"mean": {name: float(sum(c) / len(c)) for name, c in curves.items()}, "per_horizon": curves,
            "sequences": n}


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
    if isinstance(frame_size, bool) or not isinstance(frame_size, Integral) or frame_size < 1:
        raise ValueError(f"frame_size must be a positive int (the frame side in pixels), got {frame_size!r}")
    return int(frame_size)


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
    if isinstance(num_classes, bool) or not isinstance(num_classes, Integral) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
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
