"""Long rollouts for models that map a fixed window of frames to a fixed number of future frames."""

from __future__ import annotations

from collections.abc import Callable

import torch

from vidkit.utils.checks import check_int

__all__ = ["windowed_rollout"]


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
