"""Clip augmentations: shapes, reproducibility, alignment of frames and flow, flow rescaling."""

from __future__ import annotations

import pytest
import torch

from vidkit.data.augment import LABEL_DESTROYING, augment_clips, intensity_jitter, spatial_crop, temporal_crop


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_temporal_crop_windows_are_consecutive_and_aligned_with_flow():
    clips = torch.arange(4 * 10, dtype=torch.float32).view(4, 10, 1, 1, 1).expand(4, 10, 1, 2, 2).contiguous()
    flow = clips[:, :9].expand(4, 9, 2, 2, 2) + 0.5
    x, f = temporal_crop(clips, 5, gen(), others=(flow,))
    assert x.shape == (4, 5, 1, 2, 2) and f.shape == (4, 5, 2, 2, 2)
    t = x[:, :, 0, 0, 0]
    assert torch.equal(t[:, 1:] - t[:, :-1], torch.ones(4, 4))  # consecutive frames
    assert torch.equal(f[:, :, 0, 0, 0], t + 0.5)  # flow t belongs to frame t
    assert torch.equal(temporal_crop(clips, 5, gen(1)), temporal_crop(clips, 5, gen(1)))
    with pytest.raises(ValueError, match="length"):
        temporal_crop(clips, 11)


def test_spatial_crop_identity_and_flow_scaling():
    clips = torch.rand(3, 4, 1, 16, 16)
    torch.testing.assert_close(spatial_crop(clips, (1.0, 1.0), generator=gen()), clips, atol=1e-5, rtol=0)
    const = torch.ones(3, 4, 2, 16, 16)
    zoomed = spatial_crop(const, (0.5, 0.5), flow=True, generator=gen())
    torch.testing.assert_close(zoomed, 2 * const)  # a 2x zoom doubles displacements in pixels
    a, b = spatial_crop(clips, generator=gen(5)), spatial_crop(clips, generator=gen(5))
    assert torch.equal(a, b) and a.shape == clips.shape
    with pytest.raises(ValueError, match="scale"):
        spatial_crop(clips, (0.0, 1.0))
    with pytest.raises(ValueError, match="2 channels"):
        spatial_crop(clips, flow=True)


def test_intensity_jitter_stays_in_range_and_augment_clips_shapes():
    clips = torch.rand(8, 6, 1, 8, 8)
    out = intensity_jitter(clips, generator=gen())
    assert out.min() >= 0 and out.max() <= 1 and not torch.equal(out, clips)
    assert augment_clips(clips, 4, generator=gen()).shape == (8, 4, 1, 8, 8)
    assert augment_clips(torch.randn(8, 6, 2, 8, 8), 4, flow=True, generator=gen()).shape == (8, 4, 2, 8, 8)
    with pytest.raises(ValueError, match=r"\(B, T, C, H, W\)"):
        intensity_jitter(torch.rand(6, 1, 8, 8))
    with pytest.raises(ValueError, match="contrast"):
        intensity_jitter(clips, contrast=1.5)
    assert "horizontal flip" in LABEL_DESTROYING
