"""Video prediction metrics, per frame, on pixels in [0, 1] (attention-map scores: :mod:`vidkit.eval.attention`).

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

from typing import Any

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio

__all__ = ["frame_mse", "frame_mae", "frame_cross_entropy", "frame_ssim", "frame_psnr", "prediction_metrics",
           "evaluate_predictor",
           "METRICS"]


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
    covariances, ``sigma^2`` instead of ``N / (N - 1) * sigma^2``, so it does not reproduce these numbers).

    torchmetrics' Gaussian-window SSIM with ``data_range=1``, which the kit used before, reads higher on
    the same frames (``docs/benchmarks.md``, "Reference checkpoints", gives the old and new values).
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
    from vidkit.utils.checks import check_int

    check_int("batch_size", batch_size)
    if max_sequences is not None:
        check_int("max_sequences (None for the whole test set)", max_sequences)
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
