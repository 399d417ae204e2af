"""A plain per-sample Moving MNIST generator: the yardstick for ``vidkit.data``'s vectorised one.

Same digits, same physics (Srivastava's reference code): a Python loop per sample, per digit and
per frame, drawing with NumPy slices. Used only by ``bench_data.py``.
"""

from __future__ import annotations

import math

import numpy as np


def reference_sequence(rng: np.random.Generator, images: np.ndarray, num_digits: int = 2, seq_len: int = 20,
                       canvas: int = 64, step_length: float = 0.1) -> np.ndarray:
    """One ``(seq_len, canvas, canvas)`` uint8 sequence, built the straightforward way."""
    free = canvas - 28
    out = np.zeros((seq_len, canvas, canvas), dtype=np.uint8)
    for _ in range(num_digits):
        x, y = rng.random(), rng.random()
        theta = rng.random() * 2 * math.pi
        vx, vy = math.cos(theta) * step_length, math.sin(theta) * step_length
        digit = images[rng.integers(len(images))]
        for t in range(seq_len):
            x, y = x + vx, y + vy
            if x <= 0.0:
                x, vx = 0.0, -vx
            if x >= 1.0:
                x, vx = 1.0, -vx
            if y <= 0.0:
                y, vy = 0.0, -vy
            if y >= 1.0:
                y, vy = 1.0, -vy
            px, py = int(free * x), int(free * y)
            window = out[t, py:py + 28, px:px + 28]
            np.maximum(window, digit, out=window)
    return out


def reference_batch(n: int, seed: int, images: np.ndarray, **kwargs) -> np.ndarray:
    """``(n, T, H, W)`` uint8: ``n`` reference sequences."""
    rng = np.random.default_rng(seed)
    return np.stack([reference_sequence(rng, images, **kwargs) for _ in range(n)])
