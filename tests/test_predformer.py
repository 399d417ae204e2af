"""Tests for the PredFormer transformer video predictor (vidkit.models.predformer) and its recipe."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from vidkit.experiments.future_prediction import run_recipe
from vidkit.models import PredFormer
from vidkit.models.predformer import FactorisedBlock

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _small(**kw) -> PredFormer:
    args = {"in_frames": 4, "out_frames": 4, "channels": 1, "size": 16, "patch": 4, "dim": 32, "depth": 1,
            "heads": 2}
    return PredFormer(**{**args, **kw})


@pytest.mark.parametrize("kw, x_shape, y_shape", [
    ({}, (2, 4, 1, 16, 16), (2, 4, 1, 16, 16)),
    ({"channels": 2, "size": (16, 24), "patch": 8, "depth": 2, "gated": False}, (3, 4, 2, 16, 24), (3, 4, 2, 16, 24)),
    ({"in_frames": 3, "out_frames": 5}, (1, 3, 1, 16, 16), (1, 5, 1, 16, 16)),   # T_out != T_in: time read-out
])
def test_forward_shapes_and_finite(kw, x_shape, y_shape):
    torch.manual_seed(0)
    model = _small(**kw)
    y = model(torch.rand(*x_shape))
    assert y.shape == y_shape and torch.isfinite(y).all()


def test_predict_rolls_out_past_out_frames():
    torch.manual_seed(0)
    model = _small(out_frames=3)
    x = torch.rand(2, 4, 1, 16, 16)
    p = model.predict(x, steps=7)
    assert p.shape == (2, 7, 1, 16, 16) and 0 <= p.min() and p.max() <= 1
    torch.testing.assert_close(model.predict(x), torch.sigmoid(model(x)))


@pytest.mark.parametrize("bad", [
    torch.rand(4, 1, 16, 16),            # no batch axis
    torch.rand(2, 5, 1, 16, 16),         # wrong T_in
    torch.rand(2, 4, 3, 16, 16),         # wrong C
    torch.rand(2, 4, 1, 16, 20),         # not the frame size it was built for
    torch.ones(2, 4, 1, 16, 16, dtype=torch.long),
    [[0.0]],
])
def test_bad_inputs_name_the_expected_shape(bad):
    model = _small()
    with pytest.raises(ValueError, match=r"\(B, T_in, C, H, W\) = \(B, 4, 1, 16, 16\)"):
        model(bad)
    with pytest.raises(ValueError, match=r"\(B, 4, 1, 16, 16\)"):
        model.predict(bad, steps=2)


@pytest.mark.parametrize("kw, match", [
    ({"dim": 30, "heads": 4}, "multiple of heads"),
    ({"size": 18}, "divisible by patch=4"),
    ({"size": (16,)}, r"int or \(H, W\)"),
    ({"depth": 0}, "depth must be a positive int"),
    ({"patch": 2.0}, "patch must be a positive int"),
    ({"ink": 1.0}, "ink must be a finite number in"),
    ({"gated": "yes"}, "gated must be True or False"),
    ({"dropout": 1.0}, "dropout"),
])
def test_bad_constructor_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        _small(**kw)


def test_time_attention_mixes_only_along_time_and_space_attention_only_within_a_frame():
    torch.manual_seed(0)
    block = FactorisedBlock(dim=16, heads=2).eval()
    h = torch.randn(2, 5, 6, 16)                      # (B, T, N, D)
    bumped = h.clone()
    bumped[:, 1, 3] += 1.0                             # one token: frame 1, patch position 3
    moved = (block.attend_time(bumped) - block.attend_time(h)).abs().sum(dim=(0, 3))   # (T, N)
    assert (moved[:, 3] > 0).all()                     # every frame at patch position 3 read it ...
    assert moved[:, [0, 1, 2, 4, 5]].max() == 0        # ... and no other patch position did
    moved = (block.attend_space(bumped) - block.attend_space(h)).abs().sum(dim=(0, 3))
    assert (moved[1] > 0).all()                        # every patch of frame 1 read it ...
    assert moved[[0, 2, 3, 4]].max() == 0              # ... and no other frame did
    torch.testing.assert_close(block(h), block.attend_space(block.attend_time(h)))


def test_one_block_reaches_every_input_patch_of_every_frame():
    """Time then space: output token (t, n) reads (t, n') for every n', each of which has read (t', n')."""
    torch.manual_seed(0)
    model = _small(depth=1)
    x = torch.rand(1, 4, 1, 16, 16, requires_grad=True)
    model(x)[0, 0, 0, :4, :4].sum().backward()          # the first patch of the first future frame
    reached = x.grad.abs().reshape(4, 4, 4, 4, 4).sum(dim=(2, 4))   # (T, row, col) of patches
    assert (reached > 0).all()


@pytest.mark.parametrize("ink", [0.05, 0.2])
def test_untrained_model_draws_a_dark_frame(ink):
    torch.manual_seed(0)
    model = _small(ink=ink, depth=2)
    assert model.readout.bias.detach().eq(math.log(ink / (1 - ink))).all()
    mean = model.predict(torch.rand(4, 4, 1, 16, 16)).mean().item()
    assert mean == pytest.approx(ink, abs=0.01)


def test_overfits_two_sequences():
    torch.manual_seed(0)
    clips = torch.zeros(2, 8, 1, 16, 16)               # a square moving right, one moving left and bouncing
    for t in range(8):
        clips[0, t, 0, 4:8, t:t + 4] = 1.0
        clips[1, t, 0, 8 + t % 2:12 + t % 2, 12 - t:16 - t] = 1.0
    model = _small()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(50):
        loss = F.binary_cross_entropy_with_logits(model(clips[:, :4]), clips[:, 4:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0], losses[::10]


def test_recipe_trains_and_writes_metrics(tmp_path):
    wd = run_recipe("mmnist_predformer", profile="smoke", steps=2, root=tmp_path, progress=False, samples=False)
    config = json.loads((wd / "config.json").read_text())["config"]
    assert config["model"]["name"] == "predformer"
    metrics = json.loads((wd / "metrics.json").read_text())
    assert metrics["steps"] == 2 and metrics["eval"]["task"] == "future"
    assert len(metrics["eval"]["per_horizon"]["mse"]) == 10 and math.isfinite(metrics["eval"]["mean"]["mse"])
