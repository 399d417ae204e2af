"""Clip augmentations for contrastive learning, batched: every function maps ``(B, T, C, H, W)`` to a
batch of the same layout, with an independent random draw per clip (the same draw for all its frames).

Two views of a clip made by these functions are a **positive pair**. What the augmentations leave
unchanged is what the representation is pushed to ignore, so choose them with the label in mind:

* **Safe for the actions suite**: temporal crops (a shorter window of the same motion), spatial
  crops with resizing (the motion keeps its direction; flow vectors are rescaled with the frame),
  intensity jitter (brightness / contrast; frames only).
* **Destroy the label** (never use them here): a *horizontal flip* turns ``move_left`` into
  ``move_right`` and ``rotate_cw`` into ``rotate_ccw``; a *vertical flip* swaps up/down and cw/ccw;
  *reversing time* swaps every pair (left/right, up/down, cw/ccw, zoom in/out). A network trained
  to be invariant to them is trained to ignore the very thing the label is.

``generator`` (a ``torch.Generator``) makes every draw reproducible.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vidkit.utils.checks import check_int

__all__ = ["temporal_crop", "spatial_crop", "intensity_jitter", "augment_clips", "LABEL_DESTROYING"]

#: Augmentations that change the action label, with what they turn it into.
LABEL_DESTROYING = {
    "horizontal flip": "move_left <-> move_right, rotate_cw <-> rotate_ccw",
    "vertical flip": "move_up <-> move_down, rotate_cw <-> rotate_ccw",
    "time reversal": "every pair: left/right, up/down, cw/ccw, zoom in/out",
}


def _check(x: torch.Tensor, name: str = "clips") -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 5 or not x.is_floating_point():
        got = (tuple(x.shape), x.dtype) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a float tensor (B, T, C, H, W), got {got}")


def _uniform(n: int, lo: float, hi: float, generator: torch.Generator | None,
             like: torch.Tensor | None = None) -> torch.Tensor:
    """``n`` draws from U(lo, hi) on the CPU generator, moved to ``like``'s device and dtype."""
    u = lo + (hi - lo) * torch.rand(n, generator=generator)
    return u if like is None else u.to(device=like.device, dtype=like.dtype)


def temporal_crop(clips: torch.Tensor, length: int, generator: torch.Generator | None = None,
                  others: tuple[torch.Tensor, ...] = ()) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """A random window of ``length`` consecutive frames per clip: ``(B, T, ...) -> (B, length, ...)``.

    ``others`` are aligned tensors ``(B, T', ...)`` (e.g. flow with ``T' = T - 1``) cropped at the same
    start; with ``others`` a tuple ``(clips, *others)`` is returned.
    """
    _check(clips)
    b, t = clips.shape[:2]
    check_int("length", length, 1, t, f" (T = {t})")
    for o in others:
        if o.shape[0] != b or o.shape[1] < length:
            raise ValueError(f"others must be (B={b}, >= {length}, ...), got {tuple(o.shape)}")
    starts = [torch.randint(0, min([t] + [o.shape[1] for o in others]) - length + 1, (1,), generator=generator)
              .item() for _ in range(b)]
    idx = (torch.tensor(starts).view(b, 1) + torch.arange(length).view(1, length)).to(clips.device)  # (B, length)

    def take(x: torch.Tensor) -> torch.Tensor:
        return x[torch.arange(b, device=x.device).view(b, 1), idx.to(x.device)]

    return (take(clips), *map(take, others)) if others else take(clips)


def spatial_crop(clips: torch.Tensor, scale: tuple[float, float] = (0.6, 1.0), flow: bool = False,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """A random square crop covering ``scale`` of the side, resized back to ``H x W`` (bilinear).

    With ``flow=True`` the clip is optical flow ``(B, T, 2, H, W)`` and the vectors are multiplied by the
    zoom factor ``1 / s``, so they stay in pixels of the resized frame.
    """
    _check(clips)
    lo, hi = scale
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"scale must satisfy 0 < lo <= hi <= 1, got {scale!r}")
    if flow and clips.shape[2] != 2:
        raise ValueError(f"flow clips must have 2 channels (dx, dy), got {tuple(clips.shape)}")
    b, t, c, h, w = clips.shape
    s = _uniform(b, lo, hi, generator, clips)  # crop side as a fraction of the frame
    cx = _uniform(b, -1.0, 1.0, generator, clips) * (1 - s)  # crop centre in [-1, 1] coordinates, inside the frame
    cy = _uniform(b, -1.0, 1.0, generator, clips) * (1 - s)
    theta = torch.zeros(b, 2, 3, device=clips.device, dtype=clips.dtype)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, 0, 2], theta[:, 1, 2] = s, s, cx, cy
    grid = F.affine_grid(theta, [b, c, h, w], align_corners=False)  # (B, H, W, 2)
    grid = grid.repeat_interleave(t, dim=0)
    out = F.grid_sample(clips.reshape(b * t, c, h, w), grid, mode="bilinear", padding_mode="border",
                        align_corners=False).view(b, t, c, h, w)
    return out / s.view(b, 1, 1, 1, 1) if flow else out


def intensity_jitter(clips: torch.Tensor, brightness: float = 0.2, contrast: float = 0.3,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """``x -> clamp((x - mean) * c + mean + b, 0, 1)`` with ``c ~ U(1 - contrast, 1 + contrast)`` and
    ``b ~ U(-brightness, brightness)`` per clip (frames only, not flow)."""
    _check(clips)
    if brightness < 0 or not 0 <= contrast < 1:
        raise ValueError(f"need brightness >= 0 and 0 <= contrast < 1, got {brightness}, {contrast}")
    b = clips.shape[0]
    c = _uniform(b, 1 - contrast, 1 + contrast, generator, clips).view(b, 1, 1, 1, 1)
    shift = _uniform(b, -brightness, brightness, generator, clips).view(b, 1, 1, 1, 1)
    mean = clips.mean(dim=(1, 2, 3, 4), keepdim=True)
    return ((clips - mean) * c + mean + shift).clamp(0, 1)


def augment_clips(clips: torch.Tensor, length: int, flow: bool = False, crop_scale: tuple[float, float] = (0.6, 1.0),
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """The kit's standard view: temporal crop, spatial crop, and (frames only) intensity jitter."""
    x = temporal_crop(clips, length, generator)
    x = spatial_crop(x, crop_scale, flow=flow, generator=generator)
    return x if flow else intensity_jitter(x, generator=generator)
