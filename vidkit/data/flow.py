"""Estimated optical flow (OpenCV's Farneback), in the layout of the kit's exact flow.

The kit knows the *exact* flow of its synthetic clips (``ActionClips.flow()``, ``MovingMNIST.flow()``).
Real videos have no such ground truth: models like CoCLR train on flow *estimated* from pixels.
:func:`farneback_flow` gives that estimate, so the notebooks can compare the two and measure the
estimate's error (:func:`endpoint_error`). :func:`with_frame_differences` is the cheapest motion signal of
all: each frame minus the previous one, stacked on the frame as a second channel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["farneback_flow", "endpoint_error", "with_frame_differences", "FARNEBACK"]

#: Farneback parameters for small (32-64 px) frames: a 2-level pyramid, 7-px windows, 3 iterations.
FARNEBACK = {"pyr_scale": 0.5, "levels": 2, "winsize": 7, "iterations": 3, "poly_n": 5, "poly_sigma": 1.1,
             "flags": 0}


def _uint8_clips(frames: Any) -> np.ndarray:
    x = np.asarray(frames.detach().cpu() if hasattr(frames, "detach") else frames)
    if x.ndim == 5 and x.shape[2] == 1:  # (N, T, 1, H, W)
        x = x[:, :, 0]
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[1] < 2:
        raise ValueError(f"frames must be (T, H, W), (N, T, H, W) or (N, T, 1, H, W) with T >= 2, got {x.shape}")
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.floating) or x.min() < 0 or x.max() > 1:
            raise ValueError("float frames must lie in [0, 1] (or pass uint8 frames)")
        x = np.round(x * 255).astype(np.uint8)
    return x


def farneback_flow(frames: Any, progress: bool = True, **params: Any) -> np.ndarray:
    """Forward flow estimated by OpenCV's Farneback between consecutive frames.

    ``frames``: ``(T, H, W)``, ``(N, T, H, W)`` or ``(N, T, 1, H, W)``, uint8 or float in [0, 1].
    Returns float32 ``(N, T-1, 2, H, W)`` (channel 0 = dx, 1 = dy, pixels per frame), the layout of the
    exact flow (``(T-1, 2, H, W)`` for a single clip). ``params`` override :data:`FARNEBACK`.
    """
    import cv2
    from tqdm.auto import tqdm

    unknown = set(params) - set(FARNEBACK)
    if unknown:
        raise ValueError(f"unknown Farneback parameters {sorted(unknown)}; known: {sorted(FARNEBACK)}")
    single = len(frames.shape if hasattr(frames, "shape") else np.shape(frames)) == 3
    x = _uint8_clips(frames)
    p = {**FARNEBACK, **params}
    n, t, h, w = x.shape
    out = np.empty((n, t - 1, 2, h, w), np.float32)
    for i in tqdm(range(n), desc="farneback", disable=not progress or n < 200, unit="clip"):
        for j in range(t - 1):
            f = cv2.calcOpticalFlowFarneback(x[i, j], x[i, j + 1], None, p["pyr_scale"], p["levels"],
                                             p["winsize"], p["iterations"], p["poly_n"], p["poly_sigma"],
                                             p["flags"])
            out[i, j] = f.transpose(2, 0, 1)
    return out[0] if single else out


def endpoint_error(estimate: Any, exact: Any, mask: Any = None) -> float:
    """Mean end-point error ``mean ||estimate - exact||_2`` over pixels (where ``mask`` is true, e.g.
    where a digit is), both ``(..., 2, H, W)``."""
    e, g = np.asarray(estimate, np.float64), np.asarray(exact, np.float64)
    if e.shape != g.shape or e.ndim < 3 or e.shape[-3] != 2:
        raise ValueError(f"estimate and exact must both be (..., 2, H, W), got {e.shape} and {g.shape}")
    err = np.sqrt(((e - g) ** 2).sum(axis=-3))
    if mask is not None:
        m = np.asarray(mask, bool)
        if m.shape != err.shape:
            raise ValueError(f"mask must be (..., H, W) = {err.shape}, got {m.shape}")
        if not m.any():
            raise ValueError("mask selects no pixel")
        return float(err[m].mean())
    return float(err.mean())


def with_frame_differences(clips: torch.Tensor) -> torch.Tensor:
    """Frames plus their temporal differences: ``(N, T, 1, H, W) -> (N, T, 2, H, W)``.

    Channel 0 is the frame ``x_t``, channel 1 is ``x_t - x_{t-1}`` (zeros at ``t = 0``), in [-1, 1]. A
    still object vanishes from channel 1; a moving one leaves a signed trace. It is a crude, free stand-in
    for optical flow (two-stream networks feed flow to a second stream; here one CNN reads both).
    """
    if not isinstance(clips, torch.Tensor) or clips.dim() != 5 or clips.shape[2] != 1 \
            or not clips.is_floating_point() or clips.shape[1] < 2:
        got = (tuple(clips.shape), clips.dtype) if isinstance(clips, torch.Tensor) else type(clips).__name__
        raise ValueError(f"clips must be a float tensor (N, T >= 2, 1, H, W) of frames in [0, 1], got {got}")
    diff = torch.cat([torch.zeros_like(clips[:, :1]), clips[:, 1:] - clips[:, :-1]], dim=1)
    return torch.cat([clips, diff], dim=2)
