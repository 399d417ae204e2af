"""Clip encoders for representation learning: each maps a clip to one vector, ``embed(clip) -> (B, D)``.

* :class:`Conv3dEncoder`: a small (2+1)D convolutional network (Tran et al. 2018, "R(2+1)D"): every
  3D convolution is split into a spatial ``1 x 3 x 3`` and a temporal ``3 x 1 x 1`` convolution. The
  same architecture reads grayscale frames (``in_channels=1``) or optical flow (``in_channels=2``:
  ``dx, dy``), which is how CoCLR builds its two views.
* :class:`PixelEncoder`: no learning at all, the ``pixels`` baseline of ``vidkit embed`` / ``protocol``: pooled
  pixels (appearance) and pooled frame differences (motion). A learnt encoder should beat it.
* :class:`ProjectionHead`: the MLP that contrastive losses are computed on. Kept **separate** from
  the encoder, as in SimCLR and MoCo: the representation we evaluate is ``embed``, before the head.

The Srivastava composite encoder (``vidkit.models.SrivastavaLSTM.embed``) is the other encoder; the
frame-CNN + LSTM classifiers (LRCN, pooling) are in :mod:`vidkit.models.attention`.

Clips are ``(B, T, C, H, W)`` floats (frames in [0, 1], flow in pixels per frame).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vidkit.utils.checks import check_int

__all__ = ["Conv3dEncoder", "PixelEncoder", "ProjectionHead", "check_clips"]


def check_clips(x: torch.Tensor, channels: int, owner: str) -> None:
    """Raise a ValueError naming the expected layout unless ``x`` is ``(B, T, channels, H, W)`` float."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{owner}: expected a tensor (B, T, {channels}, H, W), got {type(x).__name__}")
    if x.dim() != 5 or x.shape[2] != channels or min(x.shape) < 1:
        raise ValueError(f"{owner}: expected clips (B, T, {channels}, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{owner}: expected a float tensor (frames in [0, 1] or flow), got {x.dtype}")


class Conv2Plus1d(nn.Module):
    """``(B, c_in, T, H, W) -> (B, c_out, T / t_stride, H / s_stride, W / s_stride)``: spatial 1x3x3 conv,
    BatchNorm + ReLU, temporal 3x1x1 conv, BatchNorm + ReLU."""

    def __init__(self, c_in: int, c_out: int, s_stride: int = 1, t_stride: int = 1):
        super().__init__()
        self.spatial = nn.Conv3d(c_in, c_out, (1, 3, 3), stride=(1, s_stride, s_stride), padding=(0, 1, 1),
                                 bias=False)
        self.bn1 = nn.BatchNorm3d(c_out)
        self.temporal = nn.Conv3d(c_out, c_out, (3, 1, 1), stride=(t_stride, 1, 1), padding=(1, 0, 0), bias=False)
        self.bn2 = nn.BatchNorm3d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn2(self.temporal(F.relu(self.bn1(self.spatial(x))))))


class Conv3dEncoder(nn.Module):
    """A small (2+1)D CNN: ``embed(clip (B, T, in_channels, H, W)) -> (B, dim)``.

    Four :class:`Conv2Plus1d` blocks of widths ``width, 2*width, 4*width, 4*width``; space is halved by
    blocks 1-3 and time by blocks 3-4, then global average pooling over (T, H, W) and a linear layer
    to ``dim``. For 16 x 32 x 32 clips the last feature map is 4 x 4 x 4.
    """

    def __init__(self, in_channels: int = 1, width: int = 16, dim: int = 128):
        super().__init__()
        for name, v in {"in_channels": in_channels, "width": width, "dim": dim}.items():
            check_int(name, v)
        self.in_channels, self.width, self.dim = in_channels, width, dim
        w = width
        self.blocks = nn.Sequential(
            Conv2Plus1d(in_channels, w, s_stride=2),  # the stem halves space at once: CPU-friendly
            Conv2Plus1d(w, 2 * w, s_stride=2),
            Conv2Plus1d(2 * w, 4 * w, s_stride=2, t_stride=2),
            Conv2Plus1d(4 * w, 4 * w, t_stride=2),
        )
        self.fc = nn.Linear(4 * w, dim)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, C, H, W) -> (B, dim)``: the representation (before any projection head)."""
        check_clips(x, self.in_channels, type(self).__name__)
        h = self.blocks(x.transpose(1, 2))  # Conv3d wants (B, C, T, H, W)
        return self.fc(h.mean(dim=(2, 3, 4)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(x)


class PixelEncoder(nn.Module):
    """The untrained ``pixels`` baseline: ``embed(clip (B, T, C, H, W)) -> (B, 2 * C * grid * grid)``.

    Each frame is average-pooled to ``grid x grid`` cells (``F.adaptive_avg_pool2d``); the embedding is the
    mean pooled frame over time (*appearance*: where things are, how bright) followed by the mean absolute
    difference of consecutive pooled frames (*motion*: where something changes; 0 for a still clip)::

        p_t = pool(x_t)                                  (C, grid, grid)
        z   = [ mean_t p_t ,  mean_t |p_{t+1} - p_t| ]    flattened

    It has no parameters, so it needs no checkpoint; any frame size and length (``T >= 1``) works. It is what
    retrieval gets from the pixels alone: a representation that learnt something about actions should beat it.
    """

    def __init__(self, grid: int = 8):
        super().__init__()
        self.grid = check_int("grid", grid, 1, 64)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, C, H, W)`` float -> ``(B, 2 * C * grid * grid)``."""
        if not isinstance(x, torch.Tensor) or x.dim() != 5 or min(x.shape) < 1 or not x.is_floating_point():
            got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"PixelEncoder: expected float clips (B, T, C, H, W), got {got}")
        b, t, c, h, w = x.shape
        p = F.adaptive_avg_pool2d(x.reshape(b * t, c, h, w).float(), self.grid).reshape(b, t, -1)
        motion = (p[:, 1:] - p[:, :-1]).abs().mean(dim=1) if t > 1 else torch.zeros_like(p[:, 0])
        return torch.cat([p.mean(dim=1), motion], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(x)


class ProjectionHead(nn.Module):
    """SimCLR/MoCo v2 projection MLP ``(B, in_dim) -> (B, out_dim)``: Linear, ReLU, Linear."""

    def __init__(self, in_dim: int = 128, hidden: int = 128, out_dim: int = 64):
        super().__init__()
        for name, v in {"in_dim": in_dim, "hidden": hidden, "out_dim": out_dim}.items():
            check_int(name, v)
        self.in_dim = in_dim
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != self.in_dim:
            got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"ProjectionHead: expected (B, {self.in_dim}), got {got}")
        return self.net(z)
