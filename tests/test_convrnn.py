"""Tests for the ConvLSTM / ConvGRU predictors (``vidkit.models.convrnn``)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from vidkit.models.convrnn import ConvGRUCell, ConvLSTMCell, ConvRNNPredictor, scheduled_sampling

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _small(cell: str, patch: int = 2) -> ConvRNNPredictor:
    return ConvRNNPredictor(cell=cell, hidden=(8, 8), kernel=3, patch=patch)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("patch", [1, 4])
def test_shapes(cell: str, patch: int) -> None:
    torch.manual_seed(0)
    model = _small(cell, patch)
    x = torch.rand(2, 3, 1, 16, 16)
    assert model(x, steps=4).shape == (2, 4, 1, 16, 16)
    target = torch.rand(2, 4, 1, 16, 16)
    assert model(x, steps=4, target=target, teacher_forcing=0.5).shape == (2, 4, 1, 16, 16)
    probs = model.predict(x, steps=2)
    assert probs.shape == (2, 2, 1, 16, 16) and probs.min() >= 0 and probs.max() <= 1


def test_multichannel_and_cells() -> None:
    model = ConvRNNPredictor(cell="gru", hidden=(4,), kernel=3, patch=2, frame_channels=3)
    assert model(torch.rand(1, 2, 3, 8, 8), steps=3).shape == (1, 3, 3, 8, 8)
    lstm, gru = ConvLSTMCell(3, 8, 5), ConvGRUCell(3, 8, 5)
    h, (h2, c) = lstm(torch.rand(2, 3, 6, 6))
    assert h.shape == c.shape == (2, 8, 6, 6) and h is h2
    assert gru(torch.rand(2, 3, 6, 6))[0].shape == (2, 8, 6, 6)


def test_param_count_formula() -> None:
    in_ch, hidden, k = 16, 64, 5
    n = sum(p.numel() for p in ConvLSTMCell(in_ch, hidden, k).parameters())
    assert n == 4 * hidden * ((in_ch + hidden) * k * k + 1) == 512_256
    n = sum(p.numel() for p in ConvGRUCell(in_ch, hidden, k).parameters())
    assert n == 3 * hidden * ((in_ch + hidden) * k * k + 1)


def test_validation_errors() -> None:
    model = _small("lstm", patch=4)
    x = torch.rand(2, 3, 1, 16, 16)
    with pytest.raises(ValueError, match=r"\(B, T_in, C=1, H, W\)"):
        model(torch.rand(3, 1, 16, 16))
    with pytest.raises(ValueError, match="divisible by patch=4"):
        model(torch.rand(2, 3, 1, 18, 16))
    with pytest.raises(ValueError, match="C=1"):
        model(torch.rand(2, 3, 2, 16, 16))
    with pytest.raises(ValueError, match="cell must be one of"):
        ConvRNNPredictor(cell="rnn")
    with pytest.raises(ValueError, match="kernel must be odd"):
        ConvRNNPredictor(kernel=4)
    target = torch.rand(2, 4, 1, 16, 16)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"teacher_forcing must be a probability in \[0, 1\]"):
            model(x, steps=4, target=target, teacher_forcing=bad)
    with pytest.raises(ValueError, match=r"expected target \(B, steps, C, H, W\)"):
        model(x, steps=4, target=torch.rand(2, 3, 1, 16, 16), teacher_forcing=0.5)
    with pytest.raises(ValueError, match="needs target"):
        model(x, steps=4, teacher_forcing=0.5)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        model(x, steps=0)
    with pytest.raises(ValueError, match=r"expected \(B, T_in, C=1, H, W\)"):  # checked once, not in every cell step
        model(torch.rand(2, 3, 2, 16, 16), steps=4)
    for bad in (0.0, 1.0, -0.1, True, "0.05"):
        with pytest.raises(ValueError, match=r"ink must be a mean pixel value in \(0, 1\)"):
            ConvRNNPredictor(ink=bad)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_untrained_model_predicts_a_dark_background(cell: str) -> None:
    # The readout bias starts at logit(ink): an untrained model already predicts ~ink everywhere,
    # so the bounded hidden state need not saturate to draw the background (see the class docstring).
    torch.manual_seed(0)
    for ink in (0.05, 0.3):
        model = ConvRNNPredictor(cell=cell, hidden=(8, 8), kernel=3, patch=2, ink=ink)
        assert torch.allclose(model.head.bias, torch.full_like(model.head.bias, math.log(ink / (1 - ink))))
        pred = model.predict(torch.rand(2, 3, 1, 16, 16) * 0.1, steps=2)
        assert abs(pred.mean().item() - ink) < 0.5 * ink, (ink, pred.mean().item())


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_teacher_forcing_dependence(cell: str) -> None:
    torch.manual_seed(0)
    model = _small(cell)
    x, target = torch.rand(2, 3, 1, 8, 8), torch.rand(2, 4, 1, 8, 8)
    changed = target.clone()
    changed[:, 1] = 1 - changed[:, 1]  # only target[1] differs: read before predicting step 2
    with torch.no_grad():
        forced, forced2 = (model(x, 4, target=t, teacher_forcing=1.0) for t in (target, changed))
        free, free2 = (model(x, 4, target=t, teacher_forcing=0.0) for t in (target, changed))
    assert torch.equal(forced[:, :2], forced2[:, :2])  # steps 0..1 never see target[1]
    assert not torch.allclose(forced[:, 2], forced2[:, 2])  # step 2 reads target[1]
    assert torch.equal(free, free2)
    assert torch.allclose(torch.sigmoid(free), model.predict(x, 4))


def test_scheduled_sampling() -> None:
    assert scheduled_sampling(0, 100) == 1.0
    assert scheduled_sampling(50, 100) == pytest.approx(0.5)
    assert scheduled_sampling(100, 100) == 0.0
    assert scheduled_sampling(500, 100) == 0.0
    assert scheduled_sampling(25, 100, start=0.8, end=0.4) == pytest.approx(0.7)
    with pytest.raises(ValueError):
        scheduled_sampling(-1, 100)
    with pytest.raises(ValueError):
        scheduled_sampling(0, 0)


def test_long_rollout() -> None:
    torch.manual_seed(0)
    model = ConvRNNPredictor(cell="lstm", hidden=(8,), kernel=3, patch=4)
    out = model.predict(torch.rand(1, 2, 1, 16, 16), steps=110)
    assert out.shape == (1, 110, 1, 16, 16) and torch.isfinite(out).all()


def _moving_squares(n: int = 4, t: int = 8, size: int = 16) -> torch.Tensor:
    """``(n, t, 1, size, size)`` frames of a 4x4 square moving one pixel right per frame."""
    frames = torch.zeros(n, t, 1, size, size)
    for i in range(n):
        for k in range(t):
            row, col = 2 + 3 * i, 1 + k
            frames[i, k, 0, row:row + 4, col:col + 4] = 1.0
    return frames


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_separate_forecaster_is_an_encoder_forecaster(cell: str) -> None:
    # Shi et al.'s layout: the encoder's weights only read the inputs, the forecaster's own weights
    # (started from the encoder's states) make every prediction.
    torch.manual_seed(0)
    shared = ConvRNNPredictor(cell=cell, hidden=(8, 8), kernel=3, patch=2)
    torch.manual_seed(0)
    sep = ConvRNNPredictor(cell=cell, hidden=(8, 8), kernel=3, patch=2, forecaster="separate")
    assert shared.forecast_cells is None and sep.forecast_cells is not None
    n_cells = sum(p.numel() for p in sep.cells.parameters())
    assert sum(p.numel() for p in sep.parameters()) == sum(p.numel() for p in shared.parameters()) + n_cells
    x, target = torch.rand(2, 3, 1, 8, 8), torch.rand(2, 4, 1, 8, 8)
    out = sep(x, 4, target=target, teacher_forcing=0.5)
    assert out.shape == (2, 4, 1, 8, 8)
    out.sum().backward()
    for stack in (sep.cells, sep.forecast_cells):  # both stacks get gradients: the states are handed over
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in stack.parameters())
    with torch.no_grad():
        before = sep.predict(x, 3)
        for p in sep.forecast_cells.parameters():
            p.add_(0.1)
        assert not torch.allclose(sep.predict(x, 3), before)  # predictions come from forecast_cells
        changed = x.clone()
        changed[:, 0] = 1 - changed[:, 0]  # an early input frame reaches the forecast through the states
        assert not torch.allclose(sep.predict(changed, 3), sep.predict(x, 3))
    with pytest.raises(ValueError, match="forecaster must be 'shared' or 'separate'"):
        ConvRNNPredictor(hidden=(8,), kernel=3, patch=2, forecaster="split")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("forecaster", ["shared", "separate"])
def test_overfit_tiny(cell: str, forecaster: str) -> None:
    torch.manual_seed(0)
    seq = _moving_squares()
    x, y = seq[:, :4], seq[:, 4:]
    model = ConvRNNPredictor(cell=cell, hidden=(16,), kernel=3, patch=2, forecaster=forecaster)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for step in range(150):
        tf = scheduled_sampling(step, 100)
        loss = F.binary_cross_entropy_with_logits(model(x, 4, target=y, teacher_forcing=tf), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    free = F.binary_cross_entropy(model.predict(x, 4), y).item()
    assert losses[-1] < 0.6 * losses[0], (losses[0], losses[-1])
    # A constant "background" guess scores ~0.23 (about 0.35x the start): the rollout must beat it.
    assert free < 0.2 * losses[0], (losses[0], free)
