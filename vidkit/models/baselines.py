"""Trivial future-prediction baselines. Every results table shows them: a model that cannot beat
"copy the last frame" has learned nothing about motion.

All three take the input frames ``(B, T_in, C, H, W)`` with pixels in [0, 1] and return ``steps``
predicted frames ``(B, steps, C, H, W)`` as pixel probabilities in [0, 1]. They have no parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from vidkit.utils.checks import check_int

__all__ = ["ZerosBaseline", "CopyLastBaseline", "MeanFrameBaseline", "BASELINES"]


class _Baseline(nn.Module):
    @torch.no_grad()
    def predict(self, x: torch.Tensor, steps: int = 10) -> torch.Tensor:
        """Same as calling the baseline: probabilities ``(B, steps, C, H, W)``."""
        return self(x, steps)

    def _check(self, x: torch.Tensor, steps: int) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 5:
            raise ValueError(f"{type(self).__name__}: expected input frames (B, T_in, C, H, W), got "
                             f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        if x.shape[1] < 1:
            raise ValueError(f"{type(self).__name__}: need at least one input frame")
        check_int(f"{type(self).__name__}: steps", steps)


class ZerosBaseline(_Baseline):
    """Predict empty (all-zero) frames: the error of predicting nothing. ``(B, T_in, C, H, W) -> (B, steps, C, H, W)``."""

    def forward(self, x: torch.Tensor, steps: int = 10) -> torch.Tensor:
        self._check(x, steps)
        b, _, c, h, w = x.shape
        return x.new_zeros(b, steps, c, h, w)


class CopyLastBaseline(_Baseline):
    """Repeat the last input frame: perfect if nothing moves. ``(B, T_in, C, H, W) -> (B, steps, C, H, W)``."""

    def forward(self, x: torch.Tensor, steps: int = 10) -> torch.Tensor:
        self._check(x, steps)
        return x[:, -1:].expand(-1, steps, -1, -1, -1).clone()


class MeanFrameBaseline(_Baseline):
    """Repeat the mean of the input frames: a blur along the past trajectory.
    ``(B, T_in, C, H, W) -> (B, steps, C, H, W)``."""

    def forward(self, x: torch.Tensor, steps: int = 10) -> torch.Tensor:
        self._check(x, steps)
        return x.mean(1, keepdim=True).expand(-1, steps, -1, -1, -1).clone()


BASELINES: dict[str, type[_Baseline]] = {"zeros": ZerosBaseline, "copy_last": CopyLastBaseline,
                                         "mean_frame": MeanFrameBaseline}
