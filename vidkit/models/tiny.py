"""A tiny convolutional frame predictor: the first model a recipe trains.

It stacks the input frames on the channel axis and maps them to the output frames with four
convolutions (a strided one down to half resolution, two dilated ones there for a wide receptive
field, and a transposed one back up). It knows nothing about time or motion beyond what four
layers can learn, which makes it a good baseline to beat.
"""

from __future__ import annotations

import torch
from torch import nn

from vidkit.models.rollout import windowed_rollout
from vidkit.utils.checks import check_int

__all__ = ["TinyFramePredictor"]


class TinyFramePredictor(nn.Module):
    """Predict ``out_frames`` future frames from ``in_frames`` past ones.

    Input ``(B, in_frames, channels, H, W)`` with even ``H`` and ``W``, values in [0, 1].
    Output ``(B, out_frames, channels, H, W)`` **logits**: apply ``torch.sigmoid`` (or use
    :meth:`predict`) for pixel probabilities; train with ``binary_cross_entropy_with_logits``.
    """

    def __init__(self, in_frames: int = 10, out_frames: int = 10, channels: int = 1, hidden: int = 64):
        super().__init__()
        for name, value in {"in_frames": in_frames, "out_frames": out_frames, "channels": channels,
                            "hidden": hidden}.items():
            check_int(name, value)
        self.in_frames, self.out_frames, self.channels = in_frames, out_frames, channels
        self.net = nn.Sequential(
            nn.Conv2d(in_frames * channels, hidden, 4, stride=2, padding=1),  # H -> H/2
            nn.GELU(),
            nn.Conv2d(hidden, hidden, 3, padding=2, dilation=2),
            nn.GELU(),
            nn.Conv2d(hidden, hidden, 3, padding=4, dilation=4),
            nn.GELU(),
            nn.ConvTranspose2d(hidden, out_frames * channels, 4, stride=2, padding=1),  # H/2 -> H
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_frames, channels, H, W)`` -> logits ``(B, out_frames, channels, H, W)``."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"expected a tensor, got {type(x).__name__}")
        if x.dim() != 5 or x.shape[1] != self.in_frames or x.shape[2] != self.channels:
            raise ValueError(f"expected input of shape (B, {self.in_frames}, {self.channels}, H, W), "
                             f"got {tuple(x.shape)}")
        b, t, c, h, w = x.shape
        if h % 2 or w % 2:
            raise ValueError(f"frame height and width must be even, got {h}x{w}")
        y = self.net(x.reshape(b, t * c, h, w))
        return y.reshape(b, self.out_frames, c, h, w)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """Pixel probabilities ``(B, steps, channels, H, W)`` in [0, 1]; ``steps`` defaults to ``out_frames``.
        More steps than ``out_frames`` roll out autoregressively (:func:`windowed_rollout`)."""
        return windowed_rollout(lambda w: torch.sigmoid(self(w)), x, self.out_frames if steps is None else steps,
                                self.in_frames)
