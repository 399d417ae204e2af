"""Batches from in-memory clips: :func:`clip_batches`, an endless, seeded, shuffled stream of
``{"rgb", "flow"?, <labels>, "index"}`` batches (what the contrastive, attention and text-video
experiments train on)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch

from vidkit.utils.checks import check_int

__all__ = ["clip_batches"]


def clip_batches(rgb: torch.Tensor, labels: Mapping[str, Any], batch_size: int, flow: torch.Tensor | None = None,
                 seed: int = 0) -> Iterator[dict[str, torch.Tensor]]:
    """Endless shuffled batches ``{"rgb": (B, T, 1, H, W), "flow"?: (B, T-1, 2, H, W), <label>: (B,),
    "index": (B,)}`` from in-memory clips; a new permutation every epoch, seeded. Inputs are checked
    here, when it is called, not at the first batch."""
    if not isinstance(rgb, torch.Tensor) or rgb.dim() != 5 or not rgb.is_floating_point():
        got = (tuple(rgb.shape), rgb.dtype) if isinstance(rgb, torch.Tensor) else type(rgb).__name__
        raise ValueError(f"rgb must be a float tensor (N, T, C, H, W), got {got}")
    n = len(rgb)
    if flow is not None and (not isinstance(flow, torch.Tensor) or flow.dim() != 5 or len(flow) != n):
        got = tuple(flow.shape) if isinstance(flow, torch.Tensor) else type(flow).__name__
        raise ValueError(f"flow must be a tensor (N={n}, T-1, 2, H, W), got {got}")
    check_int("batch_size", batch_size, 1, n)
    tensors = {k: torch.as_tensor(np.asarray(v), dtype=torch.long) for k, v in labels.items()}
    for k, v in tensors.items():
        if v.shape != (n,):
            raise ValueError(f"labels[{k!r}] must be ({n},), got {tuple(v.shape)}")
    return _endless_batches(rgb, tensors, batch_size, flow, seed)


def _endless_batches(rgb: torch.Tensor, tensors: dict[str, torch.Tensor], batch_size: int,
                     flow: torch.Tensor | None, seed: int) -> Iterator[dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    n = len(rgb)
    while True:
        order = torch.randperm(n, generator=gen)
        for lo in range(0, n - batch_size + 1, batch_size):
            idx = order[lo:lo + batch_size]
            batch = {"rgb": rgb[idx], "index": idx, **{k: v[idx] for k, v in tensors.items()}}
            if flow is not None:
                batch["flow"] = flow[idx]
            yield batch
