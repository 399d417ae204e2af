"""Clip encoders (issue 4): shapes, validation, and that each one can learn a motion-only label."""

from __future__ import annotations

import pytest
import torch
from conftest import moving_square_clips

from vidkit.models.encoders import Conv3dEncoder, ProjectionHead

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ENCODERS = {
    "conv3d rgb": lambda: Conv3dEncoder(1, width=4, dim=16),
    "conv3d flow": lambda: Conv3dEncoder(2, width=4, dim=16),
}


@pytest.mark.parametrize("name", ENCODERS)
def test_embed_shapes_and_validation(name):
    model = ENCODERS[name]()
    x = torch.rand(3, 8, model.in_channels, 16, 16)
    z = model.embed(x)
    assert z.shape == (3, 16) and torch.equal(model(x), z)
    with pytest.raises(ValueError, match=rf"\(B, T, {model.in_channels}, H, W\)"):
        model.embed(torch.rand(3, 8, model.in_channels + 1, 16, 16))
    with pytest.raises(ValueError, match="float"):
        model.embed(torch.zeros(3, 8, model.in_channels, 16, 16, dtype=torch.uint8))
    with pytest.raises(TypeError):
        model.embed([1, 2])


def test_constructor_validation():
    with pytest.raises(ValueError, match="width"):
        Conv3dEncoder(1, width=0)
    with pytest.raises(ValueError, match=r"\(B, 8\)"):
        ProjectionHead(8, 8, 4)(torch.rand(2, 5))


@pytest.mark.parametrize("name", ["conv3d rgb"])
def test_learns_direction_of_motion(name):
    """A bright square moving left or right: the label is in the motion only (same frames, reversed)."""
    torch.manual_seed(0)
    clips, labels = moving_square_clips(16)
    model, head = ENCODERS[name](), torch.nn.Linear(16, 2)
    opt = torch.optim.Adam([*model.parameters(), *head.parameters()], lr=1e-2)
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(head(model.embed(clips)), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert (head(model.embed(clips)).argmax(1) == labels).float().mean() == 1.0
