"""Video prediction metrics, per frame, on pixels in [0, 1].

Definitions (so figures compare with the literature):

* **MSE / MAE per frame** follow OpenSTL: the squared / absolute error *summed over the pixels* of a
  frame (``C*H*W`` values), then averaged over frames and sequences. On 64x64 Moving MNIST the
  all-zeros prediction scores about 177 per frame.
* **Cross-entropy per frame** is Srivastava et al.'s: the Bernoulli negative log-likelihood of the
  target pixels under the predicted pixel probabilities, summed over a frame's pixels::

      CE(p, x) = -sum_pixels [ x log p + (1 - x) log(1 - p) ]   (p clamped to [eps, 1 - eps])

* **SSIM** and **PSNR** come from ``torchmetrics`` (``data_range=1``), computed per frame.

Every function takes ``pred`` and ``target`` of shape ``(B, T, C, H, W)`` and returns a ``(B, T)``
tensor: one value per frame, so per-horizon curves (error at t+1 ... t+T) are a mean over ``B``.
"""

from __future__ import annotations

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

__all__ = ["frame_mse", "frame_mae", "frame_cross_entropy", "frame_ssim", "frame_psnr", "prediction_metrics",
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
    """SSIM of each frame (torchmetrics, Gaussian window 11, ``data_range=1``): ``(B, T)``."""
    _check(pred, target)
    b, t = pred.shape[:2]
    ssim = structural_similarity_index_measure(pred.float().flatten(0, 1), target.float().flatten(0, 1),
                                               data_range=1.0, reduction="none")
    return ssim.reshape(b, t)


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
