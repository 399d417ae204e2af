"""Long rollouts for models that map a fixed window of frames to a fixed number of future frames."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from vidkit.utils.checks import check_int

__all__ = ["windowed_rollout", "WindowPredictor"]


def windowed_rollout(probs: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, steps: int,
                     in_frames: int) -> torch.Tensor:
    """Predict ``steps`` frames with a window model, feeding its own predictions back.

    ``probs(window)`` maps ``(B, in_frames, C, H, W)`` to probabilities ``(B, out_frames, C, H, W)``.
    Each pass is fed the last ``in_frames`` frames of (observed frames + predictions so far), until
    ``steps`` frames exist. Returns ``(B, steps, C, H, W)``.
    """
    check_int("steps", steps)
    window, preds, done = x, [], 0
    while done < steps:
        p = probs(window)
        preds.append(p)
        done += p.shape[1]
        window = torch.cat([window, p], dim=1)[:, -in_frames:]
    return torch.cat(preds, dim=1)[:, :steps]


class WindowPredictor(nn.Module):
    """Base class of the predictors that output all ``out_frames`` future frames in one forward pass (SimVP,
    PredFormer): ``forward(x (B, in_frames, C, H, W)) -> logits (B, out_frames, C, H, W)``. A subclass sets
    ``in_frames`` and ``out_frames`` and defines ``_check(x)`` (raises on a bad input); it gets :meth:`predict`."""

    in_frames: int
    out_frames: int

    def _check(self, x: torch.Tensor) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def predict(self, x: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """Pixel probabilities ``(B, steps, C, H, W)`` in [0, 1]; ``steps`` defaults to ``out_frames``.

        ``steps <= out_frames``: one forward pass, truncated. ``steps > out_frames``: autoregressive
        rollout, each pass fed the last ``in_frames`` frames of (observed frames + predictions so far).
        """
        if steps is None:
            steps = self.out_frames
        check_int(f"{type(self).__name__}: steps", steps, what=" or None")
        self._check(x)
        return windowed_rollout(lambda window: torch.sigmoid(self(window)), x, steps, self.in_frames)
