"""Estimated (Farneback) flow against the exact flow of the actions suite."""

from __future__ import annotations

import numpy as np
import pytest

from vidkit.data.actions import generate_actions
from vidkit.data.flow import endpoint_error, farneback_flow


def test_farneback_layout_and_accuracy_on_actions():
    clips = generate_actions(12, split="train", seed=3, num_frames=8, size=32)
    est = farneback_flow(clips.frames, progress=False)
    exact = clips.flow()
    assert est.shape == exact.shape == (12, 7, 2, 32, 32) and est.dtype == np.float32
    moving = np.abs(exact).sum(2) > 0
    # the estimate is far closer to the truth than "no motion" is, on the pixels that move
    assert endpoint_error(est, exact, moving) < 0.5 * endpoint_error(np.zeros_like(exact), exact, moving)
    one = farneback_flow(clips.tensors()[0, :, 0], progress=False)  # a single float clip (T, H, W)
    np.testing.assert_allclose(one, est[0], atol=1e-4)


def test_farneback_recovers_a_known_shift():
    rng = np.random.default_rng(0)
    base = (rng.random((40, 40)) > 0.5).astype(np.float32)
    import cv2

    smooth = cv2.GaussianBlur(base, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    clip = np.stack([smooth[4:36, 4:36], smooth[4:36, 3:35]])  # content moves right by 1 px
    flow = farneback_flow(clip, progress=False)
    assert flow.shape == (1, 2, 32, 32)
    assert np.median(flow[0, 0, 8:24, 8:24]) == pytest.approx(1.0, abs=0.15)
    assert np.median(flow[0, 1, 8:24, 8:24]) == pytest.approx(0.0, abs=0.15)


def test_validation():
    with pytest.raises(ValueError, match="T >= 2"):
        farneback_flow(np.zeros((1, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        farneback_flow(np.full((2, 8, 8), 3.0))
    with pytest.raises(ValueError, match="unknown Farneback"):
        farneback_flow(np.zeros((2, 8, 8), np.uint8), window=3)
    with pytest.raises(ValueError, match="2, H, W"):
        endpoint_error(np.zeros((3, 8, 8)), np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="no pixel"):
        endpoint_error(np.zeros((2, 8, 8)), np.zeros((2, 8, 8)), np.zeros((8, 8), bool))
